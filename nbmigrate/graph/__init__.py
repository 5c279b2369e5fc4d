"""The revision graph: Alembic revisions plus a database's state, as a model and as DOT.

Engine module: no IPython, no widgets, no HTML. Rendering to SVG (:func:`render_svg`, in
:mod:`nbmigrate.render._dot` with the palette) runs the ``graphviz-pure`` program (a dependency)
or, on request, a system Graphviz ``dot``.

Errors raised here:

- :class:`RevisionRangeError` (``ValueError``): a ``-r a:b`` range Alembic cannot resolve.
- :class:`GraphvizError` (``RuntimeError``): the layout program failed.
  - :class:`GraphvizNotFound`: the layout program is not installed.
"""

from __future__ import annotations

import ast
import heapq
import inspect
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz
from ._internals import own_branch_labels
from .errors import RevisionProblem
from alembic.script.revision import MultipleHeads, ResolutionError, Revision, RevisionError, RevisionMap

__all__ = [
    "STATES",
    "Edge",
    "GraphvizError",
    "GraphvizNotFound",
    "RevisionGraph",
    "RevisionNode",
    "RevisionRangeError",
    "render_svg",
]

from .render._dot import (  # noqa: E402 - the drawing's attributes and layout live with the other renderers
    APPLIED,
    CURRENT,
    DEPENDS_STYLE,
    FONT,
    KIND_SHAPE,
    LABEL_STYLE,
    MISSING,
    PENDING,
    STATE_STYLE,
    STATES,
    GraphvizError,
    GraphvizNotFound,
    dot_text,
    render_svg,
)

_MESSAGE_WIDTH = 48  # label text beyond this is cut; the tooltip and details keep it whole


class RevisionRangeError(RevisionProblem, ValueError):
    """A revision range that Alembic cannot resolve (bad syntax, unknown or ambiguous id)."""


@dataclass(frozen=True)
class RevisionNode:
    """One revision (or a revision the database records but the files lack) and its state."""

    id: str
    message: str
    doc: str
    branch_labels: tuple[str, ...]
    path: str | None
    folder: str | None
    down_revisions: tuple[str, ...]
    dependencies: tuple[str, ...]
    children: tuple[str, ...]
    state: str
    is_head: bool = False
    is_base: bool = False
    is_branch_point: bool = False
    is_merge_point: bool = False

    @property
    def is_missing(self) -> bool:
        """True when no revision file exists for this id."""
        return self.state == MISSING

    @property
    def kinds(self) -> tuple[str, ...]:
        """The node's kinds as words: head, base, branch point, merge point, missing."""
        flags = (
            (self.is_head, "head"),
            (self.is_base, "base"),
            (self.is_branch_point, "branch point"),
            (self.is_merge_point, "merge point"),
            (self.is_missing, "missing"),
        )
        return tuple(word for on, word in flags if on)

    @property
    def short_id(self) -> str:
        """The id as shown in labels (Alembic's 12-character ids are kept whole)."""
        return _short(self.id)


@dataclass(frozen=True, order=True)
class Edge:
    """An edge from an older revision to a newer one; ``kind`` is ``down`` or ``depends``."""

    parent: str
    child: str
    kind: str = "down"


@dataclass
class _Source:
    path: str | None
    module: Any


