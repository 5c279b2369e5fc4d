"""Planning: the steps Alembic's ``upgrade``, ``downgrade`` and ``stamp`` take, with Alembic's errors for bad targets."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .revisions import below, revision_index
from .versions import _fast

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory


def upgrade_steps(script: ScriptDirectory, destination: str, heads: Any, *, fast: bool | None = None) -> list[Any]:
    """The steps ``alembic upgrade destination`` takes from ``heads`` (``ScriptDirectory._upgrade_revs``)."""
    if _fast(fast, script, "_upgrade_revs"):
        return script._upgrade_revs(destination, heads)
    from alembic.runtime.migration import MigrationStep

    with _command_errors(f"Destination {destination} is not a valid upgrade target from current head(s)", head_arg=destination):
        revs = list(script.iterate_revisions(destination, heads, implicit_base=True))
        return [MigrationStep.upgrade_from_script(script.revision_map, rev) for rev in reversed(revs)]


def downgrade_steps(script: ScriptDirectory, destination: str, heads: Any, *, fast: bool | None = None) -> list[Any]:
    """The steps ``alembic downgrade destination`` takes from ``heads`` (``ScriptDirectory._downgrade_revs``)."""
    if _fast(fast, script, "_downgrade_revs"):
        return script._downgrade_revs(destination, heads)
    from alembic.runtime.migration import MigrationStep

    with _command_errors(f"Destination {destination} is not a valid downgrade target from current head(s)", head_arg=destination):
        revs = script.iterate_revisions(heads, destination, select_for_downgrade=True)
        return [MigrationStep.downgrade_from_script(script.revision_map, rev) for rev in revs]


def stamp_steps(script: ScriptDirectory, targets: Any, heads: Any, *, fast: bool | None = None) -> list[Any]:
    """The steps ``alembic stamp targets`` takes from ``heads`` (``ScriptDirectory._stamp_revs``).

    The fallback follows the same rules with public calls: per target, nothing when the database
    holds it, one step down from the heads above it, one up from the heads below it, else a new
    branch; ``base`` deletes the rows of the heads in its lineage.
    """
    if _fast(fast, script, "_stamp_revs"):
        return script._stamp_revs(targets, heads)
    from alembic import util
    from alembic.runtime.migration import StampStep

    rmap = script.revision_map
    with _command_errors(multiple_heads="Multiple heads are present; please specify a single target revision"):
        heads_revs = script.get_revisions(heads)
        filtered: list[Any] = []
        for target in util.to_tuple(targets or "base"):
            if target:
                filtered.extend(rmap.filter_for_lineage(heads_revs, target, include_dependencies=True))
        filtered = util.unique_list(filtered)
        index = revision_index(rmap, fast=False)
        steps: list[Any] = []
        for dest in script.get_revisions(targets or "base") or [None]:
            if dest is None:
                steps.extend(StampStep(h.revision, None, False, True, rmap) for h in filtered)
                continue
            if dest in filtered:
                continue
            todo = [h.revision for h in filtered]
            if _related(dest, index, up=True) & set(todo):
                steps.append(StampStep(todo, dest.revision, False, False, rmap))
            elif _related(dest, index, up=False) & set(todo):
                steps.append(StampStep(todo, dest.revision, True, False, rmap))
            else:
                steps.append(StampStep((), dest.revision, True, True, rmap))
        return steps


def _related(rev: Any, index: Mapping[Any, Any], *, up: bool) -> set[str]:
    """Ids of ``rev`` and everything above it (``up``) or below it, through down revisions and dependencies."""
    if up:
        children: dict[str, list[str]] = {}
        for other in {v.revision: v for v in index.values() if v is not None}.values():
            for parent in below(other, index, fast=False):
                children.setdefault(parent, []).append(other.revision)
        step: Callable[[str], Iterable[str]] = lambda rev_id: children.get(rev_id, ())  # noqa: E731
    else:
        step = lambda rev_id: below(index[rev_id], index, fast=False)  # noqa: E731
    seen: set[str] = set()
    todo = [rev.revision]
    while todo:
        rev_id = todo.pop()
        if rev_id not in seen:
            seen.add(rev_id)
            todo.extend(step(rev_id))
    return seen


@contextlib.contextmanager
def _command_errors(ancestor: str | None = None, multiple_heads: str | None = None, head_arg: str | None = None) -> Iterator[None]:
    """Alembic's revision errors as the ``CommandError`` its ``ScriptDirectory`` raises for them."""
    from alembic import util
    from alembic.script import revision

    try:
        yield
    except revision.RangeNotAncestorError as exc:
        raise util.CommandError(ancestor or str(exc)) from exc
    except revision.MultipleHeads as exc:
        arg = head_arg or exc.argument
        text = multiple_heads or (
            f"Multiple head revisions are present for given argument '{arg}'; please specify a specific "
            f"target revision, '<branchname>@{arg}' to narrow to a specific head, or 'heads' for all heads"
        )
        raise util.CommandError(text) from exc
    except revision.ResolutionError as exc:
        raise util.CommandError(f"Can't locate revision identified by '{exc.argument}'") from exc
    except revision.RevisionError as exc:
        raise util.CommandError(exc.args[0]) from exc
