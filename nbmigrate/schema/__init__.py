"""Snapshots of a database schema and the differences between two of them.

:func:`snapshot` reflects a database through SQLAlchemy's bulk ``Inspector.get_multi_*`` calls
(one round of queries for the whole schema, not one per table and kind) and normalises what each
dialect reports into plain frozen dataclasses: sorted names, strings instead of dialect objects,
booleans instead of SQLite's ordinals. Snapshots of SQLite, PostgreSQL and MariaDB/MySQL databases
are therefore comparable as far as each database reports (MariaDB reports a unique constraint as a
unique index and adds an index for each foreign key; PostgreSQL spells check constraints its own way).

:func:`diff` compares two snapshots. Row counts and per-column non-null counts travel with the
snapshot so the diff can say how much data a dropped table or column held.

The modules, each importing only those listed before it:

- :mod:`.model`: the snapshot's dataclasses (:class:`Snapshot`, :class:`Table`, :class:`Column`...);
- :mod:`.normalise`: one table as the inspector reports it, made the same across dialects;
- :mod:`.bookkeeping`: the version table and the checksum table, kept apart from the user's tables;
- :mod:`.sqlite`: SQLAlchemy's per-table PRAGMA reads served from a few bulk queries;
- :mod:`.reflect`: :func:`snapshot`, reading a database (URL, Engine or Connection);
- :mod:`.changes`: the diff's dataclasses (:class:`SchemaDiff`, :class:`TableDiff`...);
- :mod:`.compare`: :func:`diff`, with the renames it recognises and the data a drop loses.

This package knows no markup and no IPython: rendering lives in :mod:`nbmigrate.render.schema`.
"""

from __future__ import annotations

from .bookkeeping import CHECKSUM_TABLE, with_version_table
from .changes import ColumnChange, ColumnRename, SchemaDiff, TableDiff
from .compare import diff
from .model import CheckConstraint, Column, ForeignKey, Index, Snapshot, Table, UniqueConstraint
from .reflect import snapshot

__all__ = [
    "CHECKSUM_TABLE",
    "CheckConstraint",
    "Column",
    "ColumnChange",
    "ColumnRename",
    "ForeignKey",
    "Index",
    "SchemaDiff",
    "Snapshot",
    "Table",
    "TableDiff",
    "UniqueConstraint",
    "diff",
    "snapshot",
    "with_version_table",
]
