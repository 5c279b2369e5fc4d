"""Cancel the statement a migration's connection is running, from another thread (Ctrl-C).

Each database has its own way, and each is aimed at the one statement the run was executing
when Ctrl-C came, so that nothing else (the next statement, nbmigrate's own reads afterwards)
is ever cancelled instead:

- SQLite: ``sqlite3.Connection.interrupt()``, which pysqlite allows from any thread;
- PostgreSQL: ``pg_cancel_backend(pid)`` from a second connection, only while
  ``pg_stat_activity`` shows the backend running that statement;
- MariaDB: ``KILL QUERY ID`` of that statement's query id, from a second connection. A DDL
  statement is left to finish: MariaDB commits DDL as it goes, and a DDL statement killed half
  way may or may not have taken effect, which no report could then state exactly. MySQL has
  no way to kill one query by its id, so there the run stops after the running statement.

A cancelled statement fails with the database's own "canceled"/"interrupted" error and the run
stops as after any failure: rolled back where DDL is transactional, reported statement by
statement where it is not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .locks import commits_implicitly

Cancel = Callable[[str], str]


def canceller(conn: Connection) -> Cancel | None:
    """A function that cancels ``statement`` if ``conn`` is running it, and says what it did."""
    name = conn.dialect.name
    if name == "sqlite":
        interrupt = getattr(conn.connection.dbapi_connection, "interrupt", None)
        if interrupt is None:
            return None

        def sqlite_interrupt(statement: str) -> str:
            interrupt()
            return "interrupted SQLite's running statement"

        return sqlite_interrupt
    if name == "postgresql":
        pid = _scalar(conn, "SELECT pg_backend_pid()")
        return None if pid is None else _postgresql(conn.engine, pid)
    if name in ("mysql", "mariadb"):
        if not getattr(conn.dialect, "is_mariadb", False):
            return lambda statement: "waited for the running statement to finish (MySQL cannot cancel one statement exactly)"
        session = _scalar(conn, "SELECT CONNECTION_ID()")
        return None if session is None else _mariadb(conn.engine, session)
    return None


def _postgresql(engine: Any, pid: int) -> Cancel:
    def cancel(statement: str) -> str:
        with engine.connect() as other:
            done = other.execute(
                sa.text(
                    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                    "WHERE pid = :pid AND state = 'active' AND left(query, :n) = :start"
                ),
                {"pid": pid, "n": len(_start(statement)), "start": _start(statement)},
            ).scalar()
            other.rollback()
        if done:
            return "cancelled the running statement (pg_cancel_backend)"
        return "stopped the run before its next statement (the running one had finished)"

    return cancel


def _mariadb(engine: Any, session: int) -> Cancel:
    def cancel(statement: str) -> str:
        if commits_implicitly(statement):
            return "let the running DDL statement finish (MariaDB cannot undo DDL), then stopped the run"
        with engine.connect() as other:
            row = other.execute(
                sa.text("SELECT QUERY_ID, INFO FROM information_schema.PROCESSLIST WHERE ID = :id"), {"id": session}
            ).first()
            if row is None or not str(row[1] or "").startswith(_start(statement)):
                return "stopped the run before its next statement (the running one had finished)"
            other.execute(sa.text(f"KILL QUERY ID {int(row[0])}"))
        return "cancelled the running statement (KILL QUERY ID)"

    return cancel


def _start(statement: str) -> str:
    """The beginning of ``statement`` that the server shows as sent: up to its first parameter.

    Drivers send parameters their own way (psycopg as ``$1``, PyMySQL inlined), so only the text
    before the first one is compared; that tells a migration's statement from nbmigrate's reads.
    """
    cut = min((i for i in (statement.find(m) for m in ("%(", "%s", "?")) if i >= 0), default=len(statement))
    return statement[: min(cut, 200)]


def _scalar(conn: Connection, sql: str) -> Any:
    """One value read on ``conn``, leaving it outside a transaction if it was (Alembic begins its own)."""
    began = not conn.in_transaction()
    try:
        return conn.exec_driver_sql(sql).scalar()
    except sa.exc.DBAPIError:
        return None
    finally:
        if began and conn.in_transaction():
            conn.rollback()
