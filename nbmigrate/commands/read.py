"""The read-only verbs, answered from the warm revision map: ``history``, ``heads``, ``branches``, ``show``, ``current``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _internals
from ..engine import compute, database_heads, script_directory
from ..errors import BadArguments, ConnectionFailed, NbmigrateError, RevisionProblem
from ..history import history_result, revision_info, sorted_labels
from ..project import Project
from ..results import CurrentResult, HistoryResult

if TYPE_CHECKING:
    from alembic.script import Script


def history(project: Project, rev_range: str | None = None, verbose: bool = False, indicate_current: bool = False) -> HistoryResult:
    """List revisions newest first, each marked applied, current or pending in this database."""
    script = script_directory(project)
    base = head = None
    if rev_range is not None:
        if ":" not in rev_range:
            raise BadArguments("History range requires [start]:[end], [start]: or :[end], e.g. `-r base:head`.")
        base, head = (part.strip() or None for part in rev_range.split(":", 1))
    if "current" in (base, head):
        heads, reason = database_heads(project)
        if heads is None:
            raise NbmigrateError(f"Cannot use 'current' in a range: {reason}")
        current = heads[0] if len(heads) == 1 else None
        if current is None:
            raise RevisionProblem("'current' is ambiguous: the database has several heads; name one.")
        base = current if base == "current" else base
        head = current if head == "current" else head

    def walk() -> list[Script]:
        return list(script.walk_revisions(base=base or "base", head=head or "heads"))

    def line(sc: Script) -> str:  # as `alembic history` words it
        return sc.cmd_format(verbose=verbose, include_branches=True, include_doc=True, include_parents=True)

    scripts = compute(project, walk)
    command = f"history{' -r ' + rev_range if rev_range else ''}"
    with project._scripts.pin(script):  # the files were checked once for this command
        return history_result(project, command, scripts, line, verbose=verbose, indicate_current=indicate_current)


def heads(project: Project, verbose: bool = False, resolve_dependencies: bool = False) -> HistoryResult:
    """Show the current head revisions of the scripts."""
    script = script_directory(project)

    def find() -> list[Script]:
        ids = script.get_revisions("heads") if resolve_dependencies else script.get_heads()
        return [script.get_revision(r if isinstance(r, str) else r.revision) for r in ids]

    def line(sc: Script) -> str:  # as `alembic heads` words it
        return sc.cmd_format(verbose, include_branches=True, tree_indicators=False)

    scripts = compute(project, find)
    with project._scripts.pin(script):  # the files were checked once for this command
        return history_result(project, "heads", scripts, line, verbose=verbose)


def branches(project: Project, verbose: bool = False) -> HistoryResult:
    """Show the branch points of the scripts."""
    script = script_directory(project)

    def line(sc: Script) -> str:
        # As `alembic branches` prints it: the branch point, then each revision it branches
        # into (sorted here: Alembic's order is a set's, different in every process).
        nexts = (script.get_revision(rev) for rev in sorted(sc.nextrev))
        indent = " " * len(str(sc.revision))
        into = "\n".join(
            f"{indent} -> {sorted_labels(nxt, nxt.cmd_format(False, include_branches=True, include_doc=verbose))}" for nxt in nexts
        )
        return f"{sc.cmd_format(verbose, include_branches=True)}\n{into}\n"

    points = compute(project, lambda: [sc for sc in script.walk_revisions() if sc.is_branch_point])
    with project._scripts.pin(script):
        return history_result(project, "branches", points, line, verbose=verbose)


def show(project: Project, rev: str) -> HistoryResult:
    """Show the revision(s) denoted by the given symbol."""
    script = script_directory(project)

    def find() -> list[Script]:
        if rev == "current":
            heads, reason = database_heads(project)
            if heads is None:
                raise NbmigrateError(f"Cannot show 'current': {reason}")
            return list(script.get_revisions(heads))
        return [s for s in script.get_revisions(rev) if s is not None]

    def line(sc: Script) -> str:  # as `alembic show` words it
        return sc.log_entry

    scripts = compute(project, find)
    with project._scripts.pin(script):
        return history_result(project, f"show {rev}", scripts, line, verbose=True)


def current(project: Project, check_heads: bool = False, verbose: bool = False) -> CurrentResult:
    """Show the database's current revision(s), with their messages."""
    script = script_directory(project)
    heads, reason = database_heads(project)
    if heads is None:
        raise ConnectionFailed(f"Cannot read the current revision: {reason}")
    missing = [h for h in heads if _internals.revision_by_id(script, h) is None]
    if missing:
        raise RevisionProblem(
            f"The database is at {', '.join(missing)}, which no revision file defines. "
            "Restore the file, or `%migrate stamp` the database to a revision that exists."
        )
    # What `alembic current` lists: the tips of everything applied, so a revision applied
    # through depends_on too, though the version table holds only the revision that needs it.
    # Sorted: Alembic's order is a set's, different in every process.
    tips = sorted(compute(project, lambda: script.get_all_current(heads)), key=lambda sc: sc.revision)
    listed = {sc.revision for sc in tips}
    infos = [revision_info(sc, heads, listed) for sc in tips]  # "current" for a row of the table, else "applied"
    # At head when nothing is pending: every head is among the tips (one applied through a
    # dependency has no row of its own, so the rows alone do not say it).
    at_head = set(script.get_heads()) <= listed
    if check_heads and not at_head:
        raise NbmigrateError("The database is not at all head revisions. Run `%migrate upgrade heads`.")
    text = "".join(sorted_labels(sc, sc.cmd_format(verbose)) + "\n" for sc in tips)  # as `alembic current [-v]` words it
    if verbose:
        from alembic.util import obfuscate_url_pw

        text = f"Current revision(s) for {obfuscate_url_pw(project.url)}:\n" + text
    return CurrentResult(
        command="current",
        database=project.display_url,
        heads=heads,
        revisions=infos,
        at_head=at_head,
        text=project.redact(text),
    )
