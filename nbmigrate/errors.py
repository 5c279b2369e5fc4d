"""The user-facing errors of nbmigrate, and the one place outside errors are mapped to them.

::

    NbmigrateError                 a mistake the user can fix; the magics show it as one line
    ├── ProjectNotFound            no alembic.ini / [tool.alembic] where we looked
    ├── BadArguments               the magic line does not parse
    ├── RevisionProblem            unknown, ambiguous, or multiple-head revision; broken revision file
    ├── ConnectionFailed           the database cannot be reached
    ├── LockTimeout                another run held the database lock for too long
    ├── MigrationFailed            a migration raised; ``report`` says exactly what state is left
    ├── RiskyMigration             ``upgrade`` refused a revision the linter flags; ``result`` has the findings
    └── Interrupted                Ctrl-C stopped a command before it changed anything

    NbmigrateWarning (UserWarning) something to fix that does not stop the command (a revision id
                                   defined by two files); results carry it in ``warnings`` too

Anything else that escapes nbmigrate is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .results import FailureReport


class NbmigrateError(Exception):
    """A problem the user can fix; its message says what to do next."""


class ProjectNotFound(NbmigrateError):
    """No Alembic project was found."""


class BadArguments(NbmigrateError):
    """A magic line or cell header that does not parse."""


class RevisionProblem(NbmigrateError):
    """An unknown, ambiguous or conflicting revision, or a revision file that does not load."""


class ConnectionFailed(NbmigrateError):
    """The database cannot be reached."""


class LockTimeout(NbmigrateError):
    """Another run held the database's migration lock for longer than the timeout."""


class MigrationFailed(NbmigrateError):
    """A migration raised; :attr:`report` describes what ran and the state left behind."""

    def __init__(self, message: str, report: FailureReport) -> None:
        super().__init__(message)
        self.report = report

    def _repr_html_(self) -> str:
        return self.report._repr_html_()


class RiskyMigration(NbmigrateError):
    """A revision ``upgrade`` would apply has a lint finding at the fail level; :attr:`result` holds the lint."""

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result


class Interrupted(NbmigrateError):
    """Ctrl-C stopped a command before it changed anything (e.g. while the lint rendered revisions)."""


class NbmigrateWarning(UserWarning):
    """A problem that does not stop the command; shown as a warning and in the result."""


def translate(exc: BaseException, redact: Callable[[str], str] = lambda s: s) -> NbmigrateError | None:
    """Map an error raised by Alembic, SQLAlchemy or a revision file to a user-facing error.

    Returns ``None`` for errors that are bugs (they keep their traceback). This is the only
    place that knows the shapes of outside errors.
    """
    from alembic.script.revision import MultipleHeads, RangeNotAncestorError, ResolutionError, RevisionError
    from alembic.util import CommandError
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    if isinstance(exc, NbmigrateError):
        return exc
    if isinstance(exc, MultipleHeads):
        heads = ", ".join(exc.heads)
        return RevisionProblem(
            redact(
                f"{exc.argument!r} is ambiguous: there are several heads ({heads}). "
                f"Name one (e.g. `{exc.heads[0]}` or `branchname@head`), use `heads`, "
                "or merge them with `%migrate merge heads -m \"merge\"`."
            )
        )
    if isinstance(exc, ResolutionError):
        return RevisionProblem(redact(_resolution_message(exc)))
    if isinstance(exc, (RangeNotAncestorError, RevisionError)):
        return RevisionProblem(redact(_with_hint(str(exc))))
    if isinstance(exc, CommandError):
        cause = exc.__cause__
        if isinstance(cause, (MultipleHeads, ResolutionError)):
            return translate(cause, redact)
        return NbmigrateError(redact(_command_message(exc)))
    if isinstance(exc, DBAPIError) and exc.connection_invalidated is False and exc.statement is None:
        return ConnectionFailed(redact(f"Cannot connect to the database: {_first_line(exc.orig)}"))
    if isinstance(exc, NoSuchModuleError) and str(exc).endswith("sqlalchemy.dialects:driver"):
        # `alembic init` writes sqlalchemy.url = driver://user:pass@localhost/dbname: no driver
        # to install, a URL to set.
        return ConnectionFailed(
            "The database URL is still the placeholder `alembic init` writes (driver://...): set "
            "sqlalchemy.url to your database's URL, or run `%migrate connect URL` (this kernel only)."
        )
    if isinstance(exc, NoSuchModuleError):
        return ConnectionFailed(
            redact(f"{exc}. Install the database driver, e.g. `pip install nbmigrate[postgresql]`.")
        )
    if isinstance(exc, ArgumentError) and "URL" in str(exc):
        return ConnectionFailed(redact(f"{exc}. Use a URL like sqlite:///file.db."))
    if isinstance(exc, AssertionError) and alembic_refused(exc):
        return RevisionProblem(
            "That names no revision: a revision is an id (or its first characters) from "
            "`%migrate history`, `head`, `heads`, `base`, `-1`/`+1`, or `branchname@head`."
        )
    if isinstance(exc, (SyntaxError, ImportError, NameError, KeyError)) and _from_revision_file(exc):
        where = _revision_file_of(exc) or ""
        what = "The project's env.py" if where.split(",")[0].replace("\\", "/").endswith("/env.py") else "A revision file"
        return RevisionProblem(
            redact(f"{what} does not load ({where}): {type(exc).__name__}: {exc}. Fix or remove the file.")
        )
    missing = _missing_function(exc)
    if missing is not None:
        return RevisionProblem(redact(missing))
    in_env = _env_py_failure(exc)
    if in_env is not None:
        return NbmigrateError(redact(in_env))
    return None


