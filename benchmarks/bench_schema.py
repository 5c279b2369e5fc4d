"""Benchmark: ``nbmigrate.snapshot`` against SQLAlchemy's ``MetaData().reflect()``.

Builds a database of many tables (each with columns of several types, two indexes and a foreign
key to the previous table) on SQLite (a temporary file) and, when ``NBMIGRATE_TEST_POSTGRESQL_URL``
is set, on PostgreSQL (in a fresh database created and dropped here), then times in the same run:

* ``MetaData().reflect(engine)``: SQLAlchemy's own reflection, the yardstick;
* ``snapshot(engine, row_counts=False)``: the same reflection, normalised;
* ``snapshot(engine)``: plus one count query per table.

Usage: ``python benchmarks/bench_schema.py [--tables 500 --columns 20] [--repeat 3] [--json out.json]``
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
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

try:
    from nbmigrate.schema import snapshot
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from nbmigrate.schema import snapshot

_TYPES: list[sa.types.TypeEngine[Any]] = [
    sa.String(40), sa.Integer(), sa.Numeric(10, 2), sa.Boolean(), sa.DateTime(), sa.Text()
]


def build_metadata(tables: int, columns: int) -> sa.MetaData:
    """``tables`` tables of ``columns`` columns, two indexes each and a chain of foreign keys."""
    md = sa.MetaData()
    for i in range(tables):
        cols: list[sa.Column] = [sa.Column("id", sa.Integer, primary_key=True)]
        if i:
            cols.append(sa.Column("parent_id", sa.Integer, sa.ForeignKey(f"t{i - 1:04d}.id")))
        for j in range(len(cols), columns):
            cols.append(sa.Column(f"c{j:02d}", _TYPES[j % len(_TYPES)], nullable=j % 3 != 0))
        t = sa.Table(f"t{i:04d}", md, *cols)
        names = [c.name for c in cols[1:3]]
        if names:
            sa.Index(f"ix_t{i:04d}_a", t.c[names[0]])
            sa.Index(f"ix_t{i:04d}_b", *(t.c[n] for n in names), unique=len(names) > 1)
    return md


def _median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()  # each run pays for its own garbage only
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_backend(name: str, url: str, tables: int, columns: int, repeat: int) -> dict:
    """Create the schema at ``url`` and time the three reflections on it."""
    engine = sa.create_engine(url)
    try:
        build_metadata(tables, columns).create_all(engine)
        # One untimed round of each, so connection set-up and statement caches do not count.
        sa.MetaData().reflect(engine)
        snapshot(engine)
        reflect = _median(lambda: sa.MetaData().reflect(engine), repeat)
        no_counts = _median(lambda: snapshot(engine, row_counts=False), repeat)
        full = _median(lambda: snapshot(engine), repeat)
    finally:
        engine.dispose()
    return {
        "backend": name,
        "tables": tables,
        "columns": columns,
        "repeat": repeat,
        "reflect_s": round(reflect, 4),
        "snapshot_no_counts_s": round(no_counts, 4),
        "snapshot_s": round(full, 4),
        "ratio_no_counts": round(no_counts / reflect, 3),
        "ratio": round(full / reflect, 3),
    }


@contextmanager
def _sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="nbm-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


@contextmanager
def _postgresql_url(server: str) -> Iterator[str]:
    """A fresh database on the server, dropped afterwards."""
    base = sa.make_url(server)
    name = f"nbm_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def run(tables: int = 500, columns: int = 20, repeat: int = 3) -> list[dict]:
    """Time snapshot and MetaData.reflect on SQLite and (if configured) PostgreSQL; one dict each."""
    results = []
    with _sqlite_url() as url:
        results.append(time_backend("sqlite", url, tables, columns, repeat))
    server = os.environ.get("NBMIGRATE_TEST_POSTGRESQL_URL")
    if server:
        with _postgresql_url(server) as url:
            results.append(time_backend("postgresql", url, tables, columns, repeat))
    return results


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=500)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is kept")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    results = run(args.tables, args.columns, args.repeat)
    for r in results:
        print(
            f"{r['backend']:<11} {r['tables']} tables x {r['columns']} columns: "
            f"reflect {r['reflect_s']:.3f}s | snapshot(row_counts=False) {r['snapshot_no_counts_s']:.3f}s "
            f"(x{r['ratio_no_counts']:.2f}) | snapshot() {r['snapshot_s']:.3f}s (x{r['ratio']:.2f})"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    slower = [r["backend"] for r in results if r["ratio_no_counts"] > 1.0 or r["ratio"] > 1.0]
    if slower:
        print(f"snapshot slower than MetaData.reflect on: {', '.join(slower)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
