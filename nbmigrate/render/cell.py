"""HTML and text for what ``%%revision`` made: the file, its code, and the ``--apply`` run.

No wall-clock time appears outside the file's own source (its ``Create Date`` comes from the
template), and the path is shown relative to the working directory when it lies below it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..masking import mask
from ._html import code, details, esc, prose, span, title, wrap

if TYPE_CHECKING:
    from ..cell import CellResult

STATUS = {
    "created": ("created", "nbm-ok"),
    "unchanged": ("unchanged: the file already holds this cell", "nbm-meta"),
    "rewritten": ("rewritten in place (same revision id)", "nbm-ok"),
    "reapplied": ("re-applied: downgraded with the old code, rewritten, upgraded with the new code", "nbm-ok"),
}

EMPTY_DOWNGRADE = (
    "downgrade() is empty: `%migrate downgrade` past this revision changes nothing. "
    "Add `def downgrade():` to the cell to undo the upgrade."
)


def display_path(path: str) -> str:
    """``path`` relative to the working directory when below it, else as it is."""
    if not path:
        return path
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if rel.startswith("..") else rel


def _parents(result: CellResult) -> str:
    return ", ".join(result.down_revision) or "base"


def _risk_lines(result: CellResult) -> list[str]:
    """One line per risky operation the cell adds, pointing to the recipe."""
    return [
        f"{f.severity} {f.code} {f.name}: {f.message} (`%migrate lint {result.revision}` shows the safe recipe)"
        for f in result.risks
    ]


def render_cell_html(result: CellResult) -> str:
    """The HTML of a :class:`~nbmigrate.cell.CellResult`."""
    from .results import render_html

    label, cls = STATUS.get(result.status, (result.status, "nbm-meta"))
    parts = [
        title(f"revision {result.revision}: {result.message}", meta=f"on {_parents(result)}"),
        f"<div>{span(label, cls)} · <code>{esc(display_path(result.path))}</code></div>",
    ]
    if result.downgrade_empty:
        parts.append(f'<div class="nbm-warn">⚠ {esc(EMPTY_DOWNGRADE)}</div>')
    parts.extend(f'<div class="nbm-meta">{prose(note)}</div>' for note in result.notes)
    parts.extend(f'<div class="nbm-warn">⚠ {prose(line)}</div>' for line in _risk_lines(result))
    parts.append(details("source", code(result.source, "python"), open_=True))
    if result.downgrade is not None:
        parts.append(details(f"downgrade with the applied code: {result.downgrade.command}", render_html(result.downgrade)))
    if result.apply is not None:
        parts.append('<div class="nbm-title">--apply</div>' + render_html(result.apply))
    parts.extend(f'<div class="nbm-warn">⚠ {prose(w)}</div>' for w in result.warnings)
    if result.output.strip():
        parts.append(details("output", f"<pre>{esc(result.output)}</pre>"))
    return wrap(mask("".join(parts)))


def render_cell_text(result: CellResult) -> str:
    """The plain text of a :class:`~nbmigrate.cell.CellResult`."""
    from .results import render_text

    label, _ = STATUS.get(result.status, (result.status, ""))
    lines = [
        f"%%revision: {result.revision} {result.message} (on {_parents(result)}): {label}",
        display_path(result.path),
    ]
    if result.downgrade_empty:
        lines.append(f"warning: {EMPTY_DOWNGRADE}")
    lines.extend(result.notes)
    lines.extend(f"warning: {line}" for line in _risk_lines(result))
    lines += ["", result.source.rstrip()]
    if result.downgrade is not None:
        lines += ["", "downgrade with the applied code:", render_text(result.downgrade)]
    if result.apply is not None:
        lines += ["", "--apply:", render_text(result.apply)]
    lines.extend(f"warning: {w}" for w in result.warnings)
    return mask("\n".join(lines).rstrip())
