"""Failure reports say exactly what failed and what the database kept, checked against the database.

SQLite (made transactional) and PostgreSQL roll a failed run back completely. MariaDB/MySQL keeps
each DDL statement, and commits what ran before it; PostgreSQL keeps what an ``autocommit_block``
ran and what was committed before it. The report lists the revisions completed, the statements
of the failed one that remain and those rolled back, and what ``alembic_version`` says, and the
real database is read to confirm every claim. An interrupted run (KeyboardInterrupt in the
worker) is reported the same way.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import nbmigrate
from support import write_revision
from nbmigrate.errors import MigrationFailed

CREATE_A = 'op.create_table("a", sa.Column("id", sa.Integer, primary_key=True))\nop.execute("INSERT INTO a (id) VALUES (1)")'
CREATE_B = 'op.create_table("b", sa.Column("id", sa.Integer, primary_key=True))\nop.execute("INSERT INTO b (id) VALUES (1)")'
FAIL = 'op.execute("SELECT * FROM no_such_table")'


def project_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, *revisions: str) -> nbmigrate.Project:
    monkeypatch.chdir(tmp_path)
    project = nbmigrate.Project()
    project.init("migrations")
    project.connect(url)
    for n, upgrade in enumerate(revisions, 1):
        write_revision(project, f"{n:04d}", upgrade)
    return project


def state(url: str) -> dict[str, Any]:
    """What the database really holds: its tables, their row counts, and alembic_version."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            rows = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in sorted(tables & {"a", "b", "c"})}
            version = (
                sorted(v for (v,) in conn.execute(sa.text("SELECT version_num FROM alembic_version")))
                if "alembic_version" in tables else []
            )
        return {"rows": rows, "version": version}
    finally:
        engine.dispose()


def fails(project: nbmigrate.Project, target: str = "head") -> Any:
    with pytest.raises(MigrationFailed) as caught:
        project.upgrade(target)
    return caught.value.report


# -- databases with transactional DDL: nothing is left --------------------------------------------


