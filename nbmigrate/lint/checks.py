"""Which rules one action breaks, given what the analysis knows so far (:class:`~nbmigrate.lint.analyze.Context`).

Each ``_on_<kind>`` function answers for one kind of :class:`~nbmigrate.lint.parse.Action` and
records what the action changes (a column's type, a new table), so that later statements are
judged against the schema as it will be by then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .rules import ACCESS_EXCLUSIVE, METADATA, SHARE, SHARE_ROW_EXCLUSIVE, Hit

if TYPE_CHECKING:
    from .analyze import Context, Statement
    from .parse import Action, ColType, ColumnSpec

# Functions whose value differs row by row (PostgreSQL: provolatile = 'v'), when the database is
# not there to ask; and MySQL/MariaDB defaults that make the server copy the table.
PG_VOLATILE = {"gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "random",
               "clock_timestamp", "timeofday", "nextval", "uuidv4", "uuidv7",
               "uuid", "rand"}  # sqlglot's own names for gen_random_uuid() and random()
MYSQL_COPYING_DEFAULTS = {"uuid", "uuid_short", "sys_guid"}
_SMALL_KEYS = {"INT", "SMALLINT", "TINYINT", "MEDIUMINT", "SERIAL", "SMALLSERIAL", "UINT", "USMALLINT"}
_BLOCKING_PG = {ACCESS_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE}


def check(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    """The rules ``action`` (from ``stmt``) breaks; records what it changes in ``ctx``."""
    handler = _HANDLERS.get(action.kind)
    return handler(action, stmt, ctx) if handler is not None else []


def statement_lock(action: Action, stmt: Statement, ctx: Context) -> str | None:
    """The blocking lock ``action`` takes on a table that already exists, which wants a lock timeout first."""
    if action.table is None or action.table in ctx.created or stmt.batch is not None:
        return None
    if ctx.dialect == "postgresql":
        lock = _PG_LOCKS.get(action.kind)
        if action.kind == "create_index":
            lock = None if action.concurrently else SHARE
        elif action.kind == "drop_index":
            lock = None if action.concurrently else ACCESS_EXCLUSIVE
        elif action.kind == "add_constraint" and action.constraint_kind == "foreign key":
            lock = SHARE_ROW_EXCLUSIVE
        return lock if lock in _BLOCKING_PG else None
    if ctx.dialect in ("mysql", "mariadb") and action.kind in _PG_LOCKS and action.kind != "set_default":
        return METADATA  # every ALTER waits for the table's metadata lock, even an instant one
    return None


_PG_LOCKS = {k: ACCESS_EXCLUSIVE for k in (
    "add_column", "drop_column", "rename_column", "alter_type", "set_not_null", "drop_not_null", "set_default",
    "modify_column", "add_constraint", "drop_constraint", "rename_table", "drop_table", "truncate", "create_index",
    "drop_index")}


def _hit(code: str, action: Action, **fields: str | None) -> Hit:
    values = {k: v for k, v in fields.items() if v is not None}
    if action.column and "column" not in values:
        values["column"] = action.column
    return Hit(code, action.table, values)


def _sqlite_refuses(action: Action, what: str) -> list[Hit]:
    return [_hit("NBM402", action, detail=what)]


# -- columns -----------------------------------------------------------------------------------------


def _on_add_column(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    spec = action.spec
    assert spec is not None
    hits = []
    if spec.not_null and spec.default is None and not spec.auto_increment and not spec.generated_stored:
        hits.append(_hit("NBM101", action))
    if action.detail == "batch":
        return hits
    if ctx.dialect == "sqlite":
        for bad, what in ((spec.primary_key, "ADD COLUMN with PRIMARY KEY"),
                          (bool(spec.default_functions), f"ADD COLUMN with a non-constant default ({spec.default})"),
                          (spec.generated_stored, "ADD COLUMN ... STORED")):
            if bad:
                hits += _sqlite_refuses(action, what)
    rewriting = _rewriting_default(spec, ctx)
    if rewriting:
        hits.append(_hit("NBM102", action, detail=rewriting))
    if spec.auto_increment:
        hits.append(_hit("NBM103", action))
    if spec.generated_stored:
        hits.append(_hit("NBM104", action))
    hits += _type_style(action.table, spec, ctx)
    _remember(ctx, action.table, spec)
    return hits


def _rewriting_default(spec: ColumnSpec, ctx: Context) -> str | None:
    """The default (as SQL) when it makes adding the column rewrite the table, else ``None``."""
    if spec.default is None or spec.default.upper() == "NULL" or spec.generated_stored:
        return None
    if ctx.dialect == "postgresql":
        if not ctx.at_least(11):
            return spec.default
        for name in spec.default_functions:
            known = ctx.facts.volatile(name)
            if known or (known is None and name in PG_VOLATILE):
                return f"{spec.default}, which is volatile"
        return None
    if ctx.dialect in ("mysql", "mariadb") and MYSQL_COPYING_DEFAULTS & set(spec.default_functions):
        return spec.default
    return None


def _type_style(table: str | None, spec: ColumnSpec, ctx: Context) -> list[Hit]:
    """The info rules about the column's type (NBM601-NBM604)."""
    t = spec.type
    if t is None:
        return []
    hits = []
    fields = {"column": spec.name, "type": t.sql}
    if spec.primary_key and t.name in _SMALL_KEYS:
        hits.append(Hit("NBM601", table, fields))
    if ctx.dialect == "postgresql":
        if t.name == "TIMESTAMP":
            hits.append(Hit("NBM602", table, fields))
        elif t.name == "JSON":
            hits.append(Hit("NBM603", table, fields))
        elif t.name in ("CHAR", "NCHAR"):
            hits.append(Hit("NBM604", table, {**fields, "detail": ", ".join(t.params) or "1"}))
    return hits


