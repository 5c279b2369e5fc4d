"""What the connected database says: table sizes for the findings, and the facts the rules ask about.

Sizes come from the catalog where the database keeps estimates (PostgreSQL ``pg_class.reltuples``
and ``pg_total_relation_size``, MySQL/MariaDB ``information_schema.TABLES``) and from counting on
SQLite (``count(*)``, and ``dbstat`` for the bytes where SQLite has it). A table PostgreSQL has
never analysed (``reltuples`` = -1) is counted when it is smaller than :data:`COUNT_BELOW` bytes.

:class:`DatabaseFacts` answers the analysis's questions (a column's current type, whether a
validated NOT NULL check exists, a function's volatility, the session's lock timeout), each read
once and kept for the rest of the lint. A question the database cannot answer (no privilege, a
catalog that differs) is answered "unknown", never an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .analyze import Facts, Finding
from .rules import severity_rank

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

COUNT_BELOW = 64 * 1024 * 1024
_LOCK_WAIT_SET = 300  # seconds: a MySQL lock_wait_timeout at or below this counts as set


@dataclass(frozen=True)
class TableSize:
    """A table's rows and bytes (``None``: unknown); ``estimated`` when they are the catalog's estimate."""

    table: str
    rows: int | None
    bytes: int | None
    estimated: bool = False
    exists: bool = True

    def describe(self) -> str:
        """``2.1 M rows, 840 MB``; ``empty``; ``""`` for a table the database does not have (yet)."""
        if not self.exists:
            return ""
        if self.rows == 0:
            return "empty"
        parts = []
        if self.rows is not None:
            parts.append(("~" if self.estimated and self.rows >= 1000 else "") + _count(self.rows))
        if self.bytes is not None:
            parts.append(_bytes(self.bytes))
        return ", ".join(parts)


def _count(n: int) -> str:
    if n == 1:
        return "1 row"
    for limit, unit in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if n >= limit:
            return f"{n / limit:.1f}".rstrip("0").rstrip(".") + f" {unit} rows"
    return f"{n} rows"


def _bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" or value >= 10 else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


class DatabaseFacts(Facts):
    """The facts of one connected database, read on first use over ``conn``."""

    def __init__(self, conn: Connection, dialect: str, *, nested: bool = False) -> None:
        self.conn = conn
        self.dialect = dialect
        # A connection lent in the middle of its own transaction (a Connection given to `connect`):
        # each query in a savepoint, so that a failing one rolls back nothing of the caller's.
        self.nested = nested
        self._columns: dict[str, dict[str, tuple[Any, bool | None]]] = {}
        self._checks: dict[str, set[str]] = {}
        self._volatile: dict[str, bool | None] = {}
        self._indexes: dict[str, str | None] = {}
        self.lock_timeout = False
        self.foreign_key_checks = True
        if dialect == "postgresql":
            value = self._scalar("SHOW lock_timeout")
            self.lock_timeout = value not in (None, "0", "0ms", "0s")
        elif dialect in ("mysql", "mariadb"):
            row = self._row("SELECT @@session.lock_wait_timeout, @@session.foreign_key_checks")
            if row is not None:
                self.lock_timeout = int(row[0]) <= _LOCK_WAIT_SET
                self.foreign_key_checks = bool(int(row[1]))

    # -- queries that never fail the lint ------------------------------------------------------

    def _rows(self, sql: str, params: Mapping[str, Any] | None = None, *, expanding: Sequence[str] = ()) -> list[Any] | None:
        from sqlalchemy import bindparam, text
        from sqlalchemy.exc import DBAPIError, StatementError

        query = text(sql)
        if expanding:
            query = query.bindparams(*(bindparam(name, expanding=True) for name in expanding))
        try:
            if self.nested:
                with self.conn.begin_nested():
                    return list(self.conn.execute(query, dict(params or {})).all())
            return list(self.conn.execute(query, dict(params or {})).all())
        except (DBAPIError, StatementError):
            if not self.nested:
                self.conn.rollback()  # a failed query ends PostgreSQL's transaction; the next one starts anew
            return None

    def _row(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        row = self._row(sql, params)
        return row[0] if row is not None else None

    # -- Facts --------------------------------------------------------------------------------

    def prefetch(self, tables: Iterable[str]) -> None:
        """Read the columns (and PostgreSQL's validated checks) of these tables in one query each."""
        wanted = sorted({t for t in tables if t and t not in self._columns})
        if not wanted:
            return
        if self.dialect == "postgresql":
            rows = self._rows(
                "SELECT t.name, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull "
                "FROM unnest(CAST(:names AS text[])) AS t(name) JOIN pg_attribute a ON a.attrelid = to_regclass(t.name) "
                "WHERE a.attnum > 0 AND NOT a.attisdropped", {"names": wanted})
            checks = self._rows(
                "SELECT t.name, pg_get_constraintdef(c.oid) FROM unnest(CAST(:names AS text[])) AS t(name) "
                "JOIN pg_constraint c ON c.conrelid = to_regclass(t.name) WHERE c.contype = 'c' AND c.convalidated",
                {"names": wanted})
            if rows is None or checks is None:
                return  # asked again one table at a time
            self._fill_columns(wanted, rows)
            found: dict[str, set[str]] = {t: set() for t in wanted}
            for table, definition in checks:
                column = _check_column(str(definition))
                if column:
                    found[table].add(column)
            self._checks.update(found)
        elif self.dialect in ("mysql", "mariadb") and all("." not in t for t in wanted):
            rows = self._rows(
                "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'YES' FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :names", {"names": wanted}, expanding=("names",))
            if rows is not None:
                self._fill_columns(wanted, rows)

    def _fill_columns(self, tables: list[str], rows: Iterable[Any]) -> None:
        from .parse import type_from_text

        for table in tables:
            self._columns.setdefault(table, {})
        for table, name, type_text, nullable in rows:
            self._columns[str(table)][str(name)] = (type_from_text(str(type_text), self.dialect), bool(nullable))

    def column(self, table: str, column: str) -> tuple[Any, bool | None] | None:
        if table not in self._columns:
            self._columns[table] = self._read_columns(table)
        return self._columns[table].get(column)

    def _read_columns(self, table: str) -> dict[str, tuple[Any, bool | None]]:
        from .parse import type_from_text

        schema, _, name = table.rpartition(".")
        if self.dialect == "postgresql":
            rows = self._rows(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull FROM pg_attribute a "
                "WHERE a.attrelid = to_regclass(:t) AND a.attnum > 0 AND NOT a.attisdropped", {"t": table})
        elif self.dialect in ("mysql", "mariadb"):
            rows = self._rows(
                "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'YES' FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = COALESCE(:s, DATABASE()) AND TABLE_NAME = :t", {"s": schema or None, "t": name})
        else:
            rows = self._rows('SELECT name, type, NOT "notnull" FROM pragma_table_info(:t)', {"t": name})
        return {str(r[0]): (type_from_text(str(r[1]), self.dialect), bool(r[2])) for r in rows or []}

    def not_null_checked(self, table: str, column: str) -> bool:
        if self.dialect != "postgresql":
            return False
        if table not in self._checks:
            rows = self._rows(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(:t) "
                "AND contype = 'c' AND convalidated", {"t": table})
            found = {_check_column(str(r[0])) for r in rows or []}
            self._checks[table] = {c for c in found if c}
        return column in self._checks[table]

    def volatile(self, function: str) -> bool | None:
        if self.dialect != "postgresql":
            return None
        if function not in self._volatile:
            rows = self._rows("SELECT provolatile FROM pg_proc WHERE proname = :n", {"n": function})
            self._volatile[function] = None if not rows else any(r[0] in ("v", b"v") for r in rows)
        return self._volatile[function]

    def index_table(self, index: str) -> str | None:
        if index not in self._indexes:
            if self.dialect == "postgresql":
                found = self._scalar("SELECT indrelid::regclass::text FROM pg_index WHERE indexrelid = to_regclass(:i)", {"i": index})
            elif self.dialect == "sqlite":
                found = self._scalar("SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name = :i", {"i": index})
            else:
                found = None
            self._indexes[index] = str(found) if found is not None else None
        return self._indexes[index]

    # -- sizes --------------------------------------------------------------------------------

    def sizes(self, tables: Iterable[str]) -> dict[str, TableSize]:
        """The size of each table, one catalog query for all of them (SQLite: a count each)."""
        names = sorted({t for t in tables if t})
        if not names:
            return {}
        if self.dialect == "postgresql":
            return self._pg_sizes(names)
        if self.dialect in ("mysql", "mariadb"):
            rows = self._rows(
                "SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :names",
                {"names": [n.rpartition(".")[2] for n in names]}, expanding=("names",))
            found = {str(r[0]): r for r in rows or []}
            return {n: _mysql_size(n, found.get(n.rpartition(".")[2])) for n in names}
        return {n: self._sqlite_size(n) for n in names}

    def _pg_sizes(self, names: list[str]) -> dict[str, TableSize]:
        rows = self._rows(
            "SELECT t.name, c.reltuples, pg_total_relation_size(c.oid) FROM unnest(CAST(:names AS text[])) AS t(name) "
            "LEFT JOIN pg_class c ON c.oid = to_regclass(t.name)", {"names": names})
        out = {}
        for name, reltuples, size in rows or []:
            if reltuples is None:
                out[name] = TableSize(name, None, None, exists=False)
            elif float(reltuples) < 0:  # never analysed: count it if that is cheap
                counted = self._scalar(f"SELECT count(*) FROM {_quoted(name)}") if int(size) < COUNT_BELOW else None
                out[name] = TableSize(name, int(counted) if counted is not None else None, int(size))
            else:
                out[name] = TableSize(name, int(reltuples), int(size), estimated=True)
        return out

    def _sqlite_size(self, name: str) -> TableSize:
        if self._scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :t", {"t": name}) is None:
            return TableSize(name, None, None, exists=False)
        rows = self._scalar(f"SELECT count(*) FROM {_quoted(name)}")
        size = self._scalar(
            "SELECT SUM(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_master WHERE tbl_name = :t)", {"t": name})
        return TableSize(name, int(rows) if rows is not None else None, int(size) if size is not None else None)


def _check_column(definition: str) -> str | None:
    """The column of ``CHECK ((c IS NOT NULL))`` as ``pg_get_constraintdef`` writes it, else ``None``."""
    from .checks import _not_null_column

    return _not_null_column(definition.removeprefix("CHECK").strip())


def _mysql_size(name: str, row: Any) -> TableSize:
    if row is None:
        return TableSize(name, None, None, exists=False)
    return TableSize(name, int(row[1]) if row[1] is not None else None, int(row[2]) if row[2] is not None else None, estimated=True)


def _quoted(name: str, quote: str = '"') -> str:
    return ".".join(quote + part.replace(quote, quote * 2) + quote for part in name.split("."))


def size_findings(findings: Sequence[Finding], facts: DatabaseFacts | None) -> list[Finding]:
    """The findings with their tables' sizes in their messages."""
    if facts is None:
        return list(findings)
    sizes = facts.sizes(f.table for f in findings if f.table)
    return [f.sized(sizes[f.table]) if f.table in sizes else f for f in findings]


def riskiest_first(findings: Sequence[Finding], order: Sequence[str] = ()) -> list[Finding]:
    """Most severe first; then what rewrites, then what scans, the biggest table first; then history order."""
    position = {rev: i for i, rev in enumerate(order)}

    def key(f: Finding) -> tuple[Any, ...]:
        size = f.size
        weight = (size.bytes or 0, size.rows or 0) if size is not None else (0, 0)
        return (f.allowed, severity_rank(f.severity), not f.rewrites, not f.scans, -weight[0], -weight[1],
                position.get(f.revision, len(position)), f.statement_index)

    return sorted(findings, key=key)