def offline_failure(exc: BaseException, command: str, redact: Callable[[str], str] = lambda s: s) -> NbmigrateError | None:
    """A ``--sql`` run that a revision file stopped, as one line: which revision, where, and why.

    Offline, a revision has no database: ``op.get_bind()`` is a mock whose ``execute`` returns
    ``None`` and which ``inspect`` refuses. ``None`` when the error did not come from a revision's
    code (env.py's errors and Alembic's own go through :func:`translate`).
    """
    if isinstance(exc, NbmigrateError) or not isinstance(exc, Exception):
        return None
    frame = _deepest_loaded(exc)
    if frame is None or _is_env_py(frame[0]):
        return None
    path, line, module_globals = frame
    revision = module_globals.get("revision")
    what = f"revision {revision} ({_shown(path)}, line {line})" if revision else f"{_shown(path)}, line {line}"
    error = f"{type(exc).__name__}: {_first_line(exc)}".rstrip(".")
    if _reads_the_database(exc):
        return NbmigrateError(redact(
            f"`{command}` cannot be written: {what} inspects the live database ({error}), so it cannot run "
            "offline. Run it against the database instead (`--preview` shows its SQL, then rolls back), or "
            "skip that step when `context.is_offline_mode()`."
        ))
    return NbmigrateError(redact(f"`{command}` stopped in {what}: {error}. No SQL was written."))


def _reads_the_database(exc: BaseException) -> bool:
    """Whether an offline run failed because the revision asked the (absent) database something."""
    from sqlalchemy.exc import NoInspectionAvailable

    text = str(exc)
    return (
        isinstance(exc, NoInspectionAvailable)
        or "MockConnection" in text
        or "live database" in text  # Alembic's own word for batch mode's reflection
        or (isinstance(exc, AttributeError) and text.startswith("'NoneType' object has no attribute"))  # bind.execute(...)
    )


def _missing_function(exc: BaseException) -> str | None:
    """A revision file without ``downgrade()`` (legal) that a downgrade needs, or without ``upgrade()``.

    Alembic looks the function up as it plans the steps, before anything runs, and raises a bare
    ``AttributeError`` on the revision's module.
    """
    import types

    name, module = getattr(exc, "name", None), getattr(exc, "obj", None)
    if not isinstance(exc, AttributeError) or name not in ("upgrade", "downgrade"):
        return None
    if not isinstance(module, types.ModuleType) or not _loaded_by_alembic(vars(module), getattr(module, "__file__", None) or ""):
        return None
    revision = getattr(module, "revision", None) or "?"
    passes = "downgraded past it" if name == "downgrade" else "upgraded to it"
    return (
        f"Revision {revision} ({_shown(module.__file__ or '')}) has no {name}(), so the database cannot be "
        f"{passes}. Write its {name}(), or choose a target that does not need it."
    )


