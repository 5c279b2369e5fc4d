"""Racing runs, many times over: never a revision applied twice, and every loser's report true.

Long-lived racer processes (one per kernel) upgrade the same database together, trial after
trial: a barrier file releases them at once, and the first revision waits until every racer has
started, so they always overlap. Each revision inserts a row naming itself into ``applied``:
a revision applied twice shows as two rows. Between trials the test empties the database.

* Two projects on one server database, one naming the version table's schema
  (``version_table_schema = public`` on PostgreSQL, the database's name on MariaDB) and one not:
  the same ``alembic_version``, so the same lock.
* A project made by ``alembic init`` (its own ``env.py``, its own engine) on one SQLite file,
  three racers.

Every trial: each revision applied once, ``alembic_version`` at head, every racer ends without
an error or a traceback, and each that did not apply the revisions says in one line that it
waited. A failure's report on such a project (statements on ``env.py``'s own connection) says
what the database really holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import nbmigrate
from support import applied_rows_and_version, revision_source

TRIALS = 20
TRIAL_SECONDS = 60  # one trial's bound: racers that have not finished by then fail the test

# The first revision waits (bounded) until every racer has started this trial.
FIRST = """\
op.create_table("applied", sa.Column("rev", sa.String(10)))
op.execute("INSERT INTO applied (rev) VALUES ('0001')")
import os, pathlib, time
barrier = pathlib.Path(os.environ["NBM_BARRIER"])
trial = (barrier / "trial").read_text()
deadline = time.monotonic() + 10
while len(list(barrier.glob(f"*.started{trial}"))) < int(os.environ["NBM_RACERS"]) and time.monotonic() < deadline:
    time.sleep(0.005)
time.sleep(0.3)"""
NEXT = """\
op.execute("INSERT INTO applied (rev) VALUES ('{rev}')")
import time; time.sleep(0.05)"""

RACER = """\
import json, os, sys, time
from pathlib import Path
import nbmigrate
barrier, me, trials = Path(os.environ["NBM_BARRIER"]), sys.argv[1], int(sys.argv[2])
project = nbmigrate.Project()
project.lock_timeout = 30
for trial in range(trials):
    (barrier / f"{me}.ready{trial}").touch()
    while not (barrier / f"go{trial}").exists():
        time.sleep(0.002)
    (barrier / f"{me}.started{trial}").touch()
    try:
        result = project.upgrade("head", schema=False)
        out = {"steps": [s.revision for s in result.steps], "warnings": result.warnings,
               "heads": list(result.heads_after)}
    except nbmigrate.NbmigrateError as exc:
        out = {"error": str(exc)}
    print(json.dumps(out), flush=True)
    (barrier / f"{me}.done{trial}").touch()
"""


def write_project(root: Path, url: str, *, alembic_init: bool = False, schema: str | None = None) -> None:
    """A project in ``root`` on ``url`` with three row-inserting revisions."""
    root.mkdir(exist_ok=True)
    if alembic_init:
        done = subprocess.run([sys.executable, "-m", "alembic", "init", "migrations"], cwd=root, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    else:
        nbmigrate.Project(root / "alembic.ini").init(str(root / "migrations"))
    ini = root / "alembic.ini"
    lines = []
    for line in ini.read_text().splitlines():
        if line.startswith("sqlalchemy.url"):
            line = f"sqlalchemy.url = {url.replace('%', '%%')}"
            if schema:
                line += f"\nversion_table_schema = {schema}"
        lines.append(line)
    ini.write_text("\n".join(lines) + "\n")
    versions = root / "migrations" / "versions"
    ups = {"0001": FIRST, "0002": NEXT.format(rev="0002"), "0003": NEXT.format(rev="0003")}
    for n, (rev, up) in enumerate(ups.items()):
        (versions / f"{rev}_rev.py").write_text(revision_source(rev, list(ups)[n - 1] if n else None, upgrade=up))


def empty(url: str) -> None:
    """Drop what a trial made, so the next one starts from an empty database."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for table in ("applied", "alembic_version", "nbmigrate_checksums"):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    finally:
        engine.dispose()



def wait_for(paths: list[Path], procs: list[subprocess.Popen[str]]) -> None:
    """Wait until each racer has made its file (``paths[n]`` is ``procs[n]``'s), within a trial's bound."""
    deadline = time.monotonic() + TRIAL_SECONDS
    while not all(p.exists() for p in paths):
        stopped = any(proc.poll() is not None and not path.exists() for path, proc in zip(paths, procs))
        if time.monotonic() > deadline or stopped:
            for proc in procs:
                proc.kill()
            details = [proc.communicate(timeout=10) for proc in procs]
            pytest.fail(f"a racer stopped or hung before {[p.name for p in paths]}: {details}")
        time.sleep(0.005)


