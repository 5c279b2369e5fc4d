"""Running Alembic inside nbmigrate: contained, serialised, with its errors translated.

What every layer above needs to call Alembic: :func:`run_contained` runs a function in the
worker thread (output captured, Ctrl-C contained) and turns user-fixable errors into
:class:`~nbmigrate.errors.NbmigrateError`; :func:`script_directory` is the project's warm
``ScriptDirectory`` with broken revision files explained; :func:`database_heads` reads where the
database is without failing a read-only command. No IPython, no results.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _internals, _runtime
from ._internals import serving
from .errors import NbmigrateError, NbmigrateWarning, offline_failure, translate
from .paths import relative_path
from .results import SqlResult

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

    from .project import Project


def run_contained(project: Project, fn: Callable[[], Any], *, on_event: Any = None) -> tuple[Any, _runtime.Capture]:
    """Run ``fn`` contained; map any user-fixable error to an :class:`NbmigrateError`."""
    value, capture, error = _runtime.contained(fn, on_event=on_event)
    if error is not None:
        raise_translated(project, error)
    return value, capture


def raise_translated(project: Project, error: BaseException) -> None:
    if isinstance(error, _runtime.Exit):
        raise NbmigrateError(f"Alembic stopped with {error}.") from None
    mapped = translate(error, project.redact)
    if mapped is None:
        raise error
    if mapped is error:
        raise error
    raise mapped from error  # the UsageError boundary hides the chain; `--raiseerr` shows it


def captured_warnings(project: Project, capture: _runtime.Capture) -> list[str]:
    return list(dict.fromkeys(project.redact(w) for w in capture.warnings))  # each said once


def output_text(project: Project, capture: _runtime.Capture) -> str:
    """What Alembic printed, passwords masked, paths below the working directory made relative."""
    return project.redact(capture.text).replace(os.path.join(str(Path.cwd().resolve()), ""), "")


def script_directory(project: Project) -> ScriptDirectory:
    """The warm ``ScriptDirectory``, with load errors (broken revision files) translated."""
    pinned = project._scripts.pinned()
    if pinned is not None:  # this command already checked the files (see ScriptCache.pin)
        return pinned
    project.require()
    warm = project._scripts.warm(project.config)
    if warm is not None:  # nothing to read or import: no need to contain anything
        return warm
    loads = project._scripts.loads
    script, capture, error = _runtime.contained(lambda: _load_all(project))
    if error is not None:
        _explain_load_error(project, error)
    _warn_duplicates(project, script, capture, reloaded=project._scripts.loads != loads)
    return script


def compute(project: Project, fn: Callable[[], Any]) -> Any:
    """A computation on the warm revision map, in this thread: nothing is read, run or printed.

    Serialised with all other nbmigrate work like :func:`run_contained`, with errors translated; the
    revision map's warnings (a relative step from several heads) are Alembic's own business
    here, as in a contained call, and not shown.
    """
    import warnings

    with _runtime.LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn()
        except Exception as error:
            raise_translated(project, error)
            raise  # pragma: no cover - raise_translated always raises


def _explain_load_error(project: Project, error: BaseException) -> None:
    """Say what is wrong with the revision files as pre-flight does, else translate ``error``.

    Alembic stops at the first file that fails and answers a ``down_revision`` no file defines
    with a bare ``KeyError``; loading the files one by one names every problem and its file.
    An error the files do not explain is raised as it is (a bug keeps its traceback).
    """
    from . import preflight

    if not isinstance(error, (_runtime.Exit, KeyboardInterrupt)):
        problems, _, failed = _runtime.contained(lambda: preflight._scan(project, project.script()))
        if failed is None and problems:
            raise preflight._problem(problems, "The revision files have") from error
    raise_translated(project, error)


def _load_all(project: Project) -> ScriptDirectory:
    script = project.script()
    _internals.load_map(script)  # the files load here, contained
    return script


def _warn_duplicates(project: Project, script: ScriptDirectory, capture: _runtime.Capture, *, reloaded: bool) -> None:
    """Say loudly when revision ids clash (results carry it too, see ``project.script_problems``)."""
    import warnings

    texts = [t for t in capture.warnings if "loaded twice" in t]
    if reloaded:
        texts += project.script_problems
    for text in texts:
        # Attributed to the project's scripts, not to a line of nbmigrate (which a notebook would print).
        warnings.warn_explicit(project.redact(text), NbmigrateWarning, filename=relative_path(script.dir), lineno=0)


def database_heads(project: Project) -> tuple[tuple[str, ...] | None, str]:
    """The database's current heads, or ``None`` with a reason when it cannot be read."""
    if project.url is None and not project.exists:
        return None, "no database configured"
    # A project whose config names no URL may still have one: its env.py's (see Project.engine).
    try:
        with project.connection() as conn:
            return project.current_heads(conn), ""
    except NbmigrateError as exc:
        return None, str(exc)
    except Exception as exc:  # a database that is down must not break `history`
        mapped = translate(exc, project.redact)
        return None, str(mapped) if mapped else project.redact(f"{type(exc).__name__}: {exc}")


