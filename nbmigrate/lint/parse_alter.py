"""``ALTER TABLE`` statements (and the ``Command`` trees sqlglot falls back to) as :class:`Action` objects."""

from __future__ import annotations

from typing import Any

from .actions import Action, column_spec, column_type, sqlglot_dialect, table_name


def alter_actions(tree: Any, dialect: str) -> list[Action]:
    """One action per clause of an ``ALTER TABLE``."""
    from sqlglot import exp

    table = table_name(tree.this)
    not_valid = bool(tree.args.get("not_valid"))
    out: list[Action] = []
    options = tree.args.get("options") or []
    for action in tree.args.get("actions") or []:
        if isinstance(action, exp.ColumnDef):
            out.append(Action("add_column", table=table, column=action.name, spec=column_spec(action, dialect)))
        elif isinstance(action, exp.AlterColumn):
            out.append(_alter_column(table, action, dialect))
        elif isinstance(action, exp.ModifyColumn):  # MySQL MODIFY / CHANGE: the whole column restated
            spec = column_spec(action.this, dialect)
            old = action.args.get("rename_from")
            out.append(Action("modify_column", table=table, column=old.name if old is not None else spec.name,
                              new=spec.name, spec=spec))
        elif isinstance(action, exp.RenameColumn):
            out.append(Action("rename_column", table=table, column=action.this.name, new=action.args["to"].name))
        elif isinstance(action, exp.AlterRename):
            to = next((o for o in options if isinstance(o, exp.ToTableProperty)), None)
            if to is not None:  # PostgreSQL's ALTER TABLE t RENAME c TO d: sqlglot reads c as a table
                out.append(Action("rename_column", table=table, column=table_name(action.this), new=table_name(to.this)))
            else:
                out.append(Action("rename_table", table=table, new=table_name(action.this)))
        elif isinstance(action, exp.Drop):
            out.append(_drop_clause(table, action))
        elif isinstance(action, exp.AddConstraint):
            out.extend(_add_constraint(table, item, not_valid) for item in action.expressions)
        else:
            out.append(Action("unparsed", table=table, detail=f"ALTER TABLE clause {type(action).__name__} is not modelled"))
    algorithm = next((o for o in options if isinstance(o, exp.AlgorithmProperty)), None)
    if algorithm is not None and out:
        out[-1] = _replace(out[-1], detail=(out[-1].detail + f" ALGORITHM={algorithm.this.name}").strip())
    return out or [Action("other", table=table)]


def _replace(action: Action, **changes: Any) -> Action:
    from dataclasses import replace

    return replace(action, **changes)


def _alter_column(table: str, node: Any, dialect: str) -> Action:
    column = node.name
    if node.args.get("dtype") is not None:
        using = node.args.get("using")
        return Action("alter_type", table=table, column=column,
                      spec=_typed(column, column_type(node.args["dtype"], dialect)),
                      detail="USING" if using else "")
    allow_null = node.args.get("allow_null")
    if allow_null is False:
        return Action("set_not_null", table=table, column=column)
    if allow_null is True and node.args.get("drop"):
        return Action("drop_not_null", table=table, column=column)
    if node.args.get("default") is not None or node.args.get("drop"):
        return Action("set_default", table=table, column=column)
    return Action("other", table=table, column=column)


def _typed(column: str, ctype: Any) -> Any:
    from .actions import ColumnSpec

    return ColumnSpec(column, ctype)


def _drop_clause(table: str, node: Any) -> Action:
    what = (node.args.get("kind") or "").upper()
    names = [t.name for t in node.args.get("tables") or []]
    name = names[0] if names else None
    if what == "COLUMN":
        return Action("drop_column", table=table, column=name, if_exists=bool(node.args.get("exists")))
    if what in ("CONSTRAINT", "FOREIGN KEY", "CHECK"):
        return Action("drop_constraint", table=table, constraint=name)
    if what == "INDEX":  # MySQL's ALTER TABLE t DROP INDEX i (Alembic's drop of a unique constraint)
        return Action("drop_index", table=table, index=name, detail="ALTER TABLE")
    if what == "PRIMARY KEY":
        return Action("drop_constraint", table=table, constraint="PRIMARY KEY")
    return Action("other", table=table, detail=f"DROP {what}")


