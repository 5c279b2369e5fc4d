"""Benchmark: ``lint`` of a history against rendering its ``--sql`` alone, in a warm kernel.

For a synthetic project (nbmigrate's template) of ``n`` revisions (linear, or with a fork and merge
every 50, :func:`bench_graph.history`) whose revisions cycle through ten kinds of change (a new
table every tenth revision, then an added column, an index, a widened VARCHAR, a column with a
default, a dropped column, an index built concurrently in an ``autocommit_block``, SET NOT NULL,
a raw UPDATE, a renamed column), times in the same run, median of ``repeat``, taking turns:

``render``
    ``upgrade base:heads --sql`` through nbmigrate (``commands.upgrade(project, ..., sql=True)``):
    the offline SQL alone, the yardstick;
``lint``
    ``nbmigrate.lint.lint(project, "base:heads")`` with sqlglot's parse cache emptied first: the
    offline run with the recorder, every statement parsed, the rules, the database's facts and sizes;
``lint_warm``
    the same again without emptying the cache (a second lint of an unchanged history);
``per_revision``
    rendering each revision on its own (``upgrade a:b --sql`` per revision) for the first
    ``--per-revision`` revisions, scaled to ``n``: why the linter renders a range in one run.

The database is an empty SQLite file (the lint reads its facts and sizes from it), or a fresh
PostgreSQL database with ``--postgresql`` (``NBMIGRATE_TEST_POSTGRESQL_URL``). Target: lint /
render <= 2. Usage: ``python benchmarks/bench_lint.py [--revisions 1000] [--repeat 5] [--json out.json]``
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent):  # this checkout's nbmigrate, then the benchmark modules
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench_commands import TEMPLATE, _cwd  # noqa: E402 - the revision file the other benchmarks write
from bench_graph import history  # noqa: E402


# What revision i does, by i % 10, on table t{i // 10}.
CHANGES = [
    'op.create_table("{t}", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("a", sa.Integer),\n'
    '                sa.Column("b", sa.String(20)), sa.Column("c", sa.Integer), sa.Column("d", sa.Integer))',
    'op.add_column("{t}", sa.Column("e", sa.Integer, nullable=True))',
    'op.create_index("ix_{t}_a", "{t}", ["a"])',
    'op.alter_column("{t}", "b", type_=sa.String(40), existing_type=sa.String(20))',
    'op.add_column("{t}", sa.Column("f", sa.Integer, nullable=False, server_default="0"))',
    'op.drop_column("{t}", "c")',
    'with op.get_context().autocommit_block():\n'
    '    op.create_index("ix_{t}_d", "{t}", ["d"], postgresql_concurrently=True, if_not_exists=True)',
    'op.alter_column("{t}", "a", nullable=False, existing_type=sa.Integer)',
    'op.execute("UPDATE {t} SET d = 0 WHERE d IS NULL")',
    'op.alter_column("{t}", "e", new_column_name="e2", existing_type=sa.Integer)',
]


def make_project(root: Path, n: int, shape: str, url: str) -> Any:
    """An nbmigrate project in ``root`` with ``n`` revision files cycling through :data:`CHANGES`."""
    import textwrap

    import nbmigrate

    with _cwd(root):
        project = nbmigrate.Project()
        project.init()
    project = nbmigrate.Project(directory=root)
    project.use(url)
    versions = root / "migrations" / "versions"
    for index, (rev, down) in enumerate(history(n, shape)):
        merge = isinstance(down, tuple)
        body = "pass" if merge else CHANGES[index % 10].format(t=f"t{index // 10}")
        text = TEMPLATE.format(message=f"step {index}", rev=rev, down=down,
                               down_text=", ".join(down) if merge else (down or ""),
                               upgrade=textwrap.indent(body, "    "), downgrade="    pass")
        (versions / f"{rev}_step_{index}.py").write_text(text)
    return project


def _time(fn: Callable[[], Any]) -> float:
    gc.collect()  # each run pays for its own garbage only
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(project: Any, n: int, shape: str, repeat: int, per_revision: int) -> dict[str, Any]:
    """Time render, lint and lint_warm in turns; check the lint read every revision the render wrote."""
    from nbmigrate import commands
    from nbmigrate.lint import lint
    from nbmigrate.lint.parse import parse

    def render() -> Any:
        return commands.upgrade(project, "base:heads", sql=True)

    def cold_lint() -> Any:
        parse.cache_clear()
        return lint(project, "base:heads")

    sql = render().sql  # warm-up: files compiled, revision map warm, modules imported
    result = cold_lint()
    steps = sql.count("-- Running upgrade")
    checks = [] if len(result.revisions) == steps else [f"lint read {len(result.revisions)} revisions, --sql ran {steps}"]
    times: dict[str, list[float]] = {"render": [], "lint": [], "lint_warm": []}
    for _ in range(repeat):
        times["render"].append(_time(render))
        times["lint"].append(_time(cold_lint))
        times["lint_warm"].append(_time(lambda: lint(project, "base:heads")))
    med = {k: statistics.median(v) for k, v in times.items()}
    revs = [r.revision for r in result.revisions][:per_revision + 1]
    one_by_one = _time(lambda: [commands.upgrade(project, f"{a}:{b}", sql=True) for a, b in zip(revs, revs[1:])])
    scaled = one_by_one / max(1, len(revs) - 1) * n
    return {
        "revisions": n, "shape": shape, "repeat": repeat, "statements": sum(len(r.statements) for r in result.revisions),
        "findings": len(result.findings), "render_s": med["render"], "lint_s": med["lint"],
        "lint_warm_s": med["lint_warm"], "lint_vs_render": med["lint"] / med["render"],
        "lint_warm_vs_render": med["lint_warm"] / med["render"],
        "per_revision_scaled_s": scaled, "per_revision_vs_render": scaled / med["render"], "checks": checks,
    }


@contextlib.contextmanager
def _database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    from bench_schema import _postgresql_url

    with _postgresql_url(os.environ["NBMIGRATE_TEST_POSTGRESQL_URL"]) as url:
        yield url


def run(n: int = 1000, shape: str = "linear", repeat: int = 5, backend: str = "sqlite", per_revision: int = 50) -> dict[str, Any]:
    """One project, measured (see :func:`measure`); the row also says the backend."""
    with tempfile.TemporaryDirectory(prefix="nbm-bench-lint-") as tmp, _database(backend, Path(tmp)) as url:
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet):
            project = make_project(Path(tmp), n, shape, url)
            row = measure(project, n, shape, repeat, per_revision)
        project.disconnect()
    return {"backend": backend, **row}


def main(argv: list[str] | None = None) -> int:
    """Command line: print the times and the ratio against the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=1000)
    parser.add_argument("--shape", choices=("linear", "forks"), default="linear")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--per-revision", type=int, default=50, help="revisions rendered one at a time (scaled)")
    parser.add_argument("--postgresql", action="store_true", help="also on PostgreSQL ($NBMIGRATE_TEST_POSTGRESQL_URL)")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    backends = ["sqlite"] + (["postgresql"] if args.postgresql and os.environ.get("NBMIGRATE_TEST_POSTGRESQL_URL") else [])
    rows = [run(args.revisions, args.shape, args.repeat, b, args.per_revision) for b in backends]
    for r in rows:
        met = "met" if r["lint_vs_render"] <= 2 else "MISSED"
        print(f"{r['backend']}, {r['revisions']} revisions ({r['shape']}), {r['statements']} statements, {r['findings']} findings:")
        print(f"  --sql alone {r['render_s']:.3f} s | lint {r['lint_s']:.3f} s | lint again (parse cache warm) {r['lint_warm_s']:.3f} s")
        print(f"  lint / --sql = {r['lint_vs_render']:.2f} (target <= 2: {met}); warm cache {r['lint_warm_vs_render']:.2f}")
        print(f"  one revision per --sql run: {r['per_revision_scaled_s']:.2f} s for all ({r['per_revision_vs_render']:.0f}x one run)")
        for c in r["checks"]:
            print(f"  CHECK FAILED: {c}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if any(r["checks"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
