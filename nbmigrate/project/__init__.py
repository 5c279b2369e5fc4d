"""An Alembic project as a kernel sees it: its config, its revision files, and its database.

:class:`Project` finds the configuration the way the ``alembic`` command line does, keeps one
``ScriptDirectory`` per project warm between commands (see :mod:`nbmigrate._cache`), and owns the
database connection: the URL from the config, or what ``connect`` pointed this kernel at. The
passwords of its URLs are given to :mod:`nbmigrate.masking`, which every text leaving nbmigrate
passes (:meth:`Project.redact` here, the renderers at the end).
"""

from __future__ import annotations

import contextlib
import os
import sys
from argparse import Namespace
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from .. import masking
from ..errors import BadArguments, ConnectionFailed, NbmigrateError, ProjectNotFound
from ..paths import relative_path

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection, Engine, URL

    from .._watch import ChangeDetection

TEMPLATE_DIR = Path(__file__).parent.parent / "templates" / "nbmigrate"
DEFAULT_VERSION_TABLE = "alembic_version"
# Where `flask db` keeps a Flask-Migrate project (its `-d/--directory` default): alembic.ini inside.
FLASK_MIGRATE_DIRECTORY = "migrations"


class _CurrentStdout:
    """Writes to whatever ``sys.stdout`` is at write time, so captured runs capture Alembic's prints."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


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


class Project:
    """An Alembic project and the database this kernel migrates with it.

    ``config`` is what ``alembic -c`` takes: an ini file, a ``pyproject.toml``, or both (a list).
    Without it, ``alembic.ini`` and ``pyproject.toml`` in ``directory`` (default: the current
    directory) are used, like the ``alembic`` command line does (``ALEMBIC_CONFIG`` included);
    where there are neither, ``migrations/alembic.ini`` beside an ``env.py``, as ``flask db``
    finds a Flask-Migrate project.
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

    # -- database ------------------------------------------------------------------------

    def use(self, target: Any) -> None:
        """Point this project at another database for this kernel only (nothing is written to disk).

        ``target`` is a URL (string or ``sqlalchemy.URL``), an ``Engine`` or a ``Connection``.
        """
        from sqlalchemy.engine import Connection, Engine, make_url
        from sqlalchemy.exc import ArgumentError

        if isinstance(target, (Engine, Connection)):
            self._override = target
            self._remember(target.engine.url)
        else:
            if not isinstance(target, str) and type(target).__name__ != "URL":
                raise BadArguments(
                    f"Cannot connect to a {type(target).__name__}: give a URL, an Engine or a Connection."
                )
            try:
                url = make_url(target)
            except (ArgumentError, ValueError):  # ValueError: a port that is not a number
                raise BadArguments(
                    f"{self.redact(str(target))!r} is not a database URL (e.g. sqlite:///file.db, "
                    "postgresql+psycopg://user@host/db) nor a variable holding one."
                ) from None
            self._remember(url)
            _check_host(url, self.redact)
            self._override = url
        self._dispose_engine()
        self._apply_override()

    def elsewhere(self, target: Any) -> Project:
        """This project (its files, section and ``-x`` options) on another database, for this kernel only.

        The copy has a config and an engine of its own, so nothing it does reaches this project's
        database or its in-memory settings; it reads the same revision files. Close it when done.
        """
        other = Project.__new__(Project)
        other.__dict__.update(self.__dict__)
        other._config = other._config_key = other._override = other._engine = other._engine_url = other._env_url = None
        from .._cache import ScriptCache

        other._scripts = ScriptCache()
        other._config_named = True
        other.use(target)
        return other

    def close(self) -> None:
        """Release this project's database connections (the engine is made again when needed)."""
        self._dispose_engine()

    def __enter__(self) -> Project:
        """``with Project(...) as project:`` closes the project's connections at the end of the block."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """True when ``connect`` pointed this project at a database of its own choosing."""
        return self._override is not None

    def disconnect(self) -> None:
        """Go back to the database named in the project's config."""
        self._override = None
        self._dispose_engine()
        self._config_key = None  # rebuilt (keeping its attributes) without the in-memory URL

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

    def engine(self) -> Engine:
        """The engine for this project's database (made once; SQLite gets transactional DDL).

        A config without ``sqlalchemy.url`` whose env.py finds the database itself (Flask-Migrate's
        takes it from the Flask app) is asked where that is: see :meth:`_url_from_env`.
        """
        from sqlalchemy import create_engine
        from sqlalchemy.engine import Connection, Engine

        if isinstance(self._override, Engine):
            return self._override
        if isinstance(self._override, Connection):
            return self._override.engine
        url = self.url
        if url is None:
            url = self._url_from_env()
        if url is None:
            raise ConnectionFailed(
                f"No database configured: set sqlalchemy.url in {self.ini_path.name}, "
                "or use `%migrate connect URL`."
            )
        key = url.render_as_string(hide_password=False)
        if self._engine is None or self._engine_url != key:
            self._dispose_engine()
            try:
                engine = create_engine(sync_url(url), **_engine_options(url))
            except ModuleNotFoundError as exc:  # the dialect's driver: say what to install
                raise ConnectionFailed(_missing_driver(url, exc.name or str(exc))) from None
            except Exception as exc:
                from ..errors import translate

                mapped = translate(exc, self.redact)
                if mapped is None or mapped is exc:
                    raise
                raise mapped from exc  # `--raiseerr` shows the original
            if engine.dialect.name == "sqlite":
                transactional_sqlite(engine)
            self._engine, self._engine_url = engine, key
        return self._engine

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection to the project's database, outside any transaction; closed afterwards.

        While it is lent, it also answers ``connect()`` (see :func:`connectable`), so an env.py
        of Alembic's older cookbook runs on it as on an Engine.
        """
        from sqlalchemy.engine import Connection

        if isinstance(self._override, Connection):
            with transactional_sqlite_connection(self._override), connectable(self._override):
                yield self._override
            return
        try:
            conn = self.engine().connect()
        except Exception as exc:
            from ..errors import translate

            mapped = translate(exc, self.redact)
            if mapped is None or mapped is exc:
                raise
            raise mapped from exc  # `--raiseerr` shows the original
        try:
            with transactional_sqlite_connection(conn), connectable(conn):
                yield conn
        finally:
            conn.close()

    def current_heads(self, conn: Connection, *, end_transaction: bool = True) -> tuple[str, ...]:
        """The revisions recorded in the version table (empty when it does not exist yet).

        The read's own transaction is ended so Alembic later sees a connection outside any
        transaction; ``end_transaction=False`` reads inside a transaction that must go on
        (a ``--preview``).
        """
        from alembic.runtime.migration import MigrationContext

        began = not conn.in_transaction()  # a transaction of the caller's (a connected Connection) goes on
        context = MigrationContext.configure(
            conn,
            opts={"version_table": self.version_table, "version_table_schema": self.version_table_schema},
        )
        try:
            return tuple(context.get_current_heads())
        finally:
            if end_transaction and began and conn.in_transaction():
                conn.rollback()

    def _url_from_env(self) -> URL | None:
        """The database the project's env.py connects to, for a config that names none.

        Flask-Migrate's env.py takes its engine from the Flask app (``current_app``), others from
        the environment. env.py is run as ``alembic current`` runs it (no version table is made)
        and stopped once it has connected, before any migration; its answer holds until the
        config changes. ``None`` when there is no env.py to ask; :class:`ConnectionFailed` saying
        where env.py failed when it cannot answer.
        """
        from alembic.runtime.environment import EnvironmentContext

        from .._runtime import contained, in_worker
        from ..errors import translate

        if not self.exists:
            return None
        try:
            script = self.script()
        except Exception:  # no scripts folder (yet): nothing to ask
            return None
        if not Path(script.env_py_location).is_file():
            return None
        found: list[URL] = []

        def connected(rev: Any, context: Any) -> list[Any]:
            found.append(context.connection.engine.url)
            return []  # nothing to run

        def ask() -> None:
            with EnvironmentContext(self.config, script, fn=connected, dont_mutate=True):
                script.run_env()

        error: BaseException | None = None
        if in_worker():  # already contained (a command's run): the worker cannot wait for itself
            try:
                ask()
            except BaseException as exc:  # noqa: BLE001 - said below, as for a contained call
                error = exc
        else:
            _, _, error = contained(ask)
        where = f"{relative_path(self.ini_path)} names no sqlalchemy.url, so the database is the one its env.py connects to"
        if isinstance(error, KeyboardInterrupt):
            raise error
        if error is not None:
            mapped = translate(error, self.redact)
            why = str(mapped) if mapped is not None else self.redact(f"{type(error).__name__}: {error}")
            raise ConnectionFailed(f"{why.rstrip()} ({where}.)") from error
        if not found:
            raise ConnectionFailed(
                f"No database configured: {where}, and {relative_path(script.env_py_location)} connected to none. "
                "Set sqlalchemy.url, or use `%migrate connect URL`."
            )
        url = found[0]
        self._remember(url.render_as_string(hide_password=False))
        _check_host(url, self.redact)
        self._env_url = (self._config_key, url)
        return url

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

    def _dispose_engine(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._engine = None
        self._engine_url = None

    def __repr__(self) -> str:
        return f"<nbmigrate.Project {self.ini_path} database={self.display_url}>"


def _engine_options(url: URL) -> dict[str, Any]:
    """An in-memory SQLite database lives in one connection: keep that one for every command.

    SQLAlchemy's default pool for it gives each thread its own connection, hence its own empty
    database, and every command runs in a thread of its own (see :mod:`nbmigrate._runtime`).
    """
    from sqlalchemy.pool import StaticPool

    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    return {}


# The synchronous twin of each asyncio driver: nbmigrate reads the database (heads, schema,
# locks) with plain blocking calls, while an async env.py still runs on its own async engine.
_SYNC_DRIVERS = {
    "aiosqlite": "pysqlite",
    "asyncpg": "psycopg",
    "psycopg_async": "psycopg",
    "aiomysql": "pymysql",
    "asyncmy": "pymysql",
    "aioodbc": "pyodbc",
}


def sync_url(url: URL) -> URL:
    """``url`` with a synchronous driver (``sqlite+aiosqlite`` → ``sqlite+pysqlite``, ...)."""
    try:
        is_async = bool(url.get_dialect().is_async)
    except Exception:  # an unknown or missing driver: create_engine reports it
        return url
    if not is_async:
        return url
    driver = _SYNC_DRIVERS.get(url.get_driver_name())
    if driver is None:
        raise ConnectionFailed(
            f"nbmigrate needs a synchronous driver for {url.get_backend_name()} (the URL uses the "
            f"asyncio driver {url.get_driver_name()!r}): `%migrate connect` a URL with one."
        )
    return url.set(drivername=f"{url.get_backend_name()}+{driver}")


# The extras that bring a driver, and the URL scheme each driver is named by.
_EXTRAS = {"postgresql": ("postgresql", "postgresql+psycopg"), "mysql": ("mysql", "mysql+pymysql"), "mariadb": ("mysql", "mariadb+pymysql")}


# Driver modules whose package on PyPI has another name.
_PACKAGES = {"MySQLdb": "mysqlclient", "psycopg2": "psycopg2-binary", "psycopg": '"psycopg[binary]"', "cx_Oracle": "cx-Oracle"}


def _missing_driver(url: URL, module: str) -> str:
    """One line for a URL whose driver is not installed: what to install, never the password."""
    backend = url.get_backend_name()
    package = _PACKAGES.get(module, module)
    said = f"The {backend} driver {module!r} is not installed in this kernel's environment"
    extra = _EXTRAS.get(backend)
    if extra is None:
        return f"{said}: install it (`pip install {package}`) and run the command again."
    name, scheme = extra
    if url.drivername == scheme:
        return f'{said}: `pip install "nbmigrate[{name}]"`, then run the command again.'
    return (
        f"{said}: install it (`pip install {package}`), or use the driver nbmigrate's extra brings: "
        f'`pip install "nbmigrate[{name}]"` and a {scheme}:// URL.'
    )


def mask_url_passwords(text: str) -> str:
    """``text`` with the password of every URL in it masked (see :mod:`nbmigrate.masking`)."""
    return masking.mask_url_passwords(text)


def _check_host(url: URL, redact: Callable[[str], str]) -> None:
    """A host with "@" in it is the tail of a password whose "@" was not written ``%40``."""
    if url.host and "@" in url.host:
        raise BadArguments(
            f"The database URL {redact(url.render_as_string(hide_password=True))} has an \"@\" after the "
            "password's first one: write each \"@\" of the password as %40 (urllib.parse.quote_plus)."
        )


def transactional_sqlite(engine: Engine) -> None:
    """Make an SQLite engine run DDL inside real transactions (the pysqlite recipe).

    pysqlite commits on its own before DDL; with ``isolation_level=None`` it leaves transactions
    to us, and an explicit ``BEGIN`` makes a failed migration roll back completely.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkout")
    def _no_pysqlite_transactions(dbapi_connection: Any, *args: Any) -> None:
        # Also on every checkout: Alembic's autocommit_block() gives the connection back with the
        # level SQLAlchemy restores (pysqlite's implicit BEGIN again), and the pool keeps it.
        dbapi_connection.isolation_level = None

    event.listen(engine, "begin", _sqlite_begin)


