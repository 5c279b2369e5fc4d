"""The migration lock: concurrent runs (real processes) apply each revision exactly once.

Each revision inserts a row naming itself into ``applied`` and sleeps, so a revision applied
twice shows as two rows. Two processes start upgrading the same database at the same moment
(a barrier file), through nbmigrate or through the ``alembic`` command line running nbmigrate's
``env.py``; afterwards every revision has one row, ``alembic_version`` is at head, and the run
that waited says so.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

import nbmigrate
from support import applied_rows_and_version, write_revision
from nbmigrate import locks
from nbmigrate.locks import database_lock, lock_key
from nbmigrate.project import transactional_sqlite

SLEEP = 0.3

# The first revision also waits until both processes are past the barrier, so they overlap
# however slowly the machine starts them. Only a real run waits: the lint nbmigrate runs before
# an upgrade renders the revisions offline, and must not hold the kernel back from the race.
CREATE_APPLIED = """\
op.create_table("applied", sa.Column("rev", sa.String(10)))
op.execute("INSERT INTO applied (rev) VALUES ('0001')")
import os, time
if not op.get_context().as_sql:
    deadline = time.monotonic() + 10
    while not all(os.path.exists(f"child{{n}}.started") for n in (0, 1)) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep({sleep})"""
INSERT_APPLIED = """\
op.execute("INSERT INTO applied (rev) VALUES ('{rev}')")
import time
if not op.get_context().as_sql:
    time.sleep({sleep})"""

# Runs in a child process: wait for the barrier, then upgrade; print what happened as JSON.
NBMIGRATE_CHILD = """\
import json, os, sys, time
import nbmigrate
project = nbmigrate.Project()
project.lock_timeout = 30
project.lint("head")  # a warm kernel: the upgrade's own lint pays no first-import cost
open(sys.argv[1] + ".ready", "w").close()
while not os.path.exists("go"):
    time.sleep(0.005)
open(sys.argv[1] + ".started", "w").close()
result = project.upgrade("head", schema=False)
print(json.dumps({"steps": [s.revision for s in result.steps], "warnings": result.warnings,
                  "heads": list(result.heads_after)}))
"""
ALEMBIC_CHILD = """\
import os, sys, time
from alembic.config import main
open(sys.argv[1] + ".ready", "w").close()
while not os.path.exists("go"):
    time.sleep(0.005)
