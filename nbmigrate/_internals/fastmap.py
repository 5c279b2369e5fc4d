"""The fast revision map: Alembic's ``RevisionMap`` with its quadratic walks made linear, its walks remembered, and the applied set."""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..walk import reachable
from .revisions import below, revision_index
from .versions import alembic_private
from .walks import branch_heads, topological_order

if TYPE_CHECKING:
    from alembic.script.revision import RevisionMap


def linear_revision_map(generator: Callable[[], Iterable[Any]], *, fast: bool | None = None) -> RevisionMap:
    """A ``RevisionMap`` that answers exactly as Alembic's, without its superlinear bookkeeping.

    Alembic's ``RevisionMap._topological_sort`` (behind ``walk_revisions``, ``iterate_revisions``
    and the upgrade and downgrade plans, so behind ``history``, the graph and every plan)
    recomputes a head's whole ancestry at each merge and branch point, and
    ``_filter_into_branch_heads`` (behind ``get_all_current`` and relative downgrades) walks all
    descendants of every revision it is given. On the checked Alembic versions both are
    replaced by linear versions that give the same result, element for element (see
    :func:`topological_order`); elsewhere this is Alembic's own ``RevisionMap``.
    """
    from alembic.script.revision import RevisionMap

    if fast is None:
        fast = all(alembic_private(RevisionMap, name) for name in ("_topological_sort", "_filter_into_branch_heads", "_revision_map"))
    cls = _linear_map_class() if fast else RevisionMap
    return cls(generator)


@functools.cache
def _linear_map_class() -> type[RevisionMap]:
    from alembic.script.revision import RevisionMap

    class LinearRevisionMap(RevisionMap):
        def _links(self) -> tuple[dict[str, tuple[str, ...]], dict[str, int]]:
            """Each revision's ``_normalized_down_revisions`` and each key's place in the map.

            Both are Alembic properties recomputed on every access; they are read once per map
            (and again if ``add_revision`` grew it, as ``revision`` does under ``serving``).
            """
            links = self._nbm_state()
            return links.parents, links.position

        def _nbm_state(self) -> _Links:
            rmap = self._revision_map
            links: _Links | None = self.__dict__.get("_nbm_links")
            if links is None or links.rmap is not rmap or links.size != len(rmap):
                links = _Links(rmap)
                self.__dict__["_nbm_links"] = links
            return links

        def iterate_revisions(self, upper: Any, lower: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            # A pure function of the map and the arguments: remembered, so that the plan
            # nbmigrate makes before a run is the one Alembic's own command asks for inside it,
            # and ``history`` asked twice walks once.
            key = (upper, lower, args, tuple(sorted(kwargs.items())))
            try:
                hash(key)
            except TypeError:
                yield from super().iterate_revisions(upper, lower, *args, **kwargs)
                return
            walks = self._nbm_state().walks
            found = walks.get(key)
            if found is None:
                found, warned = _warning_aware(lambda: list(super(LinearRevisionMap, self).iterate_revisions(upper, lower, *args, **kwargs)))
                if not warned:  # a walk that warns ("downgrade -1 from multiple heads") warns every time
                    if len(walks) >= 16:
                        walks.clear()
                    walks[key] = found
            yield from found

        def _topological_sort(self, revisions: Any, heads: Any) -> list[str]:
            parents, position = self._links()
            order = topological_order(self._revision_map, revisions, heads, parents, position)
            if order is None:  # a shape the linear walk does not cover: Alembic's own
                return super()._topological_sort(revisions, heads)
            return order

        def _filter_into_branch_heads(self, targets: Any) -> set[Any]:
            targets = set(targets)
            if not all(getattr(t, "revision", None) for t in targets):
                return super()._filter_into_branch_heads(targets)
            return branch_heads(self._revision_map, targets)

    LinearRevisionMap.__name__ = LinearRevisionMap.__qualname__ = "LinearRevisionMap"
    return LinearRevisionMap


def _warning_aware(fn: Callable[[], Any]) -> tuple[Any, bool]:
    """``fn()``, and whether it warned; its warnings (also when it raises) pass on as Alembic raised them."""
    seen: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                value = fn()
            finally:
                seen = list(caught)
    finally:
        for w in seen:
            module = next((m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == w.filename), None)
            registry = module.__dict__.setdefault("__warningregistry__", {}) if module is not None else None
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, registry=registry)
    return value, bool(seen)


class _Links:
    """What the linear walks read of one state of a revision map (rebuilt when the map grows)."""

    def __init__(self, rmap: Mapping[str, Any]) -> None:
        self.rmap = rmap
        self.size = len(rmap)
        revisions = [(key, rev) for key, rev in rmap.items() if rev is not None and key == rev.revision]
        # What Alembic's topological sort follows.
        self.parents = {key: rev._normalized_down_revisions for key, rev in revisions}
        # What makes a revision applied: its down revisions and all its dependencies.
        self.below = {key: rev._normalized_down_revisions + tuple(rev._resolved_dependencies) for key, rev in revisions}
        self.position = {key: i for i, key in enumerate(rmap)}
        self.walks: dict[Any, list[Any]] = {}
        self.applied: tuple[tuple[str, ...], frozenset[str]] | None = None


def applied(rmap: RevisionMap, heads: Sequence[str], *, fast: bool | None = None) -> set[str]:
    """Every revision at or below ``heads`` (down revisions and dependencies), in linear time.

    On a map made by :func:`linear_revision_map` the answer for the last ``heads`` asked is
    remembered (the database rarely moves between two commands).
    """
    if fast is None:
        fast = alembic_private(type(rmap), "_revision_map")
    id_to_rev = revision_index(rmap, fast=fast)
    state = getattr(rmap, "_nbm_state", None) if fast else None
    links: _Links | None = state() if state is not None else None
    key = tuple(heads)
    if links is not None and links.applied is not None and links.applied[0] == key:
        return set(links.applied[1])

    def ups(rev_id: str) -> Sequence[str]:
        known = links.below.get(rev_id) if links is not None else None
        if known is not None:
            return known
        rev = id_to_rev.get(rev_id)
        return below(rev, id_to_rev, fast=fast) if rev is not None else ()

    seen = reachable((h for h in heads if h in id_to_rev), ups)
    if links is not None:
        links.applied = (key, frozenset(seen))
    return seen
