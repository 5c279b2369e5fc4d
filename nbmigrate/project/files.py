"""The project's config files: which ones to read, by the ``alembic`` command line's rules, and reading them.

Where the ini file and ``pyproject.toml`` are (``-c``, ``ALEMBIC_CONFIG``, the working directory,
Flask-Migrate's ``migrations/alembic.ini``), whether a ``pyproject.toml`` has ``[tool.alembic]``,
parsing them now with a message when they are no config, and the ``script_location`` of an ini
that names none. :class:`~nbmigrate.project.config.ProjectConfig` builds its ``Config`` with these.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BadArguments, ProjectNotFound
from ..paths import relative_path

if TYPE_CHECKING:
    from alembic.config import Config

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