@dataclass
class RevisionGraph:
    """Revisions, their kinds and this database's state, ready to draw."""

    nodes: dict[str, RevisionNode]
    edges: tuple[Edge, ...]
    order: tuple[str, ...]
    """Node ids oldest first (a topological order with ties broken by id)."""
    current: tuple[str, ...]
    runs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Collapsed linear runs: first (oldest) revision id -> the run's ids, oldest first."""
    folders: tuple[str, ...] = ()
    rev_range: str | None = None
    _sources: dict[str, _Source] = field(default_factory=dict, repr=False)
    _details: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_revisions(
        cls,
        revisions: Iterable[Any],
        *,
        current: Iterable[str] = (),
        applied: Iterable[str] | None = None,
        rev_range: str | None = None,
        collapse: int | None = None,
        expand: Collection[str] = (),
        revision_map: Any | None = None,
    ) -> RevisionGraph:
        """Build the graph from Alembic ``Script``/``Revision`` objects and the database state.

        ``current`` holds the ids in ``alembic_version``; ``applied`` defaults to everything
        reachable from them. ``collapse=N`` folds linear runs longer than ``N`` into one node,
        except runs holding an id in ``expand``. ``revision_map`` (e.g.
        ``ScriptDirectory.revision_map``) resolves ``rev_range``; without it one is built.
        """
        revs = list(revisions)
        current_ids = tuple(dict.fromkeys(c for c in current if c))

        by_id: dict[str, Any] = {}
        for rev in revs:
            by_id.setdefault(rev.revision, rev)

        # Alembic copies branch labels onto every revision of the branch once the map is
        # built; only the labels written in the file identify where the branch is named.
        labels: dict[str, tuple[str, ...]] = {}
        label_owner: dict[str, str] = {}
        for rid, rev in by_id.items():
            own = own_branch_labels(rev)
            labels[rid] = tuple(sorted(own))
            for name in own:
                label_owner.setdefault(name, rid)

        down: dict[str, tuple[str, ...]] = {}
        deps: dict[str, tuple[str, ...]] = {}
        dangling: set[str] = set()
        for rid, rev in by_id.items():
            down[rid] = _to_tuple(rev.down_revision)
            resolved = []
            for dep in _to_tuple(rev.dependencies):
                # depends_on may name a branch label instead of an id, as Alembic allows
                target = dep if dep in by_id else label_owner.get(dep, dep)
                if target not in resolved and target not in down[rid]:
                    resolved.append(target)
            deps[rid] = tuple(resolved)
            dangling.update(p for p in down[rid] + deps[rid] if p not in by_id)

        children: dict[str, list[str]] = {rid: [] for rid in by_id}
        for rid in by_id:
            for parent in down[rid]:
                if parent in children:
                    children[parent].append(rid)

        applied_ids = (
            set(applied) if applied is not None else _reachable(current_ids, down, deps, by_id)
        )

        in_range: set[str] | None = None
        if rev_range is not None:
            in_range = _resolve_range(
                rev_range, by_id, down, deps, labels, current_ids, revision_map
            )

        folders_all = sorted(
            {os.path.dirname(p) for p in (getattr(r, "path", None) for r in by_id.values()) if p}
        )

        nodes: dict[str, RevisionNode] = {}
        sources: dict[str, _Source] = {}
        for rid, rev in by_id.items():
            if in_range is not None and rid not in in_range:
                continue
            path = getattr(rev, "path", None)
            doc = _doc_of(rev)
            if rid in current_ids:
                state = CURRENT
            elif rid in applied_ids:
                state = APPLIED
            else:
                state = PENDING
            nodes[rid] = RevisionNode(
                id=rid,
                message=_first_line(doc),
                doc=_long_doc_of(rev, doc),
                branch_labels=labels[rid],
                path=str(path) if path else None,
                folder=os.path.dirname(path) if path and len(folders_all) > 1 else None,
                down_revisions=down[rid],
                dependencies=deps[rid],
                children=tuple(sorted(children[rid])),
                state=state,
                is_head=not children[rid],
                is_base=not down[rid],
                is_branch_point=len(children[rid]) > 1,
                is_merge_point=len(down[rid]) > 1,
            )
            sources[rid] = _Source(str(path) if path else None, getattr(rev, "module", None))

        # Ids the database records but no file defines, and ids referenced but absent.
        referrers: dict[str, list[str]] = {}
        for rid in nodes:
            for parent in down[rid]:
                if parent in dangling:
                    referrers.setdefault(parent, []).append(rid)
            for parent in deps[rid]:
                if parent in dangling:
                    referrers.setdefault(parent, [])
        missing = {c for c in current_ids if c not in by_id} | set(referrers)
        for rid in sorted(missing):
            nodes[rid] = RevisionNode(
                id=rid,
                message="not in the revision files",
                doc="",
                branch_labels=(),
                path=None,
                folder=None,
                down_revisions=(),
                dependencies=(),
                children=tuple(sorted(referrers.get(rid, ()))),
                state=MISSING,
            )

        edges = sorted(
            Edge(parent, rid, kind)
            for rid in nodes
            if rid in by_id
            for kind, parents in (("down", down[rid]), ("depends", deps[rid]))
            for parent in parents
            if parent in nodes
        )
        order = _topological(nodes, edges)
        runs = _linear_runs(nodes, edges, order, collapse, set(expand))
        return cls(
            nodes=nodes,
            edges=tuple(edges),
            order=order,
            current=current_ids,
            runs=runs,
            folders=tuple(f for f in folders_all if len(folders_all) > 1),
            rev_range=rev_range,
            _sources=sources,
        )

    @classmethod
    def from_script_directory(cls, script: Any, **kwargs: Any) -> RevisionGraph:
        """Build the graph from a ``ScriptDirectory``; keywords as for :meth:`from_revisions`."""
        kwargs.setdefault("revision_map", script.revision_map)
        return cls.from_revisions(list(script.walk_revisions()), **kwargs)

    # -- queries ------------------------------------------------------------------------------

    def _ids(self, attr: str) -> tuple[str, ...]:
        return tuple(sorted(n.id for n in self.nodes.values() if getattr(n, attr)))

    @property
    def heads(self) -> tuple[str, ...]:
        """Head revisions (nothing revises them)."""
        return self._ids("is_head")

    @property
    def bases(self) -> tuple[str, ...]:
        """Root revisions (no ``down_revision``); there may be several."""
        return self._ids("is_base")

    @property
    def branch_points(self) -> tuple[str, ...]:
        """Revisions with two or more children."""
        return self._ids("is_branch_point")

    @property
    def merge_points(self) -> tuple[str, ...]:
        """Revisions with two or more parents."""
        return self._ids("is_merge_point")

    @property
    def missing(self) -> tuple[str, ...]:
        """Ids recorded or referenced without a revision file."""
        return self._ids("is_missing")

    def counts(self) -> dict[str, int]:
        """How many nodes are in each state."""
        out = dict.fromkeys(STATES, 0)
        for node in self.nodes.values():
            out[node.state] += 1
        return out

    def details(self, rev_id: str) -> dict[str, Any]:
        """Everything shown for one revision, including the source of upgrade() and downgrade()."""
        if rev_id not in self.nodes:
            raise KeyError(f"no revision {rev_id!r} in this graph")
        cached = self._details.get(rev_id)
        if cached is not None:
            return dict(cached)
        node = self.nodes[rev_id]
        src = self._sources.get(rev_id, _Source(None, None))
        upgrade, downgrade = _function_sources(src.path, src.module, ("upgrade", "downgrade"))
        info = {
            "id": node.id,
            "message": node.message,
            "state": node.state,
            "kinds": list(node.kinds),
            "branch_labels": list(node.branch_labels),
            "down_revisions": list(node.down_revisions),
            "dependencies": list(node.dependencies),
            "children": list(node.children),
            "path": node.path,
            "doc": node.doc,
            "upgrade": upgrade,
            "downgrade": downgrade,
        }
        self._details[rev_id] = info
        return dict(info)

    # -- drawing ------------------------------------------------------------------------------

    def to_dot(self) -> str:
        """The graph as Graphviz DOT source (deterministic: same graph, same bytes)."""
        dot = graphviz.Digraph(
            "revisions",
            graph_attr={
                "rankdir": "BT",  # newest on top, like ``alembic history``
                "nodesep": "0.25",
                "ranksep": "0.3",
                "fontname": FONT,
                "fontsize": "11",
            },
            node_attr={
                "shape": "box",
                "style": "rounded,filled",
                "fontname": FONT,
                "fontsize": "10",
                "height": "0.3",
                "margin": "0.1,0.04",
            },
            edge_attr={"color": "#57606a", "arrowsize": "0.6"},
        )
        run_of = {rid: first for first, ids in self.runs.items() for rid in ids}

        def name(rid: str) -> str:
            # '@' cannot occur in an Alembic revision id, so run names never collide with one
            return f"@run-{run_of[rid]}" if rid in run_of else rid

        groups: dict[str | None, list[str]] = {}
        for rid in self.order:
            if rid in run_of and run_of[rid] != rid:
                continue
            groups.setdefault(self.nodes[rid].folder, []).append(rid)

        for index, folder in enumerate(sorted(groups, key=lambda f: (f is not None, f or ""))):
            if folder is None:
                self._add_nodes(dot, groups[folder], name)
                continue
            with dot.subgraph(name=f"cluster_{index}") as sub:
                sub.attr(
                    label=dot_text(_folder_label(folder, self.folders)),
                    style="rounded,dashed",
                    color="#8c959f",
                    fontcolor="#57606a",
                    labeljust="l",
                    labelloc="b",  # with rankdir=BT "b" puts the folder's name on top
                    id=dot_text(f"folder-{index}"),
                )
                self._add_nodes(sub, groups[folder], name)

        seen: set[tuple[str, str]] = set()
        for edge in self.edges:
            tail, head = name(edge.parent), name(edge.child)
            if tail == head or (tail, head) in seen:
                continue
            seen.add((tail, head))
            if edge.kind == "depends":
                tip = dot_text(f"{edge.child} depends on {edge.parent}")
                dot.edge(tail, head, **DEPENDS_STYLE, tooltip=tip)
            else:
                dot.edge(tail, head)
        return dot.source

    def _add_nodes(
        self, dot: graphviz.Digraph, ids: list[str], name: Callable[[str], str]
    ) -> None:
        for rid in ids:
            node = self.nodes[rid]
            run = self.runs.get(rid)
            if run is not None:
                last = run[-1]
                text = f"{len(run)} revisions\n{_short(rid)}…{_short(last)}"
                tip = f"{len(run)} {node.state} revisions {rid}…{last} (click to expand)"
                dot.node(
                    name(rid),
                    label=dot_text(text),
                    id=dot_text(f"run-{rid}"),
                    tooltip=dot_text(tip),
                    style="rounded,filled,dashed",
                    **{"class": f"nbm-run nbm-{node.state}"},
                    **STATE_STYLE[node.state],
                )
                continue
            kinds = node.kinds
            title = node.short_id + "".join(f" ({k})" for k in kinds)
            attrs = dict(STATE_STYLE[node.state])
            # one shape per node: a merge outranks a branch point, which outranks a base
            shape = next(
                (KIND_SHAPE[k] for k in ("merge point", "branch point", "base") if k in kinds), None
            )
            if shape:
                attrs["shape"] = shape
                attrs["style"] = "filled"  # rounded corners turn polygons into blobs
            if node.is_missing:
                attrs["style"] = "filled,dashed"
            if node.is_head:
                attrs["peripheries"] = "2"
            # CSS hooks for the widget; dict.fromkeys drops the repeated "missing"
            classes = dict.fromkeys(
                ["nbm-rev", f"nbm-{node.state}"] + [f"nbm-{k.replace(' ', '-')}" for k in kinds]
            )
            text = f"{title}\n{_clip(node.message)}" if node.message else title
            tip = f"{rid} [{node.state}]" + (f"\n{node.message}" if node.message else "")
            dot.node(
                rid,
                label=dot_text(text),
                id=dot_text(f"rev-{rid}"),
                tooltip=dot_text(tip),
                **{"class": " ".join(classes)},
                **attrs,
            )
            for index, label in enumerate(node.branch_labels):
                label_name = f"@label-{rid}-{index}"
                with dot.subgraph() as same:
                    same.attr(rank="same")
                    same.node(
                        label_name,
                        label=dot_text(label),
                        id=dot_text(f"label-{rid}-{label}"),
                        tooltip=dot_text(f"branch label {label} on {rid}"),
                        shape="cds",
                        style="filled",
                        **{"class": "nbm-branch-label"},
                        **LABEL_STYLE,
                    )
                    same.node(rid)
                dot.edge(
                    label_name, rid, style="dotted", arrowhead="none", color=LABEL_STYLE["color"]
                )


