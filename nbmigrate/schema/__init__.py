"""Snapshots of a database schema and the differences between two of them.

:func:`snapshot` reflects a database through SQLAlchemy's bulk ``Inspector.get_multi_*`` calls
(one round of queries for the whole schema, not one per table and kind) and normalises what each
dialect reports into plain frozen dataclasses: sorted names, strings instead of dialect objects,
booleans instead of SQLite's ordinals. Snapshots of SQLite, PostgreSQL and MariaDB/MySQL databases
are therefore comparable as far as each database reports (MariaDB reports a unique constraint as a
unique index and adds an index for each foreign key; PostgreSQL spells check constraints its own way).

:func:`diff` compares two snapshots. Row counts and per-column non-null counts travel with the
snapshot so the diff can say how much data a dropped table or column held.

This module knows no markup and no IPython: rendering lives in :mod:`nbmigrate.render.schema`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.reflection import Inspector

from .._internals import can_serve_sqlite_reflection, serving_sqlite_reflection
from .changes import ColumnChange, ColumnRename, SchemaDiff, TableDiff
from .compare import diff
from .model import CheckConstraint, Column, ForeignKey, Index, Snapshot, Table, UniqueConstraint

__all__ = [
    "CheckConstraint",
    "Column",
    "ColumnChange",
    "ColumnRename",
    "ForeignKey",
    "Index",
    "SchemaDiff",
    "Snapshot",
    "Table",
    "TableDiff",
    "UniqueConstraint",
    "diff",
    "snapshot",
]

Bind: TypeAlias = "str | sa.URL | Engine | Connection"

# Foreign key actions every database applies when none is given; reported by some dialects only.
_DEFAULT_FK_ACTIONS = {"NO ACTION"}


# --------------------------------------------------------------------------------------------
# Reflection
# --------------------------------------------------------------------------------------------


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


def _type_string(type_: Any, dialect: sa.Dialect) -> str:
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:  # an unknown type (NullType) cannot be compiled; its class name still says what it is
        return type(type_).__name__


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _fk_action(value: Any) -> str | None:
    if not value:
        return None
    action = str(value).upper()
    return None if action in _DEFAULT_FK_ACTIONS else action


def _referred_schema(reported: str | None, own: str | None, default: str | None) -> str | None:
    """None for a target in the snapshot's own schema, else the target's schema name."""
    # Dialects report None for the connection's default schema (PostgreSQL: the search path),
    # and some name the reflected schema explicitly; both mean "here" only when it is the own one.
    resolved = reported if reported is not None else default
    return None if resolved == own else resolved


def _build_table(
    name: str,
    dialect: sa.Dialect,
    own_schema: str | None,
    default_schema: str | None,
    columns: list[dict[str, Any]],
    pk: Mapping[str, Any] | None,
    fks: list[dict[str, Any]],
    indexes: list[dict[str, Any]],
    uniques: list[dict[str, Any]],
    checks: list[dict[str, Any]],
    comment: Mapping[str, Any] | None,
) -> Table:
    """Normalise what the inspector reported for one table into a :class:`Table`."""
    pk_cols = tuple((pk or {}).get("constrained_columns") or ())
    single_integer_pk = False
    if len(pk_cols) == 1:
        # SQLite does not report autoincrement; a one-column INTEGER primary key is its rowid alias.
        single_integer_pk = dialect.name == "sqlite" and any(
            c["name"] == pk_cols[0] and _type_string(c["type"], dialect) == "INTEGER" for c in columns
        )
    cols = []
    for c in columns:
        # PostgreSQL always reports autoincrement, MariaDB/MySQL only for integer columns, SQLite
        # never (its rowid alias is the one autoincrementing column); a missing report means no.
        auto = c.get("autoincrement")
        if c.get("identity"):
            auto = True
        if auto is None and dialect.name == "sqlite":
            auto = single_integer_pk and c["name"] in pk_cols
        cols.append(
            Column(
                name=c["name"],
                type=_type_string(c["type"], dialect),
                # SQLite reports its rowid alias as nullable, yet it can never hold NULL.
                nullable=bool(c["nullable"]) and not (single_integer_pk and c["name"] in pk_cols),
                default=_text(c.get("default")),
                primary_key=c["name"] in pk_cols,
                autoincrement=auto is True,
                comment=c.get("comment"),
            )
        )

    foreign_keys = sorted(
        (
            ForeignKey(
                name=fk.get("name"),
                columns=tuple(fk["constrained_columns"]),
                referred_table=fk["referred_table"],
                referred_columns=tuple(fk["referred_columns"]),
                referred_schema=_referred_schema(fk.get("referred_schema"), own_schema, default_schema),
                ondelete=_fk_action((fk.get("options") or {}).get("ondelete")),
                onupdate=_fk_action((fk.get("options") or {}).get("onupdate")),
            )
            for fk in fks
        ),
        key=lambda f: (f.columns, f.referred_table, f.referred_columns, f.name or ""),
    )

    idx = []
    for ix in indexes:
        # PostgreSQL also lists the index behind each unique constraint; it is shown as the constraint.
        if ix.get("duplicates_constraint"):
            continue
        exprs = ix.get("expressions") or []
        names = [
            (col if col is not None else (exprs[i] if i < len(exprs) else "?"))
            for i, col in enumerate(ix.get("column_names") or [])
        ]
        idx.append(Index(name=ix.get("name"), columns=tuple(str(n) for n in names), unique=bool(ix.get("unique"))))

    # MariaDB/MySQL report every unique index as a unique constraint too; keep it once, as the index.
    uqs = [
        UniqueConstraint(name=u.get("name"), columns=tuple(u["column_names"]))
        for u in uniques
        if not u.get("duplicates_index")
    ]
    cks = [CheckConstraint(name=ck.get("name"), sqltext=str(ck["sqltext"])) for ck in checks]

    return Table(
        name=name,
        columns=tuple(cols),
        primary_key=pk_cols,
        primary_key_name=(pk or {}).get("name") if pk_cols else None,
        foreign_keys=tuple(foreign_keys),
        indexes=tuple(sorted(idx, key=lambda i: (i.name or "", i.columns))),
        unique_constraints=tuple(sorted(uqs, key=lambda u: (u.name or "", u.columns))),
        check_constraints=tuple(sorted(cks, key=lambda c: (c.name or "", c.sqltext))),
        comment=(comment or {}).get("text"),
    )


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


def _version_rows(conn: Connection, name: str, schema: str | None) -> tuple[str, ...]:
    """The revisions stored in the version table, sorted."""
    result = conn.execute(sa.select(sa.text("*")).select_from(sa.table(name, schema=schema)))
    keys = list(result.keys())
    # Alembic's table has the one column version_num; a custom table may put it elsewhere.
    pos = keys.index("version_num") if "version_num" in keys else 0
    return tuple(sorted(str(row[pos]) for row in result))


CHECKSUM_TABLE = "nbmigrate_checksums"


class _Reflected(enum.Enum):
    """Where a version table is when nobody says: in the schema being reflected."""

    SCHEMA = "the reflected schema"


def _same_schema(a: str | None, b: str | None, default: str | None) -> bool:
    """True when two schema names (None: the connection's default) name the same schema."""
    return (a or default) == (b or default)


def _schema_name(name: str | None, default: str | None) -> str | None:
    """None for the default schema however it is named, so equal snapshots compare equal."""
    return None if _same_schema(name, None, default) else name

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


def with_version_table(snap: Snapshot, name: str, schema: str | None, rows: Sequence[str]) -> Snapshot:
    """``snap`` as if taken knowing that the version table is ``name`` in ``schema``.

    Only a migration run tells for sure which table Alembic keeps its versions in (env.py may
    pass any ``version_table`` to ``context.configure``), after a snapshot of the database
    before the run was taken: that table leaves the user's tables, and ``rows`` (what Alembic
    read from it as the run began; nothing for an absent table) become the version rows.
    """
    own = _same_schema(snap.schema, schema, snap.default_schema)
    seen = own and name in snap.tables
    tables = {n: t for n, t in snap.tables.items() if not (own and n == name)}
    return replace(
        snap,
        tables=tables,
        # Alembic reads an absent table as no rows: the table existed if it was seen or held any.
        version_table=tuple(sorted(rows)) if rows or seen else None,
        version_table_name=name,
        version_table_schema=_schema_name(schema, snap.default_schema),
    )