open(sys.argv[1] + ".started", "w").close()
main(argv=["upgrade", "head"])
"""


def make_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, revisions: int = 2) -> nbmigrate.Project:
    """A project in ``tmp_path`` whose alembic.ini names ``url``, with the row-inserting revisions."""
    monkeypatch.chdir(tmp_path)
    project = nbmigrate.Project()
    project.init("migrations")
    ini = tmp_path / "alembic.ini"
    lines = [
        f"sqlalchemy.url = {url.replace('%', '%%')}" if line.startswith("sqlalchemy.url") else line
        for line in ini.read_text().splitlines()
    ]
    ini.write_text("\n".join(lines) + "\n")
    write_revision(project, "0001", CREATE_APPLIED.format(sleep=SLEEP), 'op.drop_table("applied")')
    for n in range(2, revisions + 1):
        write_revision(project, f"{n:04d}", INSERT_APPLIED.format(rev=f"{n:04d}", sleep=SLEEP))
    return project



def run_together(tmp_path: Path, children: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Start a process per script, release them at once when all are ready, wait for all."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = []
    for n, source in enumerate(children):
        script = tmp_path / f"child{n}.py"
        script.write_text(source)
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script), str(tmp_path / f"child{n}")],
                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
        )
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"child{n}.ready").exists() for n in range(len(children))):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            break
        time.sleep(0.01)
    (tmp_path / "go").touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    for result in results:
        assert result.returncode == 0, result.stderr
    return results




# -- real concurrent processes ------------------------------------------------------------------


def test_two_kernels_apply_each_revision_once(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_project(tmp_path, monkeypatch, db_url, revisions=3)

    first, second = run_together(tmp_path, [NBMIGRATE_CHILD, NBMIGRATE_CHILD])

    assert applied_rows_and_version(db_url) == (["0001", "0002", "0003"], ["0003"])
    reports = [json.loads(r.stdout.strip().splitlines()[-1]) for r in (first, second)]
    assert sorted(step for r in reports for step in r["steps"]) == ["0001", "0002", "0003"]
    assert all(r["heads"] == ["0003"] for r in reports)
    waited = [r for r in reports if any("Waited" in w for w in r["warnings"])]
    assert len(waited) == 1, reports
    assert "is migrating this database" in waited[0]["warnings"][0]
    # The one that waited started from what the other left: here, nothing left to do.
    assert waited[0]["steps"] == []
    # It announced the wait while waiting (the default notice goes to stderr).
    assert "Waiting for the migration lock" in (first.stderr + second.stderr)


def test_kernel_and_alembic_command_line_apply_each_revision_once(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(tmp_path, monkeypatch, db_url)

    kernel, cli = run_together(tmp_path, [NBMIGRATE_CHILD, ALEMBIC_CHILD])

    assert applied_rows_and_version(db_url) == (["0001", "0002"], ["0002"])
    report = json.loads(kernel.stdout.strip().splitlines()[-1])
    cli_ran = cli.stderr.count("Running upgrade")
    assert len(report["steps"]) + cli_ran == 2, (report, cli.stderr)
    # Exactly one of them waited for the other, and said so.
    kernel_waited = any(w.startswith("Waited") for w in report["warnings"])
    cli_waited = "nbmigrate: Waiting for the migration lock" in cli.stderr
    assert kernel_waited != cli_waited, (report, cli.stderr)


# -- waiting, timing out, releasing -------------------------------------------------------------


class Holder:
    """Holds the migration lock from another connection (in a thread) until released."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.taken = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        if self.url.startswith("sqlite"):  # another writer: SQLite's write lock is the migration lock
            writer = sqlite3.connect(sa.make_url(self.url).database, isolation_level=None)
            writer.execute("BEGIN IMMEDIATE")
            self.taken.set()
            self.release.wait(10)
            writer.execute("ROLLBACK")
            writer.close()
            return
        with self.engine.connect() as conn, database_lock(conn, timeout=5):
            self.taken.set()
            self.release.wait(10)

    def __enter__(self) -> Holder:
        self.thread.start()
        assert self.taken.wait(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.thread.join(10)
        self.engine.dispose()


class Notices:
    """A progress callback that also takes notices, as the magics' progress display does."""

    def __init__(self, on_notice: Any = None) -> None:
        self.notices: list[str] = []
        self.on_notice = on_notice

    def __call__(self, n: int, total: int, text: str) -> None:
        pass

    def notify(self, text: str) -> None:
        self.notices.append(text)
        if self.on_notice is not None:
            self.on_notice()


def quick_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> nbmigrate.Project:
    monkeypatch.chdir(tmp_path)
    project = nbmigrate.Project()
    project.init("migrations")
    project.connect(url)
    write_revision(project, "0001", 'op.create_table("t", sa.Column("id", sa.Integer))', 'op.drop_table("t")')
    return project


def test_a_run_that_waits_says_so_and_for_what(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = quick_project(tmp_path, monkeypatch, db_url)
    holder = Holder(db_url)
    # The other run lets go once this one says it waits (and it must wait: the lock is held till then).
    notices = Notices(on_notice=lambda: threading.Timer(0.2, holder.release.set).start())
    with holder:
        result = project.upgrade("head", progress=notices)
    assert result.heads_after == ("0001",)
    assert len(notices.notices) == 1
    assert notices.notices[0].startswith("Waiting for the migration lock on ")
    assert project.display_url in notices.notices[0]
    waited = [w for w in result.warnings if w.startswith("Waited")]
    assert len(waited) == 1 and "is migrating this database" in waited[0]
    assert "Waited" in str(result) and "Waited" in result._repr_html_()


def test_no_wait_no_warning(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = quick_project(tmp_path, monkeypatch, db_url)
    notices = Notices()
    result = project.upgrade("head", progress=notices)
    assert notices.notices == [] and not [w for w in result.warnings if "Waited" in w]


def test_timeout_ends_with_lock_timeout_and_runs_nothing(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = quick_project(tmp_path, monkeypatch, db_url)
    project.lock_timeout = 0.3
    with Holder(db_url):
        started = time.monotonic()
        with pytest.raises(nbmigrate.LockTimeout) as caught:
            project.upgrade("head", progress=Notices())
        assert time.monotonic() - started < 3
    message = str(caught.value)
    assert message.startswith("Gave up after 0 s waiting for the migration lock on ")
    assert "Nothing was run" in message and "lock_timeout" in message
    assert not sa.inspect(sa.create_engine(db_url, poolclass=sa.pool.NullPool)).has_table("t")
    # Once the other run is gone, the same project migrates.
    project.lock_timeout = 5
    assert project.upgrade("head").heads_after == ("0001",)


def test_timeout_through_the_magic_is_one_line(
    shell: Any, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.core.error import UsageError

    quick_project(tmp_path, monkeypatch, db_url)
    ip = shell
    magics = ip.magics_manager.registry["MigrateMagics"]
    magics.forget_projects()
    ip.user_ns["dburl"] = db_url
    ip.run_line_magic("migrate", "connect dburl")
    magics.lock_timeout = 0.2
    try:
        with Holder(db_url), pytest.raises(UsageError) as caught:
            ip.run_line_magic("migrate", "upgrade head")
        assert type(caught.value) is UsageError
        assert "waiting for the migration lock" in str(caught.value)
    finally:
        magics.lock_timeout = 60.0
        magics.forget_projects()


def test_lock_is_released_after_a_failed_run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = quick_project(tmp_path, monkeypatch, db_url)
    write_revision(project, "0002", 'op.execute("SELECT * FROM no_such_table")')
    with pytest.raises(nbmigrate.MigrationFailed):
        project.upgrade("head")
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn, database_lock(conn, timeout=0):
        pass  # taken at once: the failed run let go
    engine.dispose()


def lock_engine(url: str, **options: Any) -> sa.Engine:
    """An engine like a run's: on SQLite, its transactions begin through the lock's ``BEGIN IMMEDIATE``."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, **options)
    if engine.dialect.name == "sqlite":
        transactional_sqlite(engine)
    return engine


def taken_elsewhere(url: str) -> bool:
    """Whether another thread, on a connection of its own, gets the migration lock at once."""
    got: list[bool] = []

    def other() -> None:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn, database_lock(conn, timeout=0):
                got.append(True)
        except nbmigrate.LockTimeout:
            got.append(False)
        finally:
            engine.dispose()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(10)
    assert got, "the other thread neither took the lock nor gave up"
    return got[0]


def test_the_lock_is_re_entrant_in_one_thread(db_url: str) -> None:
    # The outer lock must really be held when the inner one is asked for: on SQLite that means
    # inside the run's transaction, since between transactions nobody holds the write lock.
    engine = lock_engine(db_url)
    with engine.connect() as run, engine.connect() as inner:
        with database_lock(run, timeout=0), run.begin():
            run.execute(sa.text("SELECT 1"))
            assert not taken_elsewhere(db_url)
            with database_lock(inner, timeout=0):  # granted at once: timeout=0 leaves no time to wait
                pass
            assert not taken_elsewhere(db_url)  # the inner lock let go of nothing of the outer's
        assert taken_elsewhere(db_url)
    engine.dispose()


def test_a_re_entered_lock_leaves_the_outer_one_holding(db_url: str) -> None:
    # A command that runs a command on the same connection, between the outer run's transactions:
    # the outer run's next transaction must still take the lock (on SQLite, begin IMMEDIATE).
    engine = lock_engine(db_url)
    with engine.connect() as run:
        with database_lock(run, timeout=0):
            with database_lock(run, timeout=0):
                pass
            with run.begin():
                run.execute(sa.text("SELECT 1"))
                assert not taken_elsewhere(db_url)
        assert taken_elsewhere(db_url)
    engine.dispose()


def test_postgresql_lock_inside_a_callers_transaction_commits_nothing(pg_url: str) -> None:
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE TABLE mine (x int)"))
        conn.execute(sa.text("INSERT INTO mine VALUES (1)"))
        with database_lock(conn, timeout=0):
            assert conn.in_transaction()
        conn.rollback()
        assert not sa.inspect(conn).has_table("mine")
    engine.dispose()


def test_version_tables_have_locks_of_their_own(server_url: str) -> None:
    # (SQLite has one write lock per file, whatever the version table.)
    engine = sa.create_engine(server_url, poolclass=sa.pool.NullPool)
    done = threading.Event()

    def other() -> None:
        with engine.connect() as conn, database_lock(conn, version_table="other_version", timeout=0):
            done.set()

    with engine.connect() as conn, database_lock(conn, timeout=0):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(5)
    assert done.is_set()
    engine.dispose()


def test_the_lock_is_the_table_the_database_resolves(server_url: str) -> None:
    """The schema named or left to the connection's default: one table, one key (see also test_racers)."""
    engine = sa.create_engine(server_url, poolclass=sa.pool.NullPool)
    postgresql = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        database = sa.make_url(server_url).database
        default = lock_key(conn)
        assert lock_key(conn, schema="public" if postgresql else database) == default
        assert (default.database, default.schema) == (database, "public" if postgresql else database)
        assert lock_key(conn, "other_version").name != default.name
        assert not conn.in_transaction()
        if postgresql:
            # Unqualified, the table is the one search_path finds; and a quoted name is another table.
            conn.execute(sa.text("CREATE SCHEMA elsewhere"))
            conn.execute(sa.text("CREATE TABLE elsewhere.alembic_version (version_num varchar(32))"))
            conn.execute(sa.text("SET search_path TO public, elsewhere"))
            conn.commit()
            assert lock_key(conn).schema == "elsewhere" == lock_key(conn, schema="elsewhere").schema
            assert lock_key(conn, "Alembic_Version").name != lock_key(conn).name
    engine.dispose()


def test_sqlite_locks_the_file_however_it_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    engines = [sa.create_engine(url, poolclass=sa.pool.NullPool) for url in ("sqlite:///one.db", f"sqlite:///{tmp_path / 'one.db'}")]
    with engines[0].connect() as relative, engines[1].connect() as absolute:
        mine, other = lock_key(relative), lock_key(absolute, "Other_Version")
        assert mine.name == other.name == os.path.realpath(tmp_path / "one.db")  # one file, one write lock
        assert (mine.schema, mine.table, other.table) == ("main", "alembic_version", "other_version")
        with database_lock(relative, timeout=0):
            assert (tmp_path / "one.db.nbmigrate-lock").read_text().strip() == str(os.getpid())
            assert not taken_elsewhere(f"sqlite:///{tmp_path / 'one.db'}")
        assert not (tmp_path / "one.db.nbmigrate-lock").exists()  # removed as it was let go
    for engine in engines:
        engine.dispose()


def test_sqlite_run_another_slips_in_front_of_waits_and_says_so(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer takes SQLite's write lock after nbmigrate read the heads: the run's own
    transaction waits for it (announced), then finds its work done and says the plan changed."""
    from nbmigrate import checksums

    project = quick_project(tmp_path, monkeypatch, sqlite_url)
    path = sa.make_url(sqlite_url).database
    verify = checksums.verify

    def slip_in(*args: Any, **kwargs: Any) -> Any:
        writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        writer.execute("INSERT INTO alembic_version VALUES ('0001')")
        writer.execute("CREATE TABLE t (id INTEGER)")
        threading.Timer(0.3, lambda: (writer.execute("COMMIT"), writer.close())).start()
        return verify(*args, **kwargs)

    monkeypatch.setattr(checksums, "verify", slip_in)
    notices = Notices()
    result = project.upgrade("head", progress=notices)
    assert result.steps == [] and result.heads_after == ("0001",)
    assert [n for n in notices.notices if n.startswith("Waiting for the migration lock")]
    assert [w for w in result.warnings if w.startswith("Waited")]
    changed = [w for w in result.warnings if w.startswith("Another run changed the database")]
    assert changed == [
        "Another run changed the database after this one first read it at base (no revision): Alembic, "
        "reading alembic_version under the write lock, ran nothing instead of 0001."
    ]


# -- SQLite: the caller's connection afterwards --------------------------------------------------

# The ways a run can leave the SQLite lock: the lock's entry probe and the run's own BEGIN
# IMMEDIATE can each time out or be interrupted while they wait.
SQLITE_ENDINGS = [
    "success",
    "error in the run",
    "timeout on entry",
    "interrupt while waiting on entry",
    "interrupt just after the entry probe's BEGIN",
    "timeout in the run's BEGIN",
    "interrupt while the run's BEGIN waits",
]


def interrupt(seconds: float) -> None:
    """A ``time.sleep`` that Ctrl-C interrupts."""
    raise KeyboardInterrupt


class _InterruptingCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        result = super().execute(sql, parameters)
        connection = self.connection
        if sql == getattr(connection, "interrupt_after", None):
            connection.interrupt_after = None  # type: ignore[attr-defined]
            raise KeyboardInterrupt
        return result


class InterruptibleSQLite(sqlite3.Connection):
    """An SQLite connection (``sqlite3.connect(factory=...)``) on which Ctrl-C can be made to
    arrive just as one statement returns: set ``interrupt_after`` to it, it fires once."""

    interrupt_after: str | None = None

    def cursor(self, factory: Any = None) -> Any:  # type: ignore[override]
        return super().cursor(factory or _InterruptingCursor)


def interrupt_after_begin(conn: sa.Connection) -> None:
    """Ctrl-C arriving as the lock's first ``BEGIN IMMEDIATE`` returns (before its ``ROLLBACK``)."""
    assert isinstance(conn.connection.driver_connection, InterruptibleSQLite)
    conn.connection.driver_connection.interrupt_after = "BEGIN IMMEDIATE"


def leave_sqlite_lock(ending: str, conn: sa.Connection, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Take the migration lock on ``conn`` (a table ``mine`` exists) and leave it by ``ending``."""

    def transaction() -> None:
        with conn.begin():
            conn.execute(sa.text("INSERT INTO mine VALUES (1)"))

    if ending == "success":
        with database_lock(conn, timeout=2):
            transaction()
        return
    if ending.startswith("interrupt while"):
        monkeypatch.setattr(locks.wait, "time", SimpleNamespace(monotonic=time.monotonic, sleep=interrupt))
    if ending == "interrupt just after the entry probe's BEGIN":
        interrupt_after_begin(conn)
    raised = {"error": ValueError, "timeout": nbmigrate.LockTimeout, "interrupt": KeyboardInterrupt}
    with pytest.raises(raised[ending.split()[0]]):
        if ending == "error in the run":
            with database_lock(conn, timeout=2), conn.begin():
                conn.execute(sa.text("INSERT INTO mine VALUES (1)"))
                raise ValueError("the run failed")
        elif ending.endswith("on entry"):
            with Holder(url), database_lock(conn, timeout=0.2):
                pass
        elif "the run's BEGIN" in ending:
            with database_lock(conn, timeout=0.2), Holder(url):
                transaction()
        else:
            with database_lock(conn, timeout=2):
                pass


def busy_timeout(conn: sa.Connection) -> int:
    """The connection's busy timeout, read past SQLAlchemy so that nothing begins."""
    return int(conn.connection.driver_connection.execute("PRAGMA busy_timeout").fetchone()[0])


@pytest.fixture
def sqlite_conn(sqlite_url: str) -> Any:
    """A connection like a run's to an SQLite file with an empty table ``mine``."""
    engine = lock_engine(sqlite_url, connect_args={"factory": InterruptibleSQLite})
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE TABLE mine (x INTEGER)"))
        conn.commit()
        yield conn
    engine.dispose()


@pytest.mark.parametrize("ending", SQLITE_ENDINGS)
@pytest.mark.parametrize("callers", [0, 1234])
def test_sqlite_lock_gives_back_the_callers_busy_timeout(
    callers: int, ending: str, sqlite_conn: sa.Connection, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0 (fail at once when locked) is a value of its own, not "unset"; 1234 is neither SQLite's
    # default (5000) nor the lock's timeout.
    sqlite_conn.connection.driver_connection.execute(f"PRAGMA busy_timeout = {callers}")
    leave_sqlite_lock(ending, sqlite_conn, sqlite_url, monkeypatch)
    assert busy_timeout(sqlite_conn) == callers


@pytest.mark.parametrize("ending", SQLITE_ENDINGS)
def test_sqlite_lock_leaves_no_transaction_of_its_own_and_the_connection_usable(
    ending: str, sqlite_conn: sa.Connection, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    leave_sqlite_lock(ending, sqlite_conn, sqlite_url, monkeypatch)
    assert not sqlite_conn.in_transaction()
    assert not sqlite_conn.connection.driver_connection.in_transaction
    assert taken_elsewhere(sqlite_url)  # nothing of the lock's still holds SQLite's write lock
    # It autobegins again: what it writes next is in a transaction, and a rollback undoes it.
    sqlite_conn.execute(sa.text("INSERT INTO mine VALUES (2)"))
    assert sqlite_conn.in_transaction()
    sqlite_conn.rollback()
    assert sqlite_conn.execute(sa.text("SELECT count(*) FROM mine WHERE x = 2")).scalar() == 0
    sqlite_conn.rollback()


# -- commits the report did not expect: a migration's own COMMIT ---------------------------------

COMMITS_MIDWAY = """\
op.create_table("a", sa.Column("id", sa.Integer, primary_key=True))
op.execute("INSERT INTO a (id) VALUES (1)")
op.execute("COMMIT")
op.execute("INSERT INTO a (id) VALUES (2)")"""
FAILS_AFTER_B = """\
op.create_table("b", sa.Column("id", sa.Integer, primary_key=True))
op.execute("INSERT INTO b (id) VALUES (1)")
op.execute("SELECT * FROM no_such_table")"""


def held(url: str) -> dict[str, Any]:
    """What the database really holds: tables a and b with their row counts, and alembic_version."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            rows = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in sorted(tables & {"a", "b"})}
            version = (
                [v for (v,) in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]
                if "alembic_version" in tables else []
            )
        return {"rows": rows, "version": version}
    finally:
        engine.dispose()


def test_a_migrations_own_commit_is_reported_as_committed(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    project = nbmigrate.Project()
    project.init("migrations")
    project.connect(db_url)
    write_revision(project, "0001", COMMITS_MIDWAY)
    write_revision(project, "0002", FAILS_AFTER_B)

    with pytest.raises(nbmigrate.RiskyMigration, match="NBM004 transaction-nesting: COMMIT inside"):
        project.upgrade("head")  # the lint sees the COMMIT coming
    with pytest.raises(nbmigrate.MigrationFailed) as caught:
        project.upgrade("head", accept_risk=True)
    report = caught.value.report
    summary = str(caught.value)

    assert not report.rolled_back and "nothing was applied" not in summary
    kind = sa.make_url(db_url).get_backend_name()
    if kind == "postgresql":
        # The COMMIT kept what 0001 ran before it; psycopg began a new transaction after it,
        # which the failure rolled back with the rest of 0001 and its alembic_version row.
        assert held(db_url) == {"rows": {"a": 1}, "version": []}
        assert report.completed == [] and report.heads_after == () and report.partial_sql == []
        committed = [w for w in report.warnings if w.startswith("Statements of 0001 that were committed")]
        assert len(committed) == 1 and committed[0] in summary
        kept, _, undone = committed[0].partition(". Its other statements were rolled back with the failure: ")
        assert kept.endswith("INSERT INTO a (id) VALUES (1)") and "CREATE TABLE a" in kept and "COMMIT" not in kept
        assert undone.startswith("INSERT INTO a (id) VALUES (2); INSERT INTO alembic_version (version_num) VALUES ('0001')")
        assert "Statements of 0002 that ran but were rolled back with the failure: " in " ".join(report.warnings)
    elif kind == "sqlite":
        # After the COMMIT, pysqlite (whose transactions nbmigrate manages) runs every statement
        # in autocommit: all of 0001 and its alembic_version row stayed, and 0002's two statements.
        assert held(db_url) == {"rows": {"a": 2, "b": 1}, "version": ["0001"]}
        assert [s.revision for s in report.completed] == ["0001"] and report.heads_after == ("0001",)
        assert [s.split("(")[0].strip() for s in report.partial_sql] == ["CREATE TABLE b", "INSERT INTO b"]
        assert "Completed revisions: 0001. alembic_version now says: 0001." in summary
    else:  # MySQL/MariaDB: CREATE TABLE b committed 0001's last INSERT and its alembic_version row
        assert held(db_url) == {"rows": {"a": 2, "b": 0}, "version": ["0001"]}
        assert [s.revision for s in report.completed] == ["0001"] and report.heads_after == ("0001",)
        assert [s.split("(")[0].strip() for s in report.partial_sql] == ["CREATE TABLE b"]