# -- helpers ----------------------------------------------------------------------------------


def _to_tuple(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(v for v in value if v)


def _short(rid: str) -> str:
    return rid if len(rid) <= 12 else rid[:12] + "…"


def _clip(text: str) -> str:
    return text if len(text) <= _MESSAGE_WIDTH else text[: _MESSAGE_WIDTH - 1] + "…"


def _first_line(doc: str) -> str:
    return doc.strip().splitlines()[0].strip() if doc and doc.strip() else ""


def _doc_of(rev: Any) -> str:
    try:
        doc = getattr(rev, "doc", "")
    except Exception:  # a Script without a loadable module: show it, without a message
        return ""
    return doc if isinstance(doc, str) else ""


def _long_doc_of(rev: Any, doc: str) -> str:
    try:
        long = getattr(rev, "longdoc", None)
    except Exception:
        long = None
    return long if isinstance(long, str) and long else doc


def _folder_label(folder: str, folders: tuple[str, ...]) -> str:
    # Relative to the parent of the folders' common directory: short and free of absolute paths.
    if len(folders) < 2:
        return os.path.basename(folder) or folder
    common = os.path.commonpath(folders)
    return os.path.relpath(folder, os.path.dirname(common))


def _reachable(
    current: Iterable[str],
    down: Mapping[str, tuple[str, ...]],
    deps: Mapping[str, tuple[str, ...]],
    known: Mapping[str, Any],
) -> set[str]:
    # One pass over the map, each id visited once: Alembic's per-node traversals are superlinear.
    seen: set[str] = set()
    stack = [c for c in current if c in known]
    while stack:
        rid = stack.pop()
        if rid in seen:
            continue
        seen.add(rid)
        stack.extend(p for p in down[rid] + deps[rid] if p in known and p not in seen)
    return seen


def _resolve_range(
    rev_range: str,
    by_id: Mapping[str, Any],
    down: Mapping[str, tuple[str, ...]],
    deps: Mapping[str, tuple[str, ...]],
    labels: Mapping[str, tuple[str, ...]],
    current: tuple[str, ...],
    revision_map: Any | None,
) -> set[str]:
    if ":" not in rev_range:
        raise RevisionRangeError(
            f"Invalid revision range {rev_range!r}: use [start]:[end], [start]: or :[end]."
        )
    lower, upper = (part.strip() for part in rev_range.strip().split(":", 1))
    bounds: list[str | tuple[str, ...]] = []
    for part, default in ((lower, "base"), (upper, "heads")):
        if part == "current":
            # as in ``alembic history -r current:``; an empty database sits at base
            bounds.append(current if current else "base")
        else:
            bounds.append(part or default)
    if revision_map is None:
        # Fresh copies: building a RevisionMap mutates its revisions (next revisions, labels).
        copies = [
            Revision(
                rid,
                tuple(p for p in down[rid] if p in by_id) or None,
                tuple(d for d in deps[rid] if d in by_id) or None,
                labels[rid] or None,
            )
            for rid in by_id
        ]
        revision_map = RevisionMap(lambda: copies)
    try:
        for bound in bounds:  # the lower end first: a name that names nothing is said as such
            if isinstance(bound, str) and bound not in ("base", "heads"):
                revision_map.get_revisions(bound)
        found = {
            rev.revision
            for rev in revision_map.iterate_revisions(bounds[1], bounds[0], inclusive=True, assert_relative_length=False)
        }
        if not found:
            raise RevisionRangeError(
                f"The range {rev_range!r} holds no revisions: give it as older:newer, e.g. `-r base:heads`."
            )
        return found
    except MultipleHeads as exc:
        # Alembic's raw message names no way out; say what to type instead.
        raise RevisionRangeError(
            f"Invalid revision range {rev_range!r}: Multiple heads are present "
            f"({', '.join(sorted(exc.heads))}); use a revision id, '<branchname>@head' or 'heads'."
        ) from None
    except RevisionError as exc:
        hint = "Check `%migrate history` for the revisions." if isinstance(exc, ResolutionError) else (
            "Give it as older:newer, e.g. `-r base:heads`."
        )
        raise RevisionRangeError(f"Invalid revision range {rev_range!r}: {str(exc).rstrip('.')}. {hint}") from None


def _topological(nodes: Mapping[str, RevisionNode], edges: Iterable[Edge]) -> tuple[str, ...]:
    indegree = dict.fromkeys(nodes, 0)
    after: dict[str, list[str]] = {rid: [] for rid in nodes}
    for edge in edges:
        indegree[edge.child] += 1
        after[edge.parent].append(edge.child)
    ready = [rid for rid, n in indegree.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        rid = heapq.heappop(ready)
        order.append(rid)
        for child in after[rid]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, child)
    if len(order) < len(nodes):  # a cycle (Alembic refuses those); still show every node
        placed = set(order)
        order.extend(sorted(rid for rid in nodes if rid not in placed))
    return tuple(order)


def _linear_runs(
    nodes: Mapping[str, RevisionNode],
    edges: Iterable[Edge],
    order: Iterable[str],
    collapse: int | None,
    expand: set[str],
) -> dict[str, tuple[str, ...]]:
    if collapse is None:
        return {}
    parents: dict[str, list[Edge]] = {rid: [] for rid in nodes}
    kids: dict[str, list[Edge]] = {rid: [] for rid in nodes}
    for edge in edges:
        parents[edge.child].append(edge)
        kids[edge.parent].append(edge)

    def foldable(rid: str) -> bool:
        node = nodes[rid]
        return (
            node.state in (APPLIED, PENDING)  # the current revision always stays visible
            and not node.branch_labels
            and len(parents[rid]) == 1
            and len(kids[rid]) == 1
            and parents[rid][0].kind == "down"
            and kids[rid][0].kind == "down"
        )

    def linked(parent: str, child: str) -> bool:
        a, b = nodes[parent], nodes[child]
        return foldable(parent) and foldable(child) and (a.state, a.folder) == (b.state, b.folder)

    runs: dict[str, tuple[str, ...]] = {}
    minimum = max(collapse, 1)
    for rid in order:
        if not foldable(rid) or linked(parents[rid][0].parent, rid):
            continue  # not a run's first revision
        run = [rid]
        while linked(run[-1], kids[run[-1]][0].child):
            run.append(kids[run[-1]][0].child)
        if len(run) > minimum and not expand.intersection(run):
            runs[rid] = tuple(run)
    return runs


def _function_sources(
    path: str | None, module: Any, names: tuple[str, ...]
) -> tuple[str | None, ...]:
    """Source of top-level functions, read from the file (current text) or else the module."""
    found: dict[str, str] = {}
    if path and path.endswith(".py") and os.path.isfile(path):
        try:
            text = Path(path).read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            tree = None
        if tree is not None:
            lines = text.splitlines()
            for item in tree.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in names:
                    start = min([d.lineno for d in item.decorator_list] + [item.lineno])
                    end = item.end_lineno or item.lineno
                    found.setdefault(item.name, "\n".join(lines[start - 1 : end]))
    if module is not None:
        for fn_name in names:
            if fn_name in found or not callable(getattr(module, fn_name, None)):
                continue
            try:
                found[fn_name] = inspect.getsource(getattr(module, fn_name)).rstrip("\n")
            except (OSError, TypeError):
                pass
    return tuple(found.get(n) for n in names)
