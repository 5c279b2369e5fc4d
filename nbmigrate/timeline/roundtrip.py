"""The round-trip check: every step up, down and up again on a scratch database.

For each revision, in upgrade order, the schema is read before the step, after ``upgrade()``,
after ``downgrade()`` and after ``upgrade()`` again; the downgrade must give back exactly the
schema before (tables, columns, types, keys, indexes, constraints and row counts, so data a
revision seeds must leave with it), and the second upgrade exactly the schema after the first.
Beside the steps: the history has one head, the revision graph loads (no ``depends_on`` cycle),
and, given the models' ``MetaData``, the schema at the end matches them.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BadArguments, NbmigrateError
from ..results import Result
from .at import resolve, script_of, upgrade_order
from .scratch import Probe, StepFailed, replay, scratch_database

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

    from ..project import Project
    from ..schema import SchemaDiff, Snapshot


@dataclass(frozen=True)
class StepCheck:
    """One revision's round trip: passed, or what went wrong and where."""

    revision: str
    message: str
    path: str
    line: int | None  # of the statement that raised, else of the function at fault (``downgrade`` unless ``upgrade`` failed)
    ok: bool
    problem: str = ""
    # For a schema that did not come back: from what was expected to what the step left.
    diff: SchemaDiff | None = None
    note: str = ""  # for a step that passed: what it did that no downgrade undoes


@dataclass(frozen=True)
class Check:
    """A check of the whole history (one head, no cycle, models match)."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(repr=False)
class RoundTripResult(Result):
    """``%migrate test``: the round trip of every step, and the checks of the whole history."""

    command: str
    dialect: str
    rev_range: str
    steps: list[StepCheck] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every step and every check passed."""
        return all(s.ok for s in self.steps) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[StepCheck]:
        """The steps that did not pass."""
        return [s for s in self.steps if not s.ok]

    def __bool__(self) -> bool:
        return self.ok


def _shape(snap: Snapshot) -> dict[str, Any]:
    """The tables without their row and non-null counts, columns by name: the schema alone.

    Column order is left out: a downgrade that adds back a dropped column can only append it
    (``ALTER TABLE ... ADD COLUMN``), and the schema difference ignores order too.
    """
    from dataclasses import replace

    return {
        name: replace(t, row_count=None, columns=tuple(sorted((replace(c, non_null=None) for c in t.columns), key=lambda c: c.name)))
        for name, t in snap.tables.items()
    }


def _same(a: Snapshot, b: Snapshot) -> bool:
    """Same schema, and no table holding more rows than expected (rows a revision adds must leave with it).

    Fewer rows is a data change no downgrade can undo (an upgrade that deletes duplicates): said
    as a note, not a failure.
    """
    if _shape(a) != _shape(b):
        return False
    return not any((b.tables[n].row_count or 0) > (t.row_count or 0) for n, t in a.tables.items())


def _rows_lost(expected: Snapshot, found: Snapshot) -> str:
    lost = [(n, t.row_count or 0, found.tables[n].row_count or 0) for n, t in expected.tables.items()
            if (found.tables[n].row_count or 0) < (t.row_count or 0)]
    if not lost:
        return ""
    said = "; ".join(f"{n} has {got} rows, not {want}" for n, want, got in lost)
    return f"rows its upgrade deleted did not come back ({said}): a data change no downgrade undoes"


def _rows_changed(expected: Snapshot, found: Snapshot) -> str:
    """The tables whose row counts differ, as a clause: the schema difference does not show counts."""
    def rows(n: int | None) -> str:
        return f"{n} row" + ("" if n == 1 else "s")

    both = sorted(expected.tables.keys() & found.tables.keys())
    counts = [(name, expected.tables[name].row_count or 0, found.tables[name].row_count or 0) for name in both]
    changed = [(name, want, got) for name, want, got in counts if want != got]
    if not changed:
        return ""
    said = "; ".join(f"{name} has {rows(got)}, not {want}" for name, want, got in changed)
    why = []
    if any(got > want for _, want, got in changed):
        why.append("rows a revision adds must leave with its downgrade")
    if any(got < want for _, want, got in changed):  # e.g. an upgrade that deletes duplicates
        why.append("rows its upgrade deleted did not come back")
    return f" ({said}: {'; '.join(why)})"


def _where(script: ScriptDirectory, rev: str, function: str) -> tuple[str, int | None]:
    sc = script.get_revision(rev)
    fn = getattr(sc.module, function, None)
    try:
        line = inspect.getsourcelines(fn)[1] if fn is not None else None
    except (OSError, TypeError):
        line = None
    return sc.path, line


