"""The graph model: Alembic revisions plus the database's state, as nodes and edges, and the queries on them."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from .._internals import own_branch_labels
from ..render._dot import APPLIED, CURRENT, MISSING, PENDING, STATES
from .dot import Drawing
from .nodes import Edge, RevisionNode
from .order import _linear_runs, _reachable, _topological
from .ranges import _resolve_range
from .sources import _doc_of, _first_line, _function_sources, _long_doc_of, _Source


@dataclass
class RevisionGraph(Drawing):
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


def _to_tuple(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(v for v in value if v)
