"""Reading a database into a :class:`~.model.Snapshot`: :func:`snapshot`.

One round of SQLAlchemy's bulk ``Inspector.get_multi_*`` calls for the whole schema (on SQLite
answered from bulk PRAGMA queries, :mod:`.sqlite`), each table normalised (:mod:`.normalise`), then
rows and per-column non-null counts in a few ``UNION ALL`` queries, and the version table's rows
(:mod:`.bookkeeping`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.reflection import Inspector

from .bookkeeping import CHECKSUM_TABLE, _Reflected, _same_schema, _schema_name, _version_rows
from .model import Snapshot, Table
from .normalise import _build_table
from .sqlite import _sqlite_bulk_reflection

Bind: TypeAlias = "str | sa.URL | Engine | Connection"


@contextmanager
def _connection(bind: Bind) -> Iterator[Connection]:
    """A connection for ``bind``; a given Connection is used as is and never committed or closed."""
    if isinstance(bind, Connection):
        started = bind.in_transaction()
        try:
            yield bind
        finally:
            if not started and bind.in_transaction():
                # Reflection auto-began a transaction the caller did not have: end it (it only
                # read) so the connection is left as it was found.
                bind.rollback()
        return
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            yield conn
        return
    if isinstance(bind, (str, sa.URL)):
        engine = sa.create_engine(bind, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()
        return
    raise TypeError(f"snapshot() needs a URL, Engine or Connection, not {type(bind).__name__}")


def _multi(insp: Inspector, method: str, names: list[str] | None, schema: str | None) -> dict[str, Any]:
    """Call one bulk ``get_multi_*`` method and key its result by table name."""
    try:
        result = getattr(insp, method)(schema=schema, filter_names=names)
    except NotImplementedError:
        # e.g. SQLite has no table comments.
        return {}
    return {key[1]: value for key, value in result.items()}


# Tables counted per statement: one round trip for many tables (a query per table cost more than
# the counting on small tables), well below SQLite's 500 terms of a compound SELECT.
_COUNT_CHUNK = 100


def _counted(conn: Connection, tables: list[Table], schema: str | None) -> list[Table]:
    """Row counts and per-column non-null counts of ``tables``, a ``UNION ALL`` of one row per table."""
    # SQL text quoted by the dialect's own preparer, run the way SQLAlchemy runs compiled SQL
    # (with a parameter collection, so "%" doubled for pyformat drivers comes out single).
    # Compiling an expression per table cost several times the queries themselves.
    preparer = conn.dialect.identifier_preparer
    prefix = f"{preparer.quote_schema(schema)}." if schema is not None else ""
    done: list[Table] = []
    for start in range(0, len(tables), _COUNT_CHUNK):
        chunk = tables[start : start + _COUNT_CHUNK]
        width = max(len(t.columns) for t in chunk)
        selects = []
        for i, table in enumerate(chunk):
            counts = [f"COUNT({preparer.quote(c.name)})" for c in table.columns] + ["0"] * (width - len(table.columns))
            selects.append(f"SELECT {i}, COUNT(*){''.join(', ' + c for c in counts)} FROM {prefix}{preparer.quote(table.name)}")
        rows = {row[0]: row[1:] for row in conn.exec_driver_sql(" UNION ALL ".join(selects)).all()}
        for i, table in enumerate(chunk):
            total, *non_null = rows[i]
            columns = tuple(replace(c, non_null=int(n)) for c, n in zip(table.columns, non_null))
            done.append(replace(table, columns=columns, row_count=int(total)))
    return done


def snapshot(
    bind: Bind,
    *,
    schema: str | None = None,
    tables: Iterable[str] | None = None,
    row_counts: bool = True,
    version_table: str = "alembic_version",
    version_table_schema: str | None | _Reflected = _Reflected.SCHEMA,
) -> Snapshot:
    """Reflect the tables of a database (URL, Engine or Connection) into a :class:`Snapshot`.

    ``version_table`` in ``version_table_schema`` (None: the default schema; not given: the
    reflected one) is the migration project's own table: it is left out of the tables when it
    lies in the reflected schema, and its rows are read from its own schema either way.
    """
    if version_table_schema is _Reflected.SCHEMA:
        version_table_schema = schema
    requested = None if tables is None else tuple(dict.fromkeys(tables))
    with _connection(bind) as conn:
        insp = sa.inspect(conn)
        dialect = conn.dialect
        if schema is not None and schema not in (known := insp.get_schema_names()):
            from ..errors import BadArguments

            raise BadArguments(f"The database has no schema {schema!r}; its schemas: {', '.join(sorted(known))}.")
        available = insp.get_table_names(schema=schema)
        default_schema = insp.default_schema_name
        in_reflected = _same_schema(schema, version_table_schema, default_schema)
        # Migration bookkeeping is not part of the user's schema: the version table is shown
        # apart, and nbmigrate's own checksum table (see nbmigrate.checksums) not at all. The
        # checksum table is hidden in any schema: it follows the project's options, which an
        # env.py naming its own version table need not match.
        hidden = {CHECKSUM_TABLE} | ({version_table} if in_reflected else set())
        if requested is None:
            names = sorted(n for n in available if n not in hidden)
        else:
            present = set(available)
            # Names that do not exist are left out, so a before/after pair can show a table appear.
            names = sorted(n for n in requested if n in present and n not in hidden)
        # Bulk calls: unfiltered for the whole schema (one query per kind on PostgreSQL); filtered
        # with ``tables=`` so the cost stays bounded. Like MetaData.reflect, a filter covering most
        # of a large schema is dropped because the unfiltered query is faster.
        filter_names: list[str] | None = None
        if requested is not None and not (len(names) > 100 and len(names) > 0.5 * len(available)):
            filter_names = names
        info: dict[str, dict[str, Any]] = {}
        if names:
            with _sqlite_bulk_reflection(conn, schema):
                for method in (
                    "get_multi_columns",
                    "get_multi_pk_constraint",
                    "get_multi_foreign_keys",
                    "get_multi_indexes",
                    "get_multi_unique_constraints",
                    "get_multi_check_constraints",
                    "get_multi_table_comment",
                ):
                    info[method] = _multi(insp, method, filter_names, schema)
        built: dict[str, Table] = {}
        for name in names:
            table = _build_table(
                name,
                dialect,
                schema or default_schema,
                default_schema,
                info["get_multi_columns"].get(name, []),
                info["get_multi_pk_constraint"].get(name),
                info["get_multi_foreign_keys"].get(name, []),
                info["get_multi_indexes"].get(name, []),
                info["get_multi_unique_constraints"].get(name, []),
                info["get_multi_check_constraints"].get(name, []),
                info["get_multi_table_comment"].get(name),
            )
            built[name] = table
        if row_counts and built:
            built = {t.name: t for t in _counted(conn, list(built.values()), schema)}
        exists = version_table in available if in_reflected else insp.has_table(version_table, version_table_schema)
        versions = _version_rows(conn, version_table, version_table_schema) if exists else None
    return Snapshot(
        dialect=dialect.name,
        schema=schema,
        tables=built,
        version_table=versions,
        version_table_name=version_table,
        version_table_schema=_schema_name(version_table_schema, default_schema),
        default_schema=default_schema,
        requested=requested,
        row_counts=row_counts,
    )
