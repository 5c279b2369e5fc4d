"""HTML and text for the results of schema through time: ``diff`` between revisions and the round-trip ``test``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..paths import relative_path
from ._html import code, details, esc, prose, span, table, title

if TYPE_CHECKING:
    from ..timeline.at import HistoryDiff
    from ..timeline.roundtrip import RoundTripResult, StepCheck
    from ..timeline.squash import SquashResult


def history_diff_html(result: HistoryDiff) -> str:
    """Before/after tables between two points of history, then the SQL between them."""
    from .schema import diff_section_html

    meta = f"{result.before.dialect} · replayed on a scratch database"
    parts = [title(f"Schema from {result.start.target} to {result.end.target}", meta=meta)]
    parts.append(f"<div>{esc(result.start.label)} → {esc(result.end.label)}</div>")
    parts.append(diff_section_html(result.diff))
    if result.sql is not None:
        parts.append(details("SQL between them (offline)", code(result.sql or "-- (no SQL)")))
    return "".join(parts)


def history_diff_text(result: HistoryDiff) -> str:
    """The same, as plain text."""
    from .schema import render_diff_text

    lines = [f"Schema from {result.start.target} to {result.end.target} ({result.start.label} → {result.end.label}; "
             f"{result.before.dialect}, replayed on a scratch database)", render_diff_text(result.diff)]
    if result.sql is not None:
        lines += ["", "-- SQL between them (offline)", result.sql]
    return "\n".join(lines)


def _where(step: StepCheck) -> str:
    path = relative_path(step.path) if step.path else ""
    return f"{path}:{step.line}" if step.line else path


def round_trip_html(result: RoundTripResult) -> str:
    """The checks, then one row per step: passed, or the problem, where, and the schema difference."""
    from .schema import diff_section_html

    passed = sum(s.ok for s in result.steps)
    verdict = span("passed" if result.ok else "FAILED", "nbm-ok" if result.ok else "nbm-err")
    meta = f"{result.dialect} · {result.rev_range} · {passed}/{len(result.steps)} steps · replayed on a scratch database"
    parts = [title("Round trip (upgrade, downgrade, upgrade)", meta=meta), f"<div>{verdict}</div>"]
    rows = [[span("✓" if c.ok else "✗", "nbm-ok" if c.ok else "nbm-err"), esc(c.name), prose(c.detail)] for c in result.checks]
    parts.append(table(["", "check", "detail"], rows))
    step_rows = [
        [span("✓" if s.ok else "✗", "nbm-ok" if s.ok else "nbm-err"), f"<code>{esc(s.revision)}</code>", esc(s.message),
         prose(s.problem) + (f" <code>{esc(_where(s))}</code>" if not s.ok else "")
         + (f'<span class="nbm-warn">note: {esc(s.note)}</span>' if s.note else "")]
        for s in result.steps
    ]
    parts.append(table(["", "revision", "message", "result"], step_rows))
    for s in result.failures:
        if s.diff is not None:
            parts.append(details(f"{s.revision}: expected → what the step left", diff_section_html(s.diff), open_=True))
    return "".join(parts)


def round_trip_text(result: RoundTripResult) -> str:
    """The same, as plain text."""
    from .schema import render_diff_text

    passed = sum(s.ok for s in result.steps)
    lines = [f"Round trip {'passed' if result.ok else 'FAILED'}: {passed}/{len(result.steps)} steps "
             f"({result.dialect}, {result.rev_range}, replayed on a scratch database)"]
    for c in result.checks:
        lines.append(f"  {'ok  ' if c.ok else 'FAIL'} {c.name}" + (f": {c.detail}" if c.detail else ""))
    for s in result.steps:
        tail = f"  {s.problem} ({_where(s)})" if not s.ok else (f"  note: {s.note}" if s.note else "")
        lines.append(f"  {'ok  ' if s.ok else 'FAIL'} {s.revision} {s.message}{tail}")
    for s in result.failures:
        if s.diff is not None:
            lines += [f"{s.revision}: expected → what the step left", render_diff_text(s.diff)]
    return "\n".join(lines)


def squash_html(result: SquashResult) -> str:
    """The new revision's file, what it replaced, the proof, and what migrated databases need."""
    parts = [title(f"Squashed into {result.revision}", meta=f"{len(result.replaced)} revisions → 1 · proved on a scratch database")]
    parts.append(f"<div>replaces {esc(', '.join(result.replaced))}; down revision {esc(result.down_revision or 'base')}</div>")
    parts.append(f"<div>{span('✓ proved', 'nbm-ok')}: the new history gives the same schema at {esc(result.revision)}, "
                 f"and its downgrade the same schema at {esc(result.down_revision or 'base')}</div>")
    if result.data_code:
        items = "".join(f"<li><code>{esc(d.revision)}</code> line {d.line}: <code>{esc(d.code)}</code></li>" for d in result.data_code)
        parts.append(f'<div class="nbm-warn">⚠ carry over by hand (listed in the new file): <ul>{items}</ul></div>')
    parts.append(f'<div class="nbm-meta">{prose(result.advice)}</div>')
    parts.append(details(f"{relative_path(result.path)}", code(result.source, "python"), open_=True))
    if result.removed_files:
        parts.append(details("removed files", "".join(f"<div><code>{esc(relative_path(p))}</code></div>" for p in result.removed_files)))
    return "".join(parts)


def squash_text(result: SquashResult) -> str:
    """The same, as plain text."""
    lines = [
        f"Squashed {', '.join(result.replaced)} into {result.revision} (down revision {result.down_revision or 'base'}); "
        "proved on a scratch database: same schema after it, and after its downgrade.",
        f"wrote {relative_path(result.path)}; removed {', '.join(relative_path(p) for p in result.removed_files)}",
    ]
    lines += [f"carry over by hand: {d.revision} line {d.line}: {d.code}" for d in result.data_code]
    lines.append(result.advice)
    return "\n".join(lines)
