"""The migration run's hold on its database: the lock that serialises runs, and what a run committed.

Every command that writes to the database (``upgrade``, ``downgrade``, ``stamp``; ``%%revision
--apply`` and the graph widget's actions go through them) runs inside :func:`migration_lock`, and
nbmigrate's ``env.py`` takes the same lock when the ``alembic`` command line runs it. So two
kernels, or a kernel and the command line, never apply a revision twice: the second run waits,
says so, and then finds the revisions already applied.

==============  =================================================================================
PostgreSQL      ``pg_try_advisory_lock(key)``, polled. ``key`` is a 64-bit hash of the version
                table's (schema-qualified) name; advisory locks are per database already. A
                connection already inside the caller's transaction gets the transaction-level
                ``pg_try_advisory_xact_lock`` instead, so nothing of the caller's is committed.
MySQL/MariaDB   ``GET_LOCK(name, 0)``, polled. ``name`` holds the database and version table
                names (MySQL lock names are server-wide).
SQLite          the database's write lock (``BEGIN IMMEDIATE``), taken by each transaction of
                the run itself, polled without SQLite's own busy wait.
==============  =================================================================================

Why SQLite differs: a write lock held on the run's connection before Alembic starts would put
Alembic's transaction inside ours (SQLite cannot nest ``BEGIN``, and Alembic, seeing a connection
already in a transaction, commits nothing), and one held on a second connection would block the
run's own writes. So while the lock is held, the transactional-SQLite ``begin`` hook (in
:func:`nbmigrate.project.transactional_sqlite` and nbmigrate's ``env.py``) calls
``conn.info["nbmigrate.begin"]``, which begins with ``BEGIN IMMEDIATE``, polling and announcing a
wait like the other databases. Alembic reads ``alembic_version`` inside that transaction, so a run
that waited applies only what the other left to do. The lock is also probed once on entry, so
in the common case the wait happens before nbmigrate reads the heads; when another run slips in
between nbmigrate's reading and Alembic's transaction, the wait is announced all the same and
:mod:`nbmigrate.commands` says that the steps Alembic ran differ from those it planned.
Limits: through an ``Engine`` of your own, without nbmigrate's ``begin`` hook, an SQLite run only
gets the probe on entry; and an ``env.py`` with ``transaction_per_migration=True`` lets go of the
write lock between two revisions, where another run could take it (nbmigrate's ``env.py`` runs
all revisions in one transaction).

However the lock ends (taken, timed out, failed, interrupted), the SQLite connection's
``busy_timeout`` is given back exactly as the caller had it, and no transaction the lock began
is left open.

The lock is re-entrant within a thread (a command that runs a command does not wait for itself).
A wait is announced through ``notify(text)`` as it starts and, once the lock is taken, as a
warning in the command's result. After ``timeout`` seconds the run ends with :class:`LockTimeout`.
Other databases run without a lock.

:func:`watch_commits` records which statements of a run the database kept, for failure reports:
what was committed (explicitly, by an ``autocommit_block``, or implicitly by MySQL's DDL).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _runtime
from .errors import LockTimeout

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

Notify = Callable[[str], None]

POLL_SECONDS = 0.1  # how often a waiting run tries the lock again
SQLITE_BEGIN_KEY = "nbmigrate.begin"  # the begin hook project.transactional_sqlite calls while locked

_held = threading.local()  # lock identities this thread holds, for re-entrance


@contextlib.contextmanager
def migration_lock(project: Any, conn: Connection, notify: Notify | None = None) -> Iterator[None]:
    """Hold the database's migration lock for ``project``'s version table while the block runs.

    A wait is announced through ``notify``; without one, on ``sys.stderr`` (which a notebook shows
    under the running cell).
    """
    with database_lock(
        conn,
        version_table=project.version_table,
        schema=project.version_table_schema,
        timeout=project.lock_timeout,
        notify=notify or print_notice,
        database=project.display_url,
    ):
        yield


@contextlib.contextmanager
def database_lock(
    conn: Connection,
    *,
    version_table: str = "alembic_version",
    schema: str | None = None,
    timeout: float = 60.0,
    notify: Notify | None = None,
    database: str | None = None,
) -> Iterator[None]:
    """Hold the migration lock of ``conn``'s database (see the module docstring) while the block runs.

    ``conn`` must be outside a transaction, or inside one its owner manages (then nothing is
    committed and, on SQLite, no lock is taken). ``database`` names the database in messages.
    """
    kind = _KINDS.get(conn.dialect.name)
    if kind is None:
        yield
        return
    lock = kind(conn, f"{schema + '.' if schema else ''}{version_table}")
    identity = (conn.dialect.name, conn.engine.url.render_as_string(hide_password=True), lock.name)
    held: set[Any] = _held.__dict__.setdefault("identities", set())
    if identity in held or not lock.usable():
        yield
        return
    lock.timeout = max(0.0, timeout)
    lock.notify = notify
    lock.where = database or conn.engine.url.render_as_string(hide_password=True)
    with lock.callers_settings_kept():
        _acquire(lock)
        held.add(identity)
        try:
            lock.hold()
            yield
        finally:
            held.discard(identity)
            lock.release()


def print_notice(text: str) -> None:
    """The default ``notify``: one line on standard error."""
    print(f"nbmigrate: {text}", file=sys.stderr, flush=True)


def _acquire(lock: _Lock, attempt: Callable[[], bool] | None = None) -> None:
    """Take ``lock``, polling; announce a wait, warn once taken after one, give up after its timeout."""
    attempt = attempt or lock.try_acquire
    started = time.monotonic()
    if attempt():
        return
    waiting = f"the migration lock on {lock.where}: {lock.holder()} is migrating this database"
    if lock.notify is not None:
        lock.notify(f"Waiting for {waiting} (up to {lock.timeout:g} s)…")
    with _runtime.interruptible():  # Ctrl-C while waiting: stop here, nothing has run
        _wait(lock, attempt, started, waiting)
    waited = time.monotonic() - started
    warnings.warn(
        f"Waited {waited:.1f} s for {waiting}; this run started once it had finished, from the "
        "revisions it left.",
        stacklevel=3,
    )


def _wait(lock: _Lock, attempt: Callable[[], bool], started: float, waiting: str) -> None:
    while True:
        _runtime.checkpoint()
        elapsed = time.monotonic() - started
        if elapsed >= lock.timeout:
            raise LockTimeout(
                f"Gave up after {elapsed:.0f} s waiting for {waiting}. Nothing was run. Let that run "
                "finish and try again, or wait longer: `%config MigrateMagics.lock_timeout = 300` "
                "(from Python: `project.lock_timeout = 300`)."
            )
        time.sleep(min(POLL_SECONDS, max(0.0, lock.timeout - elapsed)))
        if attempt():
            return


# -- one lock per kind of database ---------------------------------------------------------


class _Lock:
    """How one kind of database takes, reports and releases the migration lock."""

    timeout: float = 0.0
    notify: Notify | None = None
    where: str = ""

    def __init__(self, conn: Connection, name: str) -> None:
        self.conn = conn
        self.name = name
        self.outer = conn.in_transaction()  # the caller's transaction: leave it open

    def usable(self) -> bool:
        return True

    @contextlib.contextmanager
    def callers_settings_kept(self) -> Iterator[None]:
        """Around the whole lock, from before its first attempt: give back what it changes on ``conn``."""
        yield

    def try_acquire(self) -> bool:
        raise NotImplementedError

    def holder(self) -> str:
        return "another run"

    def hold(self) -> None:
        """Called once the lock is taken, before the block runs."""

    def release(self) -> None:
        raise NotImplementedError

    def _scalar(self, sql: str, **params: Any) -> Any:
        """One value from a query, without leaving a transaction open (unless it is the caller's)."""
        from sqlalchemy import text

        try:
            return self.conn.execute(text(sql), params).scalar()
        finally:
            if not self.outer and self.conn.in_transaction():
                self.conn.commit()

    def _end_or_invalidate(self, sql: str, **params: Any) -> None:
        """Release with ``sql``; when that fails, close the session so the database lets go."""
        try:
            if not self.outer and self.conn.in_transaction():
                self.conn.rollback()  # a failed run's open transaction; never commit its remains
            self._scalar(sql, **params)
        except BaseException:
            with contextlib.suppress(Exception):
                self.conn.invalidate()
            raise


class _Postgres(_Lock):
    def __init__(self, conn: Connection, name: str) -> None:
        super().__init__(conn, name)
        digest = hashlib.blake2b(f"nbmigrate:{name}".encode(), digest_size=8).digest()
        self.key = int.from_bytes(digest, "big", signed=True)

    def try_acquire(self) -> bool:
        fn = "pg_try_advisory_xact_lock" if self.outer else "pg_try_advisory_lock"
        try:
            return bool(self._scalar(f"SELECT {fn}(:key)", key=self.key))
        except BaseException:
            self._end_or_invalidate("SELECT pg_advisory_unlock(:key)", key=self.key)  # in case it was granted
            raise

    def holder(self) -> str:
        unsigned = self.key & 0xFFFFFFFFFFFFFFFF
        try:
            row = self._row(
                "SELECT a.pid, a.application_name, a.client_addr, a.backend_start FROM pg_locks l "
                "LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                "AND l.granted AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1",
                hi=unsigned >> 32, lo=unsigned & 0xFFFFFFFF,
            )
        except Exception:
            return "another run"
        if row is None or row[0] is None:
            return "another run"
        pid, app, addr, since = row
        parts = [f"PostgreSQL backend {pid}"]
        if app:
            parts.append(f"application {app!r}")
        if addr:
            parts.append(f"from {addr}")
        if since is not None:
            parts.append(f"connected since {since:%H:%M:%S}")
        return "another run (" + ", ".join(parts) + ")"

    def _row(self, sql: str, **params: Any) -> Any:
        from sqlalchemy import text

        try:
            return self.conn.execute(text(sql), params).first()
        finally:
            if not self.outer and self.conn.in_transaction():
                self.conn.rollback()

    def release(self) -> None:
        if not self.outer:
            self._end_or_invalidate("SELECT pg_advisory_unlock(:key)", key=self.key)


class _MySQL(_Lock):
    def __init__(self, conn: Connection, name: str) -> None:
        super().__init__(conn, name)
        database = self._scalar("SELECT DATABASE()") or ""
        full = f"nbmigrate:{database}.{name}"
        # Lock names are at most 64 characters; a long one is replaced by its hash.
        self.lock_name = full if len(full) <= 64 else "nbmigrate:" + hashlib.sha1(full.encode()).hexdigest()

    def try_acquire(self) -> bool:
        try:
            return self._scalar("SELECT GET_LOCK(:name, 0)", name=self.lock_name) == 1
        except BaseException:
            self._end_or_invalidate("SELECT RELEASE_LOCK(:name)", name=self.lock_name)
            raise

    def holder(self) -> str:
        try:
            owner = self._scalar("SELECT IS_USED_LOCK(:name)", name=self.lock_name)
        except Exception:
            owner = None
        return f"another run (connection {owner})" if owner else "another run"

    def release(self) -> None:
        self._end_or_invalidate("SELECT RELEASE_LOCK(:name)", name=self.lock_name)


class _SQLite(_Lock):
    """SQLite's write lock, taken by each transaction of the run (see the module docstring)."""

    held_timeout = 0  # the busy timeout while the lock is held, in milliseconds

    def usable(self) -> bool:
        # Inside the caller's transaction the run cannot begin its own: nothing to take.
        return not self.outer and not _raw_in_transaction(self.conn)

    @contextlib.contextmanager
    def callers_settings_kept(self) -> Iterator[None]:
        # Read once, before any probe sets it, so that exactly the caller's value comes back:
        # 0 ("fail at once when locked") included.
        callers = int(self._pragma("PRAGMA busy_timeout"))
        # Once the lock is held, commits may still wait for readers as long as SQLite's own
        # timeout (or ours, if longer) allows.
        self.held_timeout = max(callers, int(self.timeout * 1000))
        try:
            yield
        finally:
            if not (self.conn.invalidated or self.conn.closed):
                with contextlib.suppress(Exception):  # a broken connection must not hide why the run ended
                    self._pragma(f"PRAGMA busy_timeout = {callers}")

    def try_acquire(self) -> bool:
        return self._begin_immediate(keep=False)

    def holder(self) -> str:
        return "another connection"

    def hold(self) -> None:
        self.conn.info[SQLITE_BEGIN_KEY] = self.begin

    def begin(self, conn: Connection) -> None:
        """The run's ``BEGIN``: ``BEGIN IMMEDIATE``, waiting for the write lock as :func:`_acquire` does."""
        try:
            _acquire(self, lambda: self._begin_immediate(keep=True))
        except BaseException:
            _autobegin_again(conn)
            raise

    def _begin_immediate(self, keep: bool) -> bool:
        """Try ``BEGIN IMMEDIATE`` without SQLite's own busy wait; keep the transaction or roll it back."""
        self._pragma("PRAGMA busy_timeout = 0")
        try:
            try:
                self._pragma("BEGIN IMMEDIATE")
            except Exception as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    return False
                raise
            finally:
                self._pragma(f"PRAGMA busy_timeout = {self.held_timeout}")
            if not keep:
                self._pragma("ROLLBACK")
        except BaseException:
            # Interrupted (or failed) after BEGIN IMMEDIATE returned: the open transaction is the
            # lock's own (usable() and SQLAlchemy's begin both start outside one), and it holds
            # the write lock until the connection closes.
            if _raw_in_transaction(self.conn):
                with contextlib.suppress(Exception):
                    self._pragma("ROLLBACK")
            raise
        return True

    def _pragma(self, sql: str) -> Any:
        """Run ``sql`` on the DBAPI connection, past SQLAlchemy (and its transaction events)."""
        cursor = self.conn.connection.cursor()
        try:
            cursor.execute(sql)
            row = cursor.fetchone() if cursor.description else None
            return row[0] if row else None
        finally:
            cursor.close()

    def release(self) -> None:
        self.conn.info.pop(SQLITE_BEGIN_KEY, None)


def _raw_in_transaction(conn: Connection) -> bool:
    driver = conn.connection.driver_connection
    return bool(getattr(driver, "in_transaction", False))


def _autobegin_again(conn: Connection) -> None:
    """Undo what a failed ``begin`` listener leaves behind in SQLAlchemy's ``Connection``.

    SQLAlchemy marks a connection as beginning before it calls the ``begin`` listeners and clears
    the mark only after they return. Left marked, the connection never autobegins again: the
    caller's next statements would run outside any transaction, autocommitted on transactional
    SQLite, where a rollback cannot undo them.
    """
    mark = "_Connection__in_begin"
    if hasattr(conn, mark):
        setattr(conn, mark, False)


_KINDS: dict[str, type[_Lock]] = {"postgresql": _Postgres, "mysql": _MySQL, "mariadb": _MySQL, "sqlite": _SQLite}


# -- what a run committed --------------------------------------------------------------------


@dataclass
class Statement:
    """One statement a run sent, as the database saw it."""

    sql: str
    autocommit: bool  # sent outside any transaction (an ``autocommit_block``)
    ran: bool = False  # completed without error
    error_code: int | None = None  # the driver's error number when it failed (MySQL's 1064: did not parse)
    failed: bool = False  # the database (or driver) raised an error for it


@dataclass
class Journal:
    """The statements a run sent on one connection and its commits, in order."""

    dialect: str
    events: list[Statement | None] = field(default_factory=list)  # None: a commit
    statements: list[Statement] = field(default_factory=list)

    def kept(self) -> list[bool]:
        """For each statement, whether the database kept its effect after the run ended.

        Kept: committed explicitly, sent in autocommit mode, or (MySQL) committed implicitly by a
        later DDL statement, which commits the open transaction before it runs unless it does
        not even parse. What was still uncommitted when the run failed was rolled back.
        """
        kept: list[bool] = []
        pending: list[int] = []
        for event in self.events:
            if event is None:
                _keep_all(kept, pending)
                continue
            index = len(kept)
            kept.append(False)
            implicit = self.dialect == "mysql" and commits_implicitly(event.sql)
            if implicit and event.error_code != 1064:
                _keep_all(kept, pending)
            if not event.ran:
                continue
            if event.autocommit or implicit:
                kept[index] = True
            else:
                pending.append(index)
        return kept

    def drop_unsent(self) -> None:
        """Forget the last statement if it was stopped before it was sent (neither ran nor failed)."""
        last = self.statements[-1] if self.statements else None
        if last is not None and not last.ran and last.error_code is None and last.failed is False:
            self.statements.pop()
            self.events.remove(last)

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


_MYSQL_IMPLICIT_COMMIT = re.compile(
    r"\s*(?!(?:CREATE|DROP)\s+TEMPORARY\b)(?:ALTER|CREATE|DROP|RENAME|TRUNCATE|GRANT|REVOKE|LOCK|UNLOCK|"
    r"ANALYZE|OPTIMIZE|REPAIR|INSTALL|UNINSTALL|FLUSH|BEGIN|START)\b",
    re.IGNORECASE,
)


@contextlib.contextmanager
def watch_commits(conn: Connection) -> Iterator[Journal]:
    """Record the statements sent on ``conn`` and its commits while the block runs."""
    from sqlalchemy import event

    journal = Journal("mysql" if conn.dialect.name in ("mysql", "mariadb") else conn.dialect.name)

    def before(c: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        autocommit = c.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        sent = Statement(statement, autocommit)
        journal.events.append(sent)
        journal.statements.append(sent)

    def after(c: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        journal.statements[-1].ran = True

    def on_error(context: Any) -> None:
        if context.connection is conn and journal.statements:
            journal.statements[-1].failed = isinstance(context.original_exception, conn.dialect.loaded_dbapi.Error)
            args = getattr(context.original_exception, "args", ())
            journal.statements[-1].error_code = args[0] if args and isinstance(args[0], int) else None

    def on_commit(c: Any) -> None:
        journal.events.append(None)

    listeners = [(conn, "before_cursor_execute", before), (conn, "after_cursor_execute", after),
                 (conn, "commit", on_commit), (conn.engine, "handle_error", on_error)]
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
