"""The servers' migration locks: PostgreSQL's advisory lock, MySQL's and MariaDB's ``GET_LOCK``."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from .base import _Lock

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .key import LockKey


class _Postgres(_Lock):
    def __init__(self, conn: Connection, key: LockKey) -> None:
        super().__init__(conn, key)
        digest = hashlib.blake2b(f"nbmigrate:{key.name}".encode(), digest_size=8).digest()
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
                "AND l.granted AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1 "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
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
    def __init__(self, conn: Connection, key: LockKey) -> None:
        super().__init__(conn, key)
        full = f"nbmigrate:{key.name}"
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