@pytest.mark.parametrize("given", ["engine", "connection"])
def test_a_connected_sqlite_engine_or_connection_rolls_back_too(
    given: str, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Engine or Connection of the user's, with pysqlite's own transaction handling."""
    engine = sa.create_engine(sqlite_url)
    project = project_with(tmp_path, monkeypatch, "sqlite://", CREATE_A, CREATE_B + "\n" + FAIL)
    conn = engine.connect() if given == "connection" else None
    project.connect(conn if conn is not None else engine)
    report = fails(project)
    assert report.rolled_back and report.heads_after == () and report.transactional_ddl
    assert state(sqlite_url) == {"rows": {}, "version": []}
    if conn is not None:  # the user's connection is handed back with its own settings
        assert conn.connection.driver_connection.isolation_level == "" and not conn.in_transaction()
        conn.close()
    engine.dispose()


def test_a_connected_connection_keeps_its_transaction(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE notes (x INTEGER)"))
    project = project_with(tmp_path, monkeypatch, "sqlite://", CREATE_A)
    conn = engine.connect()
    conn.execute(sa.text("INSERT INTO notes VALUES (1)"))
    assert project.connect(conn).heads == ()
    with pytest.raises(nbmigrate.BadArguments, match="has a transaction in progress: commit or roll it back first"):
        project.upgrade("head")
    conn.commit()  # the user's insert survived nbmigrate's reads
    assert state(sqlite_url)["version"] == [] and project.upgrade("head").heads_after == ("0001",)
    with engine.connect() as other:
        assert other.execute(sa.text("SELECT COUNT(*) FROM notes")).scalar() == 1
    conn.close()
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_failure_rolls_back_everything(kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = request.getfixturevalue("sqlite_url" if kind == "sqlite" else "pg_url")
    project = project_with(tmp_path, monkeypatch, url, CREATE_A, CREATE_B + "\n" + FAIL)

    report = fails(project)

    assert state(url) == {"rows": {}, "version": []}
    assert report.rolled_back and report.heads_after == () and report.completed == [] and report.partial_sql == []
    assert (report.revision, report.message) == ("0002", "rev 0002")
    assert report.statement == "SELECT * FROM no_such_table"
    assert "no_such_table" in report.error
    lines = report.summary().splitlines()
    assert lines[0].startswith("upgrade head failed in revision 0002 (rev 0002): ")
    assert lines[1] == "Statement: SELECT * FROM no_such_table"
    assert lines[2].startswith("Rolled back: the database is still at base; nothing was applied.")


# -- MariaDB/MySQL: DDL stays, and commits what ran before it ---------------------------------------


def test_mysql_failure_lists_what_remains_and_what_was_rolled_back(
    mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_with(tmp_path, monkeypatch, mysql_url, CREATE_A, CREATE_B + "\n" + FAIL)

    report = fails(project)

    # 0001 completed; of 0002, CREATE TABLE b stayed, the INSERT after it was rolled back.
    assert state(mysql_url) == {"rows": {"a": 1, "b": 0}, "version": ["0001"]}
    assert not report.rolled_back
    assert [s.revision for s in report.completed] == ["0001"]
    assert report.heads_after == ("0001",)
    assert [s.split("(")[0].strip() for s in report.partial_sql] == ["CREATE TABLE b"]
    assert report.warnings[0] == (
        "Statements of 0002 that ran but were rolled back with the failure: INSERT INTO b (id) VALUES (1)"
    )
    summary = report.summary()
    assert "Completed revisions: 0001. alembic_version now says: 0001." in summary
    assert "Statements of 0002 that ran before the failure and remain: CREATE TABLE b" in summary
    assert "INSERT INTO b" not in summary.split("remain:")[1]
    assert "Next:" in summary


def test_mysql_dml_before_failing_ddl_is_committed_by_it(
    mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MySQL commits the open transaction before a DDL statement runs, even one that then fails."""
    project = project_with(
        tmp_path, monkeypatch, mysql_url,
        CREATE_A,
        'op.execute("INSERT INTO a (id) VALUES (2)")\nop.create_table("a", sa.Column("id", sa.Integer))',
    )
    report = fails(project)
    assert state(mysql_url) == {"rows": {"a": 2}, "version": ["0001"]}
    assert report.partial_sql == ["INSERT INTO a (id) VALUES (2)"]
    assert report.statement.strip().startswith("CREATE TABLE a")


def test_mysql_failure_in_the_first_statement_is_a_clean_roll_back(
    mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_with(tmp_path, monkeypatch, mysql_url, FAIL)
    report = fails(project)
    assert state(mysql_url) == {"rows": {}, "version": []}
    assert report.rolled_back and report.summary().splitlines()[-1].startswith("Rolled back: the database is still at base")


# -- PostgreSQL autocommit blocks ----------------------------------------------------------------


def test_postgresql_autocommit_block_leaves_a_partial_state(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    second = "\n".join([
        'op.execute("INSERT INTO a (id) VALUES (2)")',
        "with op.get_context().autocommit_block():",
        '    op.execute("CREATE INDEX CONCURRENTLY ix_a_id ON a (id)")',
        'op.execute("INSERT INTO a (id) VALUES (3)")',
        FAIL,
    ])
    project = project_with(tmp_path, monkeypatch, pg_url, CREATE_A, second)

    report = fails(project)

    # Entering the block committed 0001 and the first INSERT; the index stayed; the last INSERT
    # was rolled back with the failure.
    assert state(pg_url) == {"rows": {"a": 2}, "version": ["0001"]}
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    assert [ix["name"] for ix in sa.inspect(engine).get_indexes("a")] == ["ix_a_id"]
    engine.dispose()
    assert report.transactional_ddl is True and not report.rolled_back
    assert [s.revision for s in report.completed] == ["0001"]
    assert report.heads_after == ("0001",)
    assert report.partial_sql == ["INSERT INTO a (id) VALUES (2)", "CREATE INDEX CONCURRENTLY ix_a_id ON a (id)"]
    assert report.warnings[0] == (
        "Statements of 0002 that ran but were rolled back with the failure: INSERT INTO a (id) VALUES (3)"
    )
    assert report.warnings[1].startswith("postgresql rolled back the failure's open transaction")
    assert "alembic_version now says: 0001" in report.summary()


# -- interrupted runs ----------------------------------------------------------------------------


def test_keyboard_interrupt_in_a_migration_is_reported_like_a_failure(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_with(tmp_path, monkeypatch, db_url, CREATE_A, CREATE_B + "\nif not op.get_context().as_sql: raise KeyboardInterrupt  # a Ctrl-C while it runs, not while it is linted")

    report = fails(project)

    assert report.interrupted and report.revision == "0002"
    assert report.summary().startswith("upgrade head was interrupted in revision 0002 (rev 0002): interrupted (KeyboardInterrupt)")
    if db_url.startswith("mysql"):
        assert state(db_url) == {"rows": {"a": 1, "b": 0}, "version": ["0001"]}
        assert [s.revision for s in report.completed] == ["0001"] and report.heads_after == ("0001",)
        assert [s.split("(")[0].strip() for s in report.partial_sql] == ["CREATE TABLE b"]
    else:
        assert state(db_url) == {"rows": {}, "version": []}
        assert report.rolled_back and report.heads_after == ()
    # The kernel is fine and the lock was released: the fixed revision applies.
    write_revision(project, "0003", "pass")
    (Path(project.script().get_revision("0002").path)).write_text(
        Path(project.script().get_revision("0002").path).read_text().replace("raise KeyboardInterrupt", "pass", 1)
    )
    if db_url.startswith("mysql"):
        project.stamp("0001")  # nothing to undo by hand here but table b; drop it first
        with sa.create_engine(db_url, poolclass=sa.pool.NullPool).begin() as conn:
            conn.execute(sa.text("DROP TABLE b"))
    assert project.upgrade("head").heads_after == ("0003",)


@pytest.fixture
def kernel_sigint() -> Iterator[None]:
    """SIGINT raising ``KeyboardInterrupt``, as in a kernel, also when pytest was started with it ignored.

    A shell starts its background jobs with SIGINT ignored, and Python then leaves it so; there
    ``_thread.interrupt_main()`` does nothing, and no kernel is like that.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_interrupting_the_kernel_stops_the_worker_at_a_statement_boundary(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel_sigint: None
) -> None:
    """Ctrl-C in the kernel (here ``_thread.interrupt_main`` from the migration) reaches the worker."""
    interrupt = "\n".join([
        "import _thread, time",
        "_thread.interrupt_main()",
        "for _ in range(500):",
        "    time.sleep(0.01)",
        'op.execute("INSERT INTO a (id) VALUES (99)")',
    ])
    project = project_with(tmp_path, monkeypatch, db_url, CREATE_A, interrupt)

    report = fails(project)

    assert report.interrupted and report.revision == "0002" and report.statement is None
    assert "interrupted (KeyboardInterrupt)" in report.summary()
    if db_url.startswith("mysql"):
        assert state(db_url) == {"rows": {"a": 1}, "version": ["0001"]}
        assert [s.revision for s in report.completed] == ["0001"] and report.partial_sql == []
    else:
        assert state(db_url) == {"rows": {}, "version": []}
        assert report.rolled_back


def test_an_interrupt_while_the_revisions_are_linted_runs_nothing(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while ``upgrade`` renders the revisions offline for its lint: one message, nothing applied."""
    project = project_with(tmp_path, monkeypatch, db_url, CREATE_A, "if op.get_context().as_sql: raise KeyboardInterrupt")

    with pytest.raises(nbmigrate.Interrupted) as caught:
        project.upgrade("head")

    assert str(caught.value) == (
        "Interrupted while the revisions were checked (rendering revision 0002 offline); nothing ran on the database."
    )
    assert state(db_url) == {"rows": {}, "version": []}
    with pytest.raises(nbmigrate.Interrupted):  # --accept-risk still shows the findings: it lints too
        project.upgrade("head", accept_risk=True)
    assert state(db_url) == {"rows": {}, "version": []}


def test_interrupted_run_through_the_magic_is_one_line(
    shell: Any, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.core.error import UsageError

    project_with(tmp_path, monkeypatch, sqlite_url, CREATE_A + "\nif not op.get_context().as_sql: raise KeyboardInterrupt  # a Ctrl-C while it runs, not while it is linted")
    ip = shell
    magics = ip.magics_manager.registry["MigrateMagics"]
    magics.forget_projects()
    try:
        ip.run_line_magic("migrate", f"connect {sqlite_url}")
        with pytest.raises(UsageError) as caught:
            ip.run_line_magic("migrate", "upgrade head")
        assert type(caught.value) is UsageError
        assert str(caught.value).startswith("upgrade head was interrupted in revision 0001")
        assert "Rolled back: the database is still at base" in str(caught.value)
    finally:
        magics.forget_projects()




# -- the journal's reasoning, without a database ----------------------------------------------


def test_journal_keeps_what_was_committed() -> None:
    from nbmigrate.locks import Journal, Statement

    def ran(sql: str, autocommit: bool = False, ok: bool = True, code: int | None = None) -> Statement:
        return Statement(sql, autocommit, ran=ok, error_code=code)

    pg = Journal("postgresql", [ran("INSERT 1"), None, ran("CREATE INDEX", autocommit=True), ran("INSERT 2"), ran("BAD", ok=False)])
    pg.statements = [e for e in pg.events if e is not None]
    assert pg.kept() == [True, True, False, False]

    mysql = Journal("mysql", [ran("INSERT 1"), ran("CREATE TABLE x (id int)"), ran("INSERT 2"), ran("SELECT bad", ok=False)])
    mysql.statements = list(mysql.events)  # type: ignore[arg-type]
    assert mysql.kept() == [True, True, False, False]

    # A DDL statement MySQL cannot parse (1064) never commits; one that fails later does.
    parse = Journal("mysql", [ran("INSERT 1"), ran("CREATE TABLEE x", ok=False, code=1064)])
    parse.statements = list(parse.events)  # type: ignore[arg-type]
    assert parse.kept() == [False, False]
    exists = Journal("mysql", [ran("INSERT 1"), ran("CREATE TABLE a (id int)", ok=False, code=1050)])
    exists.statements = list(exists.events)  # type: ignore[arg-type]
    assert exists.kept() == [True, False]
    temporary = Journal("mysql", [ran("INSERT 1"), ran("CREATE TEMPORARY TABLE t (id int)"), ran("BAD", ok=False)])
    temporary.statements = list(temporary.events)  # type: ignore[arg-type]
    assert temporary.kept() == [False, False, False]