def _sqlite_begin(conn: Connection) -> None:
    """The explicit ``BEGIN`` of a transactional SQLite connection."""
    begin = conn.info.get("nbmigrate.begin")  # under the migration lock: BEGIN IMMEDIATE (nbmigrate.locks)
    begin(conn) if begin is not None else conn.exec_driver_sql("BEGIN")


@contextlib.contextmanager
def transactional_sqlite_connection(conn: Connection) -> Iterator[None]:
    """:func:`transactional_sqlite` for one connection of an engine nbmigrate did not make.

    An Engine or Connection passed to ``connect`` keeps its own settings outside nbmigrate's
    work; while nbmigrate uses it, its SQLite connection runs DDL inside real transactions too.
    """
    from sqlalchemy import event

    driver = conn.connection.driver_connection if conn.dialect.name == "sqlite" and not conn.closed else None
    if driver is None or getattr(driver, "isolation_level", None) is None or conn.in_transaction():
        yield  # not SQLite, already transactional, or inside the caller's transaction: left as it is
        return

    saved = driver.isolation_level
    driver.isolation_level = None
    event.listen(conn, "begin", _sqlite_begin)
    try:
        yield
    finally:
        event.remove(conn, "begin", _sqlite_begin)
        if not conn.closed and not conn.invalidated and not conn.in_transaction():
            driver.isolation_level = saved


