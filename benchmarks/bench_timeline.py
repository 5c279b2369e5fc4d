"""Benchmark: the schema at a revision, built by replaying the history on a scratch database.

Times in the same run, the contenders taking turns, on a linear history of nbmigrate's template
(every revision creates a table, as in :mod:`bench_commands`):

* Alembic's own ``upgrade head`` on an empty SQLite file (``alembic.command.upgrade`` with a new
  ``Config``, as a script or the command line runs it): the yardstick;
* ``nbmigrate.schema_at(project, "head")`` in a warm kernel (the project's revision files already
  read) with no schema built yet: a scratch file, the whole history replayed through the
  project's ``env.py``, and the snapshot read at the end;
* ``%migrate schema --at head`` again once it is built (a real IPython shell): the cached answer.

Targets (issue "schema through time"): building costs at most 1.2x Alembic's ``upgrade head``;
the warm answer takes under 10 ms. Nothing is asserted; the ratios are printed.

Usage: ``python benchmarks/bench_timeline.py [--revisions 300] [--repeat 5] [--json out.json]``
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for _path in (HERE.parent, HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import bench_commands  # noqa: E402


def _timed(fn: Callable[[], Any]) -> float:
    gc.collect()  # each contender starts with the same heap to collect
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(n: int, repeat: int) -> dict[str, Any]:
    """Median seconds of each contender on a linear history of ``n`` revisions, and the ratios."""
    from alembic import command
    from alembic.config import Config

    import nbmigrate
    from nbmigrate.timeline import at

    with tempfile.TemporaryDirectory(prefix="nbm-bench-timeline-") as folder:
        root = Path(folder)
        ini = bench_commands.make_project(root, n, "linear", f"sqlite:///{root / 'app.db'}")
        ip = bench_commands._shell()
        with bench_commands._cwd(root):
            import compileall

            compileall.compile_dir(str(root / "migrations"), quiet=1)
            project = nbmigrate.Project(str(ini))
            project.heads()  # a warm kernel: the revision files have been read
            ip.run_line_magic("migrate", f"-c {ini} heads")
            counter = iter(range(10**6))

            def alembic_upgrade() -> None:
                target = root / f"empty-{next(counter)}.db"
                config = Config(str(ini), stdout=open(os.devnull, "w"))  # noqa: SIM115 - closed with the process
                config.set_main_option("sqlalchemy.url", f"sqlite:///{target}")
                with bench_commands._quiet_logging():
                    command.upgrade(config, "head")
                target.unlink()

            def build() -> None:
                at.forget()
                nbmigrate.schema_at(project, "head")

            times: dict[str, list[float]] = {"alembic upgrade head": [], "schema_at head (build)": []}
            for _ in range(repeat):
                times["alembic upgrade head"].append(_timed(alembic_upgrade))
                times["schema_at head (build)"].append(_timed(build))
            tables = len(nbmigrate.schema_at(project, "head").tables)
            ip.run_line_magic("migrate", f"-c {ini} schema --at head")  # built once in the magics' project
            warm = [_timed(lambda: ip.run_line_magic("migrate", f"-c {ini} schema --at head")) for _ in range(max(repeat, 20))]
            ip.run_line_magic("migrate", "--help")  # nothing left pointing at the folder
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "revisions": n,
        "tables at head": tables,
        "seconds": medians,
        "build / alembic upgrade head": medians["schema_at head (build)"] / medians["alembic upgrade head"],
        "warm schema --at (ms)": statistics.median(warm) * 1000,
    }


def table(row: dict[str, Any]) -> str:
    """The numbers and the targets, as text."""
    s = row["seconds"]
    ratio = row["build / alembic upgrade head"]
    warm = row["warm schema --at (ms)"]
    return "\n".join([
        f"schema at head of {row['revisions']} revisions ({row['tables at head']} tables), SQLite:",
        f"  alembic upgrade head on an empty file   {s['alembic upgrade head'] * 1000:8.1f} ms",
        f"  schema_at head, built (warm kernel)      {s['schema_at head (build)'] * 1000:8.1f} ms",
        f"  ratio build / alembic                    {ratio:8.2f}   target <= 1.2  {'ok' if ratio <= 1.2 else 'MISSED'}",
        f"  warm %migrate schema --at head           {warm:8.2f} ms  target < 10 ms  {'ok' if warm < 10 else 'MISSED'}",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    row = measure(args.revisions, args.repeat)
    print(table(row))
    if args.json:
        args.json.write_text(json.dumps(row, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
