"""nbmigrate plans every migration in the order Alembic's own ``ScriptDirectory`` does.

nbmigrate keeps a warm revision map (:mod:`nbmigrate._cache`, with the linear walks of
:mod:`nbmigrate._internals`) and serves it to ``alembic.command``; the steps planned through it for
``upgrade``, ``downgrade`` and ``stamp`` must be Alembic's, revision for revision and in the same
order, or the same error. Compared here offline (no database): the repository's ``migrations/``,
hand-built histories with branches, merges, branch labels and ``depends_on``, and random ones.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import alembic.command
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nbmigrate import _internals
from support import BRANCHED_HISTORY, write_history
from nbmigrate._cache import ScriptCache

ROOT = Path(__file__).resolve().parent.parent

# Alembic warns on a relative downgrade from several heads; both maps do, every time.
pytestmark = pytest.mark.filterwarnings("ignore:downgrade -1 from multiple heads:UserWarning")


Spec = tuple[str, Any, Any, Any]  # (revision, down_revision, branch_labels, depends_on)


def write(folder: Path, history: Sequence[Spec]) -> Config:
    """Revision files in ``folder/versions`` and a config naming the folder (no env.py: nothing runs)."""
    write_history(folder, history)
    return config_for(folder)


def config_for(folder: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(folder))
    return config


def outcome(fn: Any) -> Any:
    """``fn()``, or the error it raised: its type and the words of its message, in any order.

    Alembic lists some revisions of a message from a set of ``Revision`` objects ("overlaps with
    other requested revisions r1, r3"), whose order changes from one run to the next.
    """
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - the same error, both ways, is the same behaviour
        return ("error", type(exc).__name__, tuple(sorted(str(exc).replace(",", " ").split())))


def steps(found: Any) -> Any:
    """Steps as comparable tuples, in order: kind, direction, from and to revisions (in Alembic's order)."""
    if isinstance(found, tuple) and found and found[0] == "error":
        return found
    return [
        (type(s).__name__, s.is_upgrade, tuple(s.from_revisions), tuple(s.to_revisions), getattr(s, "branch_move", None))
        for s in found
    ]


def warm_served(config: Config) -> ScriptDirectory:
    """nbmigrate's warm ``ScriptDirectory`` as Alembic's commands get it while nbmigrate serves it."""
    warm = ScriptCache().get(config)
    _internals.load_map(warm)
    assert type(warm.revision_map).__name__ == "LinearRevisionMap"
    with _internals.serving(warm):
        served = alembic.command.ScriptDirectory.from_config(config)
    assert served is warm
    return warm


def targets(script: ScriptDirectory) -> list[str]:
    revs = list(script.walk_revisions())
    labels = sorted({label for rev in revs for label in rev.branch_labels})
    ids = [rev.revision for rev in revs]
    return ["heads", "head", "base", "-1", "+1", "+2", "-2", *ids, *[f"{label}@head" for label in labels],
            *[f"{label}@base" for label in labels], *[f"{rid}@-1" for rid in ids[:3]], *[f"{rid}@+1" for rid in ids[-3:]]]


def starts(script: ScriptDirectory) -> list[tuple[str, ...]]:
    """Database states to plan from: empty, each revision alone, every head, each pair of branch tips."""
    revs = list(script.walk_revisions())
    ids = [rev.revision for rev in revs]
    heads = tuple(script.get_heads())
    pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]
             if a not in _below(script, b) and b not in _below(script, a)]
    return [(), heads, *[(rid,) for rid in ids], *pairs[:6]]


def _below(script: ScriptDirectory, rev_id: str) -> set[str]:
    return _internals.applied(script.revision_map, [rev_id]) - {rev_id}


def assert_same_plans(config: Config) -> int:
    """Every plan from the warm served map equals the plain ``ScriptDirectory``'s; returns how many were compared."""
    plain = ScriptDirectory.from_config(config)
    assert type(plain.revision_map).__name__ == "RevisionMap"
    warm = warm_served(config)
    compared = 0
    assert [r.revision for r in warm.walk_revisions()] == [r.revision for r in plain.walk_revisions()]
    for start in starts(plain):
        for target in targets(plain):
            for name, plan in (
                ("upgrade", _internals.upgrade_steps),
                ("downgrade", _internals.downgrade_steps),
                ("stamp", _internals.stamp_steps),
            ):
                want = steps(outcome(lambda: plan(plain, target, start, fast=True)))
                got = steps(outcome(lambda: plan(warm, target, start)))
                assert got == want, (name, target, start)
                compared += 1
        # What ``history`` and ``current`` walk.
        assert outcome(lambda: sorted(r.revision for r in warm.get_all_current(start))) == outcome(
            lambda: sorted(r.revision for r in plain.get_all_current(start))
        ), start
    return compared


