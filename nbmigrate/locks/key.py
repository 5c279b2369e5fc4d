"""The version table a migration lock stands for, as the database resolves it (:func:`lock_key`).

How each database resolves a missing schema and compares names: see :mod:`nbmigrate.locks`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class LockKey:
    """The version table a migration lock stands for, named as the database resolves it.

    ``database`` is PostgreSQL's ``current_database()``, MySQL's database (the table's schema)
    or the SQLite file's absolute path; ``schema`` is where the table is (or would be created),
    see :mod:`nbmigrate.locks`. ``name`` is what the lock is taken on.
    """

    dialect: str
    database: str
    schema: str
    table: str
    name: str


def lock_key(conn: Connection, version_table: str = "alembic_version", schema: str | None = None) -> LockKey:
    """The :class:`LockKey` of ``version_table`` in ``schema`` (``None``: the connection's default).

    nbmigrate's runs and nbmigrate's ``env.py`` under the ``alembic`` command line both lock
    through this, so one table is one lock however each configuration names it. Nothing of
    the caller's transaction is committed; outside one, none is left open.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        database, current, found = _row_of(
            conn,
            "SELECT current_database(), current_schema(), (SELECT n.nspname FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = to_regclass(quote_ident(CAST(:table AS text))))",
            table=version_table,
        )
        resolved = schema or found or current or ""
        return LockKey(dialect, database, resolved, version_table, f"{database}.{resolved}.{version_table}")
    if dialect in ("mysql", "mariadb"):
        database, lower = _row_of(conn, "SELECT DATABASE(), @@lower_case_table_names")
        resolved, table = schema or database or "", version_table
        if int(lower or 0):
            resolved, table = resolved.lower(), table.lower()
        return LockKey("mysql", resolved, resolved, table, f"{resolved}.{table}")
    if dialect == "sqlite":
        resolved = (schema or "main").lower()
        path = _sqlite_file(conn, resolved)
        # An in-memory or temporary database is private to its connection.
        database = os.path.realpath(path) if path else f":memory:{id(conn.connection.driver_connection)}"
        return LockKey(dialect, database, resolved, version_table.lower(), database)
    return LockKey(dialect, "", schema or "", version_table, f"{schema + '.' if schema else ''}{version_table}")


def _row_of(conn: Connection, sql: str, **params: Any) -> Any:
    """One row of a query, without leaving a transaction of its own open."""
    from sqlalchemy import text

    began = not conn.in_transaction()
    try:
        return conn.execute(text(sql), params).one()
    finally:
        if began and conn.in_transaction():
            conn.rollback()


def _sqlite_file(conn: Connection, schema: str) -> str:
    """The file of an SQLite connection's ``schema`` ('' when in memory), read past SQLAlchemy."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute("PRAGMA database_list")
        return next((file or "" for _, name, file in cursor.fetchall() if name.lower() == schema), "")
    finally:
        cursor.close()
