"""Private names of Alembic and SQLAlchemy are used in ``nbmigrate/_internals/`` only, and its fallbacks agree.

Which names are Alembic's or SQLAlchemy's is read from the installed packages' own sources:
every private function, class, module-level or class-level name they define, and every private
attribute they assign (``self._x = ...``, ``revision._resolved_dependencies = ...``). Names that
nbmigrate itself defines as well (its own ``self._lock``, ...) cannot be told apart by name; they
are pinned in :data:`SHARED`, so a new one (say, nbmigrate overriding Alembic's
``_topological_sort`` outside the seam) fails here until someone looks at it.
"""

from __future__ import annotations

import ast
import functools
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import nbmigrate
from nbmigrate import _internals
from support import BRANCHED_HISTORY, write_history

PACKAGE = Path(nbmigrate.__file__).resolve().parent
SEAM = PACKAGE / "_internals"  # the seam is the package: every file under it
FOREIGN = ("alembic", "sqlalchemy")

# Private names both nbmigrate (outside the seam) and Alembic or SQLAlchemy define. nbmigrate's
# own use of each is of its own object (a lock, a helper, a field of its own classes); an access
# to Alembic's or SQLAlchemy's attribute of the same name would go unnoticed here, so keep the list short.
SHARED = frozenset({
    "_SEEN", "_alter_column", "_cancel", "_columns", "_connection", "_count", "_create", "_current",
    "_data", "_diff", "_dirty", "_h", "_key", "_label", "_lock", "_lookup", "_message", "_metadata",
    "_parents", "_parse_error", "_referred_schema", "_refuse_empty", "_replace", "_rows", "_scalar",
    "_state", "_with_hint", "_write",
    "_read",  # SQLAlchemy 2.0.0's
})


def _private(name: str) -> bool:
    return len(name) > 1 and name.startswith("_") and not name.startswith("__")


_ATTRIBUTE_STORE = re.compile(r"\.(_[A-Za-z]\w*)\s*(?::[^=\n]*)?=(?!=)")


