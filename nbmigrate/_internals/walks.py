"""Alembic's topological sort and branch-head filter, in time linear in the history (or ``None`` for a shape they do not cover)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..walk import reachable
from .revisions import down_revisions


def topological_order(
    id_to_rev: Mapping[str, Any],
    revisions: Iterable[Any],
    heads: Iterable[Any],
    parents: Mapping[str, tuple[str, ...]] | None = None,
    position: Mapping[str, int] | None = None,
) -> list[str] | None:
    """Alembic's ``RevisionMap._topological_sort(revisions, heads)``, in time linear in the history.

    Alembic walks down from the heads (in revision-map order), emitting the current head unless
    another head still has it as an ancestor, in which case it switches to the first such head;
    to know that, it keeps every head's full set of ancestors and rebuilds it at each merge and
    branch point. When the revisions to sort are *convex* (no path from a head to one of them
    leaves the set and comes back) and every one lies below a head, which holds for each set
    Alembic sorts for ``history``, upgrades and downgrades, "another head has the candidate as
    an ancestor" is the same as "the candidate has a child still to emit", a counter; and which
    head that is, is found by looking up from the candidate through the children still to emit.
    Returns ``None`` (use Alembic's own) for any other input. ``parents`` (each revision's
    ``_normalized_down_revisions``, what Alembic's sort follows) and ``position`` (each key's
    index in the map) may be given precomputed.
    """
    if parents is None:
        parents = {k: r._normalized_down_revisions for k, r in id_to_rev.items() if r is not None and k == r.revision}
    if position is None:
        position = {key: i for i, key in enumerate(id_to_rev)}
    todo: set[str] = set()
    for rev in revisions:
        rev_id = getattr(rev, "revision", None)
        if rev_id is None or id_to_rev.get(rev_id) is not rev:
            return None
        todo.add(rev_id)
    start = {getattr(h, "revision", None) for h in heads}
    start = {h for h in start if h in todo}
    current = sorted(start, key=position.__getitem__)

    children: dict[str, list[str]] = {rev_id: [] for rev_id in todo}
    for rev_id in todo:
        for up in parents[rev_id]:
            if up in todo:
                children[up].append(rev_id)
    if not _convex(parents, todo, current):
        return None

    pending = set(todo)
    waiting = {rev_id: len(kids) for rev_id, kids in children.items()}  # children not yet emitted
    in_current = set(current)
    output: list[str] = []
    index = 0
    while current:
        candidate = current[index]
        if waiting[candidate]:
            above = _pending_above(candidate, children, pending)
            found = next((i for i, head in enumerate(current) if i != index and head in above), None)
            if found is None:  # cannot happen for a convex set; never guess
                return None
            index = found
            continue
        output.append(candidate)
        pending.discard(candidate)
        in_current.discard(candidate)
        ups = parents[candidate]
        for up in ups:
            if up in todo:
                waiting[up] -= 1
        add = [up for up in ups if up in pending and up not in in_current]
        if not add:
            del current[index]
            index = max(index - 1, 0)
        else:
            current[index] = add[0]
            current.extend(add[1:])
            in_current.update(add)
    return output if not pending else None


def _convex(parents: Mapping[str, tuple[str, ...]], todo: set[str], heads: list[str]) -> bool:
    """Every revision of ``todo`` lies below ``heads``, and no path from them leaves ``todo`` and re-enters."""
    inside: set[str] = set()
    outside: set[str] = set()
    stack = [(h, True) for h in heads]
    while stack:
        rev_id, is_inside = stack.pop()
        seen = inside if is_inside else outside
        if rev_id in seen:
            continue
        seen.add(rev_id)
        ups = parents.get(rev_id)
        if ups is None:
            return False
        for up in ups:
            if up in todo:
                if not is_inside:
                    return False
                stack.append((up, True))
            else:
                stack.append((up, False))
    return len(inside) == len(todo)


def _pending_above(rev_id: str, children: Mapping[str, list[str]], pending: set[str]) -> set[str]:
    """The revisions still to emit that have ``rev_id`` as an ancestor (through others still to emit)."""
    found: set[str] = set()
    stack = [kid for kid in children[rev_id] if kid in pending]
    while stack:
        kid = stack.pop()
        if kid in found:
            continue
        found.add(kid)
        stack.extend(k for k in children[kid] if k in pending)
    return found


def branch_heads(id_to_rev: Mapping[str, Any], targets: set[Any]) -> set[Any]:
    """Alembic's ``_filter_into_branch_heads``: the targets no other target descends from, in linear time.

    Alembic drops each target that has another target among its descendants (through
    ``down_revision`` only); what remains are the targets that are not a strict ancestor of
    another one, whatever order it checks them in.
    """
    def ups(rev_id: str) -> tuple[str, ...]:
        rev = id_to_rev.get(rev_id)
        return down_revisions(rev) if rev is not None else ()

    seen = reachable((up for t in targets for up in down_revisions(t)), ups)
    return {t for t in targets if t.revision not in seen}
