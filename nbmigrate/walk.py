"""The one walk of a revision graph: every node reachable from some, each visited once (linear time)."""

from __future__ import annotations

from collections.abc import Callable, Iterable


def reachable(start: Iterable[str], neighbours: Callable[[str], Iterable[str]]) -> set[str]:
    """``start`` and every id reachable from it through ``neighbours`` (down revisions, next revisions, ...)."""
    seen: set[str] = set()
    stack = list(start)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(n for n in neighbours(node) if n not in seen)
    return seen