def _env_py_failure(exc: BaseException) -> str | None:
    """An exception raised while a project's env.py ran (not in a revision file): where, and what.

    Errors of nbmigrate's own code stay bugs, with their traceback, even when env.py called it.
    """
    if not isinstance(exc, Exception):
        return None
    frame = _deepest_loaded(exc)
    if frame is None or not _is_env_py(frame[0]):
        return None
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(_PACKAGE_DIR + os.sep):
        return None
    path, line, _ = frame
    text = f"The project's env.py failed at {_shown(path)}, line {line}: {type(exc).__name__}: {_first_line(exc)}"
    if "application context" in text:  # Flask: current_app outside `with app.app_context()`
        text = text.rstrip(".") + ". Push the Flask app's context first, in a cell: `app.app_context().push()`."
    return text


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _deepest_loaded(exc: BaseException) -> tuple[str, int, dict[str, Any]] | None:
    """The innermost frame of the traceback in a file Alembic loaded: (path, line, module globals)."""
    tb = exc.__traceback__
    found = None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if _loaded_by_alembic(tb.tb_frame.f_globals, name):
            found = (name, tb.tb_lineno, tb.tb_frame.f_globals)
        tb = tb.tb_next
    return found


def _is_env_py(path: str) -> bool:
    return os.path.basename(path) == "env.py"


def _shown(path: str) -> str:
    """``path`` relative to the working directory when below it (as the rest of the output shows it)."""
    full = os.path.abspath(path)
    here = os.path.join(os.getcwd(), "")
    return full[len(here):] if full.startswith(here) else full


def alembic_refused(exc: BaseException) -> bool:
    """An ``assert`` of Alembic's on a revision name it was given (``''``, ``'@'``, ``base`` as a dependency)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return False
    where = frames[-1].filename.replace("\\", "/")
    return where.endswith(("/alembic/script/revision.py", "/alembic/util/langhelpers.py"))


def _first_line(value: Any) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


# What to do next, for Alembic messages that do not say it.
_HINTS = (
    ("Ambiguous walk", "The database has several heads: step from one, e.g. `branchname@+1` or `REVISION@+1`, or name the target."),
    ("Walked too far", "There are not that many revisions in that direction: see `%migrate history`."),
    ("didn't produce", "There are not that many revisions in that direction: see `%migrate history`."),
    ("is not a valid downgrade target", "It must be below the database's revision: see `%migrate current` and `%migrate history`."),
    ("is not a valid upgrade target", "It must be above the database's revision: see `%migrate current` and `%migrate history`."),
    ("Target database is not up to date", "Upgrade it first: `%migrate upgrade head`."),
    ("already used by revision", "Choose another --branch-label."),
    ("No such template", "`%migrate list_templates` lists the templates."),
)


def _with_hint(text: str) -> str:
    text = text.strip()
    for marker, hint in _HINTS:
        if marker in text:
            return f"{text.rstrip('.')}. {hint}"
    return text


def _command_message(exc: Exception) -> str:
    text = _with_hint(str(exc))
    if "Can't locate revision identified by" in text:
        return text + " Check `%migrate history` for the revisions this project has."
    if "Path doesn't exist" in text:
        return text + " Run `%migrate init` to create a project, or pass -c/--config."
    if "does not provide a MetaData object" in text:
        return text + (
            " Give it your models' MetaData: in a notebook, `--metadata Base.metadata` or a "
            "`target_metadata = Base.metadata` variable (nbmigrate's env.py uses it); from Python, "
            "`project.check(metadata=Base.metadata)`; an env.py of your own sets target_metadata."
        )
    return text


def _resolution_message(exc: Any) -> str:
    text = str(exc).strip()
    if "multiple revisions" in text.lower() or "ambiguous" in text.lower():
        return text + " Use more characters of the id."
    return f"{text}. Check `%migrate history` for the revisions this project has."


def _from_revision_file(exc: BaseException) -> bool:
    return _revision_file_of(exc) is not None


def _revision_file_of(exc: BaseException) -> str | None:
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}, line {exc.lineno}"
    tb = exc.__traceback__
    found = None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if _loaded_by_alembic(tb.tb_frame.f_globals, name):
            found = f"{name}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _loaded_by_alembic(module_globals: dict[str, Any], filename: str) -> bool:
    """Whether code runs in a file Alembic imported (a revision file or env.py), not in a library.

    Alembic imports those as modules named after the file (``0001_x.py`` becomes ``0001_x_py``),
    which no installed package is. A folder called ``versions`` proves nothing: pyenv keeps every
    Python, and so every library, under ``~/.pyenv/versions/``.
    """
    base = os.path.basename(filename)
    return module_globals.get("__name__") == re.sub(r"\W", "_", base)
