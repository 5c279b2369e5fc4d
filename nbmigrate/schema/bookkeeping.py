"""The migration project's own tables in a snapshot: the version table and nbmigrate's checksum table.

They are not part of the user's schema: :func:`~.reflect.snapshot` leaves them out of the tables
and reads the version table's rows apart; :func:`with_version_table` corrects a snapshot once a
migration run has told which table Alembic keeps its versions in.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .model import Snapshot

def _version_rows(conn: Connection, name: str, schema: str | None) -> tuple[str, ...]:
    """The revisions stored in the version table, sorted."""
    result = conn.execute(sa.select(sa.text("*")).select_from(sa.table(name, schema=schema)))
    keys = list(result.keys())
    # Alembic's table has the one column version_num; a custom table may put it elsewhere.
    pos = keys.index("version_num") if "version_num" in keys else 0
    return tuple(sorted(str(row[pos]) for row in result))


CHECKSUM_TABLE = "nbmigrate_checksums"


class _Reflected(enum.Enum):
    """Where a version table is when nobody says: in the schema being reflected."""

    SCHEMA = "the reflected schema"


def _same_schema(a: str | None, b: str | None, default: str | None) -> bool:
    """True when two schema names (None: the connection's default) name the same schema."""
    return (a or default) == (b or default)


def _schema_name(name: str | None, default: str | None) -> str | None:
    """None for the default schema however it is named, so equal snapshots compare equal."""
    return None if _same_schema(name, None, default) else name


def with_version_table(snap: Snapshot, name: str, schema: str | None, rows: Sequence[str]) -> Snapshot:
    """``snap`` as if taken knowing that the version table is ``name`` in ``schema``.

    Only a migration run tells for sure which table Alembic keeps its versions in (env.py may
    pass any ``version_table`` to ``context.configure``), after a snapshot of the database
    before the run was taken: that table leaves the user's tables, and ``rows`` (what Alembic
    read from it as the run began; nothing for an absent table) become the version rows.
    """
    own = _same_schema(snap.schema, schema, snap.default_schema)
    seen = own and name in snap.tables
    tables = {n: t for n, t in snap.tables.items() if not (own and n == name)}
    return replace(
        snap,
        tables=tables,
        # Alembic reads an absent table as no rows: the table existed if it was seen or held any.
        version_table=tuple(sorted(rows)) if rows or seen else None,
        version_table_name=name,
        version_table_schema=_schema_name(schema, snap.default_schema),
    )
