"""The fast paths give exactly Alembic's answers.

nbmigrate answers from a warm revision map whose two superlinear walks are replaced by linear
ones (:func:`nbmigrate._cache.topological_order`, :func:`nbmigrate._cache.branch_heads`), lists
the revision files itself (:func:`nbmigrate._cache.file_fingerprint`), remembers walks and ancestries
per map, and checks the files once per command. Each is compared here with what Alembic itself
does, element for element:

* on random revision graphs (merges, branch points, several bases, dependencies, branch labels):
  every walk, upgrade plan, downgrade plan and "all current" set, errors included;
* on real folders: the files listed, in Alembic's order, with subfolders, symlinks and
  ``__pycache__``;
* on real databases (SQLite, PostgreSQL), linear and forked histories: the same sequence of
  upgrades and downgrades run by ``alembic.command`` and by nbmigrate ends in the same schema and
  the same ``alembic_version``, after the same steps in the same order.

No timing is asserted here: ``benchmarks/run.py`` measures.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import alembic.command
import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import Revision, RevisionMap
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbmigrate import snapshot
from nbmigrate._cache import (
    ScriptCache,
    applied,
    branch_heads,
    file_fingerprint,
    file_fingerprint_slow,
    linear_revision_map,
    revision_files,
    topological_order,
)
from nbmigrate import Project
from support import revision_source

# -- random revision graphs --------------------------------------------------------------------


@st.composite
def graphs(draw: Any) -> list[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]]:
    """``(id, down_revisions, dependencies, branch_labels)`` for a random history, in map order."""
    n = draw(st.integers(1, 24))
    made: list[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = []
    labels = 0
    for i in range(n):
        rev = f"r{i:02d}"
        earlier = [m[0] for m in made]
        kind = draw(st.sampled_from(["base", "one", "one", "one", "one", "merge"])) if earlier else "base"
        if kind == "base" or not earlier:
            down: tuple[str, ...] = ()
        elif kind == "one" or len(earlier) < 2:
            down = (draw(st.sampled_from(earlier)),)
        else:
            down = tuple(draw(st.lists(st.sampled_from(earlier), min_size=2, max_size=3, unique=True)))
        deps: tuple[str, ...] = ()
        others = [e for e in earlier if e not in down]
        if others and draw(st.integers(0, 5)) == 0:
            deps = tuple(draw(st.lists(st.sampled_from(others), min_size=1, max_size=2, unique=True)))
        branch: tuple[str, ...] = ()
        if not down and labels < 3 and draw(st.booleans()):
            branch = (f"lbl{labels}",)
            labels += 1
        made.append((rev, down, deps, branch))
    order = draw(st.permutations(range(n)))
    return [made[i] for i in order]


def build(spec: list[Any], factory: Callable[[Callable[[], Any]], RevisionMap]) -> RevisionMap:
    """A revision map of fresh ``Revision`` objects (maps write into them, so never share)."""

    def revisions() -> list[Revision]:
        return [
            Revision(rev, (down if len(down) != 1 else down[0]) or None, dependencies=deps or None, branch_labels=branch or None)
            for rev, down, deps, branch in spec
        ]

    return factory(revisions)


def outcome(fn: Callable[[], Any]) -> Any:
    """What a call gives: its ids, or the error's type and message, and its warnings (word for word)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn()
            if isinstance(value, (set, frozenset)):
                answer: Any = ("set", sorted(getattr(v, "revision", v) for v in value))
            else:
                answer = ("list", [getattr(v, "revision", v) for v in value])  # walks are generators: run them here
        except Exception as exc:  # noqa: BLE001 - compared, not hidden
            answer = ("error", type(exc).__name__, str(exc))
    return (*answer, [str(w.message) for w in caught])


