"""Run every nbmigrate benchmark in one process and print the ratios side by side.

    python benchmarks/run.py [--sizes 100,1000,3000] [--json benchmarks/results/latest.json] [--quick]

Builds synthetic Alembic projects (linear, and with a fork and merge every 50 revisions) and
measures, in the same run, what each target in ``benchmarks/README.md`` compares:

* warm ``%migrate heads/history/current`` (a real IPython shell) against the ``alembic`` command
  line and a cold ``alembic.command`` call (:mod:`bench_commands`);
* ``upgrade head`` / ``downgrade base`` against ``alembic.command`` and the floor, the same SQL
  executed directly (:mod:`bench_commands`);
* the revision graph against Alembic's loading of the project (:mod:`bench_graph`);
* the schema snapshot against ``MetaData.reflect()`` (:mod:`bench_schema`);
* ``%load_ext nbmigrate`` against ``import alembic, sqlalchemy`` (fresh processes).

Python's bytecode cache is switched on for the run (``PYTHONDONTWRITEBYTECODE`` is dropped), as
on a developer's machine: without it Alembic compiles every revision file on every command.
Numbers are printed, written as JSON, and checked against the targets; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# As on a developer's machine: revision files compile once to __pycache__ (see the docstring).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import bench_commands  # noqa: E402
import bench_graph  # noqa: E402
import bench_schema  # noqa: E402

DEFAULT_SIZES = (100, 1000, 3000)
QUICK = {
    "sizes": (100, 1000),
    "migrate_sizes": (1000,),
    "migrate_shapes": ("linear",),
    "migrate_repeat": 1,
    "repeat": 5,
    "cli_repeat": 1,
    "graph_repeat": 1,
    "schema": (100, 10, 1),
    "startup_repeat": 3,
}
FULL = {
    "migrate_sizes": None,  # every size
    "migrate_shapes": bench_graph.SHAPES,
    "migrate_repeat": None,  # 3 up to 1,000 revisions, else 1
    "repeat": 7,
    "cli_repeat": 3,
    "graph_repeat": 3,
    "schema": (500, 20, 3),
    "startup_repeat": 7,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None, help="revisions per project, comma-separated (default 100,1000,3000)")
    parser.add_argument("--json", metavar="PATH", default=str(HERE / "results" / "latest.json"), help="where to write the results")
    parser.add_argument("--quick", action="store_true", help="smaller run (about a minute): 100 and 1,000 revisions")
    parser.add_argument(
        "--migrate-sizes", default=None,
        help="sizes for the upgrade/downgrade runs (default: every size; --quick: 1000)",
    )
    parser.add_argument(
        "--postgresql", action="store_true",
        help="also run the upgrade/downgrade comparison on PostgreSQL (NBMIGRATE_TEST_POSTGRESQL_URL)",
    )
    parser.add_argument("--skip", default="", help="sections to leave out: reads,migrate,graph,schema,startup")
    args = parser.parse_args(argv)

    settings = dict(QUICK if args.quick else FULL)
    sizes = _ints(args.sizes) or settings.get("sizes", DEFAULT_SIZES)
    migrate_sizes = _ints(args.migrate_sizes) or settings["migrate_sizes"] or sizes
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    backends = ["sqlite"] + (["postgresql"] if args.postgresql else [])
    if args.postgresql and not os.environ.get("NBMIGRATE_TEST_POSTGRESQL_URL"):
        parser.error("--postgresql needs NBMIGRATE_TEST_POSTGRESQL_URL")

    started = time.perf_counter()
    out: dict[str, Any] = {"meta": _meta(args.quick, sizes, migrate_sizes)}
    if "reads" not in skip or "migrate" not in skip:
        rows = bench_commands.run(
            sizes=sizes,
            shapes=bench_graph.SHAPES,
            backends=backends,
            repeat=settings["repeat"],
            cli_repeat=settings["cli_repeat"],
            migrate_sizes=() if "migrate" in skip else migrate_sizes,
            migrate_shapes=settings["migrate_shapes"],
            migrate_repeat=settings["migrate_repeat"],
            reads="reads" not in skip,
            progress=_say,
        )
        out["reads"] = [r for r in rows if r["kind"] == "read"]
        out["migrations"] = [r for r in rows if r["kind"] == "migrate"]
    if "graph" not in skip:
        _say("graph: build + render vs Alembic's load")
        out["graph"] = bench_graph.run(sizes, bench_graph.SHAPES, settings["graph_repeat"])
    if "schema" not in skip:
        tables, columns, repeat = settings["schema"]
        _say(f"schema: snapshot vs MetaData.reflect ({tables} tables x {columns} columns)")
        out["schema"] = bench_schema.run(tables, columns, repeat)
    if "startup" not in skip:
        _say("start-up: %load_ext nbmigrate vs import alembic, sqlalchemy")
        out["startup"] = bench_commands.measure_startup(settings["startup_repeat"])
    out["meta"]["seconds"] = round(time.perf_counter() - started, 1)
    out["targets"] = targets(out)

    print()
    print(report(out))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_rounded(out), indent=2) + "\n")
        print(f"\nwritten: {path}")
    return 0


# -- the targets -------------------------------------------------------------------------------


def targets(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue with the measured ratio and whether it is met (None: not measured)."""
    reads = out.get("reads", [])
    migrations = out.get("migrations", [])
    found: list[dict[str, Any]] = []

    def add(name: str, value: float | None, limit: float, *, at_least: bool, where: str = "") -> None:
        met = None if value is None else (value >= limit if at_least else value <= limit)
        found.append({"target": name, "value": value, "limit": limit, "at_least": at_least, "met": met, "where": where})

    def worst(rows: list[dict[str, Any]], key: str, *, lowest: bool) -> tuple[float | None, str]:
        if not rows:
            return None, ""
        row = (min if lowest else max)(rows, key=lambda r: r[key])
        return row[key], f"{row['command']}, {row['revisions']} {row['shape']}, {row.get('backend', 'sqlite')}"

    r1000 = [r for r in reads if r["revisions"] == 1000]
    current = [r for r in reads if r["revisions"] == 3000 and r["command"] == "current"]
    m1000 = [m for m in migrations if m["revisions"] == 1000]
    for name, rows, key, limit, at_least in (
        ("warm read magics, 1,000 revisions: times faster than the alembic CLI", r1000, "cli_vs_warm", 100, True),
        ("warm read magics, 1,000 revisions: times faster than a cold alembic.command", r1000, "cold_vs_warm", 10, True),
        ("%migrate current, 3,000 revisions: times faster than alembic.command.current", current, "cold_vs_warm", 100, True),
        ("upgrade/downgrade, 1,000 revisions: %migrate (default) / alembic.command", m1000, "nbmigrate_vs_alembic", 1.0, False),
        ("upgrade/downgrade, 1,000 revisions: %migrate --no-schema / alembic.command", m1000, "no_schema_vs_alembic", 1.0, False),
        ("upgrade/downgrade, 1,000 revisions: what the schema before/after adds", m1000, "schema_overhead", 0.10, False),
    ):
        value, where = worst(rows, key, lowest=at_least)
        add(name, value, limit, at_least=at_least, where=where)
    startup = out.get("startup")
    add("%load_ext nbmigrate / import alembic, sqlalchemy", startup["load_ext_vs_import"] if startup else None, 1.2, at_least=False)
    return found


