"""HTML and text for command results (the only place that formats them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..masking import mask
from ..paths import relative_path
from ._html import code, details, esc, prose, span, table, title, wrap
from .erd import erd_html, erd_text
from .lint import lint_html, lint_text
from .timeline import (
    history_diff_html,
    history_diff_text,
    round_trip_html,
    round_trip_text,
    squash_html,
    squash_text,
)

if TYPE_CHECKING:
    from ..results import (
        ConnectResult,
        CurrentResult,
        FailureReport,
        HelpResult,
        HistoryResult,
        InitResult,
        MigrationResult,
        Result,
        RevisionFileResult,
        RevisionInfo,
        SqlResult,
        Step,
        TextResult,
    )

STATE_MARK = {"current": "◉", "applied": "●", "pending": "○", "unknown": "?", "": " "}


def _renderer(table: dict[str, Callable[[Any], str]], result: object) -> Callable[[Any], str] | None:
    """The function for ``result``'s class or its nearest base, by class name.

    By name, so that this module needs none of the modules that define the results (they are
    above it: their ``_repr_html_`` calls here).
    """
    for kind in type(result).__mro__:
        if kind.__name__ in table:
            return table[kind.__name__]
    return None


def render_html(result: Result) -> str:
    """The HTML of any result."""
    fn = _renderer(_HTML, result)
    body = fn(result) if fn is not None else f"<pre>{esc(render_text(result))}</pre>"
    return wrap(mask(body + _extras_html(result)))  # each text was masked by esc(); this is the last net


def render_text(result: Result) -> str:
    """The plain text of any result."""
    fn = _renderer(_TEXT, result)
    text = fn(result) if fn is not None else repr(result)
    warnings = "".join(f"\nwarning: {w}" for w in getattr(result, "warnings", []))
    return mask(text.rstrip() + warnings)


def _extras_html(result: Result) -> str:
    parts = [f'<div class="nbm-warn">⚠ {prose(w)}</div>' for w in getattr(result, "warnings", [])]
    output = getattr(result, "output", "")
    if output.strip():
        parts.append(details("output", f"<pre>{esc(output)}</pre>"))
    return "".join(parts)


# -- revisions ------------------------------------------------------------------------------


def _kinds(info: RevisionInfo) -> list[str]:
    kinds = []
    if info.is_effective_head:  # Alembic's words: a head only until a dependency is counted
        kinds.append("effective head")
    elif info.is_head:
        kinds.append("head")
    if info.is_base:
        kinds.append("base")
    if info.is_branch_point:
        kinds.append("branch point")
    if info.is_merge_point:
        kinds.append("merge point")
    return kinds


def _parents(info: RevisionInfo) -> str:
    return ", ".join(info.down_revisions) or "<base>"


def _history_html(result: HistoryResult) -> str:
    show_state = any(r.state for r in result.revisions)
    headers = ["revision", "parents", "message", "branch labels", "kind"]
    if show_state:
        headers.insert(0, "state")
    meta = " · ".join(part for part in (f"{len(result.revisions)} revision(s)", _where(result, "database ")) if part)
    if not result.revisions:
        empty = "<div>No revisions yet: create one with <code>%migrate revision -m \"...\"</code> or <code>%%revision</code>.</div>"
        return title(result.command, meta=meta) + empty
    # Rows written directly, not cell by cell through table(): a history can hold thousands.
    rows = []
    for info in result.revisions:
        kind = esc(", ".join(_kinds(info)))
        if info.depends_on:
            kind += esc(f" depends on {', '.join(info.depends_on)}")
        cells = (
            f"<td><code>{esc(info.revision)}</code></td><td>{esc(_parents(info))}</td><td>{esc(info.message)}</td>"
            f"<td>{esc(', '.join(info.branch_labels))}</td><td>{kind}</td>"
        )
        if show_state:
            cells = f"<td>{span(f'{STATE_MARK[info.state]} {info.state}', f'nbm-{info.state}')}</td>" + cells
        rows.append(f'<tr class="nbm-current">{cells}</tr>' if info.state == "current" else f"<tr>{cells}</tr>")
    return title(result.command, meta=meta) + table(headers, [], body="".join(rows))


def _where(result: HistoryResult, prefix: str = "") -> str:
    """Where the database is, or that its state is unknown: never "at base" for a database not read."""
    if result.current is None:
        return f"{prefix}{result.database}: state unknown" if result.database else "state unknown"
    return f"{prefix}{result.database} at {', '.join(result.current) or 'base'}" if result.database else ""


def _history_text(result: HistoryResult) -> str:
    # One line of nbmigrate's (the database, its state), then the lines of the `alembic`
    # command word for word: a terminal user sees what the CLI would have printed.
    where = _where(result)
    header = result.command + (f"  ({where})" if where else "") + ("" if result.revisions else ": no revisions")
    return header + "\n" + result.text


def _current_html(result: CurrentResult) -> str:
    if not result.heads:
        body = "<div>The database has no revision applied yet (base). Run <code>%migrate upgrade head</code>.</div>"
    else:
        rows = [[f"<code>{esc(r.revision)}</code>", esc(r.message), esc(", ".join(_kinds(r)))] for r in result.revisions]
        body = table(["revision", "message", "kind"], rows)
    status = span("at head", "nbm-ok") if result.at_head else span("not at head: pending revisions exist", "nbm-warn")
    return title("current", meta=result.database) + body + f"<div>{status}</div>"


def _current_text(result: CurrentResult) -> str:
    # As history: nbmigrate's line, then `alembic current`'s own lines.
    at = ", ".join(result.heads) or "base (no revision applied)"
    status = "at head" if result.at_head else "not at head: pending revisions exist"
    return f"current  ({result.database} at {at}; {status})\n" + result.text


# -- migrations -----------------------------------------------------------------------------


def _arrow(step: Step) -> str:
    return f"{', '.join(step.from_revisions) or 'base'} → {', '.join(step.to_revisions) or 'base'}"


def _ddl_text(value: bool | None) -> str:
    return {True: "transactional DDL", False: "non-transactional DDL", None: "DDL mode unknown"}[value]


def _migration_html(result: MigrationResult) -> str:
    verb = "Preview of " if result.preview else ""
    meta = f"{result.database} · {result.dialect} · {_ddl_text(result.transactional_ddl)}"
    parts = [title(f"{verb}{result.command}", meta=meta)]
    if result.preview:
        proof = result.note or f"Rolled back: the database is still at {_heads(result.heads_before)}."
        parts.append(f'<div class="nbm-warn">{prose(proof)}</div>')
    if result.steps:
        rows = [
            [esc(s.direction), f"<code>{esc(_arrow(s))}</code>", esc(s.message), esc(f"{s.duration * 1000:.0f} ms")]
            for s in result.steps
        ]
        parts.append(table(["step", "from → to", "message", "time"], rows))
    else:
        parts.append("<div>Nothing to do: the database is already there.</div>")
    if result.preview:
        if result.steps:  # with none, "nothing to do" above says it: no move from a revision to itself
            parts.append(f"<div>would move {esc(_heads(result.heads_before))} → {esc(_heads(result.heads_after))}</div>")
    else:
        state = span(f"now at {_heads(result.heads_after)}", "nbm-ok" if result.reached else "nbm-warn")
        parts.append(f"<div>was at {esc(_heads(result.heads_before))} · {state}</div>")
    if result.note and not result.preview:
        parts.append(f'<div class="nbm-warn">⚠ {prose(result.note)}</div>')
    if result.sql:
        parts.append(details(f"SQL ({len(result.sql)} statements)", code(";\n\n".join(result.sql) + ";")))
    parts.append(_diff_html(result))
    if result.lint is not None or result.observed:
        from .lint import lint_section_html, proof_html

        if result.lint is not None:
            parts.append(lint_section_html(result.lint))
        parts.append(proof_html(result.lint, result.observed))
    if result.snapshot_warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in result.snapshot_warnings)
        parts.append(details(f"schema snapshot: {_snapshot_warnings_count(result)}", f"<ul>{items}</ul>"))
    return "".join(parts)


def _snapshot_warnings_count(result: MigrationResult) -> str:
    n = len(result.snapshot_warnings)
    return f"{n} warning{'' if n == 1 else 's'} from reading the schema, not from the migration"


def _diff_html(result: MigrationResult) -> str:
    if result.diff is None:
        return ""
    try:
        from .schema import diff_section_html
    except ImportError:  # pragma: no cover
        return ""
    return diff_section_html(result.diff)


def _diff_text(result: MigrationResult) -> str:
    if result.diff is None:
        return ""
    try:
        from .schema import render_diff_text
    except ImportError:  # pragma: no cover
        return ""
    return "\n" + render_diff_text(result.diff)


def _migration_text(result: MigrationResult) -> str:
    verb = "Preview of " if result.preview else ""
    lines = [f"{verb}{result.command}  ({result.database}, {result.dialect}, {_ddl_text(result.transactional_ddl)})"]
    if result.preview:
        lines.append(result.note or f"Rolled back: the database is still at {_heads(result.heads_before)}.")
    for s in result.steps:
        message = f", {s.message}" if s.message else ""
        lines.append(f"  {s.direction} {_arrow(s)}{message}  [{s.duration * 1000:.0f} ms]")
    if not result.steps:
        lines.append("  nothing to do: the database is already there")
    if result.preview:
        if result.steps:  # with none, "nothing to do" above says it: no move from a revision to itself
            lines.append(f"would move {_heads(result.heads_before)} → {_heads(result.heads_after)}")
    else:
        lines.append(f"was at {_heads(result.heads_before)}; now at {_heads(result.heads_after)}")
    if result.note and not result.preview:
        lines.append(f"warning: {result.note}")
    if result.snapshot_warnings:  # collapsed to one line; the texts are in the attribute
        lines.append(f"note: {_snapshot_warnings_count(result)} (see .snapshot_warnings)")
    return "\n".join(lines) + _diff_text(result)


def _heads(heads: Sequence[str] | None) -> str:
    if heads is None:
        return "(unknown)"
    return ", ".join(sorted(heads)) if heads else "base"


def failure_summary(report: FailureReport) -> str:
    """The failure as one paragraph: what failed, the database's error, and the exact state now."""
    what = "was interrupted" if report.interrupted else "failed"
    where = f" in revision {report.revision}" if report.revision else ""
    if report.revision and report.message:
        where += f" ({report.message})"
    lines = [f"{report.command} {what}{where}: {report.error}"]
    if report.statement:
        lines.append(f"Statement: {report.statement.strip()}")
    if report.rolled_back:
        lines.append(
            f"Rolled back: the database is still at {_heads(report.heads_before)}; nothing was applied. "
            "Fix the revision and run the command again."
        )
    else:
        done = ", ".join(f"{s.revision}" for s in report.completed) or "none"
        lines.append(
            f"{_not_rolled_back(report)} "
            f"Completed revisions: {done}. alembic_version now says: {_heads(report.heads_after)}."
        )
        if report.partial_sql:
            lines.append(
                f"Statements of {report.revision} that ran before the failure and remain: "
                + "; ".join(s.strip() for s in report.partial_sql)
            )
        lines.append(
            "Next: undo those statements by hand or fix the revision so it can finish, then "
            "`%migrate stamp` the database to the revision it really is at, and upgrade again."
        )
    return "\n".join(lines)