def questions(spec: list[Any], data: Any) -> list[tuple[str, Callable[[RevisionMap], Any]]]:
    """The walks Alembic makes for history, upgrades, downgrades and ``current``, with random arguments."""
    ids = [s[0] for s in spec]
    labels = [b for s in spec for b in s[3]]
    # A database state: a random set of revisions closed downwards, and its heads.
    down = {s[0]: set(s[1]) | set(s[2]) for s in spec}
    chosen = set(data.draw(st.lists(st.sampled_from(ids), max_size=4), label="applied tips"))
    closed: set[str] = set()
    todo = list(chosen)
    while todo:
        rev = todo.pop()
        if rev not in closed:
            closed.add(rev)
            todo.extend(down[rev])
    current = tuple(sorted(r for r in closed if not any(r in down[o] for o in closed)))
    anything = tuple(data.draw(st.lists(st.sampled_from(ids), max_size=3, unique=True), label="any heads"))
    target = data.draw(st.sampled_from(["heads", "head", "base", *ids, *[f"{b}@head" for b in labels]]), label="target")
    lower = data.draw(st.sampled_from(["base", *ids]), label="lower")
    relative = data.draw(st.sampled_from(["-1", "-2", "+1", "+2"]), label="relative")
    return [
        ("history", lambda m: m.iterate_revisions("heads", "base", inclusive=True, assert_relative_length=False)),
        ("history range", lambda m: m.iterate_revisions(target, lower, inclusive=True, assert_relative_length=False)),
        ("upgrade plan", lambda m: m.iterate_revisions(target, current, implicit_base=True)),
        ("upgrade plan, any heads", lambda m: m.iterate_revisions(target, anything, implicit_base=True)),
        ("upgrade relative", lambda m: m.iterate_revisions(relative.replace("-", "+"), current, implicit_base=True)),
        ("downgrade plan", lambda m: m.iterate_revisions(current, target, select_for_downgrade=True)),
        ("downgrade base", lambda m: m.iterate_revisions(current, "base", select_for_downgrade=True)),
        ("downgrade relative", lambda m: m.iterate_revisions(current, relative.replace("+", "-"), select_for_downgrade=True)),
        ("downgrade, any heads", lambda m: m.iterate_revisions(anything, lower, select_for_downgrade=True)),
        ("all current", lambda m: m._get_all_current(current)),
        ("all current, any heads", lambda m: m._get_all_current(anything)),
        ("heads", lambda m: m.heads),
    ]


def as_linear(rmap: RevisionMap) -> None:
    """Give a built map nbmigrate's walks, keeping everything Alembic put in it.

    Alembic orders some keys of a map from sets (branch labels), so two maps built from the same
    revisions can differ in order; one map, answering first as Alembic's and then as nbmigrate's,
    compares like with like.
    """
    rmap.__class__ = type(linear_revision_map(lambda: []))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=graphs(), data=st.data())
def test_linear_map_answers_as_alembic(spec: list[Any], data: Any) -> None:
    rmap = build(spec, RevisionMap)
    if outcome(lambda: list(rmap._revision_map))[0] == "error":
        # An invalid graph fails the same way: building the map is Alembic's own code.
        fast = build(spec, linear_revision_map)
        assert outcome(lambda: list(fast._revision_map))[0] == "error"
        return
    asked = questions(spec, data)
    expected = [outcome(lambda: ask(rmap)) for _, ask in asked]
    as_linear(rmap)
    for (name, ask), want in zip(asked, expected):
        assert outcome(lambda: ask(rmap)) == want, name
        assert outcome(lambda: ask(rmap)) == want, f"{name}, asked again (remembered)"


@settings(max_examples=200, deadline=None)
@given(spec=graphs(), data=st.data())
def test_topological_order_is_alembics_or_declines(spec: list[Any], data: Any) -> None:
    """Called directly on any subset and heads: Alembic's order, or None (never another order)."""
    plain = build(spec, RevisionMap)
    try:
        rmap = plain._revision_map
    except Exception:  # noqa: BLE001 - an invalid graph: nothing to sort
        return
    ids = [s[0] for s in spec]
    subset = data.draw(st.lists(st.sampled_from(ids), min_size=1, unique=True), label="subset")
    heads = data.draw(st.lists(st.sampled_from(ids), unique=True), label="heads")
    revisions = [rmap[r] for r in subset]
    head_revs = [rmap[r] for r in heads]
    ours = topological_order(rmap, revisions, head_revs)
    if ours is not None:
        assert ours == plain._topological_sort(revisions, head_revs)


@settings(max_examples=200, deadline=None)
@given(spec=graphs(), data=st.data())
def test_branch_heads_and_applied(spec: list[Any], data: Any) -> None:
    plain = build(spec, RevisionMap)
    try:
        rmap = plain._revision_map
    except Exception:  # noqa: BLE001 - an invalid graph
        return
    ids = [s[0] for s in spec]
    picked = data.draw(st.lists(st.sampled_from(ids), unique=True), label="targets")
    assert {r.revision for r in branch_heads(rmap, {rmap[r] for r in picked})} == {
        r.revision for r in plain._filter_into_branch_heads({rmap[r] for r in picked})
    }
    # applied(): every revision below the heads through down revisions and dependencies.
    expected = {r.revision for r in plain._get_ancestor_nodes([rmap[r] for r in picked], include_dependencies=True)}
    assert applied(plain, picked) == expected  # a plain map
    as_linear(plain)
    assert applied(plain, picked) == expected
    assert applied(plain, picked) == expected  # remembered


def test_a_walk_that_warns_warns_every_time() -> None:
    """Not remembered: Alembic warns about "downgrade -1 from multiple heads" on each command."""
    fast = linear_revision_map(lambda: [Revision("a", None), Revision("b", "a"), Revision("c", "a")])
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert [r.revision for r in fast.iterate_revisions(("b", "c"), "-1", select_for_downgrade=True)] == ["b"]
        assert [str(w.message) for w in caught] == [
            "downgrade -1 from multiple heads is ambiguous; this usage will be disallowed in a future release."
        ]


