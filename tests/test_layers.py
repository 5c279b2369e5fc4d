"""The package's layers: every import points down (or within a layer), and no modules import each other.

Read from the source: every ``import`` and ``from ... import`` in a module, at the top or inside a
function, counts; those under ``if TYPE_CHECKING:`` do not (they never run). A module's layer is
the first pattern of :data:`LAYERS` its name matches, top layer first.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nbmigrate"

# Top to bottom. A module may import modules of its own layer and of the layers below it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("interface", ("nbmigrate", "nbmigrate.__main__", "nbmigrate.magics", "nbmigrate.widgets", "nbmigrate.api")),
    ("front end", ("nbmigrate.parser", "nbmigrate.cell", "nbmigrate.cell.*")),
    ("commands", ("nbmigrate.commands", "nbmigrate.commands.*")),
    ("engines", (
        "nbmigrate.timeline", "nbmigrate.timeline.*", "nbmigrate.lint", "nbmigrate.lint.*", "nbmigrate.engine", "nbmigrate.run", "nbmigrate.failure", "nbmigrate.history", "nbmigrate.revisions",
        "nbmigrate.checksums", "nbmigrate.preflight", "nbmigrate.cancel", "nbmigrate.locks", "nbmigrate.erd",
        "nbmigrate.graph", "nbmigrate.graph.*", "nbmigrate.schema", "nbmigrate.schema.*", "nbmigrate.locks.*",
        "nbmigrate.templates.*",
    )),
    ("project", (
        "nbmigrate.project", "nbmigrate.project.*", "nbmigrate._cache", "nbmigrate._files", "nbmigrate._internals",
        "nbmigrate._internals.*",
    )),
    ("models", ("nbmigrate.results",)),
    ("render", ("nbmigrate.render", "nbmigrate.render.*")),
    ("base", ("nbmigrate.errors", "nbmigrate.masking", "nbmigrate.paths", "nbmigrate.walk", "nbmigrate._runtime", "nbmigrate._watch", "nbmigrate.observe")),
]

# Imports allowed to point up or close a cycle: none. (A listed edge that no longer exists fails
# the test too, so an exception made here is removed with its import.)
KNOWN: set[tuple[str, str]] = set()


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imports(name: str, path: Path, known: dict[str, Path], missing: set[str] | None = None) -> set[str]:
    """The nbmigrate modules ``name`` imports when it runs (``missing`` collects those that do not exist)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # `from . import x` imports the module x, not the package
                sub = f"{target}.{alias.name}"
                if sub in known:
                    found.add(sub)
                elif target in known:
                    found.add(target)
                elif missing is not None and target.startswith("nbmigrate"):
                    missing.add(f"{name}: {target}")
    return found - {name}


def layer(name: str) -> int:
    for index, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(name, p) for p in patterns):
            return len(LAYERS) - index  # higher is higher up
    raise AssertionError(f"{name} is in no layer of tests/test_layers.py: place it")


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def upward(edges: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(a, b) for a, targets in edges.items() for b in targets if layer(b) > layer(a)}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer() -> None:
    for name in modules():
        layer(name)


def test_no_import_points_up() -> None:
    edges = graph()
    bad = upward(edges) - KNOWN
    assert not bad, "imports of a higher layer:\n" + "\n".join(f"  {a} -> {b}" for a, b in sorted(bad))


def test_no_modules_import_each_other() -> None:
    edges = {a: {b for b in targets if (a, b) not in KNOWN} for a, targets in graph().items()}
    assert cycles(edges) == []


def test_every_import_of_the_package_finds_its_module() -> None:
    """A lazy import of a module that moved fails only when its function runs: catch it here."""
    known = modules()
    missing: set[str] = set()
    for name, path in known.items():
        imports(name, path, known, missing)
    assert not missing, sorted(missing)


def test_the_known_exceptions_still_exist() -> None:
    edges = graph()
    gone = {(a, b) for a, b in KNOWN if b not in edges.get(a, ())}
    assert not gone, f"no longer imported, delete from KNOWN: {sorted(gone)}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from . import errors\nfrom .render import _html", {"nbmigrate.errors", "nbmigrate.render._html"}),
        ("def f():\n    from .schema import diff\n", {"nbmigrate.schema"}),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .commands import x\n", set()),
        ("import nbmigrate.project\n", {"nbmigrate.project"}),
    ],
)
def test_the_scan_reads_every_kind_of_import(tmp_path: Path, source: str, expected: set[str]) -> None:
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert imports("nbmigrate.probe", path, modules()) == expected


def test_the_checks_fail_on_an_upward_edge_and_a_cycle() -> None:
    assert upward({"nbmigrate.errors": {"nbmigrate.commands"}}) == {("nbmigrate.errors", "nbmigrate.commands")}
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
