"""Checksums of applied revision files, to notice a revision edited after it was applied.

When a command applies revisions (``upgrade``, ``stamp``), nbmigrate records each one's file in a
side table next to the version table (same schema), ``nbmigrate_checksums``:

============  ================  =====================================================================
column        type              holds
============  ================  =====================================================================
revision      VARCHAR(255) PK   the revision id
sha256        CHAR(64)          SHA-256 of the file, line endings made ``\\n`` (a checkout that only
                                changes line endings is not an edit)
path          VARCHAR(1024)     the file, relative to the project folder (for messages)
applied_at    DATETIME          when it was recorded, UTC
============  ================  =====================================================================

Un-applying a revision (``downgrade``, ``stamp`` below it) removes its row. Before each writing
command, under the migration lock, the table is first reconciled with ``alembic_version``: rows
of revisions the database no longer has applied are removed (another tool, such as the
``alembic`` command line with an ``env.py`` that records nothing, moved the database; a revision
no longer applied has no checksum to compare). Then the files of applied revisions that have a
row are hashed again; one that changed gives a warning in the command's result: the database
holds what the file said when it ran.

nbmigrate's ``env.py`` records too when something else runs it (the ``alembic`` command line):
see :func:`recorded`. Revisions applied through an ``env.py`` that does not (one made by
``alembic init``) have no row until nbmigrate applies them, and are not checked.

It is on by default for projects whose ``env.py`` knows the table (the one ``%migrate init``
writes, whose autogenerate leaves it alone), and off for others (a project made by ``alembic
init``, whose autogenerate would want to drop it). ``nbmigrate.checksums = true`` or ``false`` in
the ``[alembic]`` section of ``alembic.ini`` decides either way (off: the table is neither read
nor written); an ``env.py`` of your own with it on should skip the table in ``include_name``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._internals import revision_index
from .schema import CHECKSUM_TABLE

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection

    from .project import Project

TABLE = CHECKSUM_TABLE
OPTION = "nbmigrate.checksums"
_CHUNK = 500  # revisions per IN (...) list: well below every database's limit on parameters


def enabled(project: Project, script: ScriptDirectory) -> bool:
    """What the config says (``nbmigrate.checksums``), else whether ``env.py`` knows the table."""
    return _enabled(project.config, script)


def _enabled(config: Config, script: ScriptDirectory) -> bool:
    value = config.get_main_option(OPTION)
    if value is not None and value.strip():
        return value.strip().lower() not in ("false", "no", "off", "0")
    env_py = Path(script.env_py_location)
    try:
        return TABLE in env_py.read_text(encoding="utf-8")
    except OSError:
        return False


def checksum(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a revision file, with line endings normalised."""
    data = Path(path).read_bytes().replace(b"\r\n", b"\n")
    return hashlib.sha256(data).hexdigest()


def verify(project: Project, conn: Connection, script: ScriptDirectory, applied: Iterable[str]) -> list[str]:
    """Warn (and return the warnings) for each applied revision whose file changed since it was recorded.

    ``applied`` is what the run read from the version table under the migration lock. Rows of
    other revisions are removed first: whatever un-applied them recorded nothing.
    """
    if not enabled(project, script):
        return []
    from sqlalchemy import inspect, select

    table = _table(project.version_table_schema)
    applied = set(applied)
    try:
        with conn.begin():
            if not inspect(conn).has_table(TABLE, schema=table.schema):
                return []
            rows = conn.execute(select(table.c.revision, table.c.sha256, table.c.applied_at)).all()
            _delete(conn, table, {revision for revision, _, _ in rows} - applied)
    except Exception as exc:
        return _warn([f"Could not read {TABLE} to check applied revision files: {_first_line(project.redact, exc)}"])
    rmap = revision_index(script)
    found = []
    for revision, recorded_sha, applied_at in rows:
        rev = rmap.get(revision)
        if revision not in applied or rev is None or not Path(rev.path).is_file():
            continue
        if checksum(rev.path) != recorded_sha:
            when = f" on {applied_at:%Y-%m-%d %H:%M} UTC" if applied_at else ""
            found.append(
                f"Revision {revision} ({_rel(project.ini_path.parent, rev.path)}) was edited after it was applied to this "
                f"database{when}: the database holds what the file said then. Undo the edit, or put "
                "the change into a new revision."
            )
    return _warn(found)


def record(
    project: Project, conn: Connection, script: ScriptDirectory, before: Iterable[str], after: Iterable[str]
) -> None:
    """Record the files of revisions applied since ``before``; forget those no longer applied."""
    if not enabled(project, script):
        return
    try:
        with conn.begin():
            _write(conn, _table(project.version_table_schema), script, project.ini_path.parent, set(before), set(after))
    except Exception as exc:
        _warn([f"Could not record the applied revision files in {TABLE}: {_first_line(project.redact, exc)}"])