def applied_revisions(script: ScriptDirectory, heads: Sequence[str]) -> set[str]:
    """Every revision at or below the database's heads (down revisions and dependencies), in linear time."""
    return _internals.applied(script.revision_map, heads)


def with_connection(project: Project, fn: Callable[[], Any], *, needs_db: bool, metadata: Any = None) -> Callable[[], Any]:
    """Wrap ``fn`` so that, when it needs the database, ``env.py`` gets this kernel's connection.

    ``metadata`` (the kernel's models, for autogenerate) is passed the same way, for this call only.
    """
    if not needs_db:
        return fn

    def run() -> Any:
        attributes = project.config.attributes
        saved = attributes.get("target_metadata")
        with project.connection() as conn:
            attributes["connection"] = conn
            if metadata is not None:
                attributes["target_metadata"] = metadata
            try:
                return fn()
            finally:
                attributes.pop("connection", None)
                if metadata is not None:
                    attributes.pop("target_metadata", None)
                    if saved is not None:
                        attributes["target_metadata"] = saved

    return run


def error_text(error: BaseException) -> str:
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError) and error.orig is not None:
        return f"{type(error.orig).__name__}: {str(error.orig).strip().splitlines()[0]}"
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def describe_autogenerate(change: Any) -> str:
    """One line for one of autogenerate's differences (a tuple, or a list of column changes)."""
    if isinstance(change, list):
        return "\n".join(describe_autogenerate(c) for c in change)
    kind, *rest = change
    if kind.startswith("modify_") and len(rest) >= 6:  # (schema, table, column, existing, old, new)
        _, table, column, _, old, new = rest[:6]
        return f"{kind} {table}.{column}: {old!r} → {new!r}"
    if kind in ("add_column", "remove_column") and len(rest) >= 3:  # (schema, table, Column)
        return f"{kind} {rest[1]}.{rest[2].name}"
    item = rest[0] if rest else None
    name = getattr(item, "name", None) or str(item)
    table = getattr(getattr(item, "table", None), "name", None) or getattr(getattr(item, "parent", None), "name", None)
    return f"{kind} {name}" + (f" on {table}" if table and table != name else "")


def offline(project: Project, command: str, fn: Callable[[ScriptDirectory], Any], script: ScriptDirectory | None = None) -> SqlResult:
    """Run ``fn(script)``, a command in ``--sql`` mode, and return the script it generated."""
    script = script or script_directory(project)
    buffer = io.StringIO()
    config = project.config

    def run() -> None:
        config.output_buffer = buffer
        try:
            with serving(script):  # for Alembic's own commands that fn may call (ensure_version)
                fn(script)
        finally:
            config.output_buffer = None

    _, capture, error = _runtime.contained(run)
    if error is not None:
        # A revision that reads the database cannot run offline: say which, and where, in one line.
        offline = None if isinstance(error, _runtime.Exit) else offline_failure(error, command, project.redact)
        if offline is not None:
            raise offline from error
        raise_translated(project, error)
    return SqlResult(
        command=command,
        sql=project.redact(buffer.getvalue()),
        database=project.display_url,
        output=output_text(project, capture),
        warnings=captured_warnings(project, capture),
    )