def _config_paths(
    config: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None,
    directory: Path | None,
) -> tuple[Path, Path]:
    """Which ini and pyproject.toml to read, by the ``alembic`` command line's own rules."""
    from .._internals import config_files

    if config is None:
        names: list[str] | None = None
    elif isinstance(config, (str, os.PathLike)):
        names = [os.fspath(config)]
    else:
        names = [os.fspath(c) for c in config]
    from alembic.util import CommandError

    try:
        toml, ini = config_files(names)
    except CommandError as exc:  # "only one ini file may be indicated", ...
        raise BadArguments(f"{exc}: give -c/--config at most one ini file and one pyproject.toml.") from None
    base = directory or Path.cwd()
    if names is None and not os.environ.get("ALEMBIC_CONFIG"):
        flask = base / FLASK_MIGRATE_DIRECTORY / "alembic.ini"
        found = (base / ini).is_file() or ((base / toml).is_file() and _toml_has_alembic(base / toml))
        if not found and flask.is_file() and (flask.parent / "env.py").is_file():
            # Flask-Migrate's layout (`flask db init`): the config lives inside the migrations folder.
            return flask, base / toml
    return base / ini, base / toml


def _read(config: Config, ini: str | None, toml: str | None) -> None:
    """Read the config's files now, so that one that is no config fails here, with a message."""
    import configparser

    from alembic.util.compat import tomllib

    try:
        config.file_config  # noqa: B018 - parses the ini file
    except configparser.Error as exc:
        problem = str(exc).splitlines()[0].rstrip(".")
        raise ProjectNotFound(
            f"{relative_path(ini or '')} is not an ini file Alembic can read ({problem}). "
            "Fix it, or give -c/--config an alembic.ini or a pyproject.toml instead."
        ) from None
    try:
        config.toml_alembic_config  # noqa: B018 - parses [tool.alembic]
    except tomllib.TOMLDecodeError as exc:
        raise ProjectNotFound(
            f"{relative_path(toml or '')} is not TOML Alembic can read ({exc}). Fix it, or pass another file with -c/--config."
        ) from None


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _toml_has_alembic(path: Path) -> bool:
    from alembic.util.compat import tomllib

    try:
        with open(path, "rb") as f:
            return "alembic" in tomllib.load(f).get("tool", {})
    except (OSError, ValueError):
        return False


