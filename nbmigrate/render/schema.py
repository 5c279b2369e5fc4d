"""HTML and plain text for schema snapshots and diffs.

Every change carries a symbol as well as a colour (``+`` added, ``-`` removed, ``~`` changed,
``→`` renamed), so a diff reads the same without colour, in a terminal and in a saved notebook.
The ``*_section_html`` functions return HTML without the outer container so command results
(``upgrade``, ``downgrade``, ...) can embed a schema section in their own output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nbmigrate.masking import mask
from nbmigrate.render._html import details, esc, prose, span, table, title, wrap

if TYPE_CHECKING:
    from nbmigrate.schema import (
        Column,
        ColumnChange,
        ColumnRename,
        SchemaDiff,
        Snapshot,
        Table,
        TableDiff,
    )

__all__ = [
    "ADDED",
    "CHANGED",
    "REMOVED",
    "RENAMED",
    "diff_section_html",
    "render_diff_html",
    "render_diff_text",
    "render_snapshot_html",
    "render_snapshot_text",
    "snapshot_section_html",
    "table_html",
]

ADDED, REMOVED, CHANGED, RENAMED = "+", "-", "~", "→"
_CLASS = {ADDED: "nbm-added", REMOVED: "nbm-removed", CHANGED: "nbm-changed", RENAMED: "nbm-changed"}

# Beyond these many tables a snapshot collapses each table, and an unchanged list is cut short.
_OPEN_TABLES = 20
_UNCHANGED_NAMES = 30

_COLUMN_HEADERS = ["column", "type", "nullable", "default", "pk"]
_CONSTRAINT_HEADERS = ["constraint", "name", "definition"]


# --------------------------------------------------------------------------------------------
# Shared wording
# --------------------------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _rows(t: Table) -> str:
    return "rows not counted" if t.row_count is None else _plural(t.row_count, "row")


def _version_line(snap: Snapshot) -> str:
    name = snap.version_table_name
    if snap.version_table is None:
        return f"{name}: no such table"
    if not snap.version_table:
        return f"{name}: empty"
    return f"{name}: {', '.join(snap.version_table)}"


def _versions(values: tuple[str, ...] | None) -> str:
    if values is None:
        return "(no table)"
    return ", ".join(values) if values else "(empty)"


def _column_cells(col: Column) -> list[str]:
    """Plain values of a column's row: name, type, nullable, default, pk."""
    return [
        col.name,
        col.type,
        "yes" if col.nullable else "no",
        "" if col.default is None else col.default,
        "PK" if col.primary_key else "",
    ]


def _constraints(t: Table, with_pk: bool = False) -> list[tuple[str, str, str, object]]:
    """(kind, name, definition, identity) of every constraint and index; identity finds it in a diff."""
    out: list[tuple[str, str, str, object]] = []
    # A one-column unnamed primary key is already shown by the column's PK mark.
    if t.primary_key and (with_pk or t.primary_key_name or len(t.primary_key) > 1):
        out.append(("primary key", t.primary_key_name or "", f"({', '.join(t.primary_key)})", "pk"))
    out += [("foreign key", fk.name or "", fk.describe(), fk) for fk in t.foreign_keys]
    out += [("index", ix.name or "", ix.describe(), ix) for ix in t.indexes]
    out += [("unique", uq.name or "", uq.describe(), uq) for uq in t.unique_constraints]
    out += [("check", ck.name or "", ck.describe(), ck) for ck in t.check_constraints]
    return out


def _unchanged_line(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_UNCHANGED_NAMES])
    more = f" and {len(names) - _UNCHANGED_NAMES} more" if len(names) > _UNCHANGED_NAMES else ""
    return f"{_plural(len(names), 'table')} unchanged: {shown}{more}"


def _diff_heading(d: SchemaDiff) -> tuple[str, str]:
    """The heading of a diff and its summary of table counts."""
    if d.is_empty:
        return "No schema changes", ""
    parts = []
    if d.added:
        parts.append(f"{len(d.added)} added")
    if d.removed:
        parts.append(f"{len(d.removed)} removed")
    if d.changed:
        parts.append(f"{len(d.changed)} changed")
    if d.unchanged:
        parts.append(f"{len(d.unchanged)} unchanged")
    return "Schema changes", "tables: " + ", ".join(parts)


