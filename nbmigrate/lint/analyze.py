"""Statements to findings: each statement of each revision parsed by sqlglot and checked against the rules.

:func:`analyse` takes the statements every revision emits (in the order they would run), the
dialect and the server version, and what the database says about its tables (:class:`Facts`,
optional), and returns :class:`Finding` objects. Nothing is dropped: a statement that cannot be
analysed gives an ``NBM001`` finding.

State carries from revision to revision in the order they run (column types, which index is on
which table, which NOT NULL checks are validated), but what counts as a *new* table, one whose
changes block no one because no one else can see it yet, is decided per revision: each revision
is deployed as a step of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .rules import Hit, Rule, rule

# Rules that hold for a table created in the same revision too (the statement fails, or the
# choice of type is the point).
# Actions whose check asks the database about the table's columns (see Facts.prefetch).
_ASKS_COLUMNS = {"alter_type", "modify_column", "set_not_null"}
_EVEN_ON_NEW_TABLES = {"NBM001", "NBM002", "NBM004", "NBM202", "NBM402", "NBM601", "NBM602", "NBM603", "NBM604"}


@dataclass(frozen=True)
class BatchCopy:
    """A SQLite batch block that copies its table: the table and the operations batched in it."""

    table: str
    operations: tuple[tuple[str, str, dict[str, Any]], ...]  # (operation, column, options)

    def describe(self) -> str:
        """``alter_column n, drop_column x`` for messages."""
        return ", ".join(f"{op} {column}".strip() for op, column, _ in self.operations) or "no operations"


@dataclass(frozen=True)
class Statement:
    """One statement a revision's ``upgrade()`` emits offline, with where it comes from."""

    index: int  # its position in the revision, from 0
    sql: str
    line: int | None = None  # in the revision file
    raw: bool = False  # sent with op.execute
    in_transaction: bool = True  # whether a transaction was open when it ran
    batch: BatchCopy | None = None  # SQLite batch mode's copy (no SQL of its own offline)


@dataclass(frozen=True)
class RevisionStatements:
    """A revision's statements, its file, the rules its marker comments allow, and why rendering stopped."""

    revision: str
    path: str = ""
    message: str = ""
    statements: tuple[Statement, ...] = ()
    allowed: frozenset[str] = frozenset()  # rule codes its marker comments allow
    reasons: Mapping[str, str] = field(default_factory=dict)  # code -> the reason the marker gives
    error: str | None = None  # why rendering stopped inside the revision
    error_line: int | None = None
    error_code: str = "NBM002"  # NBM402 when it is Alembic refusing an operation SQLite cannot do


class Facts:
    """What the connected database says about its tables; this base class knows nothing (offline)."""

    lock_timeout: bool = False  # the session already has a lock timeout
    foreign_key_checks: bool = True

    def column(self, table: str, column: str) -> tuple[Any, bool | None] | None:
        """The column's :class:`~nbmigrate.lint.parse.ColType` and nullability, or ``None``."""
        return None

    def index_table(self, index: str) -> str | None:
        """The table an index is on."""
        return None

    def not_null_checked(self, table: str, column: str) -> bool:
        """Whether a validated CHECK (column IS NOT NULL) exists."""
        return False

    def volatile(self, function: str) -> bool | None:
        """Whether a function is volatile (PostgreSQL's pg_proc), ``None`` when unknown."""
        return None

    def prefetch(self, tables: Iterable[str]) -> None:
        """Read what :meth:`column` and :meth:`not_null_checked` will be asked about these tables, at once."""