def test_the_repository_migrations() -> None:
    assert assert_same_plans(config_for(ROOT / "migrations")) > 0


# Hand-built histories: what the tests and the walkthroughs build (two developers branching from
# one head, labels, depends_on across branches, merges), and some harder shapes.
HISTORIES: dict[str, list[Spec]] = {
    "branches, merge, labels, depends_on": BRANCHED_HISTORY,
    "two developers, merged, then a branch": [
        ("0001", None, None, None),
        ("0002", "0001", None, None),
        ("a1", "0002", ("alice",), None),
        ("b1", "0002", ("bob",), None),
        ("a2", "a1", None, None),
        ("m1", ("a2", "b1"), None, None),
        ("c1", "m1", None, None),
        ("d1", "m1", ("docs",), "b1"),
    ],
    "diamonds within diamonds": [
        ("r", None, None, None),
        ("x1", "r", None, None),
        ("y1", "r", None, None),
        ("x2", "x1", None, None),
        ("x3", "x1", None, None),
        ("xm", ("x2", "x3"), None, None),
        ("top", ("xm", "y1"), None, None),
        ("z", "y1", None, "x2"),
    ],
    "independent bases with dependencies": [
        ("p1", None, ("pay",), None),
        ("p2", "p1", None, None),
        ("u1", None, ("users",), "p1"),
        ("u2", "u1", None, "pay"),
        ("p3", "p2", None, "u2"),
    ],
    "forks and merges in a row": [
        spec
        for i in range(4)
        for spec in [
            (f"s{i}", f"m{i - 1}" if i else None, None, None),
            (f"l{i}", f"s{i}", None, None),
            (f"r{i}", f"s{i}", None, None),
            (f"m{i}", (f"l{i}", f"r{i}"), None, None),
        ]
    ],
}


@pytest.mark.parametrize("name", list(HISTORIES))
def test_hand_built_histories(name: str, tmp_path: Path) -> None:
    assert assert_same_plans(write(tmp_path, HISTORIES[name])) > 0


@st.composite
def histories(draw: Any) -> list[Spec]:
    """A small valid history: each revision builds on 0-2 earlier ones, some labelled, some depending on others."""
    n = draw(st.integers(1, 7))
    out: list[Spec] = []
    used_labels = 0
    for i in range(n):
        rid = f"r{i}"
        earlier = [s[0] for s in out]
        parents = draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True)) if earlier else []
        down: Any = None if not parents else parents[0] if len(parents) == 1 else tuple(parents)
        labels: Any = None
        if draw(st.integers(0, 3)) == 0:
            labels = (f"b{used_labels}",)
            used_labels += 1
        deps: Any = None
        others = [e for e in earlier if e not in parents]
        if others and draw(st.integers(0, 2)) == 0:
            dep = draw(st.sampled_from(others))
            owner = next(s for s in out if s[0] == dep)
            deps = owner[2][0] if owner[2] and draw(st.booleans()) else dep  # by label, sometimes
        out.append((rid, down, labels, deps))
    order = draw(st.permutations(range(n)))  # the files' order on disk decides Alembic's ties
    return [out[i] for i in order]


# The same 80 histories on every run, so that a failure means the code changed, not the draw.
@settings(max_examples=80, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(history=histories())
# An upgrade to heads that Alembic refuses with revisions listed from a set (in no fixed order).
@example(history=[
    ("r0", None, None, None), ("r2", "r0", None, "r1"), ("r1", None, None, None), ("r5", None, ("b0",), "r0"),
    ("r3", None, None, "r0"), ("r6", None, ("b1",), "r1"), ("r4", ("r0", "r2"), None, "r3"),
])
def test_random_histories(history: list[Spec]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = write(Path(folder), history)
        plain = ScriptDirectory.from_config(config)
        built = outcome(lambda: plain.get_heads())
        if isinstance(built, tuple) and built[0] == "error":
            # An invalid history fails the same way through nbmigrate's map.
            assert outcome(lambda: ScriptCache().get(config).get_heads())[:2] == built[:2]
            return
        assert_same_plans(config)
