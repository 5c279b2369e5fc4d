"""The run engine: pre-flight, lock, snapshot, Alembic, read back, and the failure report.

One path moves a database, for ``upgrade``, ``downgrade``, ``stamp``, ``%%revision --apply`` and
the graph widget's buttons: :func:`migrate` checks the revision files and the database, takes the
migration lock, snapshots the schema, runs Alembic's own command contained (``--preview`` in one
transaction it rolls back), reads back where the database is and what changed, and on a failure
raises :class:`~nbmigrate.errors.MigrationFailed` with the report of :mod:`nbmigrate.failure`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _runtime
from .locks import migration_lock
from .engine import applied_revisions, captured_warnings, output_text, run_contained
from .errors import BadArguments
from .failure import report_failure, shown_sql, step_line, step_result
from .paths import relative_path
from .project import Project
from .results import MigrationResult

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

Progress = Callable[[int, int, str], None]

_RELATIVE = re.compile(r"(^|@)?[+-]\d+$")


def migrate(
    project: Project,
    kind: str,
    target: str,
    *,
    plan: Callable[[ScriptDirectory, tuple[str, ...]], Any],
    run: Callable[[ScriptDirectory], Any],
    preview: bool,
    schema: bool,
    progress: Progress | None,
    remaining: Callable[[ScriptDirectory, tuple[str, ...]], Any] | None = None,
    check: Callable[[], Any] | None = None,
) -> MigrationResult:
    """Pre-flight, lock, run Alembic contained, and read back where the database is now.

    ``plan(script, heads)`` gives the steps from ``heads`` to the target; ``remaining`` (default:
    ``plan``) what would still be left to do from where the run ended (nothing, if it arrived).
    ``check()`` runs once the files passed the pre-flight, before the lock (the lint).
    """
    from . import checksums, preflight
    from .schema import with_version_table
    from .cancel import canceller
    from .locks import watch_commits

    targets = tuple(target.split()) if kind == "stamp" else (target,)
    script, _ = run_contained(project, lambda: preflight.check_files(project, targets))
    if preview:
        _check_preview(project, script, kind)
    if check is not None:
        check()
    config = project.config
    state: dict[str, Any] = {}

    def body() -> MigrationResult:
        with (
            project.connection() as conn,
            _outside_transaction(conn),
            migration_lock(project, conn, getattr(progress, "notify", None)),
        ):
            before_heads = project.current_heads(conn)
            state["dialect"] = conn.dialect.name
            planned = preflight.check_database(project, script, before_heads, plan, check_rows=kind != "stamp")
            state["before"] = before_heads
            state["planned"] = len(planned)
            state["planned_ids"] = [getattr(getattr(s, "revision", None), "revision", "") for s in planned]
            applied_before = applied_revisions(script, before_heads)
            checksums.verify(project, conn, script, applied_before)
            assumed = (project.version_table, project.version_table_schema)
            snapshot_warnings = state.setdefault("snapshot_warnings", [])
            before = take_snapshot(conn, *assumed, warned=snapshot_warnings) if schema or preview else None
            cancel = canceller(conn)
            config.attributes["connection"] = conn
            config.attributes["nbmigrate.preview"] = preview
            # --preview: one outer transaction around the whole run. Alembic sees a transaction
            # it did not begin, so it commits nothing; nbmigrate rolls it back afterwards.
            outer = conn.begin() if preview else None
            try:
                with _runtime.recording(cancel), watch_commits(conn) as journal, _no_autocommit(preview):
                    state["journal"] = journal
                    with _version_table_read() as read, _observed(conn, preview) as observed:
                        state["observed"] = observed
                        run(script)
            except BaseException:
                if outer is not None and outer.is_active:
                    outer.rollback()
                try:  # where the failure left the database, read while the lock is still held
                    state["heads_after"] = project.current_heads(conn)
                except Exception:
                    pass
                raise
            finally:
                config.attributes.pop("connection", None)
                config.attributes.pop("nbmigrate.preview", None)
            after_heads = project.current_heads(conn, end_transaction=not preview)
            version = (read.name, read.schema) if read.name is not None else assumed
            if before is not None and version != assumed:
                before = with_version_table(before, *version, read.heads)
            after = (
                take_snapshot(conn, *version, end_transaction=not preview, warned=snapshot_warnings)
                if schema or preview else None
            )
            state["after"] = after_heads
            note = ""
            if outer is not None:
                outer.rollback()
                note = _prove_rolled_back(project, conn, before_heads, before, version)
            else:
                checksums.record(project, conn, script, applied_before, applied_revisions(script, after_heads))
            left = list((remaining or plan)(script, after_heads)) if not _RELATIVE.search(target) else []
            return MigrationResult(
                note=note,
                command=f"{kind} {target}",
                target=target,
                database=project.display_url,
                dialect=conn.dialect.name,
                transactional_ddl=None,
                heads_before=before_heads,
                heads_after=after_heads,
                before=before,
                after=after,
                diff=schema_change(before, after),
                preview=preview,
                reached=not left,
            )

    def on_event(kind_: str, n: int, step: Any) -> None:
        if progress is not None and kind_ == "step":
            progress(n, state.get("planned", 0), project.redact(step_line(kind, step)))

    result, capture, error = _runtime.contained(body, on_event=on_event)
    if error is not None:
        report_failure(project, kind, target, state, capture, error)
    assert result is not None
    result.transactional_ddl = capture.transactional_ddl
    result.steps = [step_result(project, kind, event) for event in capture.steps]
    result.sql = shown_sql(project, capture.sql)
    result.output = output_text(project, capture)
    result.warnings = [*([capture.interrupt] if capture.interrupt else []), *captured_warnings(project, capture)]
    result.snapshot_warnings = list(dict.fromkeys(project.redact(w) for w in state.get("snapshot_warnings", ())))
    # What the migration's statements took: not nbmigrate's and Alembic's reads and writes of the version table.
    result.observed = [o for o in state.get("observed", ()) if set(o.new) - {project.version_table} or o.rewritten]
    ran = [step.revision for step in result.steps]
    if kind != "stamp" and ran != state["planned_ids"]:
        # Only SQLite can get here: another run took the write lock between nbmigrate's first
        # look and Alembic's own reading of alembic_version (see nbmigrate.locks).
        result.warnings.append(
            f"Another run changed the database after this one first read it at {heads_text(result.heads_before)}: "
            f"Alembic, reading {project.version_table} under the write lock, ran {', '.join(ran) or 'nothing'} "
            f"instead of {', '.join(state['planned_ids']) or 'nothing'}."
        )
    if not result.reached and not result.preview:
        result.note = (
            f"The database is at {heads_text(result.heads_after)}, not at {target!r} as asked: "
            "check that env.py uses the connection nbmigrate passes (config.attributes['connection'])."
        )
    return result


@contextlib.contextmanager
def _observed(conn: Connection, preview: bool) -> Iterator[list[Any]]:
    """--preview on PostgreSQL: what the server holds and rewrites after each statement (see nbmigrate.observe)."""
    if not preview:
        yield []
        return
    from .observe import observing

    with observing(conn) as observed:
        yield observed


@contextlib.contextmanager
def _outside_transaction(conn: Connection) -> Iterator[None]:
    """Refuse to migrate on a connection inside a transaction (only one given to ``connect`` can be)."""
    if conn.in_transaction():
        raise BadArguments(
            "The connection given to `%migrate connect` has a transaction in progress: commit or roll it "
            "back first (a migration runs in transactions of its own). Nothing was run."
        )
    yield


def take_snapshot(
    conn: Connection,
    version_table: str,
    version_table_schema: str | None,
    *,
    end_transaction: bool = True,
    warned: list[str] | None = None,
) -> Any:
    """The schema before or after a run; what reflecting it warned goes to ``warned``, not the run's warnings.

    SQLAlchemy's reflection warnings (an expression index, a type it does not know) come from
    nbmigrate's own look at the schema, which the ``alembic`` command line never takes; a
    project's env.py may even filter them on purpose.
    """
    import warnings

    from .schema import snapshot

    try:
        with warnings.catch_warnings(record=True) as caught:
            taken = snapshot(conn, version_table=version_table, version_table_schema=version_table_schema)
        if warned is not None:
            warned.extend(str(w.message) for w in caught)
        return taken
    finally:
        if end_transaction and conn.in_transaction():
            conn.rollback()


# Databases whose DDL commits on its own: nothing there can be previewed and rolled back.
_NO_TRANSACTIONAL_DDL = {"mysql", "mariadb", "oracle"}


# An env.py that takes the connection it is given: `attributes["connection"]`, `.get('connection', None)`.
_USES_GIVEN_CONNECTION = re.compile(r"""attributes\s*(\.get\(\s*|\[\s*)["']connection["']""")


def _check_preview(project: Project, script: ScriptDirectory, kind: str) -> None:
    """Refuse ``--preview`` where a rollback could not undo the run."""
    url = project.url
    backend = url.get_backend_name() if url is not None else ""
    if backend in _NO_TRANSACTIONAL_DDL:
        raise BadArguments(
            f"--preview cannot work on {backend}: it commits every DDL statement at once, so nothing "
            f"could be rolled back. Use `%migrate {kind} ... --sql` to see the SQL without running it."
        )
    env_py = Path(script.env_py_location)
    source = env_py.read_text(encoding="utf-8") if env_py.is_file() else ""
    if not _USES_GIVEN_CONNECTION.search(source):
        raise BadArguments(
            f"--preview needs an env.py that runs on the connection nbmigrate passes "
            f"(config.attributes['connection']); {relative_path(env_py)} opens its own, so a preview "
            "could not be rolled back. Use --sql instead, or use nbmigrate's env.py."
        )


@contextlib.contextmanager
def _no_autocommit(preview: bool) -> Iterator[None]:
    """During a preview, refuse a migration that commits on its own (``autocommit_block``)."""
    if not preview:
        yield
        return
    from alembic.runtime.migration import MigrationContext

    real = MigrationContext.autocommit_block

    @contextlib.contextmanager
    def refuse(self: Any) -> Iterator[None]:
        raise BadArguments(
            "This migration commits on its own (autocommit_block), so a preview could not be "
            "rolled back; nothing was changed. Use --sql to see its SQL."
        )
        yield  # pragma: no cover

    MigrationContext.autocommit_block = refuse  # type: ignore[method-assign]
    try:
        yield
    finally:
        MigrationContext.autocommit_block = real  # type: ignore[method-assign]


@dataclasses.dataclass
class _VersionTableRead:
    """The version table a run's Alembic was configured with, and what it read there first."""

    name: str | None = None
    schema: str | None = None
    heads: tuple[str, ...] = ()


@contextlib.contextmanager
def _version_table_read() -> Iterator[_VersionTableRead]:
    """Note which version table Alembic reads as the run begins.

    env.py may pass any ``version_table``/``version_table_schema`` to ``context.configure``,
    whatever the project's options say; only the run knows, and the snapshots must hide that table.
    """
    from alembic.runtime.migration import MigrationContext

    read = _VersionTableRead()
    real = MigrationContext.get_current_heads

    def get_current_heads(self: MigrationContext) -> tuple[str, ...]:
        heads = real(self)
        if read.name is None:  # the first read is Alembic's own, before anything ran
            read.name, read.schema, read.heads = self.version_table, self.version_table_schema, heads
        return heads

    MigrationContext.get_current_heads = get_current_heads  # type: ignore[method-assign]
    try:
        yield read
    finally:
        MigrationContext.get_current_heads = real  # type: ignore[method-assign]


def _prove_rolled_back(
    project: Project, conn: Connection, heads: tuple[str, ...], before: Any, version: tuple[str, str | None]
) -> str:
    """Read the database again after a preview's rollback and say what proves it is untouched."""
    now = project.current_heads(conn)
    same_schema = before is None or not schema_change(before, take_snapshot(conn, *version))
    if tuple(now) != tuple(heads) or not same_schema:
        return (
            f"The rollback did not restore the database: it is at {heads_text(now)} (was {heads_text(heads)}). "
            "Check the schema with `%migrate schema`."
        )
    return f"Rolled back and checked: the database is still at {heads_text(heads)} with its schema unchanged."


def schema_change(before: Any, after: Any) -> Any:
    if before is None or after is None:
        return None
    from .schema import diff

    return diff(before, after)


def heads_text(heads: Sequence[str] | None) -> str:
    if heads is None:
        return "(unknown)"
    return ", ".join(sorted(heads)) if heads else "base (no revision)"