# -- printing ------------------------------------------------------------------------------------


def report(out: dict[str, Any]) -> str:
    meta = out["meta"]
    lines = [
        f"nbmigrate benchmarks: Python {meta['python']}, Alembic {meta['alembic']}, SQLAlchemy {meta['sqlalchemy']}, "
        f"SQLite {meta['sqlite']}, {meta['cpus']} CPUs, load average {meta['load_average']}; {meta['seconds']} s"
    ]
    if out.get("reads"):
        lines += ["", "Read commands: warm %migrate (IPython shell, HTML rendered) vs Alembic; ratio = times faster"]
        lines += _table(
            ["revisions", "shape", "command", "%migrate", "alembic.command", "alembic CLI", "vs command", "vs CLI"],
            [
                [r["revisions"], r["shape"], r["command"], _ms(r["warm_s"]), _ms(r["cold_command_s"]), _ms(r["cli_s"]),
                 f"{r['cold_vs_warm']:.0f}x", f"{r['cli_vs_warm']:.0f}x"]
                for r in out["reads"]
            ],
        )
    if out.get("migrations"):
        lines += ["", "Migrations from an empty database: time, and ratio to Alembic's in-process command (lower is better)"]
        lines += _table(
            ["revisions", "shape", "db", "command", "alembic", "%migrate", "--no-schema", "floor stmts", "floor script",
             "%migrate/alembic", "no-schema/alembic", "schema adds", "alembic/floor"],
            [
                [m["revisions"], m["shape"], m["backend"], m["command"], _s(m["alembic_s"]), _s(m["nbmigrate_s"]),
                 _s(m["nbmigrate_no_schema_s"]), _s(m["floor_stmt_s"]), _s(m["floor_script_s"]),
                 f"{m['nbmigrate_vs_alembic']:.2f}", f"{m['no_schema_vs_alembic']:.2f}", f"{m['schema_overhead']:+.0%}",
                 f"{m['alembic_vs_floor_stmt']:.1f}x"]
                for m in out["migrations"]
            ],
        )
    if out.get("graph"):
        lines += ["", "Revision graph (bench_graph): nbmigrate's build + DOT + SVG vs Alembic's load of the files"]
        lines += _table(
            ["revisions", "shape", "alembic load", "build+dot+render", "collapsed", "total/load", "collapsed/load"],
            [
                [g["revisions"], g["shape"], _s(g["load_s"]), _s(g["total_s"]), _s(g["collapsed_total_s"]),
                 f"{g['total_vs_load']:.2f}", f"{g['collapsed_vs_load']:.2f}"]
                for g in out["graph"]
            ],
        )
    if out.get("schema"):
        lines += ["", "Schema snapshot (bench_schema) vs MetaData.reflect()"]
        lines += _table(
            ["db", "tables", "columns", "reflect", "snapshot", "ratio", "no row counts", "ratio"],
            [
                [s["backend"], s["tables"], s["columns"], _s(s["reflect_s"]), _s(s["snapshot_s"]), f"{s['ratio']:.2f}",
                 _s(s["snapshot_no_counts_s"]), f"{s['ratio_no_counts']:.2f}"]
                for s in out["schema"]
            ],
        )
    if out.get("startup"):
        s = out["startup"]
        lines += [
            "",
            f"Start-up: %load_ext nbmigrate {_ms(s['load_ext_s'])} vs import alembic, sqlalchemy {_ms(s['import_alembic_sqlalchemy_s'])}"
            f" (ratio {s['load_ext_vs_import']:.2f}); modules %load_ext imports: {', '.join(s['modules']) or '-'}",
        ]
    lines += ["", "Targets"]
    for t in out["targets"]:
        mark = {True: "met    ", False: "MISSED ", None: "n/a    "}[t["met"]]
        value = "-" if t["value"] is None else (f"{t['value']:.0f}x" if t["at_least"] else f"{t['value']:.2f}")
        limit = f">= {t['limit']:g}x" if t["at_least"] else f"<= {t['limit']:g}"
        where = f"  (worst: {t['where']})" if t["where"] else ""
        lines.append(f"  {mark}{t['target']}: {value} ({limit}){where}")
    return "\n".join(lines)


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    return [fmt.format(*head), "  ".join("-" * w for w in widths), *(fmt.format(*r) for r in cells)]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _s(seconds: float) -> str:
    return f"{seconds:.3f} s"


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def _ints(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    return tuple(int(part) for part in text.replace(" ", ",").split(",") if part)


def _meta(quick: bool, sizes: Sequence[int], migrate_sizes: Sequence[int]) -> dict[str, Any]:
    import alembic
    import sqlalchemy

    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {
        "python": platform.python_version(),
        "alembic": alembic.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": load,
        "quick": quick,
        "sizes": list(sizes),
        "migrate_sizes": list(migrate_sizes),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


if __name__ == "__main__":
    raise SystemExit(main())
