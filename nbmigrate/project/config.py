"""The project's configuration: its files, the Alembic ``Config`` read from them, the warm
revision map, and the database URL they (or ``connect``) name.

:class:`ProjectConfig` is the half of :class:`~nbmigrate.project.Project` that needs no database
connection; :class:`CacheInfo` is what its warm revision map has cost.
"""

from __future__ import annotations

import os
from argparse import Namespace
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from .. import masking
from ..errors import BadArguments, ConnectionFailed, ProjectNotFound
from ..paths import relative_path
from .alembic_import import ensure_alembic
from .files import DEFAULT_VERSION_TABLE, _config_paths, _CurrentStdout, _locate_scripts_beside, _read, _stat, _toml_has_alembic
from .urls import _check_host

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection, Engine, URL

    from .._watch import ChangeDetection


@dataclass(frozen=True)
class CacheInfo:
    """What a project's warm revision map has cost so far (see :meth:`Project.cache_info`).

    ``loads``: how many times the revision map was built (the revision files imported; a rebuild
    imports only the files that changed). ``scans``: how many times the revision files were
    looked at, a ``stat`` of each; a command on a watched folder with no change makes none.
    ``change_detection``: how the next command learns of changed files, ``"inotify"`` or
    ``"stat"`` (``None`` until the files were read), as :attr:`Project.change_detection_in_effect`.
    """

    loads: int
    scans: int
    change_detection: Literal["inotify", "stat"] | None


