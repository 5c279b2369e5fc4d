"""Ctrl-C during a run: whenever it lands, nothing is left behind and the report says where the database is.

A real SIGINT is sent to the main thread (as a kernel's interrupt does) at a random moment of an
upgrade, in bounded loops on every database. After each trial: no patch of the run is left in
place (``sys.stdout``, ``logging.config.fileConfig``, SQLAlchemy listeners), the kernel's lock and
the database's migration lock are free, and ``alembic_version`` and the tables are exactly what
the result or the failure report says.
"""

from __future__ import annotations

import contextlib
import logging.config
import random
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
import sqlalchemy as sa

import nbmigrate
from nbmigrate import _runtime
from nbmigrate.errors import MigrationFailed, NbmigrateError
from nbmigrate.locks import database_lock
from support import write_revision

TRIALS = 20
STEPS = 4
# A statement that takes a little while on each database, so that interrupts land inside steps.
PAUSE = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000) SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(0.02)",
    "mysql": "SELECT SLEEP(0.02)",
}
LONG = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(30)",
    "mysql": "SELECT SLEEP(30)",
}


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, *upgrades: str) -> nbmigrate.Project:
    monkeypatch.chdir(tmp_path)
    project = nbmigrate.Project()
    project.init("migrations")
    project.connect(url)
    project.lock_timeout = 2
    for n, upgrade in enumerate(upgrades, 1):
        write_revision(project, f"{n:04d}", upgrade, f'op.drop_table("t{n}")')
    return project


def _steps(dialect: str) -> list[str]:
    return [
        f'op.create_table("t{n}", sa.Column("id", sa.Integer, primary_key=True))\n'
        f'op.execute("{PAUSE[dialect]}")\n'
        f'op.execute("INSERT INTO t{n} (id) VALUES (1)")'
        for n in range(1, STEPS + 1)
    ]


def _database(url: str) -> tuple[list[str], set[str]]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            version = sorted(v for (v,) in conn.execute(sa.text("SELECT version_num FROM alembic_version"))) if "alembic_version" in tables else []
        return version, {t for t in tables if t.startswith("t")}
    finally:
        engine.dispose()


def _reset(project: nbmigrate.Project, url: str) -> None:
    """Back to base, and on MySQL/MariaDB without the tables a stopped revision kept (as reported)."""
    project.downgrade("base", schema=False)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        for table in _database(url)[1]:
            conn.execute(sa.text(f"DROP TABLE {table}"))
    engine.dispose()


def _listeners() -> tuple[int, int]:
    """How many listeners every engine has (the run adds its own to Engine while it runs)."""
    dispatch = sa.create_engine("sqlite://").dispatch
    return (
        len(list(dispatch.before_cursor_execute)),
        len(list(dispatch.after_cursor_execute)),
    )


def _assert_nothing_left(url: str, listeners: tuple[int, int], stdout: Any, file_config: Any) -> None:
    assert sys.stdout is stdout
    assert logging.config.fileConfig is file_config
    assert _listeners() == listeners
    assert signal.getsignal(signal.SIGINT) is not None
    free = []
    other = threading.Thread(target=lambda: free.append(_runtime.idle()))  # the lock is re-entrant: ask elsewhere
    other.start()
    other.join()
    assert free == [True], "the kernel's lock is still held"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn, database_lock(conn, timeout=0):
            pass  # the database's migration lock is free
    finally:
        engine.dispose()


