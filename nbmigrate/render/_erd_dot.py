"""Drawing an ER diagram (:class:`nbmigrate.render.diagram.Diagram`) as Graphviz DOT: styles, labels, edges.

Private: :meth:`nbmigrate.render.diagram.Diagram.to_dot` is the way in. The statuses and the DOT
names of tables and columns are defined here, where they are drawn. Nodes are HTML-like tables filled
white (or a light tint) with dark text, so they read on light and dark pages alike; what is drawn
on the page's own background (edges, borders, edge marks) uses mid-tone colours with a contrast
of 3:1 or more against both white and JupyterLab's dark background.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import graphviz

from ._dot import FONT, dot_text

if TYPE_CHECKING:
    from .diagram import Diagram, ErdEdge, ErdTable

ADDED, REMOVED, CHANGED, RENAMED = "added", "removed", "changed", "renamed"
SYMBOL = {ADDED: "+", REMOVED: "−", CHANGED: "~", RENAMED: "→"}
_PLAIN = re.compile(r"[A-Za-z0-9_]+\Z")


def node_id(table: str, schema: str | None = None) -> str:
    """The DOT node name of a table: ``t_<name>`` for plain names, else hex-encoded."""
    if schema is not None:
        return f"s_{schema.encode().hex()}_{table.encode().hex()}"
    return f"t_{table}" if _PLAIN.match(table) else f"h_{table.encode().hex()}"


def column_port(column: str, side: str = "w") -> str:
    """The port of a column's row: ``side`` "w" is its name cell (edges in), "e" its last cell (out)."""
    if side not in ("w", "e"):
        raise ValueError(f"side must be 'w' or 'e', not {side!r}")
    return side + (f"c_{column}" if _PLAIN.match(column) else f"h_{column.encode().hex()}")


# fill: a row's or header's background; line: borders, edges and edge marks (drawn on the page's
# own background); text: marks written in a white or tinted cell.
STATUS_STYLE: dict[str, dict[str, str]] = {
    ADDED: {"fill": "#dafbe1", "line": "#1f883d", "text": "#116329"},
    REMOVED: {"fill": "#ffebe9", "line": "#da3633", "text": "#a40e26"},
    CHANGED: {"fill": "#fff8c5", "line": "#a06c00", "text": "#7d4e00"},
    RENAMED: {"fill": "#ddf4ff", "line": "#1f6feb", "text": "#0550ae"},
}
TEXT, MUTED, PAPER, HEADER, STUB_HEADER, EDGE, BORDER = (
    "#1f2328", "#57606a", "#ffffff", "#eaeef2", "#f6f8fa", "#6e7781", "#6e7781",
)
_TYPE_WIDTH = 40  # longer types (enums) are cut in the drawing; the text listing keeps them
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def draw(diagram: Diagram) -> str:
    """The diagram as Graphviz DOT source."""
    dot = graphviz.Digraph(
        "erd",
        graph_attr={"rankdir": "LR", "bgcolor": "transparent", "nodesep": "0.3", "ranksep": "0.9",
                    "fontname": FONT, "fontsize": "10"},
        node_attr={"shape": "plain", "fontname": FONT, "fontsize": "10", "fontcolor": TEXT},
        edge_attr={"color": EDGE, "fontcolor": EDGE, "fontname": FONT, "fontsize": "11",
                   "arrowsize": "0.8", "dir": "both", "penwidth": "1.2"},
    )
    for table in diagram.tables:
        tip = table.title + ("" if table.row_count is None else f": {table.row_count} rows")
        kind = "nbm-stub" if table.stub else f"nbm-table nbm-{table.status or 'same'}"
        dot.node(table.node, label=_label(table), id=f"table-{table.node}", tooltip=dot_text(tip),
                 **{"class": kind})
    for index, edge in enumerate(diagram.edges, 1):
        dot.edge(*_ends(edge), **_edge_attrs(edge), id=f"fk-{index}",
                 **{"class": f"nbm-fk nbm-{edge.status or 'same'}"})
    if diagram.changes:
        dot.node("legend", label=_legend(), id="legend", tooltip="legend")
    return dot.source


