"""The built revision map and its revisions: lookups by id, parents, dependencies, own branch labels, heads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .versions import _fast, alembic_checked, alembic_private

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionMap


def _rmap(where: Any) -> RevisionMap:
    """The ``RevisionMap`` of a ``ScriptDirectory``, or the map itself."""
    return getattr(where, "revision_map", where)


def load_map(script: ScriptDirectory) -> None:
    """Build the revision map now (importing the files), raising what building it raises."""
    script.revision_map.heads  # noqa: B018 - a memoized property: building it builds the map


def map_is_built(rmap: RevisionMap, *, fast: bool | None = None) -> bool:
    """True when the map was built (its files imported), without building it.

    Alembic memoizes the map in the instance's ``_revision_map`` (checked versions); else its
    ``heads``, which building the map sets.
    """
    if _fast(fast, type(rmap), "_revision_map"):
        return "_revision_map" in vars(rmap)
    return "heads" in vars(rmap)


def revision_index(where: Any, *, fast: bool | None = None) -> Mapping[Any, Any]:
    """The built map: each revision id and branch label to its revision (``None`` and ``()`` to ``None``).

    Alembic's own dict (``RevisionMap._revision_map``) where allowed; else one built from the
    public walk of every revision (a new dict each call, in base-to-head order).
    """
    rmap = _rmap(where)
    if _fast(fast, type(rmap), "_revision_map"):
        return rmap._revision_map
    index: dict[Any, Any] = {}
    walked = list(rmap.iterate_revisions("heads", "base", inclusive=True, assert_relative_length=False))
    for rev in reversed(walked):
        index[rev.revision] = rev
    for rev in reversed(walked):
        for label in own_branch_labels(rev):
            index[label] = rev
    index[None] = index[()] = None
    return index


def revision_by_id(where: Any, rev_id: str, *, fast: bool | None = None) -> Any:
    """The revision with exactly this id or branch label (no prefix, no ``head``), or ``None``."""
    return revision_index(where, fast=fast).get(rev_id)


def all_revisions(where: Any, *, fast: bool | None = None) -> list[Any]:
    """Every revision of the map once, in the map's order."""
    seen: dict[str, Any] = {}
    for value in revision_index(where, fast=fast).values():
        if value is not None and value.revision not in seen:
            seen[value.revision] = value
    return list(seen.values())


def down_revisions(rev: Any) -> tuple[str, ...]:
    """The revision's ``down_revision`` as a tuple (no dependencies): its parents in the history.

    What ``alembic.util.to_tuple(rev.down_revision, default=())`` gives (Alembic stores a string,
    a tuple or ``None``), inline: the linear walks ask it once per revision.
    """
    down = rev.down_revision
    if down is None:
        return ()
    return (down,) if isinstance(down, str) else tuple(down)


def dependencies(rev: Any, index: Mapping[Any, Any] | None = None, *, fast: bool | None = None) -> tuple[str, ...]:
    """The revision ids ``depends_on`` names, branch labels resolved (the map must be built).

    Alembic keeps them in ``Revision._resolved_dependencies`` (checked versions); else each name
    is looked up in ``index`` (the built map, see :func:`revision_index`) as Alembic resolves it,
    and without an index the names are given as written.
    """
    if fast is None:
        fast = alembic_checked() and hasattr(rev, "_resolved_dependencies")
    if fast:
        return tuple(rev._resolved_dependencies)
    from alembic.util import to_tuple

    names = to_tuple(rev.dependencies, default=())
    if not names:
        return ()
    if index is None:
        return tuple(names)
    return tuple(index[name].revision for name in names)


def below(rev: Any, index: Mapping[Any, Any] | None = None, *, fast: bool | None = None) -> tuple[str, ...]:
    """What must be applied before ``rev``: its down revisions, then its dependencies."""
    return down_revisions(rev) + dependencies(rev, index, fast=fast)


def own_branch_labels(rev: Any) -> tuple[str, ...]:
    """The branch labels a revision sets itself (Alembic copies each down its branch once the map is built).

    A ``Script``'s are its module's ``branch_labels``; a bare ``Revision``'s are kept in
    ``Revision._orig_branch_labels`` (checked versions), else its ``branch_labels`` stand in.
    """
    from alembic.util import to_tuple

    module = getattr(rev, "module", None)
    if module is not None:
        return to_tuple(getattr(module, "branch_labels", None), default=())
    if alembic_private(rev, "_orig_branch_labels"):
        return tuple(rev._orig_branch_labels)
    return tuple(rev.branch_labels or ())


def links_token(rev: Any, *, fast: bool | None = None) -> object:
    """An object that is replaced whenever a revision is added above ``rev`` (down revision or dependency).

    Alembic replaces ``Revision._all_nextrev`` then (checked versions); else a new object each
    call, so that nothing keyed on it is ever reused.
    """
    if _fast(fast, rev, "_all_nextrev"):
        return rev._all_nextrev
    return object()


def effective_head(rev: Any, where: Any = None, *, fast: bool | None = None) -> bool:
    """A head through ``down_revision`` that another revision depends on (Alembic's "effective head").

    ``Revision._is_real_head`` (checked versions); else looked for in ``where`` (the map or its
    ``ScriptDirectory``), and ``False`` without one.
    """
    if not rev.is_head:
        return False
    if _fast(fast, rev, "_is_real_head"):
        return not rev._is_real_head
    if where is None:
        return False
    index = revision_index(where, fast=False)
    return any(rev.revision in dependencies(other, index, fast=False) for other in all_revisions(where, fast=False))
