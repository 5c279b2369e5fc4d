"""SQLite's migration lock: the lock file for the whole run, the write lock (``BEGIN IMMEDIATE``) per transaction.

Why both, and why per transaction: see :mod:`nbmigrate.locks`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .base import _Lock
from .filelock import _FileLock
from .wait import _acquire

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .key import LockKey

SQLITE_BEGIN_KEY = "nbmigrate.begin"  # the begin hook project.transactional_sqlite calls while locked
SQLITE_LOCK_SUFFIX = ".nbmigrate-lock"  # the file beside an SQLite database that runs lock


class _SQLite(_Lock):
    """A file lock for the whole run, and SQLite's write lock taken by each of its transactions.

    See :mod:`nbmigrate.locks`.
    """

    held_timeout = 0  # the busy timeout while the lock is held, in milliseconds

    def __init__(self, conn: Connection, key: LockKey) -> None:
        super().__init__(conn, key)
        self.file_lock = _FileLock(key.database + SQLITE_LOCK_SUFFIX) if os.path.isabs(key.database) else None

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

    @contextlib.contextmanager
    def whole_run(self) -> Iterator[None]:
        try:
            yield
        finally:
            if self.file_lock is not None:
                self.file_lock.release()

    def try_acquire(self) -> bool:
        if self.file_lock is not None and not self.file_lock.try_acquire():
            return False
        return self._begin_immediate(keep=False)

    def holder(self) -> str:
        if self.file_lock is not None and not self.file_lock.held:
            process = self.file_lock.holder()
            return f"another run (process {process})" if process else "another run"
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