@dataclass(frozen=True)
class Finding:
    """One rule a statement breaks: where, what it locks and rewrites, the message and the safe recipe."""

    rule: Rule
    revision: str
    statement_index: int
    statement: str
    table: str | None
    lock: str
    rewrites: bool
    scans: bool
    severity: str
    message: str
    recipe: str
    dialect: str
    path: str = ""
    line: int | None = None
    size: Any = None  # a nbmigrate.lint.size.TableSize once sized
    allowed: bool = False  # silenced by a marker comment in the revision file
    fields: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def code(self) -> str:
        return self.rule.code

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def backward_incompatible(self) -> bool:
        return self.rule.backward_incompatible

    @property
    def effects(self) -> tuple[str, ...]:
        """What the statement does besides its lock: ``"rewrites"`` or ``"scans"``, then ``"breaks"`` (running code)."""
        touched = ("rewrites",) if self.rewrites else (("scans",) if self.scans else ())
        return touched + (("breaks",) if self.backward_incompatible else ())

    def sized(self, size: Any) -> Finding:
        """The same finding with the table's size in its message."""
        text = f" ({size.describe()})" if size is not None and size.describe() else ""
        if not text and size is not None and not size.exists:
            return replace(self, size=size)  # a table the database does not have yet: the message stands
        return replace(self, size=size, message=_render(self.rule.message, {**self.fields, "size": text}))

    def __repr__(self) -> str:
        return f"<Finding {self.code} {self.severity} {self.revision}#{self.statement_index} {self.message!r}>"


