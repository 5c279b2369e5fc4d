"""ER diagrams of schema snapshots as a result: the model, its DOT and its SVG.

How a diagram is drawn is described in :mod:`nbmigrate.render.diagram` (the model and its
building), :mod:`nbmigrate.render._erd_dot` (DOT) and :mod:`nbmigrate.render.erd` (HTML and
text); this module puts them together for ``%%migrate erd`` and the Python API.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .render._dot import render_svg
from .render._erd_dot import ADDED, CHANGED, REMOVED, RENAMED, SYMBOL, column_port, node_id
from .render.diagram import Diagram, ErdColumn, ErdEdge, ErdTable, diagram, erd_dot
from .results import Result
from .schema import SchemaDiff, Snapshot
from .schema import diff as schema_diff

__all__ = [
    "ADDED", "CHANGED", "REMOVED", "RENAMED", "SYMBOL",
    "Diagram", "ErdColumn", "ErdEdge", "ErdResult", "ErdTable",
    "column_port", "diagram", "erd", "erd_dot", "node_id",
]


# -- the result ----------------------------------------------------------------------------------


@dataclass(repr=False)
class ErdResult(Result):
    """An ER diagram: the snapshot (and diff) drawn, its DOT and SVG, and what it shows."""

    snapshot: Snapshot
    dot: str
    svg: str
    diff: SchemaDiff | None = None
    tables: tuple[str, ...] | None = None  # the tables asked for; None: all of them
    diagram: Diagram | None = None
    command: str = "erd"

    def __post_init__(self) -> None:
        if self.diagram is None:
            self.diagram = diagram(self.snapshot, tables=self.tables, diff=self.diff)

    # IPython prefers a class's own __repr__ to an inherited _repr_pretty_: name it here too.
    _repr_pretty_ = Result._repr_pretty_

    def __repr__(self) -> str:
        d = self.diagram
        assert d is not None
        return f"<ErdResult {sum(not t.stub for t in d.tables)} tables, {len(d.edges)} edges>"


def erd(
    snapshot: Snapshot,
    *,
    tables: Iterable[str] | None = None,
    before: Snapshot | None = None,
    engine: str = "graphviz-pure",
) -> ErdResult:
    """An ER diagram of ``snapshot`` laid out as SVG; with ``before``, the changes since it marked."""
    changes = schema_diff(before, snapshot) if before is not None else None
    names = None if tables is None else ((tables,) if isinstance(tables, str) else tuple(tables))
    shown = diagram(snapshot, tables=names, diff=changes)
    dot = shown.to_dot()
    svg = render_svg(dot, engine=engine)
    return ErdResult(snapshot=snapshot, dot=dot, svg=svg, diff=changes, tables=names, diagram=shown)
