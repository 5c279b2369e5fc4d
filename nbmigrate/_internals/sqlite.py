"""SQLAlchemy's SQLite reflection served from one query: its per-table PRAGMA and table-SQL reads answered from rows read already."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from .versions import sqlalchemy_private


def can_serve_sqlite_reflection(dialect: Any) -> bool:
    """True when :func:`serving_sqlite_reflection` can answer this dialect's per-table PRAGMAs (and does not already)."""
    return (
        sqlalchemy_private(dialect, "_get_table_pragma")
        and sqlalchemy_private(dialect, "_get_table_sql")
        and "_get_table_pragma" not in vars(dialect)
    )


@contextlib.contextmanager
def serving_sqlite_reflection(
    dialect: Any, conn: Any, pragmas: Mapping[tuple[str, str], list[tuple[Any, ...]]], table_sql: Mapping[str, Any]
) -> Iterator[None]:
    """While inside, the SQLite dialect answers ``conn``'s PRAGMA and table-SQL reads from what was read already.

    SQLAlchemy's SQLite inspector reads each table with its own ``PRAGMA`` statements through
    ``SQLiteDialect._get_table_pragma`` and ``_get_table_sql`` (checked versions); those are
    wrapped on this dialect instance for the block. Anything not read beforehand (another
    connection, a schema) goes to SQLAlchemy's own. Elsewhere SQLAlchemy reads table by table.
    """
    if not can_serve_sqlite_reflection(dialect):
        yield
        return
    own_pragma = dialect._get_table_pragma
    own_sql = dialect._get_table_sql

    def table_pragma(connection: Any, pragma: str, table_name: str, schema: str | None = None) -> Any:
        rows = pragmas.get((pragma, table_name)) if connection is conn and schema is None else None
        return list(rows) if rows is not None else own_pragma(connection, pragma, table_name, schema=schema)

    def get_table_sql(connection: Any, table_name: str, schema: str | None = None, **kw: Any) -> Any:
        if connection is conn and schema is None and table_sql.get(table_name) is not None:
            return table_sql[table_name]
        return own_sql(connection, table_name, schema, **kw)

    dialect._get_table_pragma = table_pragma  # type: ignore[method-assign]
    dialect._get_table_sql = get_table_sql  # type: ignore[method-assign]
    try:
        yield
    finally:
        del dialect._get_table_pragma
        del dialect._get_table_sql