class _Blank(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "..."


def _render(template: str, fields: Mapping[str, str]) -> str:
    values = _Blank(fields)
    values.setdefault("size", "")
    return template.format_map(values)


@dataclass
class Context:
    """What the analysis knows as it goes: the dialect, the server and what earlier statements did."""

    dialect: str
    version: tuple[int, ...] | None
    facts: Facts = field(default_factory=Facts)
    types: dict[tuple[str, str], Any] = field(default_factory=dict)
    nullable: dict[tuple[str, str], bool] = field(default_factory=dict)
    index_tables: dict[str, str] = field(default_factory=dict)
    not_null_checks: set[tuple[str, str]] = field(default_factory=set)
    not_valid: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # constraint -> (table, check)
    preamble_timeout: bool = False
    # Per revision:
    created: set[str] = field(default_factory=set)
    added_not_valid: dict[str, str] = field(default_factory=dict)  # constraint -> the lock its ADD holds, in the open transaction
    dropped_concurrently: set[str] = field(default_factory=set)
    timeout: bool = False
    fk_checks: bool = True
    warned_timeout: bool = False

    def start_revision(self) -> None:
        """Forget what held for the previous revision only."""
        self.created, self.added_not_valid, self.dropped_concurrently = set(), {}, set()
        self.timeout = self.preamble_timeout or self.facts.lock_timeout
        self.fk_checks = self.facts.foreign_key_checks
        self.warned_timeout = False

    def column(self, table: str | None, column: str | None) -> tuple[Any, bool | None]:
        """The column's type and nullability as far as known: from earlier statements, else the database."""
        if table is None or column is None:
            return None, None
        key = (table, column)
        if key in self.types or key in self.nullable:
            return self.types.get(key), self.nullable.get(key)
        found = self.facts.column(table, column)
        return found if found is not None else (None, None)

    def at_least(self, *version: int) -> bool:
        """Whether the server is at least ``version`` (an unknown server counts as the newest)."""
        return self.version is None or tuple(self.version) >= version


def analyse(
    revisions: Iterable[RevisionStatements],
    dialect: str,
    version: tuple[int, ...] | None = None,
    *,
    facts: Facts | None = None,
    preamble: Sequence[str] = (),
    disabled: Iterable[str] = (),
) -> list[Finding]:
    """The findings of every revision, in the order the revisions would run (see the module docstring)."""
    from .checks import check, is_timeout, statement_lock
    from .parse import parse

    ctx = Context(dialect, tuple(version) if version else None, facts or Facts())
    off = {rule(code).code for code in disabled}
    for sql in preamble:  # env.py's own statements before the first revision (a SET lock_timeout)
        for action in parse(sql, dialect):
            if action.kind == "set" and is_timeout(action, dialect):
                ctx.preamble_timeout = action.new not in ("0", "0s", "0ms")
    revisions = list(revisions)
    parsed = {id(stmt): _batch_actions(stmt.batch) if stmt.batch is not None else parse(stmt.sql, dialect)
              for rev in revisions for stmt in rev.statements}
    ctx.facts.prefetch(a.table for actions in parsed.values() for a in actions if a.kind in _ASKS_COLUMNS and a.table)
    findings: list[Finding] = []
    for rev in revisions:
        ctx.start_revision()
        hits: list[tuple[Statement, Hit]] = []
        for stmt in rev.statements:
            for action in parsed[id(stmt)]:
                hits.extend((stmt, h) for h in check(action, stmt, ctx))
                lock = statement_lock(action, stmt, ctx)
                if lock and not ctx.timeout and not ctx.warned_timeout:
                    ctx.warned_timeout = True
                    hits.append((stmt, Hit("NBM003", action.table, {"table": action.table or "...", "lock": lock}, lock)))
        if rev.error is not None:
            last = rev.statements[-1].index + 1 if rev.statements else 0
            stmt = Statement(last, "", rev.error_line)
            hits.append((stmt, Hit(rev.error_code, None, {"detail": rev.error})))
        for stmt, hit in hits:
            if hit.code in off:
                continue
            finding = _finding(hit, stmt, rev, ctx)
            if finding is not None:
                findings.append(finding)
    return findings


def _batch_actions(batch: BatchCopy) -> list[Any]:
    """A SQLite batch copy as actions: the copy itself, then what its operations mean for running code."""
    from .parse import Action, ColumnSpec

    out = [Action("batch_copy", table=batch.table, detail=batch.describe())]
    for op, column, kw in batch.operations:
        if op == "drop_column":
            out.append(Action("drop_column", table=batch.table, column=column, detail="batch"))
        elif op == "alter_column" and kw.get("new_column_name"):
            out.append(Action("rename_column", table=batch.table, column=column, new=kw["new_column_name"], detail="batch"))
        elif op == "alter_column" and kw.get("nullable") is True:
            out.append(Action("drop_not_null", table=batch.table, column=column, detail="batch"))
        elif op == "add_column" and kw.get("not_null") and not kw.get("default"):
            out.append(Action("add_column", table=batch.table, column=column,
                              spec=ColumnSpec(column, None, not_null=True), detail="batch"))
    return out


def _finding(hit: Hit, stmt: Statement, rev: RevisionStatements, ctx: Context) -> Finding | None:
    the_rule = rule(hit.code)
    effect = the_rule.effect(ctx.dialect, ctx.version)
    if effect is None:
        return None  # the rule does not apply on this dialect
    if hit.table is not None and hit.table in ctx.created and hit.code not in _EVEN_ON_NEW_TABLES:
        if not (hit.code == "NBM101" and ctx.dialect == "sqlite"):  # SQLite refuses it even on an empty table
            return None
    doing = "rewrites" if effect.rewrites else "scans" if effect.scans else "locks"
    fields = {"table": hit.table or "...", "lock": hit.lock or effect.lock, "effect": doing, **hit.fields}
    return Finding(
        rule=the_rule, revision=rev.revision, statement_index=stmt.index, statement=stmt.sql or _batch_text(stmt),
        table=hit.table, lock=hit.lock or effect.lock, rewrites=effect.rewrites, scans=effect.scans,
        severity=effect.severity or the_rule.severity, message=_render(the_rule.message, fields),
        recipe=_render(the_rule.recipe_for(ctx.dialect), fields), dialect=ctx.dialect, path=rev.path,
        line=stmt.line, allowed=the_rule.code in rev.allowed, fields=fields,
    )


def _batch_text(stmt: Statement) -> str:
    if stmt.batch is None:
        return ""
    return f"-- batch_alter_table({stmt.batch.table!r}): {stmt.batch.describe()} (move and copy)"
