"""What every kind of database's migration lock does (:class:`_Lock`), and how a wait is announced (``Notify``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .key import LockKey

Notify = Callable[[str], None]


class _Lock:
    """How one kind of database takes, reports and releases the migration lock."""

    timeout: float = 0.0
    notify: Notify | None = None
    where: str = ""

    def __init__(self, conn: Connection, key: LockKey) -> None:
        self.conn = conn
        self.key = key
        self.name = key.name
        self.outer = conn.in_transaction()  # the caller's transaction: leave it open

    def usable(self) -> bool:
        return True

    @contextlib.contextmanager
    def callers_settings_kept(self) -> Iterator[None]:
        """Around the whole lock, from before its first attempt: give back what it changes on ``conn``."""
        yield

    @contextlib.contextmanager
    def whole_run(self) -> Iterator[None]:
        """Around the whole lock, from before its first attempt: let go of what lasts the whole run."""
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
