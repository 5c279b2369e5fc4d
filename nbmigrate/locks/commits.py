"""What a run committed: the statements it sent and the transactions it ended, for failure reports.

:func:`watch_commits` records them in a :class:`Journal`; :meth:`Journal.kept` says which the
database kept. :func:`transaction_control` and :func:`commits_implicitly` read a statement's
text; :func:`driver_in_transaction` asks the driver whether a transaction is open.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


@dataclass
class Statement:
    """One statement a run sent, as the database saw it."""

    sql: str
    autocommit: bool  # sent outside any transaction (an ``autocommit_block``)
    ran: bool = False  # completed without error
    error_code: int | None = None  # the driver's error number when it failed (MySQL's 1064: did not parse)
    failed: bool = False  # the database (or driver) raised an error for it
    open_after: bool | None = None  # whether the driver had a transaction open once it ran (None: unknown)
    connection: int = 0  # which connection sent it (an env.py may migrate on one of its own)


@dataclass(frozen=True)
class Ended:
    """A transaction SQLAlchemy ended on one connection: committed, or rolled back."""

    committed: bool
    connection: int = 0


@dataclass
class Journal:
    """The statements a run sent and the transactions it ended, in order."""

    dialect: str
    events: list[Statement | Ended | None] = field(default_factory=list)  # None: a commit (of connection 0)
    statements: list[Statement] = field(default_factory=list)

    def kept(self) -> list[bool]:
        """For each statement, whether the database kept its effect after the run ended.

        Kept: committed (by SQLAlchemy, by a ``COMMIT`` statement of the migration's own),
        sent in autocommit mode, run while the driver had no transaction open (it said so
        afterwards), or (MySQL) committed implicitly by a later DDL statement, which commits the
        open transaction before it runs unless it does not even parse. A ``ROLLBACK`` statement
        undoes what its connection had not committed. What was still uncommitted when the run
        failed was rolled back. Transaction statements themselves count as kept.
        """
        kept: list[bool] = []
        pending: dict[int, list[int]] = {}
        for event in self.events:
            if not isinstance(event, Statement):
                ended = event or Ended(committed=True)
                queue = pending.setdefault(ended.connection, [])
                if ended.committed:
                    _keep_all(kept, queue)
                else:
                    queue.clear()
                continue
            index = len(kept)
            kept.append(False)
            queue = pending.setdefault(event.connection, [])
            implicit = self.dialect == "mysql" and commits_implicitly(event.sql)
            if implicit and event.error_code != 1064:
                _keep_all(kept, queue)
            if not event.ran:
                continue
            control = transaction_control(event.sql)
            if control == "rollback":
                queue.clear()
                kept[index] = True
            elif control == "commit" or event.autocommit or implicit or event.open_after is False:
                _keep_all(kept, queue)
                kept[index] = True
            else:
                queue.append(index)
        return kept

    def drop_unsent(self) -> None:
        """Forget the last statement if it was stopped before it was sent (neither ran nor failed)."""
        last = self.statements[-1] if self.statements else None
        if last is not None and not last.ran and last.error_code is None and last.failed is False:
            self.statements.pop()
            # By identity: an earlier statement of the same text is equal to it, and was sent.
            at = max(i for i, event in enumerate(self.events) if event is last)
            del self.events[at]

    def tail(self, statements: list[str]) -> list[tuple[str, bool]] | None:
        """``(statement, kept)`` for the last ``len(statements)`` sent, if they are these ones."""
        sent = self.statements
        if len(statements) > len(sent):
            return None
        kept = self.kept()
        start = len(sent) - len(statements)
        if [s.sql for s in sent[start:]] != list(statements):
            return None
        return [(s.sql, k) for s, k in zip(sent[start:], kept[start:])]


def _keep_all(kept: list[bool], pending: list[int]) -> None:
    for index in pending:
        kept[index] = True
    pending.clear()


# Statements that end the transaction: SQLite's, PostgreSQL's and MySQL's spellings.
_ENDS = r"(?:\s+(?:WORK|TRANSACTION))?(?:\s+AND\s+(?:NO\s+)?CHAIN)?(?:\s+(?:NO\s+)?RELEASE)?\s*;?\s*\Z"
_COMMIT = re.compile(r"\s*(?:COMMIT|END)" + _ENDS, re.IGNORECASE)
_ROLLBACK = re.compile(r"\s*(?:ROLLBACK|ABORT)" + _ENDS, re.IGNORECASE)  # not ROLLBACK TO SAVEPOINT
_BEGIN = re.compile(r"\s*(?:BEGIN|START\s+TRANSACTION)\b", re.IGNORECASE)

_MYSQL_IMPLICIT_COMMIT = re.compile(
    r"\s*(?!(?:CREATE|DROP)\s+TEMPORARY\b)(?:ALTER|CREATE|DROP|RENAME|TRUNCATE|GRANT|REVOKE|LOCK|UNLOCK|"
    r"ANALYZE|OPTIMIZE|REPAIR|INSTALL|UNINSTALL|FLUSH|BEGIN|START)\b",
    re.IGNORECASE,
)


@contextlib.contextmanager
def watch_commits(conn: Connection) -> Iterator[Journal]:
    """Record the statements this thread sends while the block runs, and the transactions it ends.

    Every connection counts, not only ``conn`` (which gives the dialect): an ``env.py`` of its
    own (``alembic init``'s) migrates on a connection it opened itself.
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    journal = Journal("mysql" if conn.dialect.name in ("mysql", "mariadb") else conn.dialect.name)
    thread = threading.get_ident()

    def before(c: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if threading.get_ident() != thread:
            return
        autocommit = c.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        sent = Statement(statement, autocommit, connection=_connection_id(c))
        journal.events.append(sent)
        journal.statements.append(sent)

    def after(c: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if threading.get_ident() == thread and journal.statements:
            journal.statements[-1].ran = True
            journal.statements[-1].open_after = driver_in_transaction(c)

    def on_error(context: Any) -> None:
        if threading.get_ident() == thread and journal.statements:
            dbapi = (getattr(context, "dialect", None) or conn.dialect).loaded_dbapi
            journal.statements[-1].failed = isinstance(context.original_exception, dbapi.Error)
            args = getattr(context.original_exception, "args", ())
            journal.statements[-1].error_code = args[0] if args and isinstance(args[0], int) else None

    def on_commit(c: Any) -> None:
        if threading.get_ident() == thread:
            journal.events.append(Ended(committed=True, connection=_connection_id(c)))

    def on_rollback(c: Any) -> None:
        if threading.get_ident() == thread:
            journal.events.append(Ended(committed=False, connection=_connection_id(c)))

    listeners = [(Engine, "before_cursor_execute", before), (Engine, "after_cursor_execute", after),
                 (Engine, "commit", on_commit), (Engine, "rollback", on_rollback), (Engine, "handle_error", on_error)]
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    try:
        yield journal
    finally:
        for target, name, fn in listeners:
            event.remove(target, name, fn)


def commits_implicitly(statement: str) -> bool:
    """Whether MySQL/MariaDB commit the open transaction before (and after) ``statement`` (DDL)."""
    return bool(_MYSQL_IMPLICIT_COMMIT.match(statement))


def transaction_control(statement: str) -> str | None:
    """``"commit"``, ``"rollback"`` or ``"begin"`` for a statement that ends or begins a transaction.

    ``COMMIT``/``END`` (with ``WORK``/``TRANSACTION``, ``AND [NO] CHAIN``, ``[NO] RELEASE``),
    ``ROLLBACK``/``ABORT`` (not ``ROLLBACK TO SAVEPOINT``), ``BEGIN``/``START TRANSACTION``.
    """
    if _COMMIT.match(statement):
        return "commit"
    if _ROLLBACK.match(statement):
        return "rollback"
    if _BEGIN.match(statement):
        return "begin"
    return None


def driver_in_transaction(conn: Connection) -> bool | None:
    """Whether the DBAPI connection under ``conn`` has a transaction open now (``None``: it cannot say).

    pysqlite's ``in_transaction``, psycopg's transaction status (3 and 2), PyMySQL's server
    status (``SERVER_STATUS_IN_TRANS``).
    """
    try:
        driver = conn.connection.driver_connection
    except Exception:
        return None
    value = getattr(driver, "in_transaction", None)
    if isinstance(value, bool):
        return value
    status = getattr(getattr(driver, "info", None), "transaction_status", None)  # psycopg 3
    if status is None and callable(getattr(driver, "get_transaction_status", None)):
        status = driver.get_transaction_status()  # psycopg2
    if status is not None:
        return {0: False, 1: True, 2: True, 3: True}.get(int(status))  # IDLE, ACTIVE, INTRANS, INERROR
    server_status = getattr(driver, "server_status", None)  # PyMySQL
    if isinstance(server_status, int):
        return bool(server_status & 1)
    return None


def _connection_id(conn: Connection) -> int:
    try:
        return id(conn.connection.dbapi_connection)
    except Exception:
        return 0