def _defined(files: list[Path]) -> set[str]:
    """Private names the files define: functions, classes, names at module and class level, attributes assigned."""
    names: set[str] = set()
    for path in files:
        source = path.read_text(encoding="utf-8")
        names.update(m.group(1) for m in _ATTRIBUTE_STORE.finditer(source))
        todo: list[ast.AST] = [ast.parse(source)]
        while todo:  # module and class bodies, and the methods of classes (not every local variable)
            node = todo.pop()
            for child in getattr(node, "body", []):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(child.name)
                    if isinstance(child, ast.ClassDef):
                        todo.append(child)
                elif isinstance(child, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                    targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                    for target in targets:
                        for leaf in ast.walk(target):
                            if isinstance(leaf, ast.Name):
                                names.add(leaf.id)
                elif isinstance(child, (ast.If, ast.Try)):  # names defined under a version check
                    todo.append(child)
                    for handler in getattr(child, "handlers", []):
                        todo.append(handler)
                    if getattr(child, "orelse", None):
                        todo.append(ast.Module(body=child.orelse, type_ignores=[]))
    return {n for n in names if _private(n)}


def _sources(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _ours() -> list[Path]:
    return [p for p in _sources(PACKAGE) if SEAM not in p.parents]


@functools.cache
def foreign_names() -> frozenset[str]:
    import alembic
    import sqlalchemy

    found: set[str] = set()
    for package in (alembic, sqlalchemy):
        found |= _defined(_sources(Path(package.__file__).resolve().parent))
    return frozenset(found)


@functools.cache
def checked_names() -> frozenset[str]:
    """Alembic's and SQLAlchemy's private names that nbmigrate does not define itself."""
    return foreign_names() - _defined(_ours())


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def private_uses(source: str, names: frozenset[str]) -> list[str]:
    """Each use in ``source`` of a private name of Alembic or SQLAlchemy, as ``line: what``."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr in names:
            found.append(f"{line}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in FOREIGN:
            parts = node.module.split(".")
            for alias in node.names:
                if any(_private(p) for p in parts) or _private(alias.name):
                    found.append(f"{line}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in FOREIGN and any(_private(p) for p in parts):
                    found.append(f"{line}: import {alias.name}")
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
            and _private(node.value) and node.value in names
        ):
            found.append(f"{line}: {node.value!r}")  # getattr(x, "_y"), "_y" in vars(x)
    return found


def test_the_names_are_read_from_alembic_and_sqlalchemy() -> None:
    names = foreign_names()
    for name in ("_revision_map", "_topological_sort", "_upgrade_revs", "_version_locations", "_resolved_dependencies",
                 "_last_autogen_context", "_inis_from_config", "_get_table_pragma", "_exec", "_db_current_indicator"):
        assert name in checked_names(), name
    assert len(names) > 1000


def test_nbmigrate_defines_no_other_private_name_of_alembic_or_sqlalchemy() -> None:
    # A subset: an older SQLAlchemy may not define every one of them.
    assert foreign_names() & _defined(_ours()) <= SHARED


def test_no_module_but_the_seam_uses_a_private_name_of_alembic_or_sqlalchemy() -> None:
    names = checked_names()
    found = {}
    for path in _ours():
        uses = private_uses(path.read_text(encoding="utf-8"), names)
        if uses:
            found[str(path.relative_to(PACKAGE))] = uses
    assert found == {}


def test_the_seam_is_every_file_of_the_internals_package() -> None:
    seam = sorted(set(_sources(PACKAGE)) - set(_ours()))
    assert seam == _sources(SEAM) and len(seam) > 1
    assert all(SEAM in p.parents for p in seam) and not any(SEAM in p.parents for p in _ours())
    # what the check leaves out is what needs leaving out: each of these files, outside the seam, fails it
    names = checked_names()
    using = {p.name for p in seam if private_uses(p.read_text(encoding="utf-8"), names)}
    assert {"revisions.py", "files.py", "steps.py", "fastmap.py", "walks.py", "sqlite.py"} <= using


def test_the_check_sees_each_kind_of_use() -> None:
    source = textwrap.dedent('''
        """Docstrings may name _revision_map."""
        from alembic.script.revision import _RevisionMapType
        from sqlalchemy.dialects.sqlite import base
        import sqlalchemy.engine._py_util
        x = script.revision_map._revision_map
        y = "_revision_map" in vars(rmap)
        z = project._scripts
    ''')
    assert private_uses(source, checked_names()) == [
        "3: from alembic.script.revision import _RevisionMapType",
        "5: import sqlalchemy.engine._py_util",
        "6: ._revision_map",
        "7: '_revision_map'",
    ]


def test_the_checked_versions_are_the_constraints() -> None:
    root = PACKAGE.parent / "constraints"
    if not root.is_dir():  # an installed copy: the constraints live in the repository
        pytest.skip("no constraints folder beside the package")
    texts = {name: (root / name).read_text(encoding="utf-8") for name in ("oldest.txt", "test.txt")}

    def pinned(text: str, package: str) -> list[tuple[int, ...]]:
        return [_internals.parse_version(v) for v in re.findall(rf"(?im)^{package}==([\d.]+)", text)]

    for package, (low, high) in (("alembic", _internals.ALEMBIC_CHECKED), ("sqlalchemy", _internals.SQLALCHEMY_CHECKED)):
        assert pinned(texts["oldest.txt"], package) == [low]
        for version in pinned(texts["test.txt"], package):
            assert low <= version < high
    assert _internals.alembic_checked() and _internals.sqlalchemy_checked()


# -- the seam's fallbacks give what its fast paths give -------------------------------------------


HISTORY = BRANCHED_HISTORY


def script_over(folder: Path, history: list[tuple[Any, ...]]) -> Any:
    """A ``ScriptDirectory`` over revision files written to ``folder`` (no database, no env.py needed)."""
    from alembic.script import ScriptDirectory

    write_history(folder, history)
    return ScriptDirectory(str(folder))


def _steps(steps: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (type(s).__name__, s.is_upgrade, tuple(sorted(s.from_revisions)), tuple(sorted(s.to_revisions)), getattr(s, "branch_move", None))
        for s in steps
    ]


@pytest.fixture
def script(tmp_path: Path) -> Any:
    return script_over(tmp_path, HISTORY)


def test_map_lookups_agree(script: Any) -> None:
    _internals.load_map(script)
    assert _internals.map_is_built(script.revision_map, fast=True) and _internals.map_is_built(script.revision_map, fast=False)
    fast = _internals.revision_index(script, fast=True)
    slow = _internals.revision_index(script, fast=False)
    assert dict(fast) == slow
    assert {r.revision for r in _internals.all_revisions(script, fast=False)} == {r.revision for r in _internals.all_revisions(script, fast=True)}
    for rev_id in ("a", "g", "main", "zz"):
        assert _internals.revision_by_id(script, rev_id, fast=True) is _internals.revision_by_id(script, rev_id, fast=False)
    for rev in _internals.all_revisions(script):
        assert _internals.dependencies(rev, fast=True) == _internals.dependencies(rev, slow, fast=False)
        assert _internals.effective_head(rev, script, fast=True) == _internals.effective_head(rev, script, fast=False)
        assert _internals.links_token(rev, fast=True) is _internals.links_token(rev, fast=True)
    assert _internals.dependencies(script.get_revision("g"), fast=False, index=slow) == ("d",)
    assert _internals.dependencies(script.get_revision("f"), fast=False, index=slow) == ("e",)  # the label resolved
    assert _internals.effective_head(script.get_revision("d"), script, fast=False)  # g depends on it
    assert _internals.applied(script.revision_map, ["g"], fast=True) == _internals.applied(script.revision_map, ["g"], fast=False)


def test_map_not_built(script: Any) -> None:
    assert not _internals.map_is_built(script.revision_map, fast=True)
    assert not _internals.map_is_built(script.revision_map, fast=False)


def test_files_agree(script: Any) -> None:
    location = _internals.version_locations(script)[0]
    assert location == Path(script.dir, "versions").absolute()
    listed = _internals.list_revision_files(script, location, fast=True)
    assert listed == _internals.list_revision_files(script, location, fast=False)
    for path in listed:
        fast = _internals.load_script_file(script, path, fast=True)
        slow = _internals.load_script_file(script, path, fast=False)
        assert (fast.revision, fast.down_revision, fast.dependencies, fast.branch_labels) == (
            slow.revision, slow.down_revision, slow.dependencies, slow.branch_labels
        )
        assert _internals.own_branch_labels(fast) == fast._orig_branch_labels


@pytest.mark.parametrize(
    "names",
    [None, [], ["x.ini"], ["pyproject.toml"], ["a/pyproject.toml", "b.ini"], ["a.ini", "b.ini"], ["pyproject.toml", "x/pyproject.toml"]],
)
@pytest.mark.parametrize("env", [None, "custom.ini", "conf/pyproject.toml"])
def test_config_files_agree(names: list[str] | None, env: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if env is None:
        monkeypatch.delenv("ALEMBIC_CONFIG", raising=False)
    else:
        monkeypatch.setenv("ALEMBIC_CONFIG", env)

    def outcome(fast: bool) -> Any:
        try:
            return _internals.config_files(names, fast=fast)
        except Exception as exc:  # noqa: BLE001 - the same error, both ways
            return type(exc).__name__, str(exc)

    assert outcome(False) == outcome(True)


TARGETS = ["heads", "head", "base", "d", "b", "main@head", "side@head", "other@head", "-1", "+1", "e", "g", "c@-1"]
STARTS = [(), ("a",), ("b",), ("d",), ("e", "b"), ("g",), ("f", "d")]


@pytest.mark.filterwarnings("ignore:downgrade -1 from multiple heads:UserWarning")
@pytest.mark.parametrize("start", STARTS)
def test_plans_agree(script: Any, start: tuple[str, ...]) -> None:
    def outcome(fn: Any, target: str, fast: bool) -> Any:
        try:
            return _steps(fn(script, target, start, fast=fast))
        except Exception as exc:  # noqa: BLE001 - the same error, both ways
            return type(exc).__name__, str(exc)

    for fn in (_internals.upgrade_steps, _internals.downgrade_steps, _internals.stamp_steps):
        for target in TARGETS:
            assert outcome(fn, target, False) == outcome(fn, target, True), (fn.__name__, target)


def test_linear_map_and_alembics_agree(script: Any) -> None:
    from alembic.script.revision import RevisionMap

    scripts = list(_internals.all_revisions(script))
    fast = _internals.linear_revision_map(lambda: scripts, fast=True)
    plain = _internals.linear_revision_map(lambda: scripts, fast=False)
    assert type(plain) is RevisionMap and type(fast) is not RevisionMap
    def walk(rmap: Any, upper: Any, lower: Any) -> Any:
        try:
            return [r.revision for r in rmap.iterate_revisions(upper, lower)]
        except Exception as exc:  # noqa: BLE001 - the same error, both ways
            return type(exc).__name__, str(exc)

    for upper, lower in (("heads", "base"), ("d", "a"), ("g", "base"), (("d", "g"), "b"), (("d", "f"), "base")):
        assert walk(fast, upper, lower) == walk(plain, upper, lower)


def test_version_gates() -> None:
    assert _internals.parse_version("1.16.0") == (1, 16, 0)
    assert _internals.parse_version("2.1.0b1") == (2, 1, 0)
    assert _internals.ALEMBIC_CHECKED[0] <= (1, 20, 1) < _internals.ALEMBIC_CHECKED[1]
    assert not _internals.alembic_private(object(), "_revision_map")


def test_autogenerate_renders_the_same(tmp_path: Path) -> None:
    """The template variables of an autogenerate run, from Alembic's private renderer and from the public one."""
    import sqlalchemy as sa
    from alembic.autogenerate import RevisionContext
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    folder = tmp_path / "proj"
    script = script_over(folder, [])
    config = Config()
    config.set_main_option("script_location", str(folder))
    metadata = sa.MetaData()
    sa.Table("thing", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(20), nullable=False))
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with engine.connect() as conn:
            context = RevisionContext(config, script, {"message": "m", "autogenerate": True, "sql": False, "head": "head",
                                                       "splice": False, "branch_label": None, "version_path": None,
                                                       "rev_id": None, "depends_on": None})
            migration = MigrationContext.configure(
                conn, opts={"target_metadata": metadata, "upgrade_token": "upgrades", "downgrade_token": "downgrades",
                                "process_revision_directives": None, "render_as_batch": True,
                                "sqlalchemy_module_prefix": "sa.", "alembic_module_prefix": "op.", "user_module_prefix": None}
            )
            context.run_autogenerate((), migration)
            generated = context.generated_revisions[0]
            fast = _internals.render_autogenerate(context, generated, migration, fast=True)
            slow = _internals.render_autogenerate(context, generated, migration, fast=False)
    finally:
        engine.dispose()
    assert "op.create_table('thing'" in fast["upgrades"]
    assert slow == fast


def test_sqlite_reflection_served_only_when_possible() -> None:
    import sqlalchemy as sa

    engine = sa.create_engine("sqlite://")
    try:
        dialect = engine.dialect
        assert _internals.can_serve_sqlite_reflection(dialect)
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
            plain = sa.inspect(conn).get_columns("t")
            rows = [tuple(r) for r in conn.exec_driver_sql("PRAGMA table_xinfo(t)")]
            with _internals.serving_sqlite_reflection(dialect, conn, {("table_xinfo", "t"): rows}, {}):
                assert not _internals.can_serve_sqlite_reflection(dialect)  # not twice
                served = sa.inspect(conn).get_columns("t")
            assert "_get_table_pragma" not in vars(dialect)
        assert [c["name"] for c in served] == [c["name"] for c in plain] == ["id", "name"]
    finally:
        engine.dispose()