def _locate_scripts_beside(config: Config, ini: str | None) -> None:
    """An ini without ``script_location`` next to an env.py names its own folder (Flask-Migrate's).

    ``flask db init`` writes ``migrations/alembic.ini`` with no ``script_location`` and gives
    Alembic the folder itself (``config.set_main_option("script_location", directory)``); so
    does this, in memory only. The ``alembic`` command line refuses such an ini, so no project
    it runs is changed.
    """
    if ini is None or not config.file_config.has_section(config.config_ini_section):
        return
    if config.get_alembic_option("script_location") is None and (Path(ini).parent / "env.py").is_file():
        config.set_main_option("script_location", "%(here)s")


@contextlib.contextmanager
def connectable(conn: Connection) -> Iterator[None]:
    """While the block runs, ``conn.connect()`` gives ``conn`` itself, left open on exit.

    env.py files of Alembic's older cookbook take ``config.attributes["connection"]`` and call
    ``with connectable.connect() as connection:`` on it, as on an Engine: SQLAlchemy 1.x gave a
    Connection a ``connect()`` that returned a branch of it, SQLAlchemy 2 has none. With this,
    such an env.py runs on the connection nbmigrate lends, as the command line runs it on its own.
    The connection stays a real ``Connection`` (Alembic and ``inspect`` take it as one), and is
    handed back without the method.
    """
    if hasattr(conn, "connect"):  # a Connection that has one already (or this block, nested)
        yield
        return
    setattr(conn, "connect", lambda: contextlib.nullcontext(conn))  # noqa: B010 - an attribute Connection lacks
    try:
        yield
    finally:
        vars(conn).pop("connect", None)