def _not_rolled_back(report: FailureReport) -> str:
    """Why a failure left something behind: the database's DDL mode, as the run found it.

    With transactional DDL (PostgreSQL, SQLite as nbmigrate sets it up) the failure's own
    transaction was rolled back: what stays was committed before it, by an ``autocommit_block``
    or a commit of the migration's own.
    """
    if report.transactional_ddl:
        return (
            f"Not rolled back in full ({report.dialect} runs DDL in transactions, but what was committed "
            "before the failure stays)."
        )
    if report.transactional_ddl is False:
        return f"Not rolled back ({report.dialect} runs DDL without transactions)."
    return "Not rolled back."


def _failure_html(report: FailureReport) -> str:
    body = "".join(f"<div>{esc(line)}</div>" for line in failure_summary(report).splitlines())
    return title(f"{report.command} failed", meta=report.database) + f'<div class="nbm-err">{body}</div>'


# -- other results ----------------------------------------------------------------------------


def _sql_html(result: SqlResult) -> str:
    html = title(result.command, meta="offline: nothing was run") + code(result.sql or "-- (no SQL)")
    if result.lint is not None:
        from .lint import lint_section_html

        html += lint_section_html(result.lint)
    return html


def _sql_text(result: SqlResult) -> str:
    return result.sql