class ProjectConfig:
    """An Alembic project's files, config and warm revision map, and the database URL it names.

    :class:`~nbmigrate.project.Project` adds the database: the engine and connections to it.
    """

    def __init__(
        self,
        config: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        *,
        name: str = "alembic",
        x: Sequence[str] = (),
        directory: str | os.PathLike[str] | None = None,
    ) -> None:
        ensure_alembic()
        self.directory = Path(directory) if directory is not None else None
        self.name = name
        self.x = tuple(x)
        self.ini_path, self.toml_path = _config_paths(config, self.directory)
        self._config_named = config is not None  # by -c, MigrateMagics.config_file or the caller
        self._config: Config | None = None
        self._config_key: tuple[Any, ...] | None = None
        self._override: URL | Engine | Connection | None = None
        self._engine: Engine | None = None
        self._engine_url: str | None = None
        # The database env.py connected to when the config names none, and for which config.
        self._env_url: tuple[tuple[Any, ...] | None, URL] | None = None
        self.lock_timeout = 60.0  # seconds to wait for another run's database lock
        from .._cache import ScriptCache

        self._scripts = ScriptCache()

    # -- settings ------------------------------------------------------------------------

    @property
    def change_detection(self) -> ChangeDetection:
        """How a warm project learns that revision files changed: ``"auto"``, ``"inotify"``, ``"stat"``.

        ``auto`` (the default) trusts the kernel's change events (Linux's inotify) only on local
        filesystems, and looks at every file (a ``stat`` each) before every command on NFS, SMB,
        FUSE (sshfs), WSL2's ``/mnt/c`` and other shares where edits made elsewhere raise no
        event. ``inotify`` trusts the events on any filesystem, ``stat`` never does. See
        :mod:`nbmigrate._watch`.
        """
        return self._scripts.change_detection

    @change_detection.setter
    def change_detection(self, value: str) -> None:
        from .._watch import CHANGE_DETECTION

        if value not in CHANGE_DETECTION:
            raise BadArguments(f"change_detection is 'auto', 'inotify' or 'stat', not {value!r}.")
        self._scripts.change_detection = cast("ChangeDetection", value)

    @property
    def change_detection_in_effect(self) -> Literal["inotify", "stat"] | None:
        """``"inotify"`` or ``"stat"``: how the next command learns of changed revision files.

        ``"stat"`` where ``change_detection`` or the filesystem rules the kernel's events out, or
        they cannot be had; ``None`` until a command has read the revision files.
        """
        return self._scripts.detection_in_effect

    def cache_info(self) -> CacheInfo:
        """How often the revision files were imported and looked at, and how changes are noticed."""
        scripts = self._scripts
        return CacheInfo(loads=scripts.loads, scans=scripts.scans, change_detection=scripts.detection_in_effect)

    # -- configuration -------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        """True when an Alembic config was found (an ini file, or ``[tool.alembic]``)."""
        if self.ini_path.is_file():
            return True
        return self.toml_path.is_file() and _toml_has_alembic(self.toml_path)

    def require(self) -> None:
        """Raise :class:`ProjectNotFound` when there is no project to work on."""
        if not self.exists:
            if self._config_named:  # a path was given: it is that path that is wrong
                given = relative_path(self.ini_path)
                raise ProjectNotFound(
                    f"No Alembic project at {given}: no such file (and no [tool.alembic] in "
                    f"{relative_path(self.toml_path)}). Check the path, or run `%migrate init` with the "
                    "same -c/--config to create a project there."
                )
            where = self.ini_path.parent.resolve()
            raise ProjectNotFound(
                f"No Alembic project in {where} (no {self.ini_path.name}, no [tool.alembic] in "
                f"{self.toml_path.name}). Run `%migrate init` to create one, or pass -c/--config."
            )
        config = self.config
        if not config.file_config.has_section(self.name) and not self._toml_configured():
            sections = ", ".join(s for s in config.file_config.sections() if not s.startswith(("logger", "handler", "formatter", "post_write_hooks")))
            raise ProjectNotFound(
                f"{self.ini_path.name} has no [{self.name}] section (-n/--name picks the section); "
                f"its sections: {sections or 'none'}."
            )

    def _toml_configured(self) -> bool:
        return self.toml_path.is_file() and _toml_has_alembic(self.toml_path)

    def _main_option(self, name: str, config: Config | None = None) -> str | None:
        """An option of the config's section, or ``None`` when there is no such section (yet)."""
        config = config or self.config
        if not config.file_config.has_section(config.config_ini_section):
            return None
        return config.get_main_option(name)

    @property
    def config(self) -> Config:
        """Alembic's ``Config`` for this project, rebuilt when its files change."""
        from alembic.config import Config

        key = (_stat(self.ini_path), _stat(self.toml_path), self.name, self.x)
        if self._config is None or key != self._config_key:
            ini = str(self.ini_path) if self.ini_path.is_file() or not self.toml_path.is_file() else None
            toml = str(self.toml_path) if self.toml_path.is_file() else None
            config = Config(
                file_=ini,
                toml_file=toml,
                ini_section=self.name,
                cmd_opts=Namespace(x=list(self.x) or None, raiseerr=False, quiet=False),
                stdout=_CurrentStdout(),  # type: ignore[arg-type]
            )
            if self._config is not None:
                # What the user put there (e.g. ``attributes["target_metadata"]`` for autogenerate
                # and ``check``) outlives an edit of alembic.ini.
                config.attributes.update(
                    (k, v) for k, v in self._config.attributes.items() if k != "connection"
                )
            config.attributes["nbmigrate"] = True
            _read(config, ini, toml)
            _locate_scripts_beside(config, ini)
            self._config = config
            self._config_key = key
            self._remember(self._main_option("sqlalchemy.url", config) or "")
            self._apply_override()
        return self._config

    def config_for_init(self) -> Config:
        """A ``Config`` pointing at where ``init`` writes ``alembic.ini`` (which need not exist yet)."""
        from alembic.config import Config

        return Config(
            file_=str(self.ini_path),
            toml_file=str(self.toml_path),  # the `pyproject` template writes [tool.alembic] there
            ini_section=self.name,
            stdout=_CurrentStdout(),  # type: ignore[arg-type]
        )

    def script(self) -> ScriptDirectory:
        """The project's ``ScriptDirectory``, kept warm until a revision file or the config changes."""
        self.require()
        return self._scripts.get(self.config)

    def invalidate(self) -> None:
        """Forget the cached revision map (the next command reads the files again)."""
        self._scripts.clear()

    @property
    def script_problems(self) -> list[str]:
        """What is wrong with the revision files as last loaded (e.g. a revision id defined twice)."""
        return list(self._scripts.problems)

    @property
    def version_table(self) -> str:
        return self._main_option("version_table") or DEFAULT_VERSION_TABLE

    @property
    def version_table_schema(self) -> str | None:
        return self._main_option("version_table_schema") or None

    # -- database URL --------------------------------------------------------------------

    @property
    def url(self) -> URL | None:
        """The database URL in use, or ``None``.

        The ``connect`` override first, then the config's ``sqlalchemy.url``, then the database
        the project's env.py connected to on its own when the config names none (see
        :meth:`engine`).
        """
        from sqlalchemy.engine import Connection, Engine, make_url

        if isinstance(self._override, (Engine, Connection)):
            return self._override.engine.url
        if self._override is not None:
            return self._override
        raw = self._main_option("sqlalchemy.url") if self.exists else None
        if not raw:
            found = self._env_url
            return found[1] if found is not None and found[0] == self._config_key else None
        try:
            url = make_url(raw)
        except Exception:
            raise ConnectionFailed(
                f"The sqlalchemy.url in {self.ini_path.name} is not a database URL: "
                f"{self.redact(raw)!r}. Fix it, or use `%migrate connect URL`."
            ) from None
        _check_host(url, self.redact)
        return url

    @property
    def display_url(self) -> str:
        """The database URL with its password masked."""
        url = self.url
        if url is None:
            return "(no database configured)"
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            # A file under the working directory is shown relative to it: shorter, and the same
            # on every machine (saved notebooks stay stable); any other file by its full path.
            return url.set(database=relative_path(url.database, resolve=True)).render_as_string()
        return url.render_as_string(hide_password=True)

    # -- secrets -------------------------------------------------------------------------

    def _remember(self, url: Any) -> None:
        """Note the password of a URL so :meth:`redact` (and every rendering) masks it."""
        masking.remember_url(url)

    def redact(self, text: str) -> str:
        """``text`` with every password in it masked (see :mod:`nbmigrate.masking`)."""
        return masking.mask(text)

    # -- internals -----------------------------------------------------------------------

    def _apply_override(self) -> None:
        """Give Alembic the overriding database, in memory only.

        nbmigrate's ``env.py`` takes the connection from ``config.attributes``; an ``env.py`` made
        by ``alembic init`` reads ``sqlalchemy.url``, so the URL is set on the in-memory config too.
        """
        if self._override is None or self._config is None:
            return
        url = self.url
        assert url is not None
        rendered = url.render_as_string(hide_password=False).replace("%", "%%")
        self._config.set_main_option("sqlalchemy.url", rendered)