def _h(text: str) -> str:
    """Text for an HTML-like label: markup characters as entities, control characters replaced."""
    text = _CONTROL.sub("\ufffd", text).replace("\n", " ")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _clip(text: str) -> str:
    return text if len(text) <= _TYPE_WIDTH else text[: _TYPE_WIDTH - 1] + "…"


def _label(table: ErdTable) -> str:
    line = BORDER if table.stub or not table.status else STATUS_STYLE[table.status]["line"]
    head_fill = STUB_HEADER if table.stub else STATUS_STYLE.get(table.status, {}).get("fill", HEADER)
    title = _h(table.title)
    if table.status:
        title = f"{SYMBOL[table.status]} {title}"
    if table.was:
        title += f' <font color="{MUTED}">(was {_h(table.was)})</font>'
    title = f'<font color="{MUTED}">{title}</font>' if table.stub else f"<b>{title}</b>"
    width = "2" if table.status else "1"
    style = ' style="dashed"' if table.stub else ""
    rows = [f'<tr><td colspan="3" bgcolor="{head_fill}" align="center">{title}</td></tr>']
    for col in table.columns:
        fill = f' bgcolor="{STATUS_STYLE[col.status]["fill"]}"' if col.status else ""
        name = _h(col.name) + (f" (was {_h(col.was)})" if col.was else "")
        if col.status:
            name = f"{SYMBOL[col.status]} {name}"
        kind = _h(_clip(col.note or col.type))
        # Graphviz refuses an empty <font></font> (a stub's column has no type to show).
        kind_cell = f'<font color="{MUTED}">{kind}</font>' if kind else ""
        marks = " ".join(
            f'<font color="{STATUS_STYLE[s]["text"]}">{SYMBOL[s]}{m}</font>' if s else m for m, s in col.marks
        )
        rows.append(
            f'<tr><td port="{column_port(col.name, "w")}" align="left"{fill}>{name}</td>'
            f'<td align="left"{fill}>{kind_cell}</td>'
            f'<td port="{column_port(col.name, "e")}" align="left"{fill}>{marks}</td></tr>'
        )
    return (
        f'<<table border="{width}" cellborder="0" cellspacing="0" cellpadding="3" bgcolor="{PAPER}" '
        f'color="{line}"{style}>{"".join(rows)}</table>>'
    )


def _ends(edge: ErdEdge) -> tuple[str, str]:
    tail = f"{node_id(edge.table)}:{column_port(edge.column, 'e')}:e"
    head_node = node_id(edge.referred_table, edge.referred_schema)
    # A self-reference loops on the table's east side instead of around the whole table.
    side = "e" if head_node == node_id(edge.table) else "w"
    return tail, f"{head_node}:{column_port(edge.referred_column, side)}:{side}"


def _edge_attrs(edge: ErdEdge) -> dict[str, str]:
    attrs = {
        "arrowtail": "tee" if edge.one_to_one else "crow",
        "arrowhead": "teeodot" if edge.optional else "tee",
        "tooltip": dot_text(f"{edge.constraint or 'foreign key'}: {edge.describe()}"
                             + (f" ({edge.status})" if edge.status else "")),
    }
    if edge.status:
        colour = STATUS_STYLE[edge.status]["line"]
        attrs.update(color=colour, fontcolor=colour, label=dot_text(SYMBOL[edge.status]), penwidth="2")
        if edge.status == REMOVED:
            attrs["style"] = "dashed"
    return attrs


def _legend() -> str:
    rows = "".join(
        f'<tr><td bgcolor="{STATUS_STYLE[s]["fill"]}" align="left">{SYMBOL[s]} {s}</td></tr>'
        for s in (ADDED, REMOVED, CHANGED, RENAMED)
    )
    return (f'<<table border="1" cellborder="0" cellspacing="0" cellpadding="3" bgcolor="{PAPER}" color="{BORDER}">'
            f'<tr><td align="center"><b>changes</b></td></tr>{rows}</table>>')
