"""The statements each revision of a range would run, written by Alembic's offline (``--sql``) mode.

One offline run covers the whole range, as ``upgrade a:b --sql`` does, with the warm revision map.
Its output buffer is a :class:`_Recorder`: Alembic writes each statement to it separately, and the
recorder notes which revision was running, the line of the revision file that emitted it (from
the call stack), whether it came from ``op.execute``, and whether a transaction was open. One
run for the range is several times faster than one run per revision: env.py is run once.

Two things a revision can do offline are caught instead of ending the run: a SQLite batch block
that has to copy its table (Alembic would need to reflect the table from a live database; the
copy is recorded as such), and any error raised inside a revision (recorded, and the next
revision goes on).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .analyze import BatchCopy, RevisionStatements, Statement
from .policy import read_markers

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

    from ..project import Project

_TRANSACTION = {"BEGIN": True, "BEGIN TRANSACTION": True, "START TRANSACTION": True, "COMMIT": False, "ROLLBACK": False}


@dataclass
class Collection:
    """The statements of every revision in a range, in the order they would run."""

    revisions: list[RevisionStatements]
    preamble: list[str]  # what env.py and Alembic wrote before the first revision
    start: tuple[str, ...] | str
    destination: str
    output: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Open:
    revision: str
    path: str
    statements: list[Statement] = field(default_factory=list)
    error: str | None = None
    error_line: int | None = None
    error_code: str = "NBM002"


class _Recorder(io.TextIOBase):
    """Alembic's offline output buffer, keeping each statement with its revision, line and origin."""

    def __init__(self) -> None:
        super().__init__()
        self.current: _Open | None = None
        self.done: list[_Open] = []
        self.preamble: list[str] = []
        self.in_transaction = False
        self.interrupted = ""  # the revision whose rendering an interrupt stopped
        self._normalised: dict[str, str] = {}

    def writable(self) -> bool:
        return True

    def write(self, text: Any) -> int:
        if isinstance(text, bytes):  # an env.py that sets output_encoding
            text = text.decode("utf-8", "replace")
        chunk = text.strip()
        if not chunk or chunk.startswith("-- Running "):
            return len(text)
        # Alembic ends each statement with the command terminator (";") and a blank line.
        statement = chunk[:-1].rstrip() if chunk.endswith(";") else chunk
        opened = self.in_transaction
        state = _TRANSACTION.get(" ".join(statement.upper().split()))
        if state is not None:
            self.in_transaction = state
        if self.current is None:
            if not self.done:  # before the first revision (env.py's own statements); later: version rows
                self.preamble.append(statement)
        else:
            line, raw = self._origin()
            self.current.statements.append(Statement(len(self.current.statements), statement, line, raw, opened))
        return len(text)

    def flush(self) -> None:
        pass

    def batch(self, table: str, operations: Sequence[tuple[str, Any, dict[str, Any]]]) -> None:
        """A SQLite batch block that copies ``table``: recorded instead of reflecting the table."""
        if self.current is None:
            return
        line, _ = self._origin()
        ops = tuple(_batch_operation(name, args, kw) for name, args, kw in operations)
        self.current.statements.append(
            Statement(len(self.current.statements), "", line, False, self.in_transaction, BatchCopy(table, ops))
        )

    def _origin(self) -> tuple[int | None, bool]:
        """The line of the revision file that is running, and whether the statement came from op.execute."""
        assert self.current is not None
        target = self.current.path
        raw = False
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if self._normal(name) == target:
                return frame.f_lineno, raw
            if frame.f_code.co_name == "execute_sql" and "alembic" in name:
                raw = True
            frame = frame.f_back  # type: ignore[assignment]
        return None, raw

    def _normal(self, name: str) -> str:
        found = self._normalised.get(name)
        if found is None:
            found = self._normalised[name] = os.path.normcase(os.path.abspath(name))
        return found

    def failed(self, exc: BaseException) -> None:
        """A revision raised: keep what it emitted so far, and why and where it stopped."""
        if self.current is None:
            return
        line = None
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            if self._normal(frame.f_code.co_filename) == self.current.path:
                line = lineno
        first = (str(exc).strip().splitlines() or [""])[0]
        self.current.error = f"{type(exc).__name__}: {first}".rstrip(": ") + "; the rest of the revision was not rendered"
        self.current.error_line = line
        if isinstance(exc, NotImplementedError) and "SQLite" in first:
            self.current.error_code = "NBM402"
            self.current.error = ("ALTER of a constraint (Alembic has none on SQLite; the rest of the revision "
                                  "was not rendered)")