@contextlib.contextmanager
def _another_run_holds_the_lock(url: str) -> Iterator[None]:
    """The migration lock held by another connection: SQLite's write lock, a server's named lock."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        other = sqlite3.connect(parsed.database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.rollback()
            other.close()
        return
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as holder, database_lock(holder, timeout=0):
            yield
    finally:
        engine.dispose()


class _SigintLater:
    """Send SIGINT to the main thread after ``delay`` seconds; one landing outside the call is noted."""

    def __init__(self, delay: float) -> None:
        self.late: list[int] = []
        self.previous = signal.signal(signal.SIGINT, lambda *args: self.late.append(1))
        self.timer = threading.Timer(delay, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))

    def __enter__(self) -> _SigintLater:
        self.timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.timer.join()
        time.sleep(0.01)  # a signal sent just now is handled before the handler goes back
        signal.signal(signal.SIGINT, self.previous)


def _check_outcome(project: nbmigrate.Project, url: str, outcome: Any) -> None:
    """What the result or report says is what the database holds."""
    version, tables = _database(url)
    if isinstance(outcome, MigrationFailed):
        report = outcome.report
        assert report.interrupted, report.summary()
        assert list(report.heads_after or ()) == version, report.summary()
        if report.rolled_back:
            assert tuple(version) == tuple(report.heads_before)
    elif isinstance(outcome, NbmigrateError):
        assert "Interrupted before anything ran" in str(outcome), outcome
        assert version == []
    else:
        assert list(outcome.heads_after) == version
    reached = int(version[0]) if version else 0
    expected = {f"t{n}" for n in range(1, reached + 1)}
    if isinstance(outcome, MigrationFailed) and not outcome.report.transactional_ddl:
        # MySQL/MariaDB keep each DDL statement: the report lists those of the stopped revision.
        expected |= {f"t{reached + 1}" for sql in outcome.report.partial_sql if f"CREATE TABLE t{reached + 1} " in sql}
    assert tables == expected, (version, tables, outcome)


def test_a_sigint_at_any_moment_of_an_upgrade_leaves_nothing_behind(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialect = sa.make_url(db_url).get_backend_name()
    project = _project(tmp_path, monkeypatch, db_url, *_steps(dialect))
    listeners, stdout, file_config = _listeners(), sys.stdout, logging.config.fileConfig
    started = time.perf_counter()
    project.upgrade("head", schema=False)
    duration = time.perf_counter() - started
    project.downgrade("base", schema=False)
    rng = random.Random(20261203)
    stopped = 0
    for _ in range(TRIALS):
        outcome: Any
        with _SigintLater(rng.uniform(0, duration)) as sigint:
            try:
                outcome = project.upgrade("head", schema=False)
            except NbmigrateError as exc:
                outcome = exc
        _assert_nothing_left(db_url, listeners, stdout, file_config)
        if not sigint.late:
            _check_outcome(project, db_url, outcome)
            stopped += not hasattr(outcome, "heads_after")
        _reset(project, db_url)  # and the next run is not blocked by anything left
    assert stopped, "no trial was interrupted mid-run"


def test_ctrl_c_while_progress_is_drawn_is_contained(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyboardInterrupt raised in the calling thread while it draws progress stops the run too."""
    dialect = sa.make_url(db_url).get_backend_name()
    project = _project(tmp_path, monkeypatch, db_url, *_steps(dialect))
    listeners, stdout, file_config = _listeners(), sys.stdout, logging.config.fileConfig

    def progress(n: int, total: int, line: str) -> None:
        if n == 2:
            raise KeyboardInterrupt

    with pytest.raises(MigrationFailed) as caught:
        project.upgrade("head", schema=False, progress=progress)
    _assert_nothing_left(db_url, listeners, stdout, file_config)
    _check_outcome(project, db_url, caught.value)
    assert caught.value.report.interrupted


def test_ctrl_c_cancels_a_long_statement(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dialect = sa.make_url(db_url).get_backend_name()
    project = _project(tmp_path, monkeypatch, db_url, f'op.create_table("t1", sa.Column("id", sa.Integer))\nop.execute("{LONG[dialect]}")')
    started = time.perf_counter()
    with _SigintLater(0.5), pytest.raises(MigrationFailed) as caught:
        project.upgrade("head", schema=False)
    assert time.perf_counter() - started < 10, "the statement ran on instead of being cancelled"
    report = caught.value.report
    assert report.interrupted and report.revision == "0001"
    expected = {"sqlite": "interrupted SQLite's running statement", "postgresql": "pg_cancel_backend", "mysql": "KILL QUERY"}
    assert any(expected[dialect] in warning for warning in report.warnings), report.warnings
    _check_outcome(project, db_url, caught.value)


def test_ctrl_c_while_waiting_for_the_lock_is_one_line(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shell: Any
) -> None:
    dialect = sa.make_url(db_url).get_backend_name()
    project = _project(tmp_path, monkeypatch, db_url, *_steps(dialect)[:1])
    project.lock_timeout = 20
    started = time.perf_counter()
    with _another_run_holds_the_lock(db_url):
        with _SigintLater(0.5), pytest.raises(NbmigrateError, match="Interrupted before anything ran"):
            project.upgrade("head", schema=False)
        shell.run_line_magic("migrate", f"connect {db_url}")
        shell.run_line_magic("config", "MigrateMagics.lock_timeout = 20")
        try:
            with _SigintLater(0.5):
                cell = shell.run_cell("%migrate upgrade head --no-schema")
        finally:
            shell.run_line_magic("config", "MigrateMagics.lock_timeout = 60")
        assert type(cell.error_in_exec) is UsageError, cell.error_in_exec  # one line, no traceback
        assert "Interrupted before anything ran" in str(cell.error_in_exec)
    assert time.perf_counter() - started < 10
    assert _database(db_url) == ([], set())
    project.upgrade("head", schema=False)  # and the lock is free again
    assert _database(db_url) == (["0001"], {"t1"})