def _field_changes(change: ColumnChange | ColumnRename) -> str:
    labels = {"primary_key": "pk"}
    parts = []
    for f in change.fields:
        old, new = getattr(change.before, f), getattr(change.after, f)
        if f == "nullable":
            old, new = ("yes" if old else "no"), ("yes" if new else "no")
        elif f == "primary_key":
            old, new = ("PK" if old else "no"), ("PK" if new else "no")
        parts.append(f"{labels.get(f, f)} {old if old is not None else 'none'} → {new if new is not None else 'none'}")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# Snapshot
# --------------------------------------------------------------------------------------------


def _snapshot_meta(snap: Snapshot) -> str:
    where = f"schema {snap.schema} · " if snap.schema else ""
    note = f" · {snap.note}, replayed on a scratch database" if snap.note else ""
    return f"{snap.dialect} · {where}{_plural(len(snap.tables), 'table')}{note}"


def table_html(t: Table) -> str:
    """One database table as HTML: its columns, then its constraints and indexes."""
    cols = table(_COLUMN_HEADERS, ([esc(v) for v in _column_cells(c)] for c in t.columns))
    cons = _constraints(t)
    body = cols
    if cons:
        body += table(_CONSTRAINT_HEADERS, ([esc(k), esc(n), esc(d)] for k, n, d, _ in cons))
    return body


def snapshot_section_html(snap: Snapshot) -> str:
    """A snapshot as HTML without the outer container, for embedding in other results."""
    parts = [title("Schema", meta=_snapshot_meta(snap))]
    if not snap.tables:
        parts.append('<div class="nbm-meta">no tables</div>')
    collapse = len(snap.tables) > _OPEN_TABLES
    for t in snap.tables.values():
        meta = _rows(t) + (f" · {t.comment}" if t.comment else "")
        if collapse:
            parts.append(details(f"{t.name} ({meta}, {_plural(len(t.columns), 'column')})", table_html(t)))
        else:
            parts.append(title(t.name, meta=meta) + table_html(t))
    if snap.missing:
        parts.append(f'<div class="nbm-warn">not in the database: {esc(", ".join(snap.missing))}</div>')
    parts.append(f'<div class="nbm-meta">{esc(_version_line(snap))}</div>')
    return "".join(parts)