def _add_constraint(table: str, item: Any, not_valid: bool) -> Action:
    from sqlglot import exp

    name = None
    body = item
    if isinstance(item, exp.Constraint):
        name = item.name
        body = item.expressions[0] if item.expressions else item
    if isinstance(body, exp.ForeignKey):
        ref = body.args.get("reference")
        target = ref.this.this if ref is not None and isinstance(ref.this, exp.Schema) else (ref.this if ref is not None else None)
        referenced = (table_name(target),) if target is not None else ()
        return Action("add_constraint", table=table, constraint=name, constraint_kind="foreign key",
                      referenced=referenced, not_valid=not_valid)
    if isinstance(body, exp.CheckColumnConstraint):
        return Action("add_constraint", table=table, constraint=name, constraint_kind="check",
                      not_valid=not_valid, check=body.this.sql())
    if isinstance(body, (exp.UniqueColumnConstraint, exp.PrimaryKey, exp.PrimaryKeyColumnConstraint)):
        kind = "unique" if isinstance(body, exp.UniqueColumnConstraint) else "primary key"
        using_index = "USING INDEX" in item.sql().upper()
        return Action("add_constraint", table=table, constraint=name, constraint_kind=kind,
                      detail="USING INDEX" if using_index else "")
    return Action("add_constraint", table=table, constraint=name, constraint_kind=type(body).__name__.lower(),
                  not_valid=not_valid)


# -- statements sqlglot keeps as a Command -----------------------------------------------------------


def command_actions(tree: Any, dialect: str) -> list[Action]:
    """What a ``Command`` does, read from sqlglot's tokens of its text."""
    from sqlglot.dialects.dialect import Dialect

    head = str(tree.this).upper()
    rest = tree.expression
    text = rest.name if hasattr(rest, "name") and rest.name else str(rest.sql() if hasattr(rest, "sql") else rest)
    try:
        tokens = Dialect.get_or_raise(sqlglot_dialect(dialect)).tokenize(text)
    except Exception:  # noqa: BLE001 - a text sqlglot cannot even tokenise is simply not analysed
        return [Action("unparsed", detail=f"{head} statement sqlglot cannot read")]
    words = [t.text for t in tokens]
    upper = [w.upper() for w in words]
    if head == "ALTER" and upper[:1] == ["TABLE"]:
        return [_alter_command(words, upper, dialect)]
    if head in ("BEGIN", "START"):
        return [Action("transaction", detail="BEGIN")]
    if head == "VACUUM" and "FULL" in upper:
        return [Action("unparsed", detail="VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock")]
    return [Action("unparsed", detail=f"{head} statements are not modelled")]


def _alter_command(words: list[str], upper: list[str], dialect: str) -> Action:
    """``ALTER TABLE [ONLY] [IF EXISTS] name ...`` in the forms sqlglot leaves as text."""
    i = 1
    while i < len(upper) and upper[i] in ("ONLY", "IF", "EXISTS"):
        i += 1
    if i >= len(words):
        return Action("unparsed", detail="ALTER TABLE without a table")
    table = words[i]
    if i + 2 < len(words) and words[i + 1] == ".":
        table, i = f"{words[i]}.{words[i + 2]}", i + 2
    tail = upper[i + 1:]
    if tail[:2] == ["VALIDATE", "CONSTRAINT"] and len(tail) > 2:
        return Action("validate_constraint", table=table, constraint=words[i + 3])
    if tail[:1] in (["MODIFY"], ["CHANGE"]):
        return _mysql_modify(table, words[i + 1:], dialect)
    if "USING" in tail and "INDEX" in tail and "ADD" in tail:
        kind = "primary key" if any("PRIMARY" in w for w in tail) else "unique"  # sqlglot's token is "PRIMARY KEY"
        name = words[i + 1 + tail.index("CONSTRAINT") + 1] if "CONSTRAINT" in tail else None
        return Action("add_constraint", table=table, constraint=name, constraint_kind=kind, detail="USING INDEX")
    if tail[:3] in (["CONVERT", "TO", "CHARACTER"],) or tail[:1] in (["ENGINE"], ["FORCE"]):
        return Action("unparsed", table=table, detail="rebuilds the table (ALTER TABLE " + " ".join(words[i + 1:i + 3]) + ")")
    return Action("unparsed", table=table, detail="ALTER TABLE " + " ".join(words[i + 1:i + 3]) + " is not modelled")


def _mysql_modify(table: str, words: list[str], dialect: str) -> Action:
    """MySQL ``MODIFY [COLUMN] c TYPE ...`` / ``CHANGE [COLUMN] old new TYPE ...`` sqlglot did not model."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    rest = words[1:]
    if rest[:1] and rest[0].upper() == "COLUMN":
        rest = rest[1:]
    old = rest[0] if rest else None
    if words[0].upper() == "CHANGE":
        rest = rest[1:]
    try:
        tree = sqlglot.parse_one(f"CREATE TABLE t ({' '.join(rest)})", read=sqlglot_dialect(dialect))
        node = next(iter(tree.find_all(exp.ColumnDef)))
    except (SqlglotError, StopIteration):
        return Action("unparsed", table=table, detail="MODIFY/CHANGE sqlglot cannot read")
    spec = column_spec(node, dialect)
    return Action("modify_column", table=table, column=old, new=spec.name, spec=spec)
