"""Entity-relationship diagrams of schema snapshots, as Graphviz DOT.

No IPython and no HTML. :func:`diagram` builds the model (what is drawn, with each item's
status), :mod:`nbmigrate.render._erd_dot` draws it as DOT (Graphviz's HTML-like node labels,
colours), :func:`nbmigrate.render._dot.render_svg` lays it out as it does the revision graph,
and :mod:`nbmigrate.render.erd` renders it for notebooks and terminals.
:func:`nbmigrate.erd.erd` puts the three together as a result.

How a schema is drawn:

- One node per table: its name, then one row per column (database order) with the column's
  name, type and key marks: ``PK`` primary key, ``FK`` foreign key, ``UQ`` unique constraint or
  unique index, ``IX`` other index.
- One edge per column pair of each foreign key, from the referencing column (port
  ``column_port(c, "e")``, east side) to the referred column (``column_port(c, "w")``); crow's
  foot notation: a crow at the referencing end (a tee when its columns are unique), a tee at
  the referred end (with a ring when a referencing column is nullable: zero or one).
- ``tables=`` draws only the tables named. A table outside them that one of them refers to is
  drawn as a *stub*: a dashed box with its name and only the referred columns, so every edge
  still ends on its column. So is a referred table the snapshot lacks (another schema). Tables
  outside the filter that refer to drawn tables are left out.
- With a ``diff`` (:func:`nbmigrate.schema.diff`, whose ``after`` is the snapshot drawn), the
  diagram is of the union of both snapshots: added tables, columns, marks and foreign keys in
  green with ``+``, removed ones in red with ``−`` (taken from ``diff.before``), changed columns
  (type, nullability, default, comment) in amber with ``~`` and what changed, renamed tables and
  columns in blue with ``→``; a legend says so (only when the diff is not empty). Check
  constraints and comments are not drawn.

Colours: nodes are filled (white, or a light tint) with dark text, so they read on light and
dark pages alike; edges, borders and edge marks use mid-tone colours that keep a contrast of 3:1
or more against both white and JupyterLab's dark background. The output is deterministic:
tables by name, edges by their endpoints, node and port names derived from the names only
(:func:`node_id`, :func:`column_port`), so any name, ``<``, ``&`` or ``:`` in it, is safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import BadArguments
from ._erd_dot import ADDED, CHANGED, REMOVED, RENAMED, draw, node_id

if TYPE_CHECKING:
    from ..schema import Column, ForeignKey, SchemaDiff, Snapshot, Table, TableDiff

__all__ = ["Diagram", "ErdColumn", "ErdEdge", "ErdTable", "diagram", "erd_dot"]

_MARK_ORDER = ("PK", "FK", "UQ", "IX")

@dataclass(frozen=True)
class ErdColumn:
    """One drawn column: ``marks`` are (mark, status) pairs, ``note`` what changed."""

    name: str
    type: str
    nullable: bool = True
    marks: tuple[tuple[str, str], ...] = ()
    status: str = ""
    was: str | None = None
    note: str = ""


@dataclass(frozen=True)
class ErdTable:
    """One drawn table; a ``stub`` is a table outside the filter that a drawn table refers to."""

    name: str
    columns: tuple[ErdColumn, ...]
    status: str = ""
    was: str | None = None
    schema: str | None = None
    stub: bool = False
    row_count: int | None = None

    @property
    def node(self) -> str:
        """The table's DOT node name."""
        return node_id(self.name, self.schema)

    @property
    def title(self) -> str:
        """The name as shown, schema-qualified for a table of another schema."""
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class ErdEdge:
    """One column pair of a foreign key, between drawn tables (names as drawn: after a rename)."""

    table: str
    column: str
    referred_table: str
    referred_column: str
    referred_schema: str | None = None
    status: str = ""
    constraint: str | None = None
    one_to_one: bool = False
    optional: bool = True

    def describe(self) -> str:
        """``table.column → referred.column`` in plain text."""
        target = f"{self.referred_schema}.{self.referred_table}" if self.referred_schema else self.referred_table
        return f"{self.table}.{self.column} → {target}.{self.referred_column}"


@dataclass(frozen=True)
class Diagram:
    """What an ER diagram shows: tables (drawn ones, then stubs), edges, whether it is a diff."""

    tables: tuple[ErdTable, ...]
    edges: tuple[ErdEdge, ...]
    changes: bool = False

    def table(self, name: str, schema: str | None = None) -> ErdTable:
        """The drawn table (or stub) called ``name`` (KeyError if there is none)."""
        for t in self.tables:
            if (t.name, t.schema) == (name, schema):
                return t
        raise KeyError(f"no table {name!r} in this diagram")

    def to_dot(self) -> str:
        """The diagram as Graphviz DOT source."""
        return draw(self)