def _remember(ctx: Context, table: str | None, spec: ColumnSpec) -> None:
    if table is not None:
        ctx.types[(table, spec.name)] = spec.type
        ctx.nullable[(table, spec.name)] = not (spec.not_null or spec.primary_key)


def _on_drop_column(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    hits = [_hit("NBM108", action)]
    if ctx.dialect == "sqlite" and action.detail != "batch" and not ctx.at_least(3, 35):
        hits += _sqlite_refuses(action, "DROP COLUMN before SQLite 3.35")
    return hits


def _on_rename_column(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    hits = [_hit("NBM107", action, new=action.new)]
    if ctx.dialect == "sqlite" and action.detail != "batch" and not ctx.at_least(3, 25):
        hits += _sqlite_refuses(action, "RENAME COLUMN before SQLite 3.25")
    key = (action.table or "", action.column or "")
    for known in (ctx.types, ctx.nullable):
        if key in known:
            known[(key[0], action.new or "")] = known.pop(key)  # type: ignore[assignment]
    return hits


def _on_alter_type(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    if ctx.dialect == "sqlite":
        return _sqlite_refuses(action, "ALTER COLUMN ... TYPE")
    assert action.spec is not None
    new = action.spec.type
    old, _ = ctx.column(action.table, action.column)
    if action.table is not None and action.column is not None:
        ctx.types[(action.table, action.column)] = new
    if new is None or (old is not None and _free_change(old, new, ctx)):
        return _type_style(action.table, action.spec, ctx)
    shown = new.sql if old is not None else f"{new.sql} (its current type is not known)"
    return [_hit("NBM105", action, type=shown)] + _type_style(action.table, action.spec, ctx)


def _free_change(old: ColType, new: ColType, ctx: Context) -> bool:
    """Whether changing ``old`` to ``new`` leaves the rows as they are (no rewrite, no copy)."""
    if old.same_as(new):
        return True
    widened = old.name == new.name == "VARCHAR" and (not new.params or (old.params and int(new.params[0]) >= int(old.params[0])))
    if ctx.dialect == "postgresql":
        if widened or (old.name in ("VARCHAR", "TEXT") and new.name == "TEXT"):
            return True
        if old.name == "TEXT" and new.name == "VARCHAR" and not new.params:
            return True
        if old.name == new.name == "DECIMAL":
            return not new.params or (len(old.params) == len(new.params) == 2 and old.params[1] == new.params[1]
                                      and int(new.params[0]) >= int(old.params[0]))
        return False
    if widened and old.params and new.params:
        if ctx.dialect == "mariadb" and ctx.at_least(10, 4):
            return True
        # MySQL extends a VARCHAR in place while its length prefix stays one byte (or stays two):
        # 255 bytes, 63 characters of utf8mb4.
        return (int(old.params[0]) * 4 <= 255) == (int(new.params[0]) * 4 <= 255)
    return False


def _on_set_not_null(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    if ctx.dialect == "sqlite":
        return _sqlite_refuses(action, "ALTER COLUMN ... SET NOT NULL")
    key = (action.table or "", action.column or "")
    ctx.nullable[key] = False
    checked = key in ctx.not_null_checks or ctx.facts.not_null_checked(*key)
    if ctx.dialect == "postgresql" and checked and ctx.at_least(12):
        return []  # PostgreSQL 12+ trusts a validated CHECK (column IS NOT NULL): no scan
    return [_hit("NBM106", action)]


def _on_drop_not_null(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    if ctx.dialect == "sqlite" and action.detail != "batch":
        return _sqlite_refuses(action, "ALTER COLUMN ... DROP NOT NULL")
    ctx.nullable[(action.table or "", action.column or "")] = True
    return [_hit("NBM109", action)]


def _on_set_default(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    return _sqlite_refuses(action, "ALTER COLUMN ... SET DEFAULT") if ctx.dialect == "sqlite" else []


def _on_modify_column(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    """MySQL's MODIFY/CHANGE restates the whole column: compare it with what it was."""
    spec = action.spec
    assert spec is not None
    hits = []
    old_type, old_nullable = ctx.column(action.table, action.column)
    if action.new and action.new != action.column:
        hits.append(_hit("NBM107", action, new=action.new))
    if spec.type is not None and (old_type is None or not _free_change(old_type, spec.type, ctx)):
        shown = spec.type.sql if old_type is not None else f"{spec.type.sql} (its current type is not known)"
        hits.append(_hit("NBM105", action, type=shown))
    if old_nullable is True and spec.not_null:
        hits.append(_hit("NBM106", action))
    elif old_nullable is False and not spec.not_null:
        hits.append(_hit("NBM109", action))
    if action.table is not None:
        for known in (ctx.types, ctx.nullable):
            known.pop((action.table, action.column or ""), None)
        _remember(ctx, action.table, spec)
    return hits


# -- indexes and constraints -----------------------------------------------------------------------


def _on_create_index(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    if action.index and action.table:
        ctx.index_tables[action.index] = action.table
    if ctx.dialect != "postgresql":
        return []
    if action.concurrently:
        what = f"CREATE INDEX CONCURRENTLY {action.index}"
        if stmt.in_transaction:
            return [_hit("NBM202", action, index=action.index, detail=what)]
        if not action.if_exists and action.index not in ctx.dropped_concurrently:
            return [_hit("NBM204", action, index=action.index, detail=what)]
        return []
    return [_hit("NBM201", action, index=action.index)]


def _on_drop_index(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    from dataclasses import replace

    table = action.table or ctx.index_tables.get(action.index or "") or ctx.facts.index_table(action.index or "")
    action = replace(action, table=table)
    if ctx.dialect != "postgresql":
        return []
    if action.concurrently:
        ctx.dropped_concurrently.add(action.index or "")
        what = f"DROP INDEX CONCURRENTLY {action.index}"
        if stmt.in_transaction:
            return [_hit("NBM202", action, index=action.index, detail=what)]
        return [] if action.if_exists else [_hit("NBM204", action, index=action.index, detail=what)]
    return [_hit("NBM203", action, index=action.index, lock=ACCESS_EXCLUSIVE)]


def _on_add_constraint(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    if ctx.dialect == "sqlite":
        return _sqlite_refuses(action, f"ADD CONSTRAINT ({action.constraint_kind})")
    kind, name = action.constraint_kind, action.constraint or "..."
    if kind == "foreign key":
        if action.not_valid and ctx.dialect == "postgresql":
            ctx.added_not_valid[name] = SHARE_ROW_EXCLUSIVE
            return []
        if ctx.dialect in ("mysql", "mariadb") and not ctx.fk_checks:
            return []  # foreign_key_checks = 0: added in place, existing rows not checked
        return [_hit("NBM205", action, constraint=name, referenced=", ".join(action.referenced) or "...")]
    if kind == "check":
        column = _not_null_column(action.check)
        if action.not_valid and ctx.dialect == "postgresql":
            ctx.added_not_valid[name] = ACCESS_EXCLUSIVE
            ctx.not_valid[name] = (action.table or "", column)
            return []
        if column is not None:
            ctx.not_null_checks.add((action.table or "", column))
        return [_hit("NBM206", action, constraint=name)]
    if kind in ("unique", "primary key") and action.detail != "USING INDEX":
        return [_hit("NBM208" if kind == "unique" else "NBM209", action, constraint=name)]
    return []


def _not_null_column(check: str | None) -> str | None:
    """The column of a ``column IS NOT NULL`` check, else ``None``."""
    if not check:
        return None
    words = check.replace("(", " ").replace(")", " ").split()
    if len(words) == 4 and [w.upper() for w in words[1:]] == ["IS", "NOT", "NULL"]:
        return words[0].strip('"`')
    return None


def _on_validate_constraint(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    name = action.constraint or ""
    table, column = ctx.not_valid.get(name, (action.table or "", None))
    if column is not None:
        ctx.not_null_checks.add((table, column))
    if name in ctx.added_not_valid:
        lock = ctx.added_not_valid[name]
        return [Hit("NBM207", action.table, {"constraint": name, "lock": lock}, lock)]
    return []


# -- tables and the rest -----------------------------------------------------------------------------


def _on_create_table(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    if action.table is None:
        return []
    ctx.created.add(action.table)
    hits = []
    for spec in action.columns:
        _remember(ctx, action.table, spec)
        hits += _type_style(action.table, spec, ctx)
    return hits


def _on_rename_table(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    if action.table in ctx.created and action.new:
        ctx.created.add(action.new)
    return [_hit("NBM301", action, new=action.new)]


def _on_data(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    if action.detail == "INSERT" and action.table in ctx.created:
        return []  # seed rows of a table this revision creates
    where = f" on {action.table}" if action.table else ""
    return [Hit("NBM001", action.table, {"detail": f"{action.detail} statement{where} (data)"})]


def _on_transaction(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    if stmt.raw:
        return [Hit("NBM004", None, {"detail": action.detail})]
    if action.detail in ("COMMIT", "ROLLBACK"):  # an autocommit_block: what was added NOT VALID is committed
        ctx.added_not_valid.clear()
    return []


def _on_set(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    if is_timeout(action, ctx.dialect):
        ctx.timeout = action.new not in ("0", "0s", "0ms")
    elif action.column == "foreign_key_checks":
        ctx.fk_checks = action.new not in ("0", "OFF", "off", "FALSE", "false")
    return []


def _on_unparsed(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    return [Hit("NBM001", action.table, {"detail": action.detail})]


def _on_batch_copy(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
    return [Hit("NBM401", action.table, {"detail": action.detail})]


def _simple(code: str) -> Callable[[Action, Statement, Context], list[Hit]]:
    def handler(action: Action, stmt: Statement, ctx: Context) -> list[Hit]:
        return [_hit(code, action, detail=" and every table that references it (CASCADE)" if action.cascade else "")]

    return handler


_HANDLERS: dict[str, Callable[[Any, Any, Any], list[Hit]]] = {
    "add_column": _on_add_column, "drop_column": _on_drop_column, "rename_column": _on_rename_column,
    "alter_type": _on_alter_type, "set_not_null": _on_set_not_null, "drop_not_null": _on_drop_not_null,
    "set_default": _on_set_default, "modify_column": _on_modify_column, "create_index": _on_create_index,
    "drop_index": _on_drop_index, "add_constraint": _on_add_constraint, "validate_constraint": _on_validate_constraint,
    "create_table": _on_create_table, "rename_table": _on_rename_table, "drop_table": _simple("NBM302"),
    "truncate": _simple("NBM303"), "data": _on_data, "transaction": _on_transaction, "set": _on_set,
    "unparsed": _on_unparsed, "batch_copy": _on_batch_copy,
}


def is_timeout(action: Any, dialect: str) -> bool:
    """Whether a ``SET`` action sets the lock timeout of ``dialect``."""
    return action.column in (("lock_timeout",) if dialect == "postgresql" else ("lock_wait_timeout", "innodb_lock_wait_timeout"))