class _Stairway:
    """The plan: up, down, up for every checked revision, recording what each step left."""

    def __init__(self, script: ScriptDirectory, order: Sequence[str], checked: set[str]) -> None:
        self.script = script
        self.order = order
        self.checked = checked
        self.results: list[StepCheck] = []
        self.at: tuple[str, str] | None = None  # the revision and function running now

    def plan(self, probe: Probe) -> Iterator[tuple[str, bool]]:
        from ..schema import diff

        for rev in self.order:
            if rev not in self.checked:
                self.at = (rev, "upgrade")
                yield rev, True
                continue
            before = probe.snapshot()
            self.at = (rev, "upgrade")
            yield rev, True
            after = probe.snapshot()
            self.at = (rev, "downgrade")
            yield rev, False
            down = probe.snapshot()
            if not _same(before, down):
                problem = "downgrade() did not give back the schema before the revision" + _rows_changed(before, down)
                self._fail(rev, "downgrade", problem, diff(before, down))
                return  # the rest would start from a wrong schema
            self.at = (rev, "upgrade")
            yield rev, True
            again = probe.snapshot()
            if not _same(after, again):
                problem = "upgrade() after downgrade() did not give the same schema as the first time" + _rows_changed(after, again)
                self._fail(rev, "upgrade", problem, diff(after, again))
                return
            path, _ = _where(self.script, rev, "downgrade")
            self.results.append(StepCheck(rev, self._message(rev), path, None, True, note=_rows_lost(before, down)))
        self.at = None

    def _message(self, rev: str) -> str:
        return (self.script.get_revision(rev).doc or "").strip().splitlines()[0] if self.script.get_revision(rev).doc else ""

    def _fail(self, rev: str, function: str, problem: str, difference: Any = None, line: int | None = None) -> None:
        path, start = _where(self.script, rev, function)
        line = line if line is not None else start
        self.results.append(StepCheck(rev, self._message(rev), path, line, False, problem, difference))


def round_trip(project: Project, rev_range: str | None = None, *, metadata: Any = None) -> RoundTripResult:
    """Check every step of ``rev_range`` (default: the whole history) on a scratch database."""
    from .. import engine

    start, end = _bounds(rev_range)
    result = RoundTripResult(command="test", dialect=project.engine().dialect.name, rev_range=rev_range or "base:heads")
    try:
        script = script_of(project)
    except NbmigrateError as exc:  # a cycle, a missing down revision: nothing can be replayed
        result.checks.append(Check("the revision graph loads (no depends_on cycle)", False, str(exc)))
        return result
    result.checks.append(Check("the revision graph loads (no depends_on cycle)", True))
    result.checks.append(_single_head(script))
    low, high = resolve(project, start), resolve(project, end)
    order = [rev for rev in upgrade_order(project, script) if rev in high.applied]
    stairway = _Stairway(script, order, set(high.applied - low.applied))
    with scratch_database(project) as url:
        try:
            scratch = replay(project, script, url, stairway.plan)
        except StepFailed as exc:  # a revision's code raised; other errors (env.py's) are raised as they are
            cause = exc.__cause__ or exc
            problem = f"{exc.function}() failed: {engine.error_text(cause)}"
            stairway._fail(exc.revision, exc.function, problem, line=exc.line)  # at the statement that raised
            result.steps = stairway.results
            return result
        try:
            if metadata is not None:
                result.checks.append(_models_match(scratch, metadata))
        finally:
            scratch.close()
    result.steps = stairway.results
    return result


def _single_head(script: ScriptDirectory) -> Check:
    """One head; or several, each the head of a branch with a label of its own (independent branches, as intended)."""
    heads = sorted(script.get_heads())
    if len(heads) <= 1:
        return Check("a single head", True)
    labels = [sorted(script.get_revision(h).branch_labels) for h in heads]
    if all(labels) and len({label[0] for label in labels}) == len(heads):
        named = ", ".join(f"{h} ({'/'.join(label)})" for h, label in zip(heads, labels))
        return Check("a single head", True, f"{len(heads)} labelled branches, each with one head: {named}")
    return Check("a single head", False, f"{len(heads)} heads: {', '.join(heads)}; merge them with `%migrate merge heads -m \"merge\"`, "
                 "or give each independent branch a label of its own (--branch-label)")


def _bounds(rev_range: str | None) -> tuple[str, str]:
    if rev_range is None:
        return "base", "heads"
    if ":" not in rev_range:
        raise BadArguments("A range is [start]:[end], e.g. `base:head` or `0002:` (default: the whole history).")
    start, end = rev_range.split(":", 1)
    return start or "base", end or "heads"


def _models_match(scratch: Project, metadata: Any) -> Check:
    """Autogenerate's comparison of the models with the schema at the end of the replay."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from .. import engine

    from ..schema import CHECKSUM_TABLE

    def include_name(name: str | None, type_: str, parent: Any) -> bool:
        return not (type_ == "table" and name == CHECKSUM_TABLE)

    def compare() -> list[Any]:
        with scratch.connection() as conn:
            opts = {"compare_type": True, "version_table": scratch.version_table, "include_name": include_name}
            if scratch.version_table_schema:
                opts["version_table_schema"] = scratch.version_table_schema
            context = MigrationContext.configure(conn, opts=opts)
            return compare_metadata(context, metadata)

    changes, _ = engine.run_contained(scratch, compare)
    name = "the models match the schema at the end"
    if not changes:
        return Check(name, True)
    return Check(name, False, "; ".join(engine.describe_autogenerate(c) for c in changes))
