"""What PostgreSQL says a previewed migration did to each table: the locks it holds, the tables it rewrote.

``upgrade --preview`` runs the migration inside one transaction and rolls it back. On PostgreSQL,
after each statement of that run, :func:`observing` asks the server, on the migration's own
session (a second cursor of the same connection, so the same backend and transaction):

- which relation locks the backend holds (``pg_locks`` where ``pid = pg_backend_pid()``): a lock
  is held until the transaction ends, so what a statement took is what appears after it (a
  mode already held from an earlier statement still shows as held);
- which tables have a new ``relfilenode`` since the run began: PostgreSQL gives a table new
  storage when it rewrites every row (a type change, ``VACUUM FULL``, a volatile default), and
  new empty storage when ``TRUNCATE`` empties it.

Tables are named as they were when the run began, so a renamed or dropped table keeps the name
the lint's claims use.

The lint rules (:mod:`nbmigrate.lint`) claim the same facts statically; the preview result sets
the two side by side, and a claim the database contradicts is shown as a bug in the rules.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# Only the user's tables: the catalog and TOAST relations every statement touches are noise.
_USER_RELATION = (
    "c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'"
)
# A relation the run dropped has no pg_class row any more (in its own transaction), yet its lock
# is held: such locks come without a name, and take the one the table had when the run began.
_LOCKS = (
    "SELECT l.relation, c.relname, l.mode FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation "
    "LEFT JOIN pg_namespace n ON n.oid = c.relnamespace "
    f"WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted AND (c.oid IS NULL OR ({_USER_RELATION}))"
)
_FILES = f"SELECT c.oid, c.relname, c.relfilenode FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_USER_RELATION}"

# PostgreSQL's table lock modes, weakest first (a stronger mode conflicts with more).
LOCK_ORDER = (
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
)


@dataclass(frozen=True)
class Observation:
    """One statement of a previewed run, and what the server held and rewrote after it."""

    statement: str
    held: dict[str, str]  # table → the strongest lock mode the backend holds on it
    new: dict[str, str]  # the tables whose lock this statement took or strengthened
    rewritten: tuple[str, ...]  # tables given new storage by this statement


def strongest(modes: Any) -> str:
    """The strongest of PostgreSQL lock mode names (unknown names count as weakest)."""
    return max(modes, key=lambda m: LOCK_ORDER.index(m) if m in LOCK_ORDER else -1)


def _held(cursor: Any, names: dict[int, str]) -> dict[str, str]:
    """Table → strongest mode held, each table named as it was when the run began (a rename keeps its name)."""
    cursor.execute(_LOCKS)
    found: dict[str, list[str]] = {}
    for oid, relname, mode in cursor.fetchall():
        name = names.get(oid, relname)
        if name is not None:  # None: a relation made and dropped within the run, or not the user's
            found.setdefault(name, []).append(mode)
    return {table: strongest(modes) for table, modes in found.items()}


def _files(cursor: Any) -> dict[int, tuple[str, int]]:
    cursor.execute(_FILES)
    return {oid: (name, node) for oid, name, node in cursor.fetchall()}


@contextlib.contextmanager
def observing(conn: Connection) -> Iterator[list[Observation]]:
    """While the block runs statements on ``conn`` (PostgreSQL), record an :class:`Observation` after each."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    observed: list[Observation] = []
    if conn.dialect.name != "postgresql":
        yield observed
        return
    raw = conn.connection.driver_connection
    thread = threading.get_ident()
    with raw.cursor() as cursor:
        files = _files(cursor)
        names = {oid: name for oid, (name, _) in files.items()}
        state = {"held": _held(cursor, names), "files": files}

    def after(connection: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        if threading.get_ident() != thread or connection.connection.driver_connection is not raw:
            return
        with raw.cursor() as mine:
            files = _files(mine)
            for oid, (name, _) in files.items():
                names.setdefault(oid, name)  # tables the run created, by their first name
            held = _held(mine, names)
        before = state["held"]
        new = {t: m for t, m in held.items() if t not in before or strongest([m, before[t]]) != before[t]}
        rewritten = tuple(sorted(
            names[oid] for oid, (_, node) in files.items() if oid in state["files"] and state["files"][oid][1] != node
        ))
        state["held"], state["files"] = held, files
        observed.append(Observation(statement, held, new, rewritten))

    event.listen(Engine, "after_cursor_execute", after)
    try:
        yield observed
    finally:
        event.remove(Engine, "after_cursor_execute", after)