_alembic_checked: Any = None  # the ``alembic`` module ensure_alembic found to be Alembic


def ensure_alembic() -> None:
    """Make ``import alembic`` give the installed Alembic, even past a folder named ``alembic``.

    ``alembic init --package alembic`` makes a package ``alembic/`` (with ``__init__.py``). A
    kernel's ``sys.path`` starts with its working folder, so there ``import alembic`` would find
    that folder, and ``alembic.config`` in it no more; the ``alembic`` command line, whose path
    starts elsewhere, finds Alembic. Before nbmigrate first imports Alembic, this imports the
    installed one from the first ``sys.path`` entry that has it, and then every import of it (the
    user's too) gets that. Costs one dictionary look-up once done; nothing is imported while
    nothing hides Alembic.
    """
    global _alembic_checked
    import importlib.machinery
    import importlib.util

    module = sys.modules.get("alembic")
    if module is not None and module is _alembic_checked:
        return
    if module is not None:
        if _is_alembic(getattr(module, "__path__", None)):
            _alembic_checked = module
            return
        raise NbmigrateError(
            f"`alembic` in this kernel is {relative_path(getattr(module, '__file__', None) or str(module))}, "
            "a folder that hides the installed Alembic (it was imported before nbmigrate could look past it): "
            "restart the kernel and use nbmigrate before importing `alembic`, or rename the folder."
        )
    spec = importlib.util.find_spec("alembic")
    if spec is None or _is_alembic(spec.submodule_search_locations):
        return  # not installed (the import says so), or found as it should be
    for entry in sys.path:
        real = importlib.machinery.PathFinder.find_spec("alembic", [entry])
        if real is not None and real.loader is not None and _is_alembic(real.submodule_search_locations):
            break
    else:
        raise NbmigrateError(
            f"`import alembic` finds {relative_path(spec.origin or 'alembic')}, not Alembic, which is not installed "
            "anywhere else on sys.path: install it (`pip install alembic`), or rename the folder."
        )
    imported = importlib.util.module_from_spec(real)
    sys.modules["alembic"] = imported
    try:
        real.loader.exec_module(imported)
    except BaseException:
        sys.modules.pop("alembic", None)
        raise
    _alembic_checked = imported


def _is_alembic(locations: Any) -> bool:
    """Whether a package found at ``locations`` is Alembic (it has ``alembic.command``), without importing it."""
    import importlib.machinery

    if not locations:
        return False
    return importlib.machinery.PathFinder.find_spec("alembic.command", list(locations)) is not None
