"""Comparing two snapshots: :func:`diff`, with the renames it recognises and the data a drop loses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from .changes import ColumnChange, ColumnRename, SchemaDiff, TableDiff
from .model import Column, Snapshot, Table

# Column attributes whose change is a schema change (non_null is data, autoincrement is derived).
_COLUMN_FIELDS = ("type", "nullable", "default", "primary_key", "comment")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _changed_fields(before: Column, after: Column) -> tuple[str, ...]:
    return tuple(f for f in _COLUMN_FIELDS if getattr(before, f) != getattr(after, f))


def _renamed(mapping: Mapping[str, str], cols: Sequence[str]) -> tuple[str, ...]:
    return tuple(mapping.get(c, c) for c in cols)


def _set_diff(before: Sequence[Any], after: Sequence[Any], rename: Mapping[str, str]) -> tuple[tuple, tuple]:
    """Added and removed items; before's columns are renamed first so a rename alone is no change."""

    def moved(item: Any) -> Any:
        if rename and hasattr(item, "columns"):
            return replace(item, columns=_renamed(rename, item.columns))
        return item

    old = {moved(i): i for i in before}
    new = set(after)
    added = tuple(i for i in after if i not in old)
    removed = tuple(orig for key, orig in old.items() if key not in new)
    return added, removed


def _diff_table(before: Table, after: Table) -> tuple[TableDiff, list[str]]:
    """Compare one table present in both snapshots; also return its data-loss notes."""
    old_cols = {c.name: c for c in before.columns}
    new_cols = {c.name: c for c in after.columns}
    added = [c for c in after.columns if c.name not in old_cols]
    removed = [c for c in before.columns if c.name not in new_cols]
    changed = []
    for col in after.columns:
        if col.name in old_cols:
            fields = _changed_fields(old_cols[col.name], col)
            if fields:
                changed.append(ColumnChange(after.name, old_cols[col.name], col, fields))

    # Only the obvious case counts as a rename: a column gone and a new one with the same type and
    # nullability, holding values in the same number of rows (known on both sides), when no other
    # gone or new column of the table looks the same.
    renames = [
        ColumnRename(after.name, old, new, tuple(f for f in _changed_fields(old, new) if f not in ("type", "nullable")))
        for old, new in _unique_pairs(removed, added, lambda c: (c.type, c.nullable, c.non_null) if c.non_null is not None else None)
    ]
    paired = {id(r.before) for r in renames} | {id(r.after) for r in renames}
    added = [c for c in added if id(c) not in paired]
    removed = [c for c in removed if id(c) not in paired]
    rename_map = {r.old: r.new for r in renames}

    notes = []
    for col in removed:
        if col.non_null is None:
            notes.append(f"column `{before.name}.{col.name}` dropped (values not counted)")
        elif col.non_null:
            notes.append(
                f"column `{before.name}.{col.name}` dropped, {col.non_null} of "
                f"{_plural(before.row_count or 0, 'row')} had values"
            )

    idx_add, idx_rm = _set_diff(before.indexes, after.indexes, rename_map)
    uq_add, uq_rm = _set_diff(before.unique_constraints, after.unique_constraints, rename_map)
    fk_add, fk_rm = _set_diff(before.foreign_keys, after.foreign_keys, rename_map)
    ck_add, ck_rm = _set_diff(before.check_constraints, after.check_constraints, rename_map)
    result = TableDiff(
        name=after.name,
        before=before,
        after=after,
        added_columns=tuple(added),
        removed_columns=tuple(removed),
        changed_columns=tuple(changed),
        renamed_columns=tuple(renames),
        primary_key_changed=_renamed(rename_map, before.primary_key) != after.primary_key,
        added_indexes=idx_add,
        removed_indexes=idx_rm,
        added_unique_constraints=uq_add,
        removed_unique_constraints=uq_rm,
        added_foreign_keys=fk_add,
        removed_foreign_keys=fk_rm,
        added_check_constraints=ck_add,
        removed_check_constraints=ck_rm,
        comment_changed=before.comment != after.comment,
    )
    return result, notes


def _unique_pairs(gone: Sequence[Any], new: Sequence[Any], signature: Any) -> list[tuple[Any, Any]]:
    """Pairs of a gone and a new item whose signature (not ``None``) no other gone or new item shares."""
    def by_signature(items: Sequence[Any]) -> dict[Any, list[Any]]:
        groups: dict[Any, list[Any]] = {}
        for item in items:
            key = signature(item)
            if key is not None:
                groups.setdefault(key, []).append(item)
        return groups

    olds, news = by_signature(gone), by_signature(new)
    return [(olds[key][0], news[key][0]) for key in olds if len(olds[key]) == 1 and len(news.get(key, ())) == 1]


def _table_signature(table: Table) -> Any:
    """What a renamed table keeps: its columns, keys and rows (when counted)."""
    if table.row_count is None:
        return None
    columns = tuple((c.name, c.type, c.nullable, c.primary_key) for c in table.columns)
    return columns, table.row_count


def diff(before: Snapshot, after: Snapshot) -> SchemaDiff:
    """Compare two snapshots: tables, columns and constraints added, removed, changed or renamed."""
    added = tuple(t for name, t in after.tables.items() if name not in before.tables)
    removed = tuple(t for name, t in before.tables.items() if name not in after.tables)
    changed, unchanged, notes = [], [], []
    # A table gone and a new one with the same columns and rows: renamed, not dropped.
    for old, new in _unique_pairs(removed, added, _table_signature):
        table_diff, table_notes = _diff_table(old, new)
        changed.append(replace(table_diff, renamed_from=old.name))
        notes.extend(table_notes)
    renamed = {id(t) for td in changed for t in (td.before, td.after)}
    added = tuple(t for t in added if id(t) not in renamed)
    removed = tuple(t for t in removed if id(t) not in renamed)
    for table in removed:
        if table.row_count is None:
            notes.append(f"table `{table.name}` dropped (rows not counted)")
        elif table.row_count:
            notes.append(f"table `{table.name}` dropped with {_plural(table.row_count, 'row')}")
    for name in sorted(set(before.tables) & set(after.tables)):  # after the renamed ones
        table_diff, table_notes = _diff_table(before.tables[name], after.tables[name])
        notes.extend(table_notes)
        if table_diff.is_empty:
            unchanged.append(name)
        else:
            changed.append(table_diff)
    return SchemaDiff(
        before=before,
        after=after,
        added=added,
        removed=removed,
        changed=tuple(changed),
        unchanged=tuple(unchanged),
        data_loss=notes,
    )
