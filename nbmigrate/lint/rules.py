"""The rule table: what each lint rule flags, what the flagged statement does, and the safe recipe.

Codes are stable and never reused: ``NBM0xx`` the linter itself (what it could not analyse,
transactions, timeouts), ``NBM1xx`` columns, ``NBM2xx`` indexes and constraints, ``NBM3xx``
tables, ``NBM4xx`` SQLite, ``NBM6xx`` column types worth choosing differently (info). Rules are
found by code or by name (``rule("NBM101")``, ``rule("adding-not-nullable-column")``).

Per dialect a rule says what the statement it flags does (:class:`Effect`): the lock it takes on
the table, named as the database reports it (PostgreSQL's lock modes as ``pg_locks.mode`` shows
them; MySQL/MariaDB as the ``ALGORITHM=..., LOCK=...`` clause that the server accepts for it),
whether it rewrites the table (a new copy of every row) or scans it (reads every row while the
lock is held). Where that depends on the server version, each effect says from which version it
holds; an unknown version means the newest releases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")  # most severe first
DIALECTS = ("postgresql", "mysql", "mariadb", "sqlite")

ACCESS_EXCLUSIVE = "AccessExclusiveLock"  # blocks reads and writes
SHARE = "ShareLock"  # blocks writes
SHARE_ROW_EXCLUSIVE = "ShareRowExclusiveLock"  # blocks writes (and other such locks)
SHARE_UPDATE_EXCLUSIVE = "ShareUpdateExclusiveLock"  # blocks neither reads nor writes
INSTANT = "ALGORITHM=INSTANT"
INPLACE = "ALGORITHM=INPLACE, LOCK=NONE"
INPLACE_SHARED = "ALGORITHM=INPLACE, LOCK=SHARED"
COPY = "ALGORITHM=COPY, LOCK=SHARED"
METADATA = "exclusive metadata lock"
SQLITE_WRITE = "database write lock"
SQLITE_COPY = "copies the table"
SQLITE_FAILS = "fails on SQLite"


@dataclass(frozen=True)
class Effect:
    """What a flagged statement does to its table on one dialect, from server version ``since`` on."""

    lock: str
    rewrites: bool = False
    scans: bool = False
    since: tuple[int, ...] = ()
    severity: Severity | None = None  # where the dialect makes it milder (or worse) than the rule says


@dataclass(frozen=True)
class Rule:
    """One lint rule: its stable code and name, severity, message template, explanation and recipe."""

    code: str
    name: str
    severity: Severity
    # A template: {table}, {column}, {new}, {type}, {index}, {constraint}, {referenced}, {detail}, and
    # filled in for every rule: {size} (of the table), {lock} and {effect} (rewrites, scans or locks).
    message: str
    explanation: str  # plain text, no links
    recipe: str  # Alembic code to paste
    effects: Mapping[str, tuple[Effect, ...]] = field(default_factory=dict)
    backward_incompatible: bool = False
    recipes: Mapping[str, str] = field(default_factory=dict)  # a dialect's own recipe

    @property
    def dialects(self) -> tuple[str, ...]:
        """The dialects the rule applies to (all for the linter's own rules)."""
        return tuple(self.effects) or DIALECTS

    def effect(self, dialect: str, version: tuple[int, ...] | None = None) -> Effect | None:
        """The effect on ``dialect`` at server ``version`` (``None``: the newest releases); ``None``: no such rule there."""
        if not self.effects:
            return _NO_LOCK  # the linter's own rules hold everywhere and take no lock
        found = None
        for candidate in sorted(self.effects.get(dialect, ()), key=lambda e: e.since):
            if version is None or tuple(version) >= candidate.since:
                found = candidate
        return found

    def recipe_for(self, dialect: str) -> str:
        """The safe recipe on ``dialect``."""
        return self.recipes.get(dialect, self.recipe)


_NO_LOCK = Effect("")


def _mysql(*effects: Effect) -> dict[str, tuple[Effect, ...]]:
    return {"mysql": effects, "mariadb": effects}


_CONCURRENT_INDEX = (
    'with op.get_context().autocommit_block():\n'
    '    op.create_index("{index}", "{table}", [...], postgresql_concurrently=True, if_not_exists=True)'
)
_LOCK_TIMEOUT = 'op.execute("SET lock_timeout = \'5s\'")  # first line of upgrade(); retry the deploy when it times out'
_EXPAND_CONTRACT = (
    "Deploy in steps: add the new {what} beside the old one, make the application write both and backfill,\n"
    "switch reads to the new one, and remove the old one in a later revision once no running code uses it."
)
_UNUSED_FIRST = (
    "Make the application stop using {what} first (for SQLAlchemy models: remove it, or mark it deferred), deploy that,\n"
    "then apply this revision; silence the finding with a marker comment once that is done:\n"
    "# nbmigrate: allow {code}"
)

RULES: tuple[Rule, ...] = (
    # -- the linter itself ---------------------------------------------------------------------
    Rule("NBM001", "not-analysed", "info", "not analysed: {detail}",
         "The statement could not be parsed, or it is a data statement (INSERT, UPDATE, DELETE, SELECT) whose cost "
         "depends on the rows it touches. Review it by hand: a backfill of a large table belongs in batches, outside "
         "the transaction that changes the schema.",
         "Batch large backfills: update a few thousand rows per statement, commit between them\n"
         "(in an autocommit_block, or in a script run outside the migration)."),
    Rule("NBM002", "not-rendered", "warning", "the revision could not be rendered offline: {detail}",
         "The revision raised while its SQL was being written offline (it reads the database, or calls something "
         "that needs a connection), so the statements after that point were not seen.",
         "Skip live-database work offline: `if not context.is_offline_mode(): ...`, or pass the table to\n"
         "batch_alter_table(copy_from=...) so batch mode does not need to reflect it."),
    Rule("NBM003", "missing-lock-timeout", "warning", "takes {lock} on {table}{size} without a lock timeout",
         "A statement that needs a strong lock first waits for every running query on the table to finish, and every "
         "query that arrives after it waits behind it. Without a lock timeout, one long query stops the whole "
         "application for as long as it runs. A short lock timeout makes the migration fail fast instead; retry it.",
         _LOCK_TIMEOUT,
         {"postgresql": (Effect(""),), **_mysql(Effect(METADATA))},
         recipes={"mysql": 'op.execute("SET SESSION lock_wait_timeout = 5")  # first line of upgrade()',
                  "mariadb": 'op.execute("SET SESSION lock_wait_timeout = 5")  # first line of upgrade()'}),
    Rule("NBM004", "transaction-nesting", "error", "{detail} inside the migration's own transaction",
         "Alembic runs each migration in a transaction it manages. A BEGIN, COMMIT or ROLLBACK sent with op.execute "
         "ends or nests that transaction behind Alembic's back: part of the revision commits without its version row, "
         "or the rest runs outside any transaction.",
         "with op.get_context().autocommit_block():\n    ...  # the statements that must run outside a transaction"),
    # -- columns ---------------------------------------------------------------------------------
    Rule("NBM101", "adding-not-nullable-column", "error", "adds NOT NULL column {column} without a default to {table}{size}",
         "A NOT NULL column without a default cannot be filled for the rows already there: PostgreSQL and SQLite refuse "
         "it on a table that has rows, MySQL fills in zero or an empty string. Application code still running inserts "
         "rows without the column, and those inserts fail.",
         'op.add_column("{table}", sa.Column("{column}", ..., nullable=True))  # this revision\n'
         "# then backfill in batches, and in a later revision set NOT NULL as NBM106's recipe shows;\n"
         '# or give it a default: sa.Column("{column}", ..., nullable=False, server_default="...")',
         {"postgresql": (Effect(ACCESS_EXCLUSIVE, scans=True),), **_mysql(Effect(INSTANT)),
          "sqlite": (Effect(SQLITE_FAILS),)},
         backward_incompatible=True),
    Rule("NBM102", "adding-column-with-rewriting-default", "error", "adds {table}.{column} with default {detail}: rewrites {table}{size}",
         "PostgreSQL 11 and later add a column with a constant default without touching the rows; a volatile default "
         "(gen_random_uuid(), random(), clock_timestamp(), a function of your own) is computed for every row, so the "
         "whole table is rewritten under an ACCESS EXCLUSIVE lock. Before 11, any default rewrites. MySQL and MariaDB "
         "copy the table for a UUID() default.",
         'op.add_column("{table}", sa.Column("{column}", ..., nullable=True))  # no default: instant\n'
         'op.alter_column("{table}", "{column}", server_default=sa.text("..."))  # applies to new rows only\n'
         "# backfill the existing rows in batches in a later revision",
         {"postgresql": (Effect(ACCESS_EXCLUSIVE, rewrites=True),), **_mysql(Effect(COPY, rewrites=True))}),
    Rule("NBM103", "adding-auto-increment-column", "error", "adds auto-incrementing column {table}.{column}: rewrites {table}{size}",
         "A SERIAL, IDENTITY or AUTO_INCREMENT column gets a new value in every existing row, so the table is rewritten "
         "while writes (and on PostgreSQL reads) wait.",
         'op.add_column("{table}", sa.Column("{column}", sa.BigInteger, nullable=True))\n'
         "# then attach a sequence as the column's default and backfill in batches",
         {"postgresql": (Effect(ACCESS_EXCLUSIVE, rewrites=True),), **_mysql(Effect(INPLACE_SHARED, rewrites=True))}),
    Rule("NBM104", "adding-stored-generated-column", "error", "adds stored generated column {table}.{column}: rewrites {table}{size}",
         "A STORED generated column is computed and written for every existing row, under a lock that blocks writes "
         "(and on PostgreSQL reads) for the whole rewrite.",
         'op.add_column("{table}", sa.Column("{column}", ..., sa.Computed("...", persisted=False)))  # MySQL/MariaDB: VIRTUAL\n'
         "# PostgreSQL: a plain nullable column kept up to date by the application or a trigger, backfilled in batches",
         {"postgresql": (Effect(ACCESS_EXCLUSIVE, rewrites=True),), **_mysql(Effect(COPY, rewrites=True))}),
    Rule("NBM105", "changing-column-type", "error", "changes the type of {table}.{column} to {type}: rewrites {table}{size}",
         "Changing a column's type rewrites the table and its indexes while other sessions wait (PostgreSQL: for reads "
         "too). A few changes are free: a longer VARCHAR, VARCHAR to TEXT, a wider NUMERIC (on MySQL a VARCHAR that "
         "stays below 256 bytes or above). Running code may also read or write the old type.",
         _EXPAND_CONTRACT.format(what="column (of the new type)"),
         {"postgresql": (Effect(ACCESS_EXCLUSIVE, rewrites=True),), **_mysql(Effect(COPY, rewrites=True))}),
    Rule("NBM106", "setting-not-null", "error", "sets NOT NULL on {table}.{column}: {effect} {table}{size}",
         "SET NOT NULL reads the whole table to check for NULLs while holding an ACCESS EXCLUSIVE lock. From "
         "PostgreSQL 12 it skips the scan when a validated CHECK (column IS NOT NULL) constraint exists, and that "
         "constraint can be validated without blocking. MySQL and MariaDB rebuild the table (online).",
         'op.create_check_constraint("{table}_{column}_not_null", "{table}", "{column} IS NOT NULL", postgresql_not_valid=True)\n'
         "# in the next revision:\n"
         'op.execute("ALTER TABLE {table} VALIDATE CONSTRAINT {table}_{column}_not_null")\n'
         "# and in the one after:\n"
         'op.alter_column("{table}", "{column}", nullable=False)\n'
         'op.drop_constraint("{table}_{column}_not_null", "{table}", type_="check")',
         {"postgresql": (Effect(ACCESS_EXCLUSIVE, scans=True),),
          "mysql": (Effect(INPLACE, rewrites=True, severity="warning"),),
          "mariadb": (Effect(INPLACE, rewrites=True, severity="warning"),)},
         recipes={d: "Online on this server, but the table is rebuilt: run it when a rebuild of this size is acceptable."
                  for d in ("mysql", "mariadb")}),
    Rule("NBM107", "renaming-column", "error", "renames column {table}.{column} to {new}",
         "Running application code still uses the old name: every query naming it fails from the moment the rename "
         "commits until the new code is deployed.",
         _EXPAND_CONTRACT.format(what="column"),
         {"postgresql": (Effect(ACCESS_EXCLUSIVE),),
          "mysql": (Effect(INPLACE), Effect(INSTANT, since=(8, 0, 28))),
          "mariadb": (Effect(INPLACE), Effect(INSTANT, since=(10, 5))), "sqlite": (Effect(SQLITE_WRITE),)},
         backward_incompatible=True),
    Rule("NBM108", "dropping-column", "error", "drops column {column} from {table}{size}",
         "Running application code may still read or write the column; an ORM that lists every column in its "
         "queries fails on the first query after the drop. The data is gone with it.",
         _UNUSED_FIRST.format(what="the column", code="NBM108"),
         {"postgresql": (Effect(ACCESS_EXCLUSIVE),),
          "mysql": (Effect(INPLACE, rewrites=True), Effect(INSTANT, since=(8, 0, 29))),
          "mariadb": (Effect(INPLACE, rewrites=True), Effect(INSTANT, since=(10, 4))),
          "sqlite": (Effect(SQLITE_WRITE, rewrites=True),)},
         backward_incompatible=True),
    Rule("NBM109", "dropping-not-null", "warning", "drops NOT NULL from {table}.{column}",
         "Code that assumes the column always has a value (and the other services reading the table) may now get "
         "NULLs.",
         "Make sure every reader handles NULL before this is deployed, then silence it: # nbmigrate: allow NBM109",
         {"postgresql": (Effect(ACCESS_EXCLUSIVE),), **_mysql(Effect(INPLACE, rewrites=True))},
         backward_incompatible=True),
    # -- indexes and constraints -------------------------------------------------------------------
    Rule("NBM201", "creating-index-non-concurrently", "error", "builds index {index} on {table}{size} while blocking writes",
         "CREATE INDEX holds a SHARE lock for the whole build: every INSERT, UPDATE and DELETE on the table waits "
         "until every row has been read and sorted. CREATE INDEX CONCURRENTLY builds it without blocking writes; it "
         "cannot run inside a transaction, hence Alembic's autocommit_block.",
         _CONCURRENT_INDEX,
         {"postgresql": (Effect(SHARE, scans=True),)}),
    Rule("NBM202", "concurrent-index-in-transaction", "error", "{detail} inside a transaction: it fails",
         "PostgreSQL refuses CREATE INDEX CONCURRENTLY and DROP INDEX CONCURRENTLY inside a transaction block, and "
         "Alembic runs migrations in one. The revision fails when it is applied.",
         _CONCURRENT_INDEX,
         {"postgresql": (Effect(SHARE_UPDATE_EXCLUSIVE, scans=True),)}),
    Rule("NBM203", "dropping-index-non-concurrently", "warning", "drops index {index} under {lock}",
         "DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table: short, but it waits for every running query "
         "and blocks every new one meanwhile. DROP INDEX CONCURRENTLY does not block.",
         'with op.get_context().autocommit_block():\n'
         '    op.drop_index("{index}", table_name="{table}", postgresql_concurrently=True, if_exists=True)',
         {"postgresql": (Effect(ACCESS_EXCLUSIVE),)}),
    Rule("NBM204", "concurrent-index-not-rerunnable", "warning", "{detail} outside a transaction cannot be re-run",
         "An index built CONCURRENTLY runs outside a transaction: if it fails half way (a duplicate value, a "
         "cancelled statement) it leaves an INVALID index behind and running the revision again fails on the name.",
         'with op.get_context().autocommit_block():\n'
         '    op.drop_index("{index}", table_name="{table}", postgresql_concurrently=True, if_exists=True)  # a failed try\n'
         '    op.create_index("{index}", "{table}", [...], postgresql_concurrently=True)',
         {"postgresql": (Effect(SHARE_UPDATE_EXCLUSIVE, scans=True),)}),
    Rule("NBM205", "adding-foreign-key-validated", "error", "adds foreign key {constraint} on {table}{size}, checking every row against {referenced}",
         "Adding a foreign key checks every existing row against the referenced table while writes to both tables are "
         "blocked. On PostgreSQL, add it NOT VALID (instant; new rows are checked) and VALIDATE it later under a lock "
         "that blocks nothing. MySQL and MariaDB copy the table to add a foreign key while foreign_key_checks is on.",
         'op.create_foreign_key("{constraint}", "{table}", "{referenced}", [...], [...], postgresql_not_valid=True)\n'
         "# in a later revision:\n"
         'op.execute("ALTER TABLE {table} VALIDATE CONSTRAINT {constraint}")',
         {"postgresql": (Effect(SHARE_ROW_EXCLUSIVE, scans=True),), **_mysql(Effect(COPY, rewrites=True))},
         recipes={d: "Create the foreign key with the table, or add it with an online schema change tool that copies the\n"
                     "table in the background (the copy is what MySQL does here, with writes blocked)."
                  for d in ("mysql", "mariadb")}),
    Rule("NBM206", "adding-check-validated", "error", "adds check constraint {constraint} on {table}{size}, checking every row",
         "Adding a CHECK constraint reads every row under an ACCESS EXCLUSIVE lock on PostgreSQL; MySQL and MariaDB "
         "copy the table. On PostgreSQL, add it NOT VALID and VALIDATE it in a later revision, which blocks nothing.",
         'op.create_check_constraint("{constraint}", "{table}", "...", postgresql_not_valid=True)\n'
         "# in a later revision:\n"
         'op.execute("ALTER TABLE {table} VALIDATE CONSTRAINT {constraint}")',
         {"postgresql": (Effect(ACCESS_EXCLUSIVE, scans=True),), **_mysql(Effect(COPY, rewrites=True))},
         recipes={d: "Check the rule in the application first; add the constraint when a table copy of this size is acceptable."
                  for d in ("mysql", "mariadb")}),
    Rule("NBM207", "validating-in-same-transaction", "warning", "validates {constraint} on {table}{size} in the transaction that added it, under {lock}",
         "NOT VALID exists so that the check of existing rows happens later under a weak lock. Validating in the same "
         "transaction keeps the ADD's strong lock until the validation has read every row, which is what NOT VALID "
         "was meant to avoid.",
         "Move the VALIDATE CONSTRAINT to the next revision (or after a COMMIT, in an autocommit_block).",
         {"postgresql": (Effect(ACCESS_EXCLUSIVE, scans=True),)}),
    Rule("NBM208", "adding-unique-constraint", "error", "adds unique constraint {constraint} on {table}{size}, building its index under {lock}",
         "Adding a UNIQUE constraint builds its index while reads and writes wait. Build a unique index CONCURRENTLY "
         "first, then attach it as the constraint, which is instant.",
         'with op.get_context().autocommit_block():\n'
         '    op.create_index("{constraint}", "{table}", [...], unique=True, postgresql_concurrently=True)\n'
         'op.execute("ALTER TABLE {table} ADD CONSTRAINT {constraint} UNIQUE USING INDEX {constraint}")',
         {"postgresql": (Effect(ACCESS_EXCLUSIVE, scans=True),)}),
    Rule("NBM209", "adding-primary-key", "error", "adds primary key {constraint} on {table}{size}, building its index under {lock}",
         "Adding a primary key to a table with rows builds a unique index (and checks for NULLs) while the table is "
         "locked; MySQL and MariaDB rebuild the table. On PostgreSQL, build the unique index concurrently, then attach it.",
         'with op.get_context().autocommit_block():\n'
         '    op.create_index("{constraint}", "{table}", [...], unique=True, postgresql_concurrently=True)\n'
         'op.execute("ALTER TABLE {table} ADD CONSTRAINT {constraint} PRIMARY KEY USING INDEX {constraint}")',
         {"postgresql": (Effect(ACCESS_EXCLUSIVE, scans=True),),
          **_mysql(Effect(INPLACE, rewrites=True, severity="warning"))},
         recipes={d: "Online on this server, but the table is rebuilt: run it when a rebuild of this size is acceptable."
                  for d in ("mysql", "mariadb")}),
    # -- tables ----------------------------------------------------------------------------------
    Rule("NBM301", "renaming-table", "error", "renames table {table} to {new}",
         "Running application code still uses the old name: every query on it fails from the moment the rename "
         "commits until the new code is deployed.",
         _EXPAND_CONTRACT.format(what="table (or a view with the new name)"),
         {"postgresql": (Effect(ACCESS_EXCLUSIVE),), **_mysql(Effect(INSTANT)), "sqlite": (Effect(SQLITE_WRITE),)},
         backward_incompatible=True),
    Rule("NBM302", "dropping-table", "error", "drops table {table}{size}",
         "Running application code may still use the table, and its data is gone with it.",
         _UNUSED_FIRST.format(what="the table", code="NBM302"),
         {"postgresql": (Effect(ACCESS_EXCLUSIVE),), **_mysql(Effect(METADATA)), "sqlite": (Effect(SQLITE_WRITE),)},
         backward_incompatible=True),
    Rule("NBM303", "truncating-table", "error", "truncates {table}{size}{detail}",
         "TRUNCATE deletes every row under an ACCESS EXCLUSIVE lock; with CASCADE it empties every table that "
         "references it as well.",
         "Delete the rows you mean to remove with a DELETE ... WHERE in batches, outside the schema change.",
         {"postgresql": (Effect(ACCESS_EXCLUSIVE),), **_mysql(Effect(METADATA))},
         backward_incompatible=True),
    # -- SQLite ----------------------------------------------------------------------------------
    Rule("NBM401", "batch-copies-table", "warning", "batch mode copies {table}{size} for {detail}",
         "SQLite cannot alter most of a table in place, so Alembic's batch mode creates a new table, copies every row "
         "into it, drops the old one and renames the new one, holding the database's write lock throughout: no other "
         "connection can write to any table meanwhile.",
         "Expected on SQLite: apply it when a copy of this size is acceptable, or group the changes to one table\n"
         "in one batch_alter_table block so it is copied once.",
         {"sqlite": (Effect(SQLITE_COPY, rewrites=True),)}),
    Rule("NBM402", "unsupported-on-sqlite", "error", "{detail}: fails on SQLite",
         "SQLite's ALTER TABLE adds, renames and drops columns (DROP COLUMN from 3.35, RENAME COLUMN from 3.25) and "
         "renames tables; anything else, such as changing a column or adding a constraint, needs Alembic's batch mode.",
         'with op.batch_alter_table("{table}") as batch_op:\n    batch_op.alter_column(...)  # the same operations on batch_op',
         {"sqlite": (Effect(SQLITE_FAILS),)}),
    # -- column types (info) -------------------------------------------------------------------------
    Rule("NBM601", "prefer-bigint-primary-key", "info", "{table}.{column} is a {type} primary key",
         "A 32-bit key runs out after about 2.1 billion rows, and changing it later rewrites the table and every "
         "table that references it.",
         'sa.Column("{column}", sa.BigInteger, primary_key=True)',
         {"postgresql": (Effect(""),), **_mysql(Effect(""))}),
    Rule("NBM602", "prefer-timestamptz", "info", "{table}.{column} is a TIMESTAMP without time zone",
         "TIMESTAMP WITHOUT TIME ZONE stores wall-clock values with no zone, so values written from sessions in "
         "different zones cannot be compared; TIMESTAMPTZ stores an instant.",
         'sa.Column("{column}", sa.DateTime(timezone=True))',
         {"postgresql": (Effect(""),)}),
    Rule("NBM603", "prefer-jsonb", "info", "{table}.{column} is JSON rather than JSONB",
         "PostgreSQL's JSON type keeps the text as written and has no equality operator, so DISTINCT, GROUP BY and "
         "UNION on the table fail and nothing can be indexed; JSONB has neither problem.",
         'from sqlalchemy.dialects.postgresql import JSONB\nsa.Column("{column}", JSONB)',
         {"postgresql": (Effect(""),)}),
    Rule("NBM604", "ban-char-field", "info", "{table}.{column} is CHAR({detail})",
         "CHAR(n) pads every value with spaces to its length and compares ignoring them, which surprises; it is no "
         "faster than VARCHAR or TEXT on PostgreSQL.",
         'sa.Column("{column}", sa.String(...))  # or sa.Text',
         {"postgresql": (Effect(""),)}),
)

_BY_KEY: dict[str, Rule] = {r.code: r for r in RULES} | {r.name: r for r in RULES}


def rule(code_or_name: str) -> Rule:
    """The rule with this code (``NBM101``) or name (``adding-not-nullable-column``); KeyError otherwise."""
    key = code_or_name.strip()
    return _BY_KEY.get(key.upper()) or _BY_KEY[key.lower()]


def severity_rank(severity: str) -> int:
    """0 for errors, 1 for warnings, 2 for infos: a sort key, most severe first."""
    return SEVERITIES.index(severity)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Hit:
    """A rule matched by one action, before it becomes a :class:`Finding`."""

    code: str
    table: str | None
    fields: Mapping[str, str]
    lock: str | None = None  # instead of the rule's (NBM003 says the statement's)