def rerecord(project: Project, conn: Connection, script: ScriptDirectory, revision: str) -> None:
    """Record ``revision``'s file anew where this database applied it (a squash replaced the file, proved equal)."""
    if not enabled(project, script):
        return
    from sqlalchemy import inspect, select

    table = _table(project.version_table_schema)
    try:
        with conn.begin():
            if inspect(conn).has_table(TABLE, schema=table.schema) and conn.execute(
                select(table.c.revision).where(table.c.revision == revision)
            ).first():
                _write(conn, table, script, project.ini_path.parent, set(), {revision})
    except Exception as exc:
        _warn([f"Could not record the squashed revision's file in {TABLE}: {_first_line(project.redact, exc)}"])


@contextlib.contextmanager
def recorded(config: Config, script: ScriptDirectory, context: MigrationContext) -> Iterator[None]:
    """Record what the block applies and forget what it un-applies: for an ``env.py`` run by others.

    nbmigrate's ``env.py`` wraps Alembic's run in this when the ``alembic`` command line (or any
    caller but nbmigrate, which records itself) runs it, around ``context.begin_transaction()``::

        with checksums.recorded(config, context.script, context.get_context()):
            with context.begin_transaction():
                context.run_migrations()

    The version table is read before and after the run on the context's connection, and the
    table is written once the run has ended well, in a transaction of its own (or, on a
    connection its caller handed over inside a transaction, in that one, left for the caller to
    commit). The migration lock the ``env.py`` holds covers both. A run that fails records
    nothing; nbmigrate's next run reconciles the table with what the database holds.
    """
    conn = context.connection
    if conn is None or context.as_sql or not _enabled(config, script):
        yield
        return
    from ._internals import applied

    outer = conn.in_transaction()  # the caller's own transaction: write in it, commit nothing
    before = applied(script.revision_map, context.get_current_heads())
    yield
    after = applied(script.revision_map, context.get_current_heads())
    if before == after:
        return
    table = _table(context.version_table_schema)
    root = Path(config.config_file_name or getattr(config, "toml_file_name", None) or "x").resolve().parent
    try:
        # Reading the heads again began a transaction (Alembic's own has ended): the rows go in it.
        _write(conn, table, script, root, before, after)
        if not outer:
            conn.commit()
    except Exception as exc:
        from .masking import mask

        if not outer and conn.in_transaction():
            conn.rollback()
        _warn([f"Could not record the applied revision files in {TABLE}: {_first_line(mask, exc)}"])


def _write(conn: Connection, table: Table, script: ScriptDirectory, root: Path, before: set[str], after: set[str]) -> None:
    """Bring the table to ``after``: rows for the revisions added since ``before``, none for others."""
    from sqlalchemy import inspect, select

    added = after - before
    rmap = revision_index(script)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [
        {"revision": rev, "sha256": checksum(rmap[rev].path), "path": _rel(root, rmap[rev].path), "applied_at": now}
        for rev in sorted(added)
        if rmap.get(rev) is not None and Path(rmap[rev].path).is_file()
    ]
    if not inspect(conn).has_table(TABLE, schema=table.schema):
        if not rows:
            return
        table.create(conn)
        existing: set[str] = set()
    else:
        existing = {revision for (revision,) in conn.execute(select(table.c.revision))}
    # A row of a revision just applied is replaced; one of a revision no longer applied goes,
    # whoever un-applied it.
    _delete(conn, table, existing & added | existing - after)
    if rows:
        conn.execute(table.insert(), rows)


def _delete(conn: Connection, table: Table, revisions: set[str]) -> None:
    from sqlalchemy import delete

    ordered = sorted(revisions)
    for start in range(0, len(ordered), _CHUNK):
        conn.execute(delete(table).where(table.c.revision.in_(ordered[start : start + _CHUNK])))


def _table(schema: str | None) -> Table:
    from sqlalchemy import CHAR, Column, DateTime, MetaData, String, Table

    return Table(
        TABLE,
        MetaData(),
        Column("revision", String(255), primary_key=True),
        Column("sha256", CHAR(64), nullable=False),
        Column("path", String(1024), nullable=False),
        Column("applied_at", DateTime, nullable=False),
        schema=schema,
    )


def _warn(messages: list[str]) -> list[str]:
    for message in messages:
        warnings.warn(message, stacklevel=3)
    return messages


def _rel(root: Path, path: Any) -> str:
    try:
        return os.path.relpath(path, root)
    except ValueError:
        return str(path)


def _first_line(redact: Callable[[str], str], exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return redact(f"{type(orig).__name__}: {text[0] if text else ''}")
