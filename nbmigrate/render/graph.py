"""Static renderings of a revision graph: HTML with the SVG inline, and plain text.

Used by the graph widget's saved output (so GitHub and nbviewer show the graph without a kernel)
and by terminals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._dot import (
    APPLIED,
    CURRENT,
    DEPENDS_STYLE,
    KIND_SHAPE,
    LABEL_STYLE,
    MISSING,
    PENDING,
    STATE_STYLE,
    STATES,
)
from nbmigrate.masking import mask
from nbmigrate.render._html import esc, title, wrap

if TYPE_CHECKING:
    from nbmigrate.graph import RevisionGraph

__all__ = ["graph_html", "graph_summary", "graph_text", "legend_html"]

_MARKS = {CURRENT: "@", APPLIED: "*", PENDING: "o", MISSING: "!"}

_GRAPH_STYLE = """<style>
.nbm .nbm-graph-svg{overflow:auto;max-width:100%;max-height:80vh;border:1px solid #d0d7de;padding:4px}
.nbm .nbm-legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:4px 0;color:#57606a;font-size:12px}
.nbm .nbm-legend span{display:inline-flex;align-items:center;gap:4px}
.nbm .nbm-legend svg{flex:none}
</style>"""


def _swatch(
    shape: str, fill: str, stroke: str, *, dashed: bool = False, double: bool = False
) -> str:
    dash = ' stroke-dasharray="3,2"' if dashed else ""
    paint = f'fill="{fill}" stroke="{stroke}" stroke-width="1.2"{dash}'
    outline = {
        "box": f'<rect x="2" y="3" width="24" height="12" rx="3" {paint}/>',
        "house": f'<polygon points="2,15 2,8 14,2 26,8 26,15" {paint}/>',
        "hexagon": f'<polygon points="2,9 8,3 20,3 26,9 20,15 8,15" {paint}/>',
        "octagon": f'<polygon points="2,6 7,2 21,2 26,6 26,12 21,16 7,16 2,12" {paint}/>',
        "cds": f'<polygon points="2,4 20,4 26,9 20,14 2,14" {paint}/>',
    }[shape]
    if double:
        ring = f'<rect x="0.5" y="1" width="27" height="16" rx="4" fill="none" stroke="{stroke}"/>'
        outline = ring + outline
    return f'<svg width="28" height="18" viewBox="0 0 28 18" aria-hidden="true">{outline}</svg>'


def legend_html() -> str:
    """The legend of states, kinds and edges, drawn with the same colours as the graph."""
    items: list[tuple[str, str]] = []
    for state in STATES:
        style = STATE_STYLE[state]
        items.append(
            (_swatch("box", style["fillcolor"], style["color"], dashed=state == MISSING), state)
        )
    pending = STATE_STYLE[PENDING]
    items += [
        (_swatch("box", "#ffffff", pending["color"], double=True), "head"),
        (_swatch(KIND_SHAPE["base"], "#ffffff", pending["color"]), "base"),
        (_swatch(KIND_SHAPE["branch point"], "#ffffff", pending["color"]), "branch point"),
        (_swatch(KIND_SHAPE["merge point"], "#ffffff", pending["color"]), "merge point"),
        (_swatch("cds", LABEL_STYLE["fillcolor"], LABEL_STYLE["color"]), "branch label"),
        (_swatch("box", "#ffffff", pending["color"], dashed=True), "collapsed run"),
    ]
    purple = DEPENDS_STYLE["color"]
    arrow = (
        '<svg width="28" height="18" viewBox="0 0 28 18" aria-hidden="true">'
        f'<line x1="2" y1="9" x2="21" y2="9" stroke="{purple}" stroke-dasharray="3,2"/>'
        f'<polygon points="21,5 27,9 21,13" fill="#ffffff" stroke="{purple}"/></svg>'
    )
    items.append((arrow, "depends_on"))
    body = "".join(f"<span>{icon}{esc(text)}</span>" for icon, text in items)
    return f'<div class="nbm-legend">{body}</div>'


def graph_summary(graph: RevisionGraph) -> str:
    """One line: how many revisions, and how many in each state."""
    counts = graph.counts()
    total = sum(n for state, n in counts.items() if state != MISSING)
    parts = [f"{counts[s]} {s}" for s in STATES if counts[s]]
    scope = f", range {graph.rev_range}" if graph.rev_range else ""
    plural = "" if total == 1 else "s"
    return f"{total} revision{plural}{scope}: " + (", ".join(parts) if parts else "none")


def graph_html(graph: RevisionGraph, svg: str, *, static: bool = False) -> str:
    """The graph as self-contained HTML: heading, the SVG inline and the legend.

    ``static`` marks the copy published beside the live widget, which the widget hides.
    """
    body = (
        _GRAPH_STYLE
        + title("Revision graph", meta=graph_summary(graph))
        + f'<div class="nbm-graph-svg">{mask(svg)}</div>'  # messages are drawn in it
        + legend_html()
    )
    return wrap(body, cls="nbm-graph nbm-graph-static" if static else "nbm-graph")


def graph_text(graph: RevisionGraph) -> str:
    """A terminal listing, newest first, like ``alembic history`` plus each revision's state."""
    lines = [f"Revision graph: {graph_summary(graph)}"]
    lines.append("  marks: @ current, * applied, o pending, ! missing")
    for rid in reversed(graph.order):
        node = graph.nodes[rid]
        parents = ", ".join(node.down_revisions) if node.down_revisions else "<base>"
        if node.is_missing:
            parents = "?"
        flags = "".join(f" ({k})" for k in node.kinds if k != "missing")
        if node.branch_labels:
            flags += f" ({', '.join(node.branch_labels)})"
        if node.dependencies:
            flags += f" (depends on {', '.join(node.dependencies)})"
        message = f", {node.message}" if node.message else ""
        lines.append(f"{_MARKS[node.state]} {node.state:<8} {parents} -> {rid}{flags}{message}")
    return mask("\n".join(lines))