def _batch_operation(name: str, args: Any, kw: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """One batched operation as (name, column, the options the rules read)."""
    target = args[1] if len(args) > 1 else (args[0] if args else None)
    column = getattr(target, "name", target if isinstance(target, str) else "") or ""
    info: dict[str, Any] = {}
    if name == "alter_column":
        info = {"new_column_name": kw.get("name"), "nullable": kw.get("nullable"), "type": kw.get("type_")}
    elif name == "add_column" and target is not None and hasattr(target, "nullable"):
        info = {"not_null": not target.nullable and not target.primary_key,
                "default": target.server_default is not None or target.computed is not None or target.identity is not None}
    return name, str(column), info


def _recreates(batch: Any) -> bool:
    """Whether Alembic's batch block copies its table: ``recreate="always"``, or ``"auto"`` where the impl needs it."""
    if batch.recreate == "auto":
        return bool(batch.operations.impl.requires_recreate_in_batch(batch))
    return batch.recreate == "always"


@contextlib.contextmanager
def _batch_copies_recorded() -> Iterator[None]:
    """While linting, a batch block that would copy its table offline is recorded, not refused.

    Alembic refuses such a block in ``--sql`` mode (it would need to reflect the table). Only a
    run whose output buffer is a :class:`_Recorder` is affected; any other goes on as before.
    """
    from alembic.operations.batch import BatchOperationsImpl

    original = BatchOperationsImpl.flush

    def flush(self: Any) -> None:
        buffer = getattr(self.operations.impl, "output_buffer", None)
        if (isinstance(buffer, _Recorder) and self.operations.migration_context.as_sql and self.copy_from is None
                and _recreates(self)):
            buffer.batch(self.table_name, self.batch)
            return
        original(self)

    BatchOperationsImpl.flush = flush  # type: ignore[method-assign]
    try:
        yield
    finally:
        BatchOperationsImpl.flush = original  # type: ignore[method-assign]


def collect(project: Project, start: tuple[str, ...] | str, destination: str, *, label: str = "") -> Collection:
    """Each revision's statements from ``start`` (heads, or ``"base"``) to ``destination``, rendered offline."""
    from alembic.runtime.environment import EnvironmentContext

    from .. import _runtime
    from .._internals import serving, upgrade_steps
    from ..engine import captured_warnings, output_text, raise_translated, script_directory
    from ..errors import Interrupted, offline_failure

    script = script_directory(project)
    recorder = _Recorder()
    config = project.config
    start_rev: Any = "base" if start in ((), "base") else start

    def steps(rev: Any, context: Any) -> list[Any]:
        _without_version_rows(context)
        return [_guarded(step, recorder) for step in upgrade_steps(script, destination, rev)]

    def run() -> None:
        config.output_buffer = recorder
        try:
            with serving(script), _batch_copies_recorded(), EnvironmentContext(
                config, script, fn=steps, as_sql=True, starting_rev=start_rev, destination_rev=destination
            ):
                script.run_env()
        finally:
            config.output_buffer = None

    _, capture, error = _runtime.contained(run)
    if isinstance(error, (KeyboardInterrupt, _runtime.Interrupted)):
        where = f" (rendering revision {recorder.interrupted} offline)" if recorder.interrupted else ""
        raise Interrupted(f"Interrupted while the revisions were checked{where}; nothing ran on the database.") from None
    if error is not None:
        command = f"lint {label or destination}"
        offline = None if isinstance(error, _runtime.Exit) else offline_failure(error, command, project.redact)
        if offline is not None:
            raise offline from error
        raise_translated(project, error)
    revisions, problems = [], []
    for opened in recorder.done:
        revision, found = _finish(opened, script)
        revisions.append(revision)
        problems += found
    return Collection(revisions, recorder.preamble, start, destination, output_text(project, capture),
                      captured_warnings(project, capture) + problems)


def _without_version_rows(context: Any) -> None:
    """Alembic's offline writes to the version table are not compiled: the lint reads none of them.

    One UPDATE per revision, each compiled by SQLAlchemy, is a large part of an offline run; the
    run's own bookkeeping of the heads (which decides nothing here: the steps are planned first)
    goes on. Only this run's impl is changed (see :func:`nbmigrate._internals.skip_version_writes`).
    """
    from .._internals import skip_version_writes

    skip_version_writes(context)


def _guarded(step: Any, recorder: _Recorder) -> Any:
    """The migration step, its ``upgrade()`` wrapped so that the recorder knows it runs and what it raised."""
    from .. import _runtime

    inner = step.migration_fn
    script = step.revision

    def run(**kw: Any) -> None:
        path = os.path.normcase(os.path.abspath(script.path))
        recorder.current = _Open(script.revision, path)
        try:
            inner(**kw)
        except (_runtime.Interrupted, KeyboardInterrupt):
            recorder.interrupted = script.revision
            raise
        except Exception as exc:  # noqa: BLE001 - recorded as NBM002, and the next revision runs
            recorder.failed(exc)
        finally:
            recorder.done.append(recorder.current)
            recorder.current = None

    step.migration_fn = run
    return step


def _finish(opened: _Open, script: ScriptDirectory) -> tuple[RevisionStatements, list[str]]:
    """The revision's statements with its file, message and marker comments; and the markers' problems."""
    sc = script.get_revision(opened.revision)
    path = sc.path if sc is not None else ""
    markers = read_markers(path) if path else None
    revision = RevisionStatements(
        revision=opened.revision, path=path, message=(sc.doc or "") if sc is not None else "",
        statements=tuple(opened.statements), allowed=markers.allowed if markers is not None else frozenset(),
        reasons=dict(markers.reasons) if markers is not None else {},
        error=opened.error, error_line=opened.error_line, error_code=opened.error_code,
    )
    return revision, list(markers.problems) if markers is not None else []