# -- Alembic's commands that move a database, on the warm script -------------------------------
# As ``alembic/command.py`` writes them (an ``EnvironmentContext`` whose ``fn`` plans the steps,
# then ``script.run_env()``), on the project's warm ``ScriptDirectory``; each step says when it
# starts, so the steps, their SQL and the progress come from the run itself, for any env.py.


def run_upgrade(config: Any, script: ScriptDirectory, revision: str, *, sql: bool = False, tag: str | None = None) -> None:
    """``alembic upgrade revision`` (``a:b`` with ``sql``)."""
    starting_rev, revision = _range(revision, sql, required=False)
    _environment_run(
        config, script, lambda heads: _internals.upgrade_steps(script, revision, heads),
        as_sql=sql, starting_rev=starting_rev, destination_rev=revision, tag=tag,
    )


def run_downgrade(config: Any, script: ScriptDirectory, revision: str, *, sql: bool = False, tag: str | None = None) -> None:
    """``alembic downgrade revision`` (``a:b`` with ``sql``, where it is required)."""
    starting_rev, revision = _range(revision, sql, required=True)
    _environment_run(
        config, script, lambda heads: _internals.downgrade_steps(script, revision, heads),
        as_sql=sql, starting_rev=starting_rev, destination_rev=revision, tag=tag,
    )


def run_stamp(
    config: Any, script: ScriptDirectory, revisions: Sequence[str], *, sql: bool = False, tag: str | None = None, purge: bool = False,
) -> None:
    """``alembic stamp revisions`` (each may be ``a:b`` with ``sql``, from one starting revision)."""
    from alembic.util import CommandError

    destinations, starting_rev = [], None
    for target in revisions:
        if sql and ":" in target:
            start, target = target.split(":", 2)
            if starting_rev not in (None, start):
                raise CommandError("Stamp operation with --sql only supports a single starting revision at a time")
            starting_rev = start
        destinations.append(target)
    targets = tuple(destinations)
    _environment_run(
        config, script, lambda heads: _internals.stamp_steps(script, targets, heads),
        as_sql=sql, starting_rev=starting_rev, destination_rev=targets, tag=tag, purge=purge,
    )


def _range(revision: str, sql: bool, *, required: bool) -> tuple[str | None, str]:
    """``(start, destination)`` of a target, ``a:b`` only with ``sql`` (where downgrade ``required`` it), as Alembic says."""
    from alembic.util import CommandError

    if ":" in revision:
        if not sql:
            raise CommandError("Range revision not allowed")
        start, destination = revision.split(":", 2)
        return start, destination
    if sql and required:
        raise CommandError("downgrade with --sql requires <fromrev>:<torev>")
    return None, revision


def _environment_run(config: Any, script: ScriptDirectory, plan: Callable[[Any], Sequence[Any]], **options: Any) -> None:
    from alembic.runtime.environment import EnvironmentContext

    def steps(heads: Any, context: Any) -> list[Any]:
        _runtime.announce_ddl(bool(context.impl.transactional_ddl))
        return [_announced(step) for step in plan(heads)]

    with _runtime.announcing(), EnvironmentContext(config, script, fn=steps, **options):
        script.run_env()


def _announced(step: Any) -> Any:
    """``step`` with its ``migration_fn`` saying when it starts (same name: Alembic shows it in its log)."""
    inner = step.migration_fn

    @functools.wraps(inner)
    def migration_fn(**kw: Any) -> Any:
        _runtime.announce_step(step)
        return inner(**kw)

    step.migration_fn = migration_fn
    return step
