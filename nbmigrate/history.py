"""The read-only answers (``history``, ``heads``, ``branches``, ``show``) built from the warm revision map.

Each revision becomes a :class:`~nbmigrate.results.RevisionInfo` with its state in the database
(applied, current, pending, or unknown when the database could not be read), and the result
keeps the text Alembic's own command prints for the same revisions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from . import _internals
from .engine import applied_revisions, compute, database_heads, script_directory
from .project import Project
from .results import HistoryResult, RevisionInfo

if TYPE_CHECKING:
    from alembic.script import Script


def revision_info(script: Script, heads: Sequence[str] | None, applied: set[str] | None) -> RevisionInfo:
    """The revision's details; its state is "unknown" when ``heads`` is None (the database was not read)."""
    state = "unknown"
    if heads is not None and applied is not None:
        state = "current" if script.revision in heads else "applied" if script.revision in applied else "pending"
    # Worked out once per Script and state (Alembic recomputes ``doc``, the down revisions and
    # the head/branch flags on every access); RevisionInfo is immutable, so one object serves
    # every result. A Script belongs to one revision map (the warm map makes new ones when the
    # files change); the head and branch flags follow the revisions above it (through
    # down_revision or depends_on), see ``_internals.links_token``.
    cached = script.__dict__.get("_nbm_info")
    token = _internals.links_token(script)
    if cached is None or cached[0] is not token:
        static = (
            script.revision,
            _internals.down_revisions(script),
            (script.doc or "").strip(),
            tuple(sorted(script.branch_labels)),
            tuple(dict.fromkeys(_internals.dependencies(script))),
            str(script.path),
            script.is_head,
            script.is_base,
            script.is_branch_point,
            script.is_merge_point,
            # What Alembic's own lines call an "effective head".
            _internals.effective_head(script),
        )
        cached = (token, static, {})
        script.__dict__["_nbm_info"] = cached
    by_state = cached[2]
    info = by_state.get(state)
    if info is None:
        info = by_state[state] = RevisionInfo(*cached[1], state=state)
    return info


def sorted_labels(sc: Script, text: str) -> str:
    """``text`` of Alembic's with ``sc``'s branch labels sorted.

    Alembic joins a revision's labels in the order of a set, which differs from process to
    process; sorted, the same history reads the same in every kernel and saved notebook.
    """
    labels = list(sc.branch_labels)
    if len(labels) < 2:
        return text
    return text.replace(", ".join(labels), ", ".join(sorted(labels)))


def alembic_text(project: Project, scripts: Sequence[Script], line: Callable[[Script], str], current: Sequence[str] = ()) -> str:
    """What the ``alembic`` command prints for ``scripts``: Alembic's own ``line`` for each.

    ``current`` are marked "(current)" as ``alembic history -i`` marks them: through the flag
    Alembic's formatting reads, set for this call only (the warm Script objects are shared).
    """

    def run() -> str:
        with _internals.marked_current(scripts, current):
            return project.redact("".join(sorted_labels(sc, line(sc)) + "\n" for sc in scripts))  # as config.print_stdout writes

    return compute(project, run)


def history_result(
    project: Project,
    command: str,
    scripts: Sequence[Script],
    line: Callable[[Script], str],
    *,
    verbose: bool = False,
    indicate_current: bool = False,
) -> HistoryResult:
    script_dir = script_directory(project)
    heads, reason = database_heads(project)
    applied = applied_revisions(script_dir, heads) if heads is not None else None
    warnings = [f"Database state not shown: {reason}"] if heads is None and reason else []
    unknown = [h for h in heads or () if _internals.revision_by_id(script_dir, h) is None]
    if unknown:
        warnings.append(
            f"{project.version_table} holds {', '.join(unknown)}, which no revision file defines: restore "
            "that file, or record where the database really is with `%migrate stamp --purge REVISION`."
        )
    return HistoryResult(
        command=command,
        revisions=[revision_info(s, heads, applied) for s in scripts],
        current=heads,
        database=project.display_url if project.url is not None else "",
        warnings=warnings,
        verbose=verbose,
        text=alembic_text(project, scripts, line, heads or () if indicate_current else ()),
    )