# -- building the diagram ----------------------------------------------------------------------


def _marks(table: Table, rename: dict[str, str] | None = None) -> dict[str, set[str]]:
    """Each column's key marks; ``rename`` maps before-names to after-names."""
    out: dict[str, set[str]] = {}

    def mark(columns: Iterable[str], what: str) -> None:
        for c in columns:
            out.setdefault((rename or {}).get(c, c), set()).add(what)

    mark(table.primary_key, "PK")
    for fk in table.foreign_keys:
        mark(fk.columns, "FK")
    for uq in table.unique_constraints:
        mark(uq.columns, "UQ")
    for ix in table.indexes:
        mark(ix.columns, "UQ" if ix.unique else "IX")
    return out


def _change_note(before: Column, after: Column, fields: tuple[str, ...]) -> str:
    parts = [f"{before.type} → {after.type}" if "type" in fields else after.type]
    if "nullable" in fields:
        parts.append("NULL → NOT NULL" if before.nullable else "NOT NULL → NULL")
    if "default" in fields:
        parts.append(f"default {before.default or 'none'} → {after.default or 'none'}")
    if "comment" in fields:
        parts.append("comment changed")
    return "; ".join(parts)


def _plain_columns(table: Table) -> tuple[ErdColumn, ...]:
    marks = _marks(table)
    return tuple(
        ErdColumn(c.name, c.type, c.nullable, tuple((m, "") for m in _MARK_ORDER if m in marks.get(c.name, ())))
        for c in table.columns
    )


def _diff_columns(td: TableDiff) -> tuple[ErdColumn, ...]:
    """The union of a changed table's columns: after's order, each removed one after its predecessor."""
    rename = {r.old: r.new for r in td.renamed_columns}
    old_marks, new_marks = _marks(td.before, rename), _marks(td.after)
    added = {c.name for c in td.added_columns}
    changed = {c.name: c for c in td.changed_columns}
    renamed = {r.new: r for r in td.renamed_columns}
    rows: list[ErdColumn] = []
    for col in td.after.columns:
        if col.name in added:
            status, note, was = ADDED, "", None
        elif col.name in changed:
            ch = changed[col.name]
            status, note, was = CHANGED, _change_note(ch.before, ch.after, ch.fields), None
        elif col.name in renamed:
            status, note, was = RENAMED, "", renamed[col.name].old
        else:
            status, note, was = "", "", None
        old, new = old_marks.get(col.name, set()), new_marks.get(col.name, set())
        if status == ADDED:
            old = new  # a new column's marks are new with it: its row says so once
        marks = tuple(
            (m, "" if (m in old) == (m in new) else (ADDED if m in new else REMOVED))
            for m in _MARK_ORDER if m in old | new
        )
        rows.append(ErdColumn(col.name, col.type, col.nullable, marks, status, was, note))
    before_names = [rename.get(c.name, c.name) for c in td.before.columns]
    plain_old = _marks(td.before)
    for col in td.removed_columns:
        at = before_names.index(col.name)
        drawn = [r.name for r in rows]
        previous = next((n for n in reversed(before_names[:at]) if n in drawn), None)
        where = drawn.index(previous) + 1 if previous is not None else 0
        marks = tuple((m, "") for m in _MARK_ORDER if m in plain_old.get(col.name, ()))
        rows.insert(where, ErdColumn(col.name, col.type, col.nullable, marks, REMOVED))
    return tuple(rows)


@dataclass
class _Entry:
    """One table of the union: its drawn form, its own table, its foreign keys with their status."""

    table: ErdTable
    source: Table
    fks: list[tuple[ForeignKey, str, bool]]  # (fk, status, from the before side)


def _union(snapshot: Snapshot, diff: SchemaDiff | None) -> tuple[dict[str, _Entry], dict[str, str], dict[str, dict[str, str]]]:
    """Every table to draw by drawn name, renamed tables' old names, renamed columns' old names."""
    whole = [(t, "") for t in snapshot.tables.values()] if diff is None else (
        [(t, ADDED) for t in diff.added] + [(t, REMOVED) for t in diff.removed]
        + [(diff.after.tables[n], "") for n in diff.unchanged]
    )
    entries = {
        t.name: _Entry(ErdTable(t.name, _plain_columns(t), status, row_count=t.row_count), t,
                       [(fk, status, status == REMOVED) for fk in t.foreign_keys])
        for t, status in whole
    }
    alias: dict[str, str] = {}
    col_alias: dict[str, dict[str, str]] = {}
    for td in diff.changed if diff is not None else ():
        if td.renamed_from:
            alias[td.renamed_from] = td.name
        col_alias[td.name] = {r.old: r.new for r in td.renamed_columns}
        fks = [(fk, ADDED if fk in td.added_foreign_keys else "", False) for fk in td.after.foreign_keys]
        fks += [(fk, REMOVED, True) for fk in td.removed_foreign_keys]
        status = RENAMED if td.renamed_from else ""
        table = ErdTable(td.name, _diff_columns(td), status, td.renamed_from, row_count=td.after.row_count)
        entries[td.name] = _Entry(table, td.after, fks)
    return entries, alias, col_alias


