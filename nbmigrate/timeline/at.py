"""The schema at any point of history, and the difference between two points.

A point is any Alembic target: ``head``, ``heads``, ``base``, a revision id or prefix,
``branch@head``, ``current`` (the database's revisions), relative steps (``-1``, ``+2``,
``ae10-1``). It is resolved to the set of revisions applied there, and the schema is built by
replaying those revisions from base on a scratch database (:mod:`.scratch`). Schemas are kept per
revision set for as long as the revision files are unchanged, so asking again costs nothing.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import BadArguments
from ..results import Result
from .scratch import Probe, replay, scratch_database

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

    from ..project import Project
    from ..schema import SchemaDiff, Snapshot

_RELATIVE = re.compile(r"^(?:(?P<label>[^@]+)@)?(?P<rev>\w+)?(?P<n>[+-]\d+)$")

# Per ScriptDirectory (a new one is made whenever a revision file changes): the upgrade order of
# every revision, and the schemas built so far, keyed by dialect, -x options and revision set.
_ORDER: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()
_SCHEMAS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Snapshot]] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Point:
    """A point of history: the target as written, its heads, and every revision applied there."""

    target: str
    heads: tuple[str, ...]
    applied: frozenset[str]

    @property
    def label(self) -> str:
        """The point as shown: its heads (``base`` for none)."""
        return ", ".join(self.heads) or "base"


def script_of(project: Project) -> ScriptDirectory:
    """The project's warm revision files, load errors translated as for any command."""
    from .. import engine

    return engine.script_directory(project)


def resolve(project: Project, target: str) -> Point:
    """The point of history ``target`` names (see the module docstring)."""
    from .. import engine

    script = script_of(project)
    target = target.strip()
    if not target:
        raise BadArguments("Name a revision: e.g. `head`, `base`, `-1`, an id, or `current`.")

    def heads_of() -> tuple[str, ...]:
        if target == "current":
            return _current(project)
        if target == "base":
            return ()
        match = _RELATIVE.match(target)
        if match:
            return _relative(project, script, match)
        return tuple(r.revision for r in script.revision_map.get_revisions(target) if r is not None)

    heads = engine.compute(project, heads_of)
    applied = frozenset(engine.applied_revisions(script, heads))
    return Point(target, tuple(sorted(heads)), applied)


def _current(project: Project) -> tuple[str, ...]:
    from .. import engine

    heads, why = engine.database_heads(project)
    if heads is None:
        raise BadArguments(f"`current` is the database's revision, and the database could not be read: {why}")
    return heads


def _relative(project: Project, script: ScriptDirectory, match: re.Match[str]) -> tuple[str, ...]:
    """``-N``/``+N`` from the database's revision, or ``REV-N``/``REV+N`` from ``REV``, one parent/child at a time."""
    steps = int(match["n"])
    start = match["rev"]
    if start is None:
        found = _current(project)
        label = match["label"]
        if label:
            # ``label@-1`` counts from the database's revision on that branch, as Alembic's
            # downgrade picks it (``-1`` alone counts from all of them).
            found = tuple(script.revision_map.filter_for_lineage(found, label))
            if not found:
                raise BadArguments(
                    f"{match.group(0)!r}: the database has no revision on the branch {label}; "
                    "name a revision instead (see `%migrate history`)."
                )
    else:
        spec = f"{match['label']}@{start}" if match["label"] else start
        found = tuple(r.revision for r in script.revision_map.get_revisions(spec) if r is not None)
    if len(found) > 1:
        raise BadArguments(
            f"{match.group(0)!r} counts from {', '.join(found)}: more than one revision. Name one, e.g. `{found[0]}{match['n']}`."
        )
    here = found[0] if found else None
    for _ in range(abs(steps)):
        if steps < 0:
            if here is None:
                raise BadArguments(f"{match.group(0)!r} goes below base.")
            parents = _down(script, here)
            if len(parents) > 1:
                raise BadArguments(f"{match.group(0)!r}: {here} is a merge of {', '.join(parents)}; name the revision instead.")
            here = parents[0] if parents else None
        else:
            children = sorted(_children(script, here))
            if not children:
                raise BadArguments(f"{match.group(0)!r} goes above the head{f' {here}' if here else ''}.")
            if len(children) > 1:
                raise BadArguments(f"{match.group(0)!r}: {here or 'base'} branches into {', '.join(children)}; name the revision instead.")
            here = children[0]
    return (here,) if here else ()


def _down(script: ScriptDirectory, rev: str) -> tuple[str, ...]:
    down = script.get_revision(rev).down_revision
    if not down:
        return ()
    return (down,) if isinstance(down, str) else tuple(down)


def _children(script: ScriptDirectory, rev: str | None) -> list[str]:
    if rev is None:
        return list(script.get_bases())
    return list(script.get_revision(rev).nextrev)


