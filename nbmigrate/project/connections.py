"""What nbmigrate does to the connections it uses and lends.

SQLite runs DDL inside real transactions (:func:`transactional_sqlite` for an engine nbmigrate
makes, :func:`transactional_sqlite_connection` for a connection it was given), and a lent
connection answers ``connect()`` for an env.py of Alembic's older cookbook (:func:`connectable`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine


def transactional_sqlite(engine: Engine) -> None:
    """Make an SQLite engine run DDL inside real transactions (the pysqlite recipe).

    pysqlite commits on its own before DDL; with ``isolation_level=None`` it leaves transactions
    to us, and an explicit ``BEGIN`` makes a failed migration roll back completely.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkout")
    def _no_pysqlite_transactions(dbapi_connection: Any, *args: Any) -> None:
        # Also on every checkout: Alembic's autocommit_block() gives the connection back with the
        # level SQLAlchemy restores (pysqlite's implicit BEGIN again), and the pool keeps it.
        dbapi_connection.isolation_level = None

    event.listen(engine, "begin", _sqlite_begin)


def _sqlite_begin(conn: Connection) -> None:
    """The explicit ``BEGIN`` of a transactional SQLite connection."""
    begin = conn.info.get("nbmigrate.begin")  # under the migration lock: BEGIN IMMEDIATE (nbmigrate.locks)
    begin(conn) if begin is not None else conn.exec_driver_sql("BEGIN")


@contextlib.contextmanager
def transactional_sqlite_connection(conn: Connection) -> Iterator[None]:
    """:func:`transactional_sqlite` for one connection of an engine nbmigrate did not make.

    An Engine or Connection passed to ``connect`` keeps its own settings outside nbmigrate's
    work; while nbmigrate uses it, its SQLite connection runs DDL inside real transactions too.
    """
    from sqlalchemy import event

    driver = conn.connection.driver_connection if conn.dialect.name == "sqlite" and not conn.closed else None
    if driver is None or getattr(driver, "isolation_level", None) is None or conn.in_transaction():
        yield  # not SQLite, already transactional, or inside the caller's transaction: left as it is
        return

    saved = driver.isolation_level
    driver.isolation_level = None
    event.listen(conn, "begin", _sqlite_begin)
    try:
        yield
    finally:
        event.remove(conn, "begin", _sqlite_begin)
        if not conn.closed and not conn.invalidated and not conn.in_transaction():
            driver.isolation_level = saved




@contextlib.contextmanager
def connectable(conn: Connection) -> Iterator[None]:
    """While the block runs, ``conn.connect()`` gives ``conn`` itself, left open on exit.

    env.py files of Alembic's older cookbook take ``config.attributes["connection"]`` and call
    ``with connectable.connect() as connection:`` on it, as on an Engine: SQLAlchemy 1.x gave a
    Connection a ``connect()`` that returned a branch of it, SQLAlchemy 2 has none. With this,
    such an env.py runs on the connection nbmigrate lends, as the command line runs it on its own.
    The connection stays a real ``Connection`` (Alembic and ``inspect`` take it as one), and is
    handed back without the method.
    """
    if hasattr(conn, "connect"):  # a Connection that has one already (or this block, nested)
        yield
        return
    setattr(conn, "connect", lambda: contextlib.nullcontext(conn))  # noqa: B010 - an attribute Connection lacks
    try:
        yield
    finally:
        vars(conn).pop("connect", None)