def race(tmp_path: Path, folders: list[Path], url: str) -> list[list[dict[str, Any]]]:
    """Run :data:`TRIALS` trials of one racer per folder; per trial, each racer's report."""
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NBM_BARRIER": str(barrier), "NBM_RACERS": str(len(folders))}
    env.pop("ALEMBIC_CONFIG", None)
    (tmp_path / "racer.py").write_text(RACER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(tmp_path / "racer.py"), f"r{n}", str(TRIALS)],
            cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n, folder in enumerate(folders)
    ]
    states = []
    try:
        for trial in range(TRIALS):
            wait_for([barrier / f"r{n}.ready{trial}" for n in range(len(folders))], procs)
            empty(url)
            (barrier / "trial").write_text(str(trial))
            (barrier / f"go{trial}").touch()
            wait_for([barrier / f"r{n}.done{trial}" for n in range(len(folders))], procs)
            states.append(applied_rows_and_version(url))
    finally:
        outputs = []
        for proc in procs:
            try:
                outputs.append(proc.communicate(timeout=TRIAL_SECONDS))
            except subprocess.TimeoutExpired:
                proc.kill()
                outputs.append(proc.communicate())
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0 and "Traceback" not in err, err
        # Each notice of a wait is one line of its own.
        notices = [line for line in err.splitlines() if line.startswith("nbmigrate: ")]
        assert all(line.startswith("nbmigrate: Waiting for the migration lock on ") for line in notices), err
    reports = [[json.loads(line) for line in out.splitlines()] for out, _ in outputs]
    per_trial = [list(trial) for trial in zip(*reports)]
    assert len(per_trial) == TRIALS
    for trial, (state, trial_reports) in enumerate(zip(states, per_trial)):
        assert state == (["0001", "0002", "0003"], ["0003"]), (trial, state, trial_reports)
        assert not [r for r in trial_reports if "error" in r], (trial, trial_reports)
        assert sorted(step for r in trial_reports for step in r["steps"]) == ["0001", "0002", "0003"], (trial, trial_reports)
        assert all(r["heads"] == state[1] for r in trial_reports), (trial, trial_reports)
        for report in trial_reports:
            waited = [w for w in report["warnings"] if w.startswith("Waited")]
            if not report["steps"]:  # a loser: it waited for the winner, and says so in one line
                assert len(waited) == 1 and "\n" not in waited[0] and "is migrating this database" in waited[0], report
    return per_trial


def test_projects_naming_the_version_tables_schema_or_not_share_one_lock(server_url: str, tmp_path: Path) -> None:
    url = sa.make_url(server_url)
    schema = "public" if url.get_backend_name() == "postgresql" else url.database
    write_project(tmp_path / "named", server_url, schema=schema)
    write_project(tmp_path / "plain", server_url)

    race(tmp_path, [tmp_path / "named", tmp_path / "plain"], server_url)


def test_alembic_init_projects_on_sqlite_are_serialised(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    write_project(tmp_path / "project", url, alembic_init=True)

    trials = race(tmp_path, [tmp_path / "project"] * 3, url)
    waits = [w for reports in trials for r in reports for w in r["warnings"] if w.startswith("Waited")]
    # Who holds the file lock: another run, by its process id (unless it let go as the waiter read it).
    holders = {w.split(": ", 1)[1].split(" is migrating")[0] for w in waits}
    assert waits and all(h.startswith("another run") for h in holders), holders
    assert any(h.startswith("another run (process ") for h in holders), holders


# -- a failure on env.py's own connection, reported as the database holds it -----------------------


def test_a_failure_on_env_pys_own_sqlite_connection_reports_what_remains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pysqlite as ``alembic init``'s engine has it: DDL autocommits, an INSERT opens a transaction."""
    url = f"sqlite:///{tmp_path / 'own.db'}"
    root = tmp_path / "project"
    write_project(root, url, alembic_init=True)
    versions = root / "migrations" / "versions"
    for path in versions.glob("*.py"):
        path.unlink()
    (versions / "0001_a.py").write_text(revision_source("0001", None, upgrade='op.create_table("a", sa.Column("id", sa.Integer))'))
    second = 'op.create_table("b", sa.Column("id", sa.Integer))\nop.execute("INSERT INTO b (id) VALUES (1)")\nop.execute("SELECT * FROM no_such_table")'
    (versions / "0002_b.py").write_text(revision_source("0002", "0001", upgrade=second))
    monkeypatch.chdir(root)

    with pytest.raises(nbmigrate.MigrationFailed) as caught:
        nbmigrate.Project().upgrade("head")
    report = caught.value.report

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        rows_in_b = conn.execute(sa.text("SELECT COUNT(*) FROM b")).scalar()
        version = [v for (v,) in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]
    engine.dispose()
    # CREATE TABLE b stayed (pysqlite ran it outside a transaction); the INSERT was rolled back.
    assert {"a", "b"} <= tables and rows_in_b == 0 and version == ["0001"]
    assert [s.revision for s in report.completed] == ["0001"] and report.heads_after == ("0001",)
    assert [s.split("(")[0].strip() for s in report.partial_sql] == ["CREATE TABLE b"]
    assert "Statements of 0002 that ran but were rolled back with the failure: INSERT INTO b (id) VALUES (1)" in report.warnings
    assert "INSERT INTO b" not in report.summary().split("remain:")[1]
