"""Holding the migration lock around a run: :func:`migration_lock`, :func:`database_lock`, re-entrant per thread."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .key import lock_key
from .server import _MySQL, _Postgres
from .sqlite import _SQLite
from .wait import _acquire, print_notice

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .base import Notify, _Lock


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
    """Hold the migration lock of ``conn``'s database (see :mod:`nbmigrate.locks`) while the block runs.

    ``conn`` must be outside a transaction, or inside one its owner manages (then nothing is
    committed and, on SQLite, no lock is taken). ``database`` names the database in messages.
    """
    kind = _KINDS.get(conn.dialect.name)
    if kind is None:
        yield
        return
    key = lock_key(conn, version_table, schema)
    lock = kind(conn, key)
    # The server and the resolved table: the same table reached by two URLs is one lock (SQLite:
    # one file), which a thread holding it must not wait for.
    url = conn.engine.url
    identity = (key.dialect, None if key.dialect == "sqlite" else (url.host, url.port), key.name)
    held: set[Any] = _held.__dict__.setdefault("identities", set())
    if identity in held or not lock.usable():
        yield
        return
    lock.timeout = max(0.0, timeout)
    lock.notify = notify
    lock.where = database or url.render_as_string(hide_password=True)
    with lock.callers_settings_kept(), lock.whole_run():
        _acquire(lock)
        held.add(identity)
        try:
            lock.hold()
            yield
        finally:
            held.discard(identity)
            lock.release()


_KINDS: dict[str, type[_Lock]] = {"postgresql": _Postgres, "mysql": _MySQL, "mariadb": _MySQL, "sqlite": _SQLite}
