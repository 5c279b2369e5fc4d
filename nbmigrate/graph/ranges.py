"""A ``-r a:b`` range resolved to the revisions it holds, with Alembic's own rules and a message that says what to type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alembic.script.revision import MultipleHeads, ResolutionError, Revision, RevisionError, RevisionMap

from ..errors import RevisionProblem


class RevisionRangeError(RevisionProblem, ValueError):
    """A revision range that Alembic cannot resolve (bad syntax, unknown or ambiguous id)."""


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
