"""SQL text to :class:`Action` objects, through sqlglot (imported on first use).

Each statement Alembic writes offline (and each one an ``op.execute`` holds) is parsed by sqlglot
in the dialect of the database and reduced to what the rules ask about: which table, which column,
which kind of change, with which options. sqlglot parses a statement it does not model
(``ALTER TABLE ... VALIDATE CONSTRAINT``, MySQL's ``MODIFY`` in some forms) as a ``Command``; those
are read from sqlglot's own tokens. Whatever is left is an ``unparsed`` action, never dropped.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from .actions import (  # the actions are defined with the helpers the two parsers share
    Action,
    ColType,
    ColumnSpec,
    column_spec,
    column_type,
    sqlglot_dialect,
    table_name,
    type_from_text,
)
from .parse_alter import alter_actions, command_actions

__all__ = ["Action", "ColType", "ColumnSpec", "column_spec", "column_type", "parse", "sqlglot_dialect", "table_name", "type_from_text"]

_DATA = {"Insert": "INSERT", "Update": "UPDATE", "Delete": "DELETE", "Select": "SELECT", "Merge": "MERGE", "Union": "SELECT"}


class _Quiet(logging.Filter):
    """Drops sqlglot's "falling back to a Command" warnings while this module parses."""

    def __init__(self) -> None:
        super().__init__()
        self.active = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.active, "on", False)


_QUIET = _Quiet()


@functools.lru_cache(maxsize=8192)
def parse(sql: str, dialect: str) -> tuple[Action, ...]:
    """The actions of one SQL text (it may hold several statements), parsed in ``dialect``."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    logger = logging.getLogger("sqlglot")
    if _QUIET not in logger.filters:
        logger.addFilter(_QUIET)
    _QUIET.active.on = True
    try:
        try:
            trees = [t for t in sqlglot.parse(sql, read=sqlglot_dialect(dialect)) if t is not None]
        except SqlglotError as exc:
            return (Action("unparsed", sql=sql, detail=f"sqlglot cannot parse it ({_parse_error(exc)})"),)
        except RecursionError:
            return (Action("unparsed", sql=sql, detail="too deeply nested for sqlglot"),)
        out: list[Action] = []
        for tree in trees:
            # One statement keeps its own text; several (one op.execute) each get sqlglot's.
            text = sql.strip() if len(trees) == 1 else tree.sql(dialect=sqlglot_dialect(dialect))
            out.extend(_with_sql(a, text) for a in _actions(tree, dialect))
    finally:
        _QUIET.active.on = False
    return tuple(out)


def _parse_error(exc: Exception) -> str:
    """Where and why sqlglot stopped, in a few words (its message quotes whole tokens)."""
    errors = getattr(exc, "errors", None) or []
    if errors:
        first = errors[0]
        why = str(first.get("description", "")).split(" but got ")[0]
        return f"{why} at line {first.get('line')}, column {first.get('col')}"
    return str(exc).splitlines()[0][:120]


def _with_sql(action: Action, text: str) -> Action:
    """The action with its statement's text; set in place: the action was made just now, by this parse."""
    if not action.sql:
        object.__setattr__(action, "sql", text)  # dataclasses.replace would copy every field, for every action
    return action


def _actions(tree: Any, dialect: str) -> list[Action]:
    from sqlglot import exp

    kind = type(tree).__name__
    if isinstance(tree, exp.Alter) and (tree.args.get("kind") or "TABLE").upper() == "TABLE":
        return alter_actions(tree, dialect)
    if isinstance(tree, exp.Create):
        return [_create(tree, dialect)]
    if isinstance(tree, exp.Drop):
        return [_drop(tree)]
    if isinstance(tree, exp.TruncateTable):
        tables = [table_name(t) for t in tree.expressions]
        cascade = str(tree.args.get("option") or "").upper() == "CASCADE"
        return [Action("truncate", table=t, cascade=cascade) for t in tables]
    if isinstance(tree, (exp.Transaction, exp.Commit, exp.Rollback)):
        word = {"Transaction": "BEGIN", "Commit": "COMMIT", "Rollback": "ROLLBACK"}[kind]
        return [Action("transaction", detail=word)]
    if isinstance(tree, exp.Set):
        return [_setting(item, dialect) for item in tree.expressions] or [Action("other")]
    if kind in _DATA:
        target = tree.find(exp.Table)
        return [Action("data", table=table_name(target) if target is not None else None, detail=_DATA[kind])]
    if isinstance(tree, exp.Command):
        return command_actions(tree, dialect)
    if isinstance(tree, (exp.Comment, exp.Grant)) or kind in ("Use", "Pragma", "Analyze"):
        return [Action("other")]
    return [Action("unparsed", detail=f"{kind} statements are not modelled")]


def _create(tree: Any, dialect: str) -> Action:
    from sqlglot import exp

    what = (tree.args.get("kind") or "").upper()
    if what == "INDEX":
        index = tree.this
        target = index.args.get("table")
        return Action(
            "create_index", table=table_name(target) if target is not None else None, index=index.name,
            concurrently=bool(tree.args.get("concurrently")), if_exists=bool(tree.args.get("exists")),
            detail="UNIQUE" if tree.args.get("unique") else "",
        )
    if what != "TABLE":
        return Action("other", detail=f"CREATE {what}")
    schema = tree.this
    target = schema.this if isinstance(schema, exp.Schema) else schema
    name = table_name(target)
    columns: list[ColumnSpec] = []
    pk_columns: set[str] = set()
    referenced: list[str] = []
    for item in (schema.expressions if isinstance(schema, exp.Schema) else []):
        if isinstance(item, exp.ColumnDef):
            columns.append(column_spec(item, dialect))
        elif isinstance(item, exp.PrimaryKey):
            pk_columns |= {e.name for e in item.expressions}
        for ref in item.find_all(exp.Reference):
            inner = ref.this.this if isinstance(ref.this, exp.Schema) else ref.this
            referenced.append(table_name(inner))
    if pk_columns:
        from dataclasses import replace

        columns = [replace(c, primary_key=True) if c.name in pk_columns else c for c in columns]
    return Action("create_table", table=name, columns=tuple(columns), referenced=tuple(referenced))


def _drop(tree: Any) -> Action:
    what = (tree.args.get("kind") or "").upper()
    names = [table_name(t) for t in tree.args.get("tables") or []]
    if what == "TABLE":
        return Action("drop_table", table=names[0] if names else None, if_exists=bool(tree.args.get("exists")),
                      cascade=bool(tree.args.get("cascade")), detail=", ".join(names))
    if what == "INDEX":
        on = tree.args.get("cluster")  # MySQL's DROP INDEX i ON t
        on = on.this if on is not None else None
        return Action("drop_index", index=names[0] if names else None, table=table_name(on) if on is not None else None,
                      concurrently=bool(tree.args.get("concurrently")), if_exists=bool(tree.args.get("exists")))
    return Action("other", detail=f"DROP {what}")


def _setting(item: Any, dialect: str) -> Action:
    from sqlglot import exp

    assignment = item.this
    if isinstance(assignment, exp.EQ):
        name = assignment.this.sql(dialect=sqlglot_dialect(dialect)).lower()
        value = assignment.expression
        text = value.name if isinstance(value, exp.Literal) else value.sql(dialect=sqlglot_dialect(dialect))
        for prefix in ("session ", "local ", "@@session.", "@@"):
            name = name.removeprefix(prefix)
        return Action("set", column=name, new=str(text))
    return Action("other")
