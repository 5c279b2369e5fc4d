"""SQLite specifics of reading a schema: SQLAlchemy's per-table PRAGMA reads served from a few bulk queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Connection

from .._internals import can_serve_sqlite_reflection, serving_sqlite_reflection

# The PRAGMAs SQLAlchemy's SQLite dialect runs once or twice per table (``PRAGMA main.x(t)``, then
# ``PRAGMA temp.x(t)`` when that is empty); each has a table-valued twin (``pragma_x(t)``).
_SQLITE_TABLE_PRAGMAS = ("table_info", "table_xinfo", "index_list", "foreign_key_list")


@contextmanager
def _sqlite_bulk_reflection(conn: Connection, schema: str | None) -> Iterator[None]:
    """Serve the per-table PRAGMA reads of SQLAlchemy's SQLite reflection from a few bulk queries.

    SQLAlchemy reflects an SQLite table with about a dozen statements (columns, index list and
    each index, foreign keys, the ``CREATE TABLE`` text, and a ``temp`` retry for every empty
    answer); for 1,000 tables that is 13,000 round trips through the execution layer, most of a
    snapshot's time. Here each PRAGMA is read once for every table (``pragma_x(m.name)`` joined to
    ``sqlite_master``) and, for this connection only, SQLAlchemy's own reads of a table's PRAGMAs
    answer from those rows (see :func:`nbmigrate._internals.serving_sqlite_reflection`): the same
    rows its PRAGMAs return, parsed by its own code, so the snapshot is unchanged. Only for the ``main`` schema without temporary tables
    (SQLAlchemy's ``temp`` retry would see them); on any error, SQLAlchemy's own path is used.
    """
    dialect = conn.dialect
    if dialect.name != "sqlite" or schema is not None or not can_serve_sqlite_reflection(dialect):
        yield
        return
    try:
        if conn.exec_driver_sql("SELECT count(*) FROM sqlite_temp_master").scalar():
            raise LookupError("temporary tables")
        master = conn.exec_driver_sql("SELECT type, name, sql FROM sqlite_master").all()
        tables = [name for kind, name, _ in master if kind == "table"]
        served: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        for pragma in _SQLITE_TABLE_PRAGMAS:
            for name in tables:
                served[(pragma, name)] = []
            for row in conn.exec_driver_sql(
                f"SELECT m.name, p.* FROM sqlite_master AS m, pragma_{pragma}(m.name) AS p WHERE m.type = 'table'"
            ):
                served[(pragma, row[0])].append(tuple(row)[1:])
        for kind, name, _ in master:
            if kind == "index":
                served[("index_info", name)] = []
        for row in conn.exec_driver_sql(
            "SELECT m.name, p.* FROM sqlite_master AS m, pragma_index_info(m.name) AS p WHERE m.type = 'index'"
        ):
            served[("index_info", row[0])].append(tuple(row)[1:])
        table_sql = {name: sql for kind, name, sql in master if kind in ("table", "view")}
    except Exception:  # e.g. temporary tables, or a virtual table without its module: SQLAlchemy's way
        yield
        return

    with serving_sqlite_reflection(dialect, conn, served, table_sql):
        yield
