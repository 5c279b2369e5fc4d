"""Run every nbmigrate benchmark in one process and print the ratios side by side.

    python benchmarks/run.py            # everything (about 13 minutes on a shared 2-core machine)
    python benchmarks/run.py --quick    # the targets at reduced repeats (about 3 minutes)

Builds synthetic Alembic projects of 100, 1,000 and 3,000 revisions (linear, and with a fork and
merge every 50 revisions) and measures, in the same run, what each target in
``benchmarks/README.md`` compares:

* warm ``%migrate heads/history/current`` (a real IPython shell) against the ``alembic`` command
  line and a cold ``alembic.command`` call, and warm ``%migrate graph`` against Alembic's loading
  of the project (:mod:`bench_commands`);
* ``upgrade heads`` / ``downgrade base`` against ``alembic.command`` and the floor, the same SQL
  executed directly, with the end state and the steps checked against Alembic's (:mod:`bench_commands`);
* the revision graph's build + DOT + SVG against Alembic's loading of the project (:mod:`bench_graph`);
* the schema snapshot against ``MetaData.reflect()``, 500 tables x 20 columns (:mod:`bench_schema`);
* ``%load_ext nbmigrate`` against ``import alembic, sqlalchemy`` (fresh processes).

PostgreSQL is used when ``NBMIGRATE_TEST_POSTGRESQL_URL`` is set (or ``--postgresql-url``): the
snapshot benchmark, and upgrade/downgrade up to 1,000 revisions (3,000 tables created in one
transaction exceed PostgreSQL's default ``max_locks_per_transaction``). Each database it creates
is dropped afterwards.

Python's bytecode cache is switched on for the run (``PYTHONDONTWRITEBYTECODE`` is dropped), as
on a developer's machine: without it Alembic compiles every revision file on every command.
Numbers are printed, written as JSON (default ``benchmarks/results/latest.json``), and compared
with the targets; nothing is asserted. The exit status is 1 only when a check found that two
contenders did different work (a different end state or different steps).
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
for _path in (HERE.parent, HERE):  # this checkout's nbmigrate, then the benchmark modules
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import bench_commands  # noqa: E402
import bench_graph  # noqa: E402
import bench_lint  # noqa: E402
import bench_schema  # noqa: E402
import bench_timeline  # noqa: E402

SHAPES = bench_graph.SHAPES
MODES: dict[str, dict[str, Any]] = {
    "full": {
        "reads": [(n, shape) for n in (100, 1000, 3000) for shape in SHAPES],
        # (revisions, shape, repeat) on SQLite
        # 3,000 revisions: linear, once (a run takes a minute or more, and no target is set there).
        "migrations": [(n, shape, 5) for n in (100, 1000) for shape in SHAPES] + [(3000, "linear", 1)],
        "pg_migrations": [(100, "linear", 3), (1000, "linear", 3)],
        "repeat": 7,
        "cli_repeat": 3,
        "graph": ([100, 1000, 3000], list(SHAPES), 3),
        "schema": (500, 20, 3),
        "timeline": (300, 9),
        "startup_repeat": 7,
        "lint": (1000, 5),
    },
    "quick": {
        "reads": [(1000, "linear"), (3000, "linear")],
        "migrations": [(1000, "linear", 2)],
        "pg_migrations": [],
        "repeat": 5,
        "cli_repeat": 2,
        "graph": ([100, 1000], ["linear"], 1),
        "schema": (500, 20, 1),
        "timeline": (300, 3),
        "startup_repeat": 3,
        "lint": (1000, 2),
    },
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats (about 3 minutes)")
    parser.add_argument("--json", metavar="PATH", default=str(HERE / "results" / "latest.json"), help="where to write the results")
    parser.add_argument(
        "--postgresql-url", default=os.environ.get("NBMIGRATE_TEST_POSTGRESQL_URL", ""),
        help="a PostgreSQL server to create scratch databases on (default: $NBMIGRATE_TEST_POSTGRESQL_URL)",
    )
    parser.add_argument("--no-postgresql", action="store_true", help="SQLite only, even when a PostgreSQL URL is set")
    parser.add_argument("--skip", default="", help="sections to leave out: reads,migrate,graph,schema,timeline,startup,lint")
    parser.add_argument("--sizes", default="", help="only these history sizes, e.g. 1000 or 1000,3000")
    args = parser.parse_args(argv)

    mode = "quick" if args.quick else "full"
    settings = dict(MODES[mode])
    if args.sizes:
        only = {int(n) for n in args.sizes.split(",")}
        for key in ("reads", "migrations", "pg_migrations"):
            settings[key] = [item for item in settings[key] if item[0] in only]
        sizes, shapes, repeat = settings["graph"]
        settings["graph"] = ([n for n in sizes if n in only], shapes, repeat)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    pg = "" if args.no_postgresql else args.postgresql_url
    if pg:
        os.environ["NBMIGRATE_TEST_POSTGRESQL_URL"] = pg  # bench_commands and bench_schema read it
    else:
        os.environ.pop("NBMIGRATE_TEST_POSTGRESQL_URL", None)

    started = time.perf_counter()
    out: dict[str, Any] = {"meta": _meta(mode, bool(pg))}
    migrations = [] if "migrate" in skip else (
        [(n, shape, "sqlite", times) for n, shape, times in settings["migrations"]]
        + ([(n, shape, "postgresql", times) for n, shape, times in settings["pg_migrations"]] if pg else [])
    )
    reads = [] if "reads" in skip else settings["reads"]
    if reads or migrations:
        rows = bench_commands.run(
            reads=reads, migrations=migrations, repeat=settings["repeat"], cli_repeat=settings["cli_repeat"], progress=_say,
        )
        out["reads"] = [r for r in rows if r["kind"] == "read"]
        out["graph_magic"] = [r for r in rows if r["kind"] == "graph"]
        out["migrations"] = [r for r in rows if r["kind"] == "migrate"]
    if "graph" not in skip and settings["graph"][0]:
        sizes, shapes, repeat = settings["graph"]
        _say("graph: build + render vs Alembic's load")
        out["graph"] = bench_graph.run(sizes, shapes, repeat)
    if "schema" not in skip:
        tables, columns, repeat = settings["schema"]
        _say(f"schema: snapshot vs MetaData.reflect ({tables} tables x {columns} columns, {'SQLite, PostgreSQL' if pg else 'SQLite'})")
        out["schema"] = bench_schema.run(tables, columns, repeat)
    if "timeline" not in skip:
        revisions, repeat = settings["timeline"]
        _say(f"timeline: the schema at head of {revisions} revisions vs Alembic's upgrade head")
        out["timeline"] = bench_timeline.measure(revisions, repeat)
    if "startup" not in skip:
        _say("start-up: %load_ext nbmigrate vs import alembic, sqlalchemy")
        with bench_commands.startup_project() as project:
            out["startup"] = bench_commands.measure_startup(settings["startup_repeat"], project)
    if "lint" not in skip:
        revisions, repeat = settings["lint"]
        _say(f"lint: {revisions} revisions vs their --sql alone ({'SQLite, PostgreSQL' if pg else 'SQLite'})")
        out["lint"] = [bench_lint.run(revisions, "linear", repeat, backend) for backend in (["sqlite", "postgresql"] if pg else ["sqlite"])]
    out["meta"]["seconds"] = round(time.perf_counter() - started, 1)
    out["targets"] = targets(out)
    out["checks"] = [f"{m['command']}, {m['revisions']} {m['shape']}, {m['backend']}: {c}" for m in out.get("migrations", []) for c in m["checks"]]
    out["checks"] += [f"lint, {r['revisions']} revisions, {r['backend']}: {c}" for r in out.get("lint", []) for c in r["checks"]]
    out["checks"] += [
        f"{r['command']}, {r['revisions']} {r['shape']}: the warm revision map was rebuilt {r['reloads']} times while timed"
        for r in out.get("reads", []) if r["reloads"]
    ]

    print()
    print(report(out))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_rounded(out), indent=2) + "\n")
        print(f"\nwritten: {path}")
    return 1 if out["checks"] else 0


# -- the targets -------------------------------------------------------------------------------


def targets(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issues with the measured ratio and whether it is met (None: not measured).

    Where a target covers several measurements (commands, shapes, directions), the worst one counts.
    """
    reads = out.get("reads", [])
    migrations = out.get("migrations", [])
    found: list[dict[str, Any]] = []

    def add(name: str, value: float | None, limit: float | None, *, at_least: bool, where: str = "", unit: str = "x") -> None:
        met = None if value is None or limit is None else (value >= limit if at_least else value <= limit)
        found.append({"target": name, "value": value, "limit": limit, "at_least": at_least, "met": met, "where": where, "unit": unit})

    def worst(rows: list[dict[str, Any]], key: str, *, lowest: bool) -> tuple[float | None, str]:
        if not rows:
            return None, ""
        row = (min if lowest else max)(rows, key=lambda r: r[key])
        return row[key], f"{row['command']}, {row['revisions']} {row['shape']}, {row.get('backend', 'sqlite')}"

    r1000 = [r for r in reads if r["revisions"] == 1000]
    current = [r for r in reads if r["revisions"] == 3000 and r["command"] == "current"]
    for name, rows, key, limit in (
        ("warm read magics, 1,000 revisions: times faster than the alembic CLI", r1000, "cli_vs_warm", 100),
        ("warm read magics, 1,000 revisions: times faster than a cold alembic.command", r1000, "cold_vs_warm", 10),
        ("%migrate current, 3,000 revisions: times faster than alembic.command.current", current, "cold_vs_warm", 100),
    ):
        value, where = worst(rows, key, lowest=True)
        add(name, value, limit, at_least=True, where=where)
    for backend in ("sqlite", "postgresql"):
        m1000 = [m for m in migrations if m["revisions"] == 1000 and m["backend"] == backend]
        if backend == "postgresql" and not m1000:
            continue
        suffix = "" if backend == "sqlite" else " (PostgreSQL)"
        for name, key, limit in (
            ("%migrate (default) / alembic.command", "nbmigrate_vs_alembic", 1.0),
            ("%migrate --no-schema / alembic.command", "no_schema_vs_alembic", 1.0),
            ("what the schema before/after adds", "schema_overhead", 0.10),
            ("alembic.command / floor (same statements, one transaction; reported)", "alembic_vs_floor_stmt", None),
            ("%migrate / floor (reported)", "nbmigrate_vs_floor_stmt", None),
        ):
            value, where = worst(m1000, key, lowest=False)
            add(f"upgrade/downgrade, 1,000 revisions{suffix}: {name}", value, limit, at_least=False, where=where,
                unit="%" if key == "schema_overhead" else "")
    startup = out.get("startup")
    add("%load_ext nbmigrate / import alembic, sqlalchemy", startup["load_ext_vs_import"] if startup else None, 1.2, at_least=False, unit="")
    for row in out.get("schema", []):
        add(f"snapshot / MetaData.reflect(), {row['tables']} tables x {row['columns']} columns, {row['backend']}",
            row["ratio"], 1.0, at_least=False, unit="")
    timeline = out.get("timeline")
    add("schema at head, 300 revisions, built / alembic upgrade head on an empty file",
        timeline["build / alembic upgrade head"] if timeline else None, 1.2, at_least=False, unit="")
    add("warm %migrate schema --at, a revision already built (ms)", timeline["warm schema --at (ms)"] if timeline else None, 10,
        at_least=False, unit=" ms")
    for row in out.get("lint", []):
        add(f"lint / --sql alone, {row['revisions']} revisions, {row['backend']} (warm kernel, statements not parsed before)",
            row["lint_vs_render"], 2.0, at_least=False, unit="")
    for row in out.get("graph", []):
        if row["revisions"] in (1000, 3000):
            add(f"graph build+DOT+SVG / Alembic's load, {row['revisions']} {row['shape']} (reported)",
                row["total_vs_load"], None, at_least=False, unit="")
    return found


