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
command, the files of applied revisions that have a row are hashed again; one that changed gives
a warning in the command's result: the database holds what the file said when it ran.
Revisions applied without nbmigrate (the ``alembic`` command line) have no row and are not checked.

It is on by default for projects whose ``env.py`` knows the table (the one ``%migrate init``
writes, whose autogenerate leaves it alone), and off for others (a project made by ``alembic
init``, whose autogenerate would want to drop it). ``nbmigrate.checksums = true`` or ``false`` in
the ``[alembic]`` section of ``alembic.ini`` decides either way (off: the table is neither read
nor written); an ``env.py`` of your own with it on should skip the table in ``include_name``.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .schema import CHECKSUM_TABLE

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection

    from .project import Project

TABLE = CHECKSUM_TABLE
OPTION = "nbmigrate.checksums"


def enabled(project: Project, script: ScriptDirectory) -> bool:
    """What the config says (``nbmigrate.checksums``), else whether ``env.py`` knows the table."""
    value = project.config.get_main_option(OPTION)
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
    """Warn (and return the warnings) for each applied revision whose file changed since it was recorded."""
    if not enabled(project, script):
        return []
    from sqlalchemy import inspect, select

    table = _table(project)
    applied = set(applied)
    try:
        with conn.begin():
            if not inspect(conn).has_table(TABLE, schema=table.schema):
                return []
            rows = conn.execute(select(table.c.revision, table.c.sha256, table.c.applied_at)).all()
    except Exception as exc:
        return _warn([f"Could not read {TABLE} to check applied revision files: {_first_line(project, exc)}"])
    rmap = script.revision_map._revision_map
    found = []
    for revision, recorded, applied_at in rows:
        rev = rmap.get(revision)
        if revision not in applied or rev is None or not Path(rev.path).is_file():
            continue
        if checksum(rev.path) != recorded:
            when = f" on {applied_at:%Y-%m-%d %H:%M} UTC" if applied_at else ""
            found.append(
                f"Revision {revision} ({_rel(project, rev.path)}) was edited after it was applied to this "
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
    from sqlalchemy import delete, inspect

    before, after = set(before), set(after)
    added, removed = after - before, before - after
    if not added and not removed:
        return
    rmap = script.revision_map._revision_map
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [
        {"revision": rev, "sha256": checksum(rmap[rev].path), "path": _rel(project, rmap[rev].path), "applied_at": now}
        for rev in sorted(added)
        if rmap.get(rev) is not None and Path(rmap[rev].path).is_file()
    ]
    table = _table(project)
    try:
        with conn.begin():
            exists = inspect(conn).has_table(TABLE, schema=table.schema)
            if not exists and not rows:
                return
            if not exists:
                table.create(conn)
            if added | removed:
                conn.execute(delete(table).where(table.c.revision.in_(sorted(added | removed))))
            if rows:
                conn.execute(table.insert(), rows)
    except Exception as exc:
        _warn([f"Could not record the applied revision files in {TABLE}: {_first_line(project, exc)}"])


def _table(project: Project) -> Table:
    from sqlalchemy import CHAR, Column, DateTime, MetaData, String, Table

    return Table(
        TABLE,
        MetaData(),
        Column("revision", String(255), primary_key=True),
        Column("sha256", CHAR(64), nullable=False),
        Column("path", String(1024), nullable=False),
        Column("applied_at", DateTime, nullable=False),
        schema=project.version_table_schema,
    )


def _warn(messages: list[str]) -> list[str]:
    for message in messages:
        warnings.warn(message, stacklevel=3)
    return messages


def _rel(project: Project, path: Any) -> str:
    try:
        return os.path.relpath(path, project.ini_path.parent)
    except ValueError:
        return str(path)


def _first_line(project: Project, exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return project.redact(f"{type(orig).__name__}: {text[0] if text else ''}")
