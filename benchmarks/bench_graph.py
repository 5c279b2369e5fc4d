"""Benchmark: the revision graph against Alembic's own loading of the same project.

For synthetic Alembic projects (real revision files) of several sizes, linear and with a fork and
merge every 50 revisions, times (median of ``repeat`` runs):

- ``load``: what Alembic needs to read the project at the start of every command:
  ``ScriptDirectory.from_config`` and its revision map built (every revision module executed
  again); ``load_walk`` adds Alembic's own ``walk_revisions()`` of the whole history;
- ``build``, ``dot``, ``render``: nbmigrate's graph model from its warm revision map (as a kernel
  holds it), its DOT, and the SVG by graphviz-pure;
- ``collapsed``: build + DOT + render with long linear runs collapsed (``collapse=12``, what
  ``%migrate graph`` does above 100 revisions).

Run ``python benchmarks/bench_graph.py [--sizes 100 1000 3000] [--json PATH]``; a combined
runner imports :func:`run`.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from nbmigrate._cache import ScriptCache
from nbmigrate.graph import RevisionGraph, render_svg

SHAPES = ("linear", "forks")
FORK_EVERY = 50
COLLAPSE = 12  # what `%migrate graph` folds by default above 100 revisions

# What ``alembic revision`` writes with the generic template, minus the date.
TEMPLATE = '''"""{message}

Revision ID: {rev}
Revises: {down_text}
Create Date: 2024-01-01 00:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = {rev!r}
down_revision: Union[str, Sequence[str], None] = {down!r}
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("t", sa.Column("c_{rev}", sa.Integer()))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column("t", "c_{rev}")
'''


def history(n: int, shape: str) -> list[tuple[str, str | tuple[str, ...] | None]]:
    """``n`` (revision, down_revision) pairs, oldest first; ``forks`` forks and merges every 50."""
    out: list[tuple[str, str | tuple[str, ...] | None]] = []
    tip: str | None = None
    i = 0
    while len(out) < n:
        rid = f"{i:012x}"
        room = n - len(out)
        if shape == "forks" and tip is not None and i % FORK_EVERY == 0 and room >= 3:
            left, right, merge = rid, f"{i + 1:012x}", f"{i + 2:012x}"
            out += [(left, tip), (right, tip), (merge, (left, right))]
            tip, i = merge, i + 3
            continue
        out.append((rid, tip))
        tip, i = rid, i + 1
    return out


def make_project(root: Path, n: int, shape: str) -> Config:
    """An ``alembic init`` project in ``root`` holding ``n`` revision files of the given shape."""
    ini = root / "alembic.ini"
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):  # init reports each file it writes
        command.init(Config(str(ini), stdout=quiet), str(root / "migrations"))
    versions = root / "migrations" / "versions"
    for index, (rev, down) in enumerate(history(n, shape)):
        down_text = ", ".join(down) if isinstance(down, tuple) else (down or "")
        text = TEMPLATE.format(message=f"step {index}", rev=rev, down=down, down_text=down_text)
        (versions / f"{rev}_step_{index}.py").write_text(text)
    return Config(str(ini), stdout=quiet)


def _median(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(repeat):
        gc.collect()  # each run pays for its own garbage only
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def measure(cfg: Config, n: int, shape: str, repeat: int = 3) -> dict[str, Any]:
    """Time Alembic's load and nbmigrate's build/DOT/render for one project."""

    def load() -> ScriptDirectory:
        # What Alembic does at the start of every command: a new ScriptDirectory, every revision
        # file imported, the revision map built.
        script = ScriptDirectory.from_config(cfg)
        script.get_heads()
        return script

    def load_walk() -> list[Any]:
        # The same, plus Alembic's own walk of the whole history (what `alembic history` adds;
        # superlinear on histories with merges).
        return list(load().walk_revisions())

    load()  # first run compiles the modules to __pycache__; time the steady state
    load_s, _ = _median(load, repeat)
    load_walk_s, _ = _median(load_walk, repeat)

    # nbmigrate's warm map, as a kernel holds it (its walks are linear and remembered).
    warm = ScriptCache().get(cfg)
    scripts = list(warm.walk_revisions())
    current = [scripts[len(scripts) // 2].revision]  # half applied, half pending

    build_s, graph = _median(lambda: RevisionGraph.from_script_directory(warm, current=current), repeat)
    dot_s, dot = _median(graph.to_dot, repeat)
    render_s, svg = _median(lambda: render_svg(dot), repeat)

    def collapsed() -> str:
        g = RevisionGraph.from_script_directory(warm, current=current, collapse=COLLAPSE)
        return render_svg(g.to_dot())

    collapsed_s, _ = _median(collapsed, repeat)
    total = build_s + dot_s + render_s
    return {
        "revisions": n,
        "shape": shape,
        "load_s": round(load_s, 5),
        "load_walk_s": round(load_walk_s, 5),
        "build_s": round(build_s, 5),
        "dot_s": round(dot_s, 5),
        "render_s": round(render_s, 5),
        "total_s": round(total, 5),
        "collapsed_total_s": round(collapsed_s, 5),
        "build_dot_vs_load": round((build_s + dot_s) / load_s, 3),
        "total_vs_load": round(total / load_s, 3),
        "collapsed_vs_load": round(collapsed_s / load_s, 3),
        "total_vs_load_walk": round(total / load_walk_s, 3),
        "svg_bytes": len(svg),
    }


def run(
    sizes: Iterable[int] = (100, 1000, 3000),
    shapes: Sequence[str] = SHAPES,
    repeat: int = 3,
) -> list[dict[str, Any]]:
    """Measure every size and shape; one dict per project (see :func:`measure`)."""
    rows = []
    for n in sizes:
        for shape in shapes:
            with tempfile.TemporaryDirectory(prefix="nbm-bench-") as tmp:
                cfg = make_project(Path(tmp), n, shape)
                rows.append(measure(cfg, n, shape, repeat))
    return rows


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The results as a fixed-width text table."""
    head = (
        f"{'revisions':>9} {'shape':<6} {'alembic load':>12} {'build':>7} {'dot':>7} "
        f"{'render':>7} {'total':>7} {'collapsed':>9} {'build+dot/load':>14} {'total/load':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['revisions']:>9} {r['shape']:<6} {r['load_s']:>11.3f}s {r['build_s']:>6.3f}s "
            f"{r['dot_s']:>6.3f}s {r['render_s']:>6.3f}s {r['total_s']:>6.3f}s "
            f"{r['collapsed_total_s']:>8.3f}s {r['build_dot_vs_load']:>14.2f} {r['total_vs_load']:>10.2f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 3000])
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    rows = run(args.sizes, args.shapes, args.repeat)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
