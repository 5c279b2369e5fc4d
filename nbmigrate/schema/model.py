"""The snapshot model: a database's tables, columns, keys, indexes and constraints as plain frozen dataclasses.

:func:`nbmigrate.schema.reflect.snapshot` fills them from a database; a :class:`Snapshot` shows
itself through :mod:`nbmigrate.render.schema`, imported when it is displayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    """One column as the database reports it."""

    name: str
    type: str
    nullable: bool
    default: str | None = None
    primary_key: bool = False
    autoincrement: bool = False
    comment: str | None = None
    # Rows where the column is not NULL; None when rows were not counted.
    non_null: int | None = None

    def describe(self) -> str:
        """A one-line plain description: ``name TYPE NOT NULL DEFAULT x PK``."""
        parts = [self.name, self.type, "NULL" if self.nullable else "NOT NULL"]
        if self.default is not None:
            parts.append(f"DEFAULT {self.default}")
        if self.primary_key:
            parts.append("PK")
        return " ".join(parts)


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key constraint; ``referred_schema`` is None for the snapshot's own schema."""

    name: str | None
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    referred_schema: str | None = None
    ondelete: str | None = None
    onupdate: str | None = None

    def describe(self) -> str:
        """A one-line plain description of the constraint."""
        target = f"{self.referred_schema}.{self.referred_table}" if self.referred_schema else self.referred_table
        text = f"({', '.join(self.columns)}) → {target}({', '.join(self.referred_columns)})"
        if self.ondelete:
            text += f" ON DELETE {self.ondelete}"
        if self.onupdate:
            text += f" ON UPDATE {self.onupdate}"
        return text


@dataclass(frozen=True)
class Index:
    """An index; expressions of functional indexes appear among ``columns`` as SQL text."""

    name: str | None
    columns: tuple[str, ...]
    unique: bool = False

    def describe(self) -> str:
        """A one-line plain description of the index."""
        return f"({', '.join(self.columns)})" + (" unique" if self.unique else "")


@dataclass(frozen=True)
class UniqueConstraint:
    """A unique constraint (MariaDB/MySQL report these as unique indexes instead)."""

    name: str | None
    columns: tuple[str, ...]

    def describe(self) -> str:
        """A one-line plain description of the constraint."""
        return f"({', '.join(self.columns)})"


@dataclass(frozen=True)
class CheckConstraint:
    """A check constraint, its SQL text as the database spells it."""

    name: str | None
    sqltext: str

    def describe(self) -> str:
        """A one-line plain description of the constraint."""
        return self.sqltext


@dataclass(frozen=True)
class Table:
    """One table: columns in their database order, constraints sorted."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    primary_key_name: str | None = None
    foreign_keys: tuple[ForeignKey, ...] = ()
    indexes: tuple[Index, ...] = ()
    unique_constraints: tuple[UniqueConstraint, ...] = ()
    check_constraints: tuple[CheckConstraint, ...] = ()
    comment: str | None = None
    # None when rows were not counted (``snapshot(..., row_counts=False)``).
    row_count: int | None = None

    @property
    def column_names(self) -> list[str]:
        """The column names in database order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """The column called ``name`` (KeyError if there is none)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}")


@dataclass(frozen=True, repr=False)
class Snapshot:
    """The schema of one database (or one schema of it) at one moment."""

    dialect: str
    schema: str | None
    tables: dict[str, Table]
    # Revisions stored in the version table, sorted; None when the table does not exist.
    version_table: tuple[str, ...] | None = None
    version_table_name: str = "alembic_version"
    # The version table's own schema (None: the default one), which need not be ``schema``.
    version_table_schema: str | None = None
    # The connection's default schema (PostgreSQL: the first of the search path; SQLite: main).
    default_schema: str | None = None
    # The names asked for with ``tables=``; None when the whole schema was reflected.
    requested: tuple[str, ...] | None = None
    row_counts: bool = True
    # Where the schema comes from when it is not the database's own now (``at 0002``: replayed).
    note: str = ""

    @property
    def missing(self) -> list[str]:
        """Names asked for with ``tables=`` that the database does not have."""
        return [n for n in self.requested or () if n not in self.tables]

    def __getitem__(self, name: str) -> Table:
        return self.tables[name]

    def __repr__(self) -> str:
        where = f" schema={self.schema!r}" if self.schema else ""
        return f"<Snapshot {self.dialect}{where}: {len(self.tables)} tables, version={self.version_table!r}>"

    def __str__(self) -> str:
        from nbmigrate.render.schema import render_snapshot_text

        return render_snapshot_text(self)

    def _repr_html_(self) -> str:
        from nbmigrate.render.schema import render_snapshot_html

        return render_snapshot_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        # Terminal IPython shows the same text as print(), not the dataclass repr.
        p.text(str(self))
