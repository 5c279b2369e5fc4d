"""The tests use nbmigrate as its users and maintainers can: through names without a leading underscore.

A test that reaches ``project._scripts`` or imports ``_fingerprint`` breaks whenever the
internals are rearranged, and says nothing a public name could not. Here every ``tests/*.py``
file is read as a syntax tree and every ``x._name`` whose ``_name`` nbmigrate defines (a
function, class, method, attribute or module-level name with one leading underscore) is
refused, as is ``from nbmigrate... import _name``. A private *module* may be imported
(``from nbmigrate import _watch``): what the tests then use from it must be named publicly.

Not counted: ``self._x``/``cls._x`` (the tests' own classes), the rich display protocol
(``_repr_html_`` ...), anywidget's documented ``_esm``/``_css``, and the private methods of
Alembic's ``RevisionMap`` that nbmigrate's linear map overrides: the tests call them on
Alembic's own map to compare nbmigrate's answers with Alembic's.
"""

from __future__ import annotations

import ast
from pathlib import Path

from alembic.script.revision import RevisionMap

import nbmigrate

PACKAGE = Path(nbmigrate.__file__).parent
TESTS = Path(__file__).parent

DISPLAY = ("_repr_", "_ipython_display_")
ANYWIDGET = {"_esm", "_css"}
# Alembic's names, overridden by nbmigrate's LinearRevisionMap (see nbmigrate/_cache.py).
ALEMBICS = {"_topological_sort", "_filter_into_branch_heads"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_names(package: Path = PACKAGE) -> set[str]:
    """Every single-underscore name nbmigrate's own source defines, anywhere in the package."""
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found = [node.name]
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                found = [node.id]
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                found = [node.attr]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                found = [(alias.asname or alias.name).split(".")[0] for alias in node.names]
            else:
                continue
            names.update(name for name in found if _private(name))
    return names


def private_modules(package: Path = PACKAGE) -> set[str]:
    """``nbmigrate._cache``, ``nbmigrate.render._html``...: the package's private modules, dotted."""
    modules = set()
    for path in package.rglob("*.py"):
        parts = (package.name, *path.relative_to(package).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if _private(parts[-1]):
            modules.add(".".join(parts))
    return modules


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def private_uses(source: str, names: set[str], modules: set[str]) -> list[str]:
    """``line: what`` for each use of one of nbmigrate's private ``names`` in a test's ``source``."""
    allowed = ANYWIDGET | ALEMBICS
    uses = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in names and node.attr not in allowed:
            if node.attr.startswith(DISPLAY):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if _dotted(node) in modules:  # nbmigrate._cache: the module itself
                continue
            uses.append(f"{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "nbmigrate":
            for alias in node.names:
                if _private(alias.name) and f"{node.module}.{alias.name}" not in modules:
                    uses.append(f"{node.lineno}: from {node.module} import {alias.name}")
    return uses


def test_the_alembic_names_are_alembics() -> None:
    """The exceptions above are Alembic's ``RevisionMap`` methods, not names of nbmigrate's own."""
    for name in ALEMBICS:
        assert callable(getattr(RevisionMap, name)), name


def test_the_scan_sees_what_it_refuses() -> None:
    names, modules = private_names(), private_modules()
    assert {"_dispose_engine", "_scripts", "_fingerprint", "_projects"} <= names
    assert {"nbmigrate._cache", "nbmigrate._watch", "nbmigrate.render._html"} <= modules
    source = (
        "from nbmigrate import _cache, Project\n"
        "from nbmigrate._cache import _fingerprint, ScriptCache\n"
        "import nbmigrate._watch\n"
        "project._scripts.loads\n"
        "self._scripts\n"
        "widget._repr_html_()\n"
        "nbmigrate._cache.ScriptCache\n"
    )
    assert private_uses(source, names, modules) == [
        "2: from nbmigrate._cache import _fingerprint",
        "4: project._scripts",
    ]


def test_no_test_reaches_a_private_name_of_nbmigrate() -> None:
    names, modules = private_names(), private_modules()
    found = []
    for path in sorted(TESTS.glob("*.py")):
        found += [f"{path.name}:{use}" for use in private_uses(path.read_text(encoding="utf-8"), names, modules)]
    assert found == []