# -- printing ------------------------------------------------------------------------------------


def report(out: dict[str, Any]) -> str:
    meta = out["meta"]
    lines = [
        f"nbmigrate benchmarks ({meta['mode']}): Python {meta['python']}, Alembic {meta['alembic']}, "
        f"SQLAlchemy {meta['sqlalchemy']}, SQLite {meta['sqlite']}, PostgreSQL {meta['postgresql'] or 'not used'}, "
        f"{meta['cpus']} CPUs, load average {meta['load_average']} at the start; {meta['seconds']} s",
        f"alembic CLI: {' '.join(meta['alembic_cli'])}",
    ]
    if out.get("reads"):
        lines += ["", "Read commands (SQLite, database at its heads): warm %migrate in an IPython shell, rendered as text and HTML,"
                  " vs a cold alembic.command call and the alembic CLI; ratio = times faster"]
        lines += _table(
            ["revisions", "shape", "command", "%migrate", "unrendered", "alembic.command", "alembic CLI", "vs command", "vs CLI",
             "unrendered vs CLI"],
            [
                [r["revisions"], r["shape"], r["command"], _ms(r["warm_s"]), _ms(r["warm_magic_only_s"]), _ms(r["cold_command_s"]),
                 _ms(r["cli_s"]), f"{r['cold_vs_warm']:.0f}x", f"{r['cli_vs_warm']:.0f}x",
                 f"{r['cli_s'] / r['warm_magic_only_s']:.0f}x"]
                for r in out["reads"]
            ],
        )
        lines.append("(unrendered: the magic's result object without its text/HTML; the targets use the rendered time)")
    if out.get("migrations"):
        lines += ["", "Migrations from an empty database (upgrade heads, then downgrade base): median times"]
        lines += _table(
            ["revisions", "shape", "db", "command", "runs", "alembic.command", "%migrate", "--no-schema", "floor stmts", "floor script", "checks"],
            [
                [m["revisions"], m["shape"], m["backend"], m["command"], m["repeat"], _s(m["alembic_s"]), _s(m["nbmigrate_s"]),
                 _s(m["nbmigrate_no_schema_s"]), _s(m["floor_stmt_s"]), _s(m["floor_script_s"]),
                 "ok" if not m["checks"] else "DIFFER"]
                for m in out["migrations"]
            ],
        )
        lines += ["", "Migrations: ratios (lower is better; floor = the same statements executed directly)"]
        lines += _table(
            ["revisions", "shape", "db", "command", "%migrate/alembic", "no-schema/alembic", "schema adds",
             "alembic/floor", "%migrate/floor", "no-schema/floor"],
            [
                [m["revisions"], m["shape"], m["backend"], m["command"], f"{m['nbmigrate_vs_alembic']:.2f}",
                 f"{m['no_schema_vs_alembic']:.2f}", f"{m['schema_overhead']:+.0%}", f"{m['alembic_vs_floor_stmt']:.1f}x",
                 f"{m['nbmigrate_vs_floor_stmt']:.1f}x", f"{m['no_schema_vs_floor_stmt']:.1f}x"]
                for m in out["migrations"]
            ],
        )
    if out.get("graph"):
        lines += ["", "Revision graph (bench_graph) vs Alembic's load of the same project (a new ScriptDirectory, every file imported)"]
        lines += _table(
            ["revisions", "shape", "alembic load", "load+walk", "build", "dot", "svg", "build+dot+svg", "collapsed",
             "total/load", "collapsed/load"],
            [
                [g["revisions"], g["shape"], _s(g["load_s"]), _s(g["load_walk_s"]), _s(g["build_s"]), _s(g["dot_s"]),
                 _s(g["render_s"]), _s(g["total_s"]), _s(g["collapsed_total_s"]), f"{g['total_vs_load']:.2f}",
                 f"{g['collapsed_vs_load']:.2f}"]
                for g in out["graph"]
            ],
        )
    if out.get("graph_magic"):
        lines += ["", "Warm %migrate graph (the widget, collapsed above 100 revisions) vs Alembic's load"]
        lines += _table(
            ["revisions", "shape", "%migrate graph", "alembic load", "graph/load"],
            [[g["revisions"], g["shape"], _s(g["warm_s"]), _s(g["load_s"]), f"{g['warm_vs_load']:.2f}"] for g in out["graph_magic"]],
        )
    if out.get("schema"):
        lines += ["", "Schema snapshot vs MetaData.reflect() (ratio = snapshot / reflect; lower is better)"]
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
            f" (ratio {s['load_ext_vs_import']:.2f}); %load_ext imports: {', '.join(s['modules']) or '-'};"
            f" deferred to the first command: {', '.join(s['deferred']) or '-'}",
        ]
        if "first_magic_s" in s:
            lines.append(
                f"First command of a fresh process (100 revisions): %load_ext + %migrate heads {_ms(s['first_magic_s'])} vs "
                f"import alembic, sqlalchemy + alembic.command.heads {_ms(s['first_command_s'])} (ratio {s['first_magic_vs_command']:.2f})"
            )
    if out.get("lint"):
        lines += ["", "Lint (bench_lint) vs rendering the same --sql alone, in a warm kernel"]
        lines += _table(
            ["db", "revisions", "statements", "findings", "--sql", "lint", "lint again", "lint/--sql", "again/--sql",
             "one --sql per revision"],
            [[r["backend"], r["revisions"], r["statements"], r["findings"], _s(r["render_s"]), _s(r["lint_s"]),
              _s(r["lint_warm_s"]), f"{r['lint_vs_render']:.2f}", f"{r['lint_warm_vs_render']:.2f}",
              f"{r['per_revision_vs_render']:.0f}x"] for r in out["lint"]],
        )
    lines += ["", "Targets (worst case over commands, shapes and directions)"]
    for t in out["targets"]:
        mark = "n/a    " if t["value"] is None else {True: "met    ", False: "MISSED ", None: "report "}[t["met"]]
        if t["value"] is None:
            value = "not measured"
        elif t["unit"] == "%":
            value = f"{t['value']:+.0%}"
        elif t["at_least"]:
            value = f"{t['value']:.0f}x"
        else:
            value = f"{t['value']:.2f}"
        if t["limit"] is None:
            limit = ""
        elif t["unit"] == "%":
            limit = f" (target <= {t['limit']:+.0%})"
        else:
            limit = f" (target {'>=' if t['at_least'] else '<='} {t['limit']:g}{'x' if t['at_least'] else ''})"
        where = f"  [{t['where']}]" if t["where"] else ""
        lines.append(f"  {mark}{t['target']}: {value}{limit}{where}")
    if out.get("checks"):
        lines += ["", "CHECKS FAILED: contenders did different work"] + [f"  {c}" for c in out["checks"]]
    else:
        if out.get("reads"):
            lines += ["", "Checks: every warm answer equals Alembic's, and no warm run rebuilt the revision map."]
        if out.get("migrations"):
            lines += ["Checks: every contender left the schema and alembic_version alembic.command left, after the same steps in the same order."]
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


def _meta(mode: str, postgresql: bool) -> dict[str, Any]:
    import alembic
    import sqlalchemy

    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    pg_version = ""
    if postgresql:
        engine = sqlalchemy.create_engine(os.environ["NBMIGRATE_TEST_POSTGRESQL_URL"], poolclass=sqlalchemy.pool.NullPool)
        with engine.connect() as conn:
            pg_version = conn.exec_driver_sql("SHOW server_version").scalar() or "?"
        engine.dispose()
    return {
        "mode": mode,
        "python": platform.python_version(),
        "alembic": alembic.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg_version,
        "alembic_cli": bench_commands.alembic_cli(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": load,
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
