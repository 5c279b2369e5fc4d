"""The revision graph: Alembic revisions plus a database's state, as a model and as DOT.

Engine package: no IPython, no widgets, no HTML. Rendering to SVG (:func:`render_svg`, in
:mod:`nbmigrate.render._dot` with the palette) runs the ``graphviz-pure`` program (a dependency)
or, on request, a system Graphviz ``dot``.

- :mod:`.model`: :class:`RevisionGraph`, built from a ``ScriptDirectory`` and the database's
  state, and the queries on it (heads, bases, counts, one revision's details).
- :mod:`.nodes`: :class:`RevisionNode` and :class:`Edge`.
- :mod:`.ranges`: a ``-r a:b`` range resolved to its revisions.
- :mod:`.order`: the applied set, the order oldest first, the folding of linear runs.
- :mod:`.sources`: a revision's message and the source of its upgrade() and downgrade().
- :mod:`.dot`: :meth:`RevisionGraph.to_dot`, the graph as Graphviz DOT.

Errors raised here:

- :class:`RevisionRangeError` (``ValueError``): a ``-r a:b`` range Alembic cannot resolve.
- :class:`GraphvizError` (``RuntimeError``): the layout program failed.
  - :class:`GraphvizNotFound`: the layout program is not installed.
"""

from __future__ import annotations

from ..render._dot import STATES, GraphvizError, GraphvizNotFound, render_svg
from .model import RevisionGraph
from .nodes import Edge, RevisionNode
from .ranges import RevisionRangeError

__all__ = [
    "STATES",
    "Edge",
    "GraphvizError",
    "GraphvizNotFound",
    "RevisionGraph",
    "RevisionNode",
    "RevisionRangeError",
    "render_svg",
]