def test_remembered_walks_follow_a_growing_map() -> None:
    """``revision`` adds to the warm map in place (Alembic's add_revision): nothing stale is answered."""
    fast = linear_revision_map(lambda: [Revision("a", None), Revision("b", "a")])
    assert [r.revision for r in fast.iterate_revisions("heads", "base")] == ["b", "a"]
    assert applied(fast, ["b"]) == {"a", "b"}
    fast.add_revision(Revision("c", "b"))
    assert [r.revision for r in fast.iterate_revisions("heads", "base")] == ["c", "b", "a"]
    assert applied(fast, ["c"]) == {"a", "b", "c"}


# -- the files, listed as Alembic lists them ---------------------------------------------------


def alembic_files(script: ScriptDirectory) -> list[Path]:
    """What ``ScriptDirectory._load_revisions`` walks, in order, once each."""
    seen: set[Path] = set()
    found = []
    for location in script._version_locations:
        if not location.exists():
            continue
        for path in Script._list_py_dir(script, location):
            real = path.resolve()
            if real not in seen:
                seen.add(real)
                found.append(real)
    return found


@pytest.mark.parametrize("recursive", [False, True])
def test_files_listed_as_alembic_lists_them(tmp_path: Path, recursive: bool) -> None:
    versions = tmp_path / "migrations" / "versions"
    (versions / "sub" / "deeper").mkdir(parents=True)
    (versions / "__pycache__").mkdir()
    (tmp_path / "elsewhere").mkdir()
    for name in ["b_2.py", "a_1.py", "README", "c_3.py.swp", "sub/d_4.py", "sub/deeper/e_5.py", "__pycache__/x.pyc"]:
        (versions / name).write_text("# x\n")
    (tmp_path / "elsewhere" / "f_6.py").write_text("# y\n")
    (versions / "link_7.py").symlink_to(tmp_path / "elsewhere" / "f_6.py")
    (versions / "dirlink").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (versions / "broken_8.py").symlink_to(tmp_path / "missing.py")
    second = tmp_path / "second"
    second.mkdir()
    (second / "g_9.py").write_text("# z\n")
    (second / "same_as_a.py").symlink_to(versions / "a_1.py")
    config = Config()
    config.set_main_option("script_location", str(tmp_path / "migrations"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join([str(versions), str(second), str(versions)]))
    if recursive:
        config.set_main_option("recursive_version_locations", "true")
    script = ScriptDirectory.from_config(config)
    assert revision_files(script) == alembic_files(script)
    assert file_fingerprint(script) == file_fingerprint_slow(script)
    broken = [entry for entry in file_fingerprint(script) if entry[0].endswith("missing.py")]
    assert broken and broken[0][1:] == (-1, -1)


def test_missing_version_location_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()  # no versions/ inside
    config = Config()
    config.set_main_option("script_location", str(tmp_path / "migrations"))
    script = ScriptDirectory.from_config(config)
    assert revision_files(script) == alembic_files(script) == []


def test_pin_is_per_thread_and_per_block() -> None:
    cache = ScriptCache()
    marker: Any = object()
    seen: list[Any] = []
    assert cache.pinned() is None
    with cache.pin(marker):
        assert cache.pinned() is marker
        worker = threading.Thread(target=lambda: seen.append(cache.pinned()))
        worker.start()
        worker.join()
    assert seen == [None]
    assert cache.pinned() is None


# -- real databases: the same steps and end state as Alembic's own command ------------------------


def revision_text(rev: str, down: str | tuple[str, ...] | None, message: str, table: str | None) -> str:
    if not table:
        return revision_source(rev, down, message)
    create = f'op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(20)))'
    return revision_source(rev, down, message, create, f'op.drop_table("{table}")')


def history_spec(shape: str, n: int = 16) -> list[tuple[str, str | tuple[str, ...] | None, bool]]:
    """``(rev, down, creates_a_table)``, oldest first; ``forks`` forks and merges every 5."""
    out: list[tuple[str, str | tuple[str, ...] | None, bool]] = []
    tip: str | None = None
    i = 0
    while len(out) < n:
        if shape == "forks" and tip is not None and i % 5 == 0:
            left, right, merge = f"r{i:03d}", f"r{i + 1:03d}", f"r{i + 2:03d}"
            out += [(left, tip, True), (right, tip, True), (merge, (left, right), False)]
            tip, i = merge, i + 3
            continue
        rev = f"r{i:03d}"
        out.append((rev, tip, True))
        tip, i = rev, i + 1
    return out


def scenario(spec: list[Any]) -> list[tuple[str, str]]:
    ids = [s[0] for s in spec]
    branch_tip = next((s[0] for s in spec if isinstance(s[1], str) and any(o[1] == s[1] and o[0] != s[0] for o in spec)), ids[3])
    return [
        ("upgrade", "heads"),
        ("downgrade", "base"),
        ("upgrade", ids[2]),
        ("upgrade", "+2"),
        ("downgrade", "-1"),
        ("upgrade", ids[len(ids) // 2]),
        ("downgrade", ids[1]),
        ("upgrade", branch_tip),  # the database ends on one side of a fork
        ("upgrade", "heads"),
        ("downgrade", ids[len(ids) // 3]),  # in a forked history: back to two heads
        ("downgrade", "base"),
    ]


@pytest.fixture
def database(sqlite_or_pg_url: str) -> str:
    return sqlite_or_pg_url


def state(url: str) -> dict[str, Any]:
    """The schema (nbmigrate's own side table left out) and the version table's rows."""
    shot = snapshot(url)
    tables = {name: table for name, table in shot.tables.items() if name != "nbmigrate_checksums"}
    return {"tables": tables, "versions": shot.version_table}


def empty(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        md = sa.MetaData()
        md.reflect(engine)
        md.drop_all(engine)
    finally:
        engine.dispose()


class Steps(logging.Handler):
    """The revisions Alembic announces, in order (``Running upgrade a -> b``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.ran: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "Running %s" and record.args:
            step = record.args[0] if isinstance(record.args, tuple) else record.args
            self.ran.append(step.revision.revision)


@pytest.fixture
def steps() -> Iterator[Steps]:
    handler = Steps()
    logger = logging.getLogger("alembic.runtime.migration")
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(saved)


@pytest.mark.parametrize("shape", ["linear", "forks"])
def test_same_end_state_and_steps_as_alembic(shape: str, database: str, here: Path, steps: Steps) -> None:
    project = Project()
    project.init()
    spec = history_spec(shape)
    versions = Path("migrations/versions")
    for index, (rev, down, creates) in enumerate(spec):
        (versions / f"{rev}_step.py").write_text(revision_text(rev, down, f"step {index}", f"t_{rev}" if creates else None))

    # Alembic's own commands, as a script would call them (a new Config, files read every time).
    expected = []
    for verb, target in scenario(spec):
        config = Config("alembic.ini", stdout=io.StringIO())
        config.set_main_option("sqlalchemy.url", database.replace("%", "%%"))
        config.attributes["nbmigrate"] = True  # only keeps env.py from reconfiguring logging
        steps.ran.clear()
        getattr(alembic.command, verb)(config, target)
        expected.append((verb, target, list(steps.ran), state(database)))

    empty(database)
    project.connect(database)
    try:
        got = []
        for verb, target in scenario(spec):
            result = getattr(project, verb)(target, schema=False)
            assert result.reached, (verb, target, result.note)
            assert not [w for w in result.warnings if "Another run changed" in w]
            got.append((verb, target, [s.revision for s in result.steps], state(database)))
        assert project.cache_info().loads == 1  # one warm map for the whole scenario
    finally:
        project.close()
    for want, have in zip(expected, got, strict=True):
        assert have[:3] == want[:3]
        assert have[3] == want[3], want[:2]


def test_warm_answers_match_alembic_on_a_forked_history(database: str, here: Path) -> None:
    """heads / history / current from the warm, linear map are Alembic's, for a database mid-way."""
    project = Project()
    project.init()
    spec = history_spec("forks", 20)
    versions = Path("migrations/versions")
    for index, (rev, down, creates) in enumerate(spec):
        (versions / f"{rev}_step.py").write_text(revision_text(rev, down, f"step {index}", None))
    config = Config("alembic.ini", stdout=io.StringIO())
    config.set_main_option("sqlalchemy.url", database.replace("%", "%%"))
    config.attributes["nbmigrate"] = True
    left = spec[6][0]  # one side of a fork: the database has one head on a branch
    alembic.command.upgrade(config, left)
    script = ScriptDirectory.from_config(config)
    project.connect(database)
    try:
        history = project.history()
        assert [r.revision for r in history.revisions] == [s.revision for s in script.walk_revisions()]
        assert sorted(project.heads().heads) == sorted(script.get_heads())
        config.stdout = io.StringIO()
        alembic.command.current(config)
        assert list(project.current().heads) == [line.split()[0] for line in config.stdout.getvalue().splitlines()]
        applied_ids = {r.revision for r in history.revisions if r.state in ("applied", "current")}
        below = {r.revision for r in script.revision_map._get_ancestor_nodes([script.get_revision(left)])}
        assert applied_ids == below
        assert type(project.script().revision_map).__name__ == "LinearRevisionMap"
    finally:
        project.close()
