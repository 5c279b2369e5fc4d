"""Graphviz drawing shared by the revision graph and the ER diagram: the palette, DOT text, and the layout to SVG.

The layout runs the ``graphviz-pure`` program (a dependency) or, on request, a system Graphviz
``dot``; both take the same flags, and the SVG they write has its version prolog removed, so
the same DOT gives the same bytes everywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import graphviz

from ..errors import NbmigrateError

APPLIED, CURRENT, PENDING, MISSING = "applied", "current", "pending", "missing"
STATES: tuple[str, ...] = (CURRENT, APPLIED, PENDING, MISSING)

# Drawing attributes, shared with the legend in ``nbmigrate.render.graph`` so both stay in step.
STATE_STYLE: dict[str, dict[str, str]] = {
    CURRENT: {"fillcolor": "#2da44e", "color": "#116329", "fontcolor": "#ffffff", "penwidth": "2.5"},
    APPLIED: {"fillcolor": "#dafbe1", "color": "#1a7f37", "fontcolor": "#0d3d1a", "penwidth": "1.2"},
    PENDING: {"fillcolor": "#ffffff", "color": "#8c959f", "fontcolor": "#57606a", "penwidth": "1.2"},
    MISSING: {"fillcolor": "#ffebe9", "color": "#cf222e", "fontcolor": "#82071e", "penwidth": "1.5"},
}
KIND_SHAPE: dict[str, str] = {
    "base": "house",
    "branch point": "hexagon",
    "merge point": "octagon",
}
LABEL_STYLE = {"fillcolor": "#fff8c5", "color": "#9a6700", "fontcolor": "#4d2d00"}
DEPENDS_STYLE = {"color": "#8250df", "style": "dashed", "arrowhead": "empty"}
FONT = "Helvetica"


class GraphvizError(NbmigrateError, RuntimeError):
    """The graph layout program failed."""


class GraphvizNotFound(GraphvizError):
    """The graph layout program is not installed."""




def dot_text(text: str) -> str:
    """Text for a DOT escString: backslashes literal, newlines as breaks, never an HTML label."""
    escaped = graphviz.escape(text).replace("\r\n", "\n").replace("\n", "\\n")
    return graphviz.nohtml(escaped)


# -- rendering --------------------------------------------------------------------------------

_PROLOG = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*|<!--.*?-->\n?", re.DOTALL)


def _program(engine: str) -> str:
    if engine == "graphviz-pure":
        exe = "graphviz-pure.exe" if os.name == "nt" else "graphviz-pure"
        # Beside the interpreter first: a kernel's PATH often lacks its environment's bin folder.
        for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
            candidate = folder / exe
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        found = shutil.which("graphviz-pure")
        if found:
            return found
        raise GraphvizNotFound(
            "The graphviz-pure program was not found: install it with "
            "`pip install graphviz-pure` (it ships with nbmigrate), or use engine='dot' "
            "with a system Graphviz."
        )
    if engine == "dot":
        found = shutil.which("dot")
        if found:
            return found
        raise GraphvizNotFound(
            "Graphviz's `dot` program is not on PATH: install Graphviz "
            "(https://graphviz.org/download/) or use the default engine 'graphviz-pure'."
        )
    raise GraphvizNotFound(
        f"Unknown graph engine {engine!r}: use 'graphviz-pure' (the default) or 'dot' "
        "(`%config MigrateMagics.graph_engine = \"dot\"`)."
    )


def render_svg(dot: str, *, engine: str = "graphviz-pure", timeout: float | None = None) -> str:
    """Lay out DOT source as SVG with graphviz-pure (default) or the system ``dot``."""
    program = _program(engine)
    try:
        proc = subprocess.run(
            [program, "-Tsvg"],
            input=dot.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:  # removed between lookup and run
        raise GraphvizNotFound(f"{engine} could not be started: {exc}") from None
    except subprocess.TimeoutExpired:
        raise GraphvizError(f"{engine} did not finish the layout within {timeout} s") from None
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip()
        raise GraphvizError(f"{engine} failed (exit status {proc.returncode}): {detail}")
    # The prolog and comments name the program's version: drop them so the SVG is byte-stable.
    return _PROLOG.sub("", proc.stdout.decode("utf-8")).lstrip()
