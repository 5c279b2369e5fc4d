"""The diff model: what changed between two snapshots, table by table and column by column.

:func:`nbmigrate.schema.compare.diff` builds a :class:`SchemaDiff`; it shows itself through
:mod:`nbmigrate.render.schema`, imported when it is displayed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model import CheckConstraint, Column, ForeignKey, Index, Snapshot, Table, UniqueConstraint


@dataclass(frozen=True)
class ColumnChange:
    """A column present before and after whose definition changed."""

    table: str
    before: Column
    after: Column
    fields: tuple[str, ...]

    @property
    def name(self) -> str:
        """The column's name."""
        return self.after.name


@dataclass(frozen=True)
class ColumnRename:
    """A column that was renamed (same type, nullability and non-null count)."""

    table: str
    before: Column
    after: Column
    # Definition changes other than the name (e.g. default), usually empty.
    fields: tuple[str, ...] = ()

    @property
    def old(self) -> str:
        """The column's name before."""
        return self.before.name

    @property
    def new(self) -> str:
        """The column's name after."""
        return self.after.name


@dataclass(frozen=True)
class TableDiff:
    """The changes of one table present in both snapshots."""

    name: str
    before: Table
    after: Table
    added_columns: tuple[Column, ...] = ()
    removed_columns: tuple[Column, ...] = ()
    changed_columns: tuple[ColumnChange, ...] = ()
    renamed_columns: tuple[ColumnRename, ...] = ()
    primary_key_changed: bool = False
    added_indexes: tuple[Index, ...] = ()
    removed_indexes: tuple[Index, ...] = ()
    added_unique_constraints: tuple[UniqueConstraint, ...] = ()
    removed_unique_constraints: tuple[UniqueConstraint, ...] = ()
    added_foreign_keys: tuple[ForeignKey, ...] = ()
    removed_foreign_keys: tuple[ForeignKey, ...] = ()
    added_check_constraints: tuple[CheckConstraint, ...] = ()
    removed_check_constraints: tuple[CheckConstraint, ...] = ()
    comment_changed: bool = False
    renamed_from: str | None = None  # the table's name before, when the table was renamed

    @property
    def is_empty(self) -> bool:
        """True when nothing in the table's schema changed."""
        return not (
            self.renamed_from
            or self.added_columns
            or self.removed_columns
            or self.changed_columns
            or self.renamed_columns
            or self.primary_key_changed
            or self.added_indexes
            or self.removed_indexes
            or self.added_unique_constraints
            or self.removed_unique_constraints
            or self.added_foreign_keys
            or self.removed_foreign_keys
            or self.added_check_constraints
            or self.removed_check_constraints
            or self.comment_changed
        )

    def __bool__(self) -> bool:
        return not self.is_empty


@dataclass(frozen=True, repr=False)
class SchemaDiff:
    """The differences between two snapshots; the version table is left out of the comparison."""

    before: Snapshot
    after: Snapshot
    added: tuple[Table, ...] = ()
    removed: tuple[Table, ...] = ()
    changed: tuple[TableDiff, ...] = ()
    unchanged: tuple[str, ...] = ()
    data_loss: list[str] = field(default_factory=list)

    @property
    def added_tables(self) -> list[str]:
        """Names of the tables only in ``after``."""
        return [t.name for t in self.added]

    @property
    def removed_tables(self) -> list[str]:
        """Names of the tables only in ``before``."""
        return [t.name for t in self.removed]

    @property
    def changed_tables(self) -> list[str]:
        """Names of the tables in both whose schema changed."""
        return [t.name for t in self.changed]

    @property
    def added_columns(self) -> list[tuple[str, str]]:
        """``(table, column)`` of columns added to tables present on both sides (a renamed table
        under its new name); a new table's columns are in :attr:`all_added_columns`."""
        return [(t.name, c.name) for t in self.changed for c in t.added_columns]

    @property
    def removed_columns(self) -> list[tuple[str, str]]:
        """``(table, column)`` of columns dropped from tables present on both sides; a dropped
        table's columns are in :attr:`all_removed_columns`."""
        return [(t.name, c.name) for t in self.changed for c in t.removed_columns]

    @property
    def all_added_columns(self) -> list[tuple[str, str]]:
        """``(table, column)`` of every column that appeared: :attr:`added_columns` and each
        column of an added table, by table name, then in the table's column order. Renamed
        columns are not in it (see :attr:`renamed_columns`)."""
        new_tables = [(t.name, c.name) for t in self.added for c in t.columns]
        return sorted(self.added_columns + new_tables, key=lambda pair: pair[0])

    @property
    def all_removed_columns(self) -> list[tuple[str, str]]:
        """``(table, column)`` of every column that went: :attr:`removed_columns` and each
        column of a removed table, by table name, then in the table's column order."""
        gone_tables = [(t.name, c.name) for t in self.removed for c in t.columns]
        return sorted(self.removed_columns + gone_tables, key=lambda pair: pair[0])

    @property
    def changed_columns(self) -> list[tuple[str, str]]:
        """``(table, column)`` of columns whose definition changed."""
        return [(t.name, c.name) for t in self.changed for c in t.changed_columns]

    @property
    def renamed_columns(self) -> list[tuple[str, str, str]]:
        """``(table, old, new)`` of columns detected as renamed."""
        return [(t.name, r.old, r.new) for t in self.changed for r in t.renamed_columns]

    @property
    def renamed_tables(self) -> list[tuple[str, str]]:
        """``(old, new)`` of tables detected as renamed (they are among :attr:`changed`)."""
        return [(t.renamed_from, t.name) for t in self.changed if t.renamed_from]

    @property
    def version_changed(self) -> bool:
        """True when the version table's rows differ (not part of :attr:`is_empty`)."""
        return self.before.version_table != self.after.version_table

    @property
    def is_empty(self) -> bool:
        """True when the two schemas are the same (ignoring the version table)."""
        return not (self.added or self.removed or self.changed)

    def __bool__(self) -> bool:
        return not self.is_empty

    def table(self, name: str) -> TableDiff:
        """The changes of the changed table ``name`` (KeyError if it did not change)."""
        for t in self.changed:
            if t.name == name:
                return t
        raise KeyError(f"table {name!r} did not change")

    def __repr__(self) -> str:
        return (
            f"<SchemaDiff added={self.added_tables} removed={self.removed_tables} "
            f"changed={self.changed_tables} data_loss={len(self.data_loss)}>"
        )

    def __str__(self) -> str:
        from nbmigrate.render.schema import render_diff_text

        return render_diff_text(self)

    def _repr_html_(self) -> str:
        from nbmigrate.render.schema import render_diff_html

        return render_diff_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))