def _file_html(result: RevisionFileResult) -> str:
    if not result.path:
        return title(result.command) + "<div>No file was written.</div>"
    meta = f"{result.revision} · {relative_path(result.path)}"
    return title(f"{result.command}: {result.message}", meta=meta) + details("source", code(result.source, "python"), open_=True)


def _file_text(result: RevisionFileResult) -> str:
    if not result.path:
        return f"{result.command}: no file was written"
    return f"{result.command}: {result.revision} {result.message}\n{relative_path(result.path)}\n\n{result.source}"


def _init_html(result: InitResult) -> str:
    rows = [[f"<code>{esc(f)}</code>"] for f in result.files]
    return (
        title(f"Created a migration environment in {result.directory}", meta=f"config {result.config_file}")
        + table(["file"], rows)
        + f"<div>Database: <code>{esc(result.database)}</code></div>"
    )


def _init_text(result: InitResult) -> str:
    return "\n".join(
        [f"Created a migration environment in {result.directory} (config {result.config_file})"]
        + [f"  {f}" for f in result.files]
        + [f"Database: {result.database}"]
    )


def _text_html(result: TextResult) -> str:
    cls = "nbm-ok" if result.ok else "nbm-warn"
    body = f"<pre>{esc(result.text)}</pre>" if result.text else ""
    return f'<div class="nbm-title {cls}">{esc(result.title)}</div>' + body


