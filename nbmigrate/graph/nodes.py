"""The graph's parts: a revision (or an id the files lack) with its state and kinds, and an edge."""

from __future__ import annotations

from dataclasses import dataclass

from ..render._dot import MISSING


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


def _short(rid: str) -> str:
    return rid if len(rid) <= 12 else rid[:12] + "…"