def upgrade_order(project: Project, script: ScriptDirectory) -> list[str]:
    """Every revision, each after all its down revisions and dependencies (Alembic's own walk, reversed)."""
    from .. import engine

    with _GUARD:
        order = _ORDER.get(script)
    if order is None:
        order = engine.compute(project, lambda: [s.revision for s in script.walk_revisions()][::-1])
        with _GUARD:
            _ORDER[script] = order
    return order


def steps_to(project: Project, script: ScriptDirectory, point: Point) -> list[str]:
    """The revisions to apply from base to reach ``point``, in upgrade order."""
    return [rev for rev in upgrade_order(project, script) if rev in point.applied]


def _key(project: Project, point: Point) -> tuple[Any, ...]:
    return (project.engine().url.get_backend_name(), project.x, point.applied)


def schemas_at(project: Project, points: Sequence[Point]) -> list[Snapshot]:
    """The schema at each point: built on a scratch database, or as built before (one replay for all)."""
    script = script_of(project)
    with _GUARD:
        known = _SCHEMAS.setdefault(script, {})
        found = {p: known.get(_key(project, p)) for p in points}
    missing = sorted({p for p, snap in found.items() if snap is None}, key=lambda p: len(p.applied))
    if missing:
        built = _build(project, script, missing)
        with _GUARD:
            for point, snap in built.items():
                known[_key(project, point)] = snap
        found.update(built)
    return [_labelled(found[p], p) for p in points]


def schema_at(project: Project, target: str) -> Snapshot:
    """The schema at ``target`` (any Alembic target), built on a scratch database: never the project's own."""
    return schemas_at(project, [resolve(project, target)])[0]


def _labelled(snap: Snapshot | None, point: Point) -> Snapshot:
    assert snap is not None
    return dataclasses.replace(snap, note=f"at {point.target}" + (f" ({point.label})" if point.label != point.target else ""))


def _build(project: Project, script: ScriptDirectory, points: list[Point]) -> dict[Point, Snapshot]:
    """Replay once, from base, through every point that contains the previous ones; the rest from base again."""
    built: dict[Point, Snapshot] = {}
    todo = list(points)
    while todo:
        chain = [todo.pop(0)]
        for point in list(todo):
            if chain[-1].applied <= point.applied:
                chain.append(point)
                todo.remove(point)
        built.update(_replay_chain(project, script, chain))
    return built


def _replay_chain(project: Project, script: ScriptDirectory, chain: list[Point]) -> dict[Point, Snapshot]:
    order = steps_to(project, script, chain[-1])
    taken: dict[Point, Snapshot] = {}

    def plan(probe: Probe) -> Iterator[tuple[str, bool]]:
        done: set[str] = set()
        for point in chain:
            for rev in order:
                if rev in point.applied and rev not in done:
                    done.add(rev)
                    yield rev, True
            taken[point] = probe.snapshot()

    with scratch_database(project) as url:
        replay(project, script, url, plan).close()
    return taken


@dataclasses.dataclass(repr=False)
class HistoryDiff(Result):
    """``%migrate diff A B``: the schema at two points of history, what changed, and the SQL between."""

    command: str
    start: Point
    end: Point
    before: Snapshot
    after: Snapshot
    diff: SchemaDiff
    sql: str | None = None


def between(project: Project, start: str, end: str, *, sql: bool = False) -> HistoryDiff:
    """The schemas at ``start`` and ``end`` (any Alembic targets) and their difference; with ``sql``, the script between."""
    from ..schema import diff

    a, b = resolve(project, start), resolve(project, end)
    before, after = schemas_at(project, [a, b])
    text = _sql_between(project, a, b) if sql else None
    return HistoryDiff(command="diff", start=a, end=b, before=before, after=after, diff=diff(before, after), sql=text)


def _sql_between(project: Project, a: Point, b: Point) -> str:
    """What ``alembic upgrade A:B --sql`` (or ``downgrade B:A --sql``) prints: the offline script between the points."""
    from .. import engine

    if len(a.heads) > 1 or len(b.heads) > 1:
        raise BadArguments("--sql runs from one revision to one revision; name single revisions (not several heads).")
    low, high = a.heads[0] if a.heads else "base", b.heads[0] if b.heads else "base"
    line = f"{low}:{high}"
    if a.applied <= b.applied:
        if a.applied == b.applied:
            return ""
        return engine.offline(project, f"upgrade {line} --sql", lambda script: engine.run_upgrade(project.config, script, line, sql=True)).sql
    if b.applied <= a.applied:
        return engine.offline(project, f"downgrade {line} --sql", lambda script: engine.run_downgrade(project.config, script, line, sql=True)).sql
    raise BadArguments(f"--sql needs one point below the other, and {a.label} and {b.label} are on different branches.")


def forget() -> None:
    """Drop every schema built so far (the next request replays again); revision file changes do this by themselves."""
    with _GUARD:
        _SCHEMAS.clear()
