"""HTML and plain text for ER diagrams (:class:`nbmigrate.erd.ErdResult`).

The HTML holds the SVG inline, as the revision graph's saved output does, so a saved notebook
shows the diagram on GitHub and nbviewer without a kernel; the legend is drawn inside the SVG.
The text lists each table's columns and then the foreign key edges, with the same symbols.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbmigrate.masking import mask
from nbmigrate.render._dot import render_svg
from nbmigrate.render._erd_dot import SYMBOL
from nbmigrate.render._html import details, title
from nbmigrate.render.diagram import diagram

if TYPE_CHECKING:
    from nbmigrate.erd import ErdResult
    from nbmigrate.render.diagram import Diagram, ErdTable
    from nbmigrate.schema import SchemaDiff

__all__ = ["changes_html", "erd_html", "erd_summary", "erd_text"]

# The diagram's frame (.nbm-erd-svg) is styled by the shared stylesheet, nbmigrate.render._html.STYLE.


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def erd_summary(result: ErdResult) -> str:
    """One line: how many tables and edges, and how many tables the diff added, removed or changed."""
    shown = _diagram(result)
    drawn = [t for t in shown.tables if not t.stub]
    stubs = len(shown.tables) - len(drawn)
    parts = [_plural(len(drawn), "table"), _plural(len(shown.edges), "foreign key edge")]
    if stubs:
        parts.append(f"{stubs} referred to outside the selection")
    if result.diff is not None:
        d = result.diff
        if d.is_empty:
            parts.append("no schema changes")
        else:
            counts = [(len(d.added), "added"), (len(d.removed), "removed"), (len(d.changed), "changed")]
            parts.append("tables " + ", ".join(f"{n} {what}" for n, what in counts if n))
    return ", ".join(parts)


def _diagram(result: ErdResult) -> Diagram:
    assert result.diagram is not None  # ErdResult builds it when not given
    return result.diagram


def erd_html(result: ErdResult) -> str:
    """The diagram's HTML without the outer container: heading, then the SVG inline."""
    # The names are drawn in the SVG: masked as every other text of a result is.
    return title("ER diagram", meta=erd_summary(result)) + f'<div class="nbm-erd-svg">{mask(result.svg)}</div>'


def _mark(status: str) -> str:
    return SYMBOL[status] if status else " "


def _table_lines(table: ErdTable) -> list[str]:
    head = f"{_mark(table.status)} table {table.title}"
    if table.stub:
        head = f"  table {table.title} (referred to, outside the selection)"
    if table.was:
        head += f" (was {table.was})"
    if table.row_count is not None:
        head += f"  [{_plural(table.row_count, 'row')}]"
    lines = [head]
    width = max((len(c.name) for c in table.columns), default=0)
    type_width = max((len(c.note or c.type) for c in table.columns), default=0)
    for col in table.columns:
        marks = " ".join(f"{_mark(s).strip()}{m}" for m, s in col.marks)
        was = f"  (was {col.was})" if col.was else ""
        text = f"{_mark(col.status)}     {col.name:<{width}}  {col.note or col.type:<{type_width}}  {marks}{was}"
        lines.append(text.rstrip())
    return lines


def erd_text(result: ErdResult) -> str:
    """A terminal listing: each table with its columns and marks, then the foreign key edges."""
    shown = _diagram(result)
    lines = [f"ER diagram: {erd_summary(result)}"]
    if shown.changes:
        lines.append("  marks: " + ", ".join(f"{sym} {status}" for status, sym in SYMBOL.items()))
    for table in shown.tables:
        lines.extend(_table_lines(table))
    if shown.edges:
        lines.append("  foreign keys:")
        lines.extend(f"{_mark(e.status)}   {e.describe()}" for e in shown.edges)
    return mask("\n".join(lines))


# Before/after results draw the changed tables only up to this many.
CHANGES_DRAWN = 20


def changes_html(d: SchemaDiff) -> str:
    """The diagram of the tables a diff touches, changes marked, for before/after results; "" if it cannot be drawn."""
    from ..errors import NbmigrateError

    touched = sorted({*d.added_tables, *d.removed_tables, *d.changed_tables})
    if len(touched) > CHANGES_DRAWN:  # a layout of hundreds of tables takes seconds and reads as noise
        return f'<div class="nbm-meta">{len(touched)} tables changed: too many to draw here; `%migrate erd TABLE ...` draws some of them.</div>'
    try:
        svg = render_svg(diagram(d.after, tables=touched, diff=d).to_dot())
    except NbmigrateError:  # no graphviz program here: the tables above say it all
        return ""
    return details(f"diagram ({_plural(len(touched), 'table')} changed)", f'<div class="nbm-erd-svg">{mask(svg)}</div>', open_=True)