def diagram(snapshot: Snapshot, *, tables: Iterable[str] | None = None, diff: SchemaDiff | None = None) -> Diagram:
    """The tables and edges an ER diagram of ``snapshot`` (and, with ``diff``, its changes) shows."""
    if diff is not None and snapshot != diff.after:
        raise ValueError("diff must be the diff of the drawn snapshot: nbmigrate.schema.diff(before, snapshot)")
    entries, alias, col_alias = _union(snapshot, diff)
    wanted = set(entries)
    if tables is not None:
        names = (tables,) if isinstance(tables, str) else tuple(tables)
        unknown = [n for n in names if n not in entries and n not in alias]
        if unknown:
            known = ", ".join(sorted(entries)) or "none"
            raise BadArguments(f"No table {', '.join(map(repr, unknown))} in the schema; its tables: {known}.")
        wanted = {alias.get(n, n) for n in names}

    edges: list[ErdEdge] = []
    stubs: dict[tuple[str, str | None], list[str]] = {}  # (table, schema) -> referred columns
    for name in sorted(wanted):
        source = entries[name].source
        unique = {frozenset(source.primary_key)} | {frozenset(u.columns) for u in source.unique_constraints}
        unique |= {frozenset(i.columns) for i in source.indexes if i.unique}
        nullable = {c.name for c in entries[name].table.columns if c.nullable}
        resolved = []
        for fk, status, before_side in entries[name].fks:
            # A foreign key of the before side names what was renamed since by its old names.
            target, schema = fk.referred_table, fk.referred_schema
            if before_side and schema is None:
                target = alias.get(target, target)
            own = col_alias.get(name, {}) if before_side else {}
            theirs = col_alias.get(target, {}) if before_side and schema is None else {}
            pairs = tuple((own.get(c, c), theirs.get(r, r)) for c, r in zip(fk.columns, fk.referred_columns))
            resolved.append(((fk.name, target, schema, pairs, fk.ondelete, fk.onupdate), status))
        # The diff sees a key naming a renamed table or column as dropped and made anew: it is the same.
        same = {key for key, status in resolved if status == REMOVED} & {key for key, status in resolved if status == ADDED}
        for key, status in resolved:
            constraint, target, schema, pairs = key[:4]
            if key in same:
                if status == REMOVED:
                    continue
                status = ""
            if schema is not None or target not in wanted:
                cols = stubs.setdefault((target, schema), [])
                cols.extend(r for _, r in pairs if r not in cols)
            one_to_one = frozenset(c for c, _ in pairs) in unique
            optional = any(c in nullable for c, _ in pairs)
            edges.extend(ErdEdge(name, c, target, r, schema, status, constraint, one_to_one, optional) for c, r in pairs)
    drawn = [entries[n].table for n in sorted(wanted)]
    for (target, schema), cols in sorted(stubs.items(), key=lambda kv: (kv[0][1] or "", kv[0][0])):
        # A stub shows the referred columns in their table's order, with their types when known.
        known = {c.name: c for c in entries[target].table.columns} if schema is None and target in entries else {}
        order = list(known)
        cols.sort(key=lambda c: order.index(c) if c in order else len(order))
        columns = tuple(ErdColumn(c, known[c].type, known[c].nullable) if c in known else ErdColumn(c, "") for c in cols)
        drawn.append(ErdTable(target, columns, schema=schema, stub=True))
    edges.sort(key=lambda e: (e.table, e.column, e.referred_schema or "", e.referred_table, e.referred_column,
                              e.status, e.constraint or ""))
    return Diagram(tuple(drawn), tuple(edges), changes=diff is not None and not diff.is_empty)


def erd_dot(snapshot: Snapshot, *, tables: Iterable[str] | None = None, diff: SchemaDiff | None = None) -> str:
    """Graphviz DOT of an ER diagram of ``snapshot``; with ``diff``, of both sides with the changes marked."""
    return diagram(snapshot, tables=tables, diff=diff).to_dot()