def render_snapshot_html(snap: Snapshot) -> str:
    """A snapshot as a self-contained HTML block."""
    return wrap(mask(snapshot_section_html(snap)), cls="nbm-schema")


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = []
    for row in [list(headers), *rows]:
        lines.append(indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return lines


def _table_text(t: Table, indent: str = "  ") -> list[str]:
    lines = _text_table(_COLUMN_HEADERS, [_column_cells(c) for c in t.columns], indent)
    for kind, name, definition, _ in _constraints(t):
        lines.append(f"{indent}{kind}{' ' + name if name else ''} {definition}")
    return lines


def render_snapshot_text(snap: Snapshot) -> str:
    """A snapshot as plain text."""
    lines = [f"Schema ({_snapshot_meta(snap)})"]
    if not snap.tables:
        lines.append("  no tables")
    for t in snap.tables.values():
        lines.append("")
        lines.append(f"{t.name} ({_rows(t)})" + (f" -- {t.comment}" if t.comment else ""))
        lines += _table_text(t)
    if snap.missing:
        lines += ["", f"not in the database: {', '.join(snap.missing)}"]
    lines += ["", _version_line(snap)]
    return mask("\n".join(lines))  # defaults and check constraints can hold a URL or a password


# --------------------------------------------------------------------------------------------
# Diff
# --------------------------------------------------------------------------------------------


def _column_markers(td: TableDiff) -> tuple[dict[str, str], dict[str, str]]:
    """Marker of each column name on the before side and on the after side."""
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    for c in td.removed_columns:
        before[c.name] = REMOVED
    for c in td.added_columns:
        after[c.name] = ADDED
    for ch in td.changed_columns:
        before[ch.name] = after[ch.name] = CHANGED
    for r in td.renamed_columns:
        before[r.old] = after[r.new] = RENAMED
    return before, after


def _constraint_markers(td: TableDiff) -> tuple[dict[object, str], dict[object, str]]:
    before: dict[object, str] = {}
    after: dict[object, str] = {}
    for item in (*td.removed_indexes, *td.removed_unique_constraints, *td.removed_foreign_keys,
                 *td.removed_check_constraints):
        before[item] = REMOVED
    for item in (*td.added_indexes, *td.added_unique_constraints, *td.added_foreign_keys,
                 *td.added_check_constraints):
        after[item] = ADDED
    if td.primary_key_changed:
        before["pk"] = after["pk"] = CHANGED
    return before, after


def _marked_cell(mark: str) -> str:
    return f"<strong>{esc(mark)}</strong>" if mark else ""


def _side_html(t: Table | None, col_marks: dict[str, str], con_marks: dict[object, str],
               renamed: dict[str, str], changed: dict[str, tuple[str, ...]], everything: str = "") -> str:
    """One side (before or after) of a table's diff: columns and constraints, changes marked."""
    if t is None:
        return '<div class="nbm-meta">(no table)</div>'
    rows, classes = [], []
    for c in t.columns:
        mark = everything or col_marks.get(c.name, "")
        cells = [esc(v) for v in _column_cells(c)]
        if c.name in renamed:
            cells[0] = f"{esc(c.name)} <span class=\"nbm-meta\">{esc(renamed[c.name])}</span>"
        for i, f in enumerate(("name", "type", "nullable", "default", "primary_key")):
            if f in changed.get(c.name, ()):
                cells[i] = f"<strong>{cells[i]}</strong>"
        rows.append([_marked_cell(mark), *cells])
        classes.append(_CLASS.get(mark, ""))
    html = table(["", *_COLUMN_HEADERS], rows, row_classes=classes)
    cons = _constraints(t, with_pk="pk" in con_marks)
    if cons:
        crow, ccls = [], []
        for kind, name, definition, key in cons:
            mark = everything or con_marks.get(key, "")
            crow.append([_marked_cell(mark), esc(kind), esc(name), esc(definition)])
            ccls.append(_CLASS.get(mark, ""))
        html += table(["", *_CONSTRAINT_HEADERS], crow, row_classes=ccls)
    return html


def _side_header(side: str, t: Table | None) -> str:
    return side if t is None else f"{side} ({_rows(t)})"


def _pair_html(mark: str, name: str, before: Table | None, after: Table | None, cells: tuple[str, str],
               meta: str = "") -> str:
    """A table's before | after pair under a heading carrying the table's marker."""
    head = f'<div class="nbm-title">{span(mark, _CLASS[mark])} table {esc(name)}'
    head += f' <span class="nbm-meta">{esc(meta)}</span></div>' if meta else "</div>"
    return head + table([_side_header("before", before), _side_header("after", after)], [list(cells)])


def _table_diff_html(td: TableDiff) -> str:
    col_before, col_after = _column_markers(td)
    con_before, con_after = _constraint_markers(td)
    renamed_before = {r.old: f"{RENAMED} {r.new}" for r in td.renamed_columns}
    renamed_after = {r.new: f"was {r.old}" for r in td.renamed_columns}
    changed = {ch.name: ch.fields for ch in td.changed_columns}
    for r in td.renamed_columns:
        changed[r.new] = ("name", *r.fields)
    notes = [f"renamed from {td.renamed_from}"] if td.renamed_from else []
    if td.comment_changed:
        notes.append(f"comment {td.before.comment!r} → {td.after.comment!r}")
    meta = "; ".join(notes)
    before = _side_html(td.before, col_before, con_before, renamed_before, {})
    after = _side_html(td.after, col_after, con_after, renamed_after, changed)
    return _pair_html(CHANGED, td.name, td.before, td.after, (before, after), meta)


def diff_section_html(d: SchemaDiff) -> str:
    """A diff as HTML without the outer container, for embedding in command results."""
    heading, summary = _diff_heading(d)
    parts = [title(heading, meta=summary)]
    if d.data_loss:
        items = "".join(f"<li>{prose(note)}</li>" for note in d.data_loss)
        parts.append(f'<div class="nbm-err"><strong>⚠ Data loss</strong><ul>{items}</ul></div>')
    nothing = _side_html(None, {}, {}, {}, {})
    for t in d.removed:
        gone = _side_html(t, {}, {}, {}, {}, everything=REMOVED)
        parts.append(_pair_html(REMOVED, t.name, t, None, (gone, nothing)))
    for t in d.added:
        new = _side_html(t, {}, {}, {}, {}, everything=ADDED)
        parts.append(_pair_html(ADDED, t.name, None, t, (nothing, new)))
    for td in d.changed:
        parts.append(_table_diff_html(td))
    if d.unchanged:
        parts.append(f'<div class="nbm-meta">{esc(_unchanged_line(d.unchanged))}</div>')
    if d.version_changed:
        line = f"{d.after.version_table_name}: {_versions(d.before.version_table)} → {_versions(d.after.version_table)}"
        parts.append(f'<div class="nbm-meta">{esc(line)}</div>')
    if not d.is_empty:
        from .erd import changes_html

        parts.append(changes_html(d))
    return "".join(parts)


def render_diff_html(d: SchemaDiff) -> str:
    """A diff as a self-contained HTML block."""
    return wrap(mask(diff_section_html(d)), cls="nbm-schema-diff")


def _column_text(c: Column) -> str:
    return f"{c.name} {c.type} {'NULL' if c.nullable else 'NOT NULL'}" + (
        f" DEFAULT {c.default}" if c.default is not None else ""
    ) + (" PK" if c.primary_key else "")


def _constraint_text(kind: str, item: object) -> str:
    name = getattr(item, "name", None)
    return f"{kind}{' ' + name if name else ''} {item.describe()}"  # type: ignore[attr-defined]


def _table_diff_text(td: TableDiff) -> list[str]:
    meta = "" if td.before.row_count == td.after.row_count else f" ({_rows(td.before)} → {_rows(td.after)})"
    renamed = f" (renamed from {td.renamed_from})" if td.renamed_from else ""
    lines = [f"{CHANGED} table {td.name}{renamed}{meta}"]
    for c in td.added_columns:
        lines.append(f"    {ADDED} column {_column_text(c)}")
    for c in td.removed_columns:
        if c.non_null is None:
            had = ""
        elif c.non_null:
            had = f" ({c.non_null} of {_rows(td.before)} had values)"
        else:
            had = " (held no values)" if td.before.row_count else " (the table was empty)"
        lines.append(f"    {REMOVED} column {_column_text(c)}{had}")
    for ch in td.changed_columns:
        lines.append(f"    {CHANGED} column {ch.name}: {_field_changes(ch)}")
    for r in td.renamed_columns:
        extra = f" ({_field_changes(r)})" if r.fields else ""
        lines.append(f"    {RENAMED} column {r.old} {RENAMED} {r.new}{extra}")
    if td.primary_key_changed:
        lines.append(
            f"    {CHANGED} primary key ({', '.join(td.before.primary_key)}) → ({', '.join(td.after.primary_key)})"
        )
    for mark, kind, items in (
        (ADDED, "foreign key", td.added_foreign_keys),
        (REMOVED, "foreign key", td.removed_foreign_keys),
        (ADDED, "index", td.added_indexes),
        (REMOVED, "index", td.removed_indexes),
        (ADDED, "unique", td.added_unique_constraints),
        (REMOVED, "unique", td.removed_unique_constraints),
        (ADDED, "check", td.added_check_constraints),
        (REMOVED, "check", td.removed_check_constraints),
    ):
        lines += [f"    {mark} {_constraint_text(kind, item)}" for item in items]
    if td.comment_changed:
        lines.append(f"    {CHANGED} comment {td.before.comment!r} → {td.after.comment!r}")
    return lines


def _whole_table_text(mark: str, t: Table) -> list[str]:
    lines = [f"{mark} table {t.name}" + (f" ({_rows(t)})" if mark == REMOVED else "")]
    lines += [f"    {mark} column {_column_text(c)}" for c in t.columns]
    lines += [f"    {mark} {kind}{' ' + name if name else ''} {definition}" for kind, name, definition, key in
              _constraints(t) if key != "pk"]
    return lines


def render_diff_text(d: SchemaDiff) -> str:
    """A diff as plain text, with the same markers as the HTML."""
    heading, summary = _diff_heading(d)
    lines = [f"{heading} ({summary})" if summary else heading]
    if d.data_loss:
        lines.append("DATA LOSS:")
        lines += [f"  ! {note}" for note in d.data_loss]
    for t in d.removed:
        lines += _whole_table_text(REMOVED, t)
    for t in d.added:
        lines += _whole_table_text(ADDED, t)
    for td in d.changed:
        lines += _table_diff_text(td)
    if d.unchanged:
        lines.append(_unchanged_line(d.unchanged))
    if d.version_changed:
        lines.append(
            f"{d.after.version_table_name}: {_versions(d.before.version_table)} → {_versions(d.after.version_table)}"
        )
    return mask("\n".join(lines))
