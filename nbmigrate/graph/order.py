"""Walks over the graph, each linear in its size: what is applied, the order oldest first, and the folding of linear runs."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from typing import Any

from ..walk import reachable
from ..render._dot import APPLIED, PENDING
from .nodes import Edge, RevisionNode


def _reachable(
    current: Iterable[str],
    down: Mapping[str, tuple[str, ...]],
    deps: Mapping[str, tuple[str, ...]],
    known: Mapping[str, Any],
) -> set[str]:
    # One pass over the map, each id visited once: Alembic's per-node traversals are superlinear.
    return reachable((c for c in current if c in known), lambda rid: (p for p in down[rid] + deps[rid] if p in known))


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