def _text_text(result: TextResult) -> str:
    return f"{result.title}\n{result.text}".strip()


def _connect_html(result: ConnectResult) -> str:
    at = _heads(result.heads)
    return title(f"Connected to {result.database}", meta=f"{result.dialect} · at {at}")


def _connect_text(result: ConnectResult) -> str:
    return f"Connected to {result.database} ({result.dialect}), at {_heads(result.heads)}"


def _help_html(result: HelpResult) -> str:
    return f"<pre>{esc(result.text)}</pre>"


def _help_text(result: HelpResult) -> str:
    return result.text


def _failure_text(report: FailureReport) -> str:
    return failure_summary(report)


_HTML: dict[str, Callable[[Any], str]] = {
    "HistoryResult": _history_html,
    "CurrentResult": _current_html,
    "MigrationResult": _migration_html,
    "FailureReport": _failure_html,
    "SqlResult": _sql_html,
    "RevisionFileResult": _file_html,
    "InitResult": _init_html,
    "TextResult": _text_html,
    "ConnectResult": _connect_html,
    "HelpResult": _help_html,
    "ErdResult": erd_html,
    "LintResult": lint_html,
    "HistoryDiff": history_diff_html,
    "RoundTripResult": round_trip_html,
    "SquashResult": squash_html,
}
_TEXT: dict[str, Callable[[Any], str]] = {
    "HistoryResult": _history_text,
    "CurrentResult": _current_text,
    "MigrationResult": _migration_text,
    "FailureReport": _failure_text,
    "SqlResult": _sql_text,
    "RevisionFileResult": _file_text,
    "InitResult": _init_text,
    "TextResult": _text_text,
    "ConnectResult": _connect_text,
    "HelpResult": _help_text,
    "ErdResult": erd_text,
    "LintResult": lint_text,
    "HistoryDiff": history_diff_text,
    "RoundTripResult": round_trip_text,
    "SquashResult": squash_text,
}
