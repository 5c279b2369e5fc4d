"""Thin commands over ``alembic.command``, each returning a result object.

Each function takes the :class:`~nbmigrate.project.Project` first and then exactly the arguments
of the Alembic command of the same name, so the ``%migrate`` parser is Alembic's own (see
:mod:`nbmigrate.parser`) and a command's signature is its command line. A verb checks its
arguments, calls one function of the layer below and returns the result: the verbs that change
the database call :func:`nbmigrate.run.migrate` (pre-flight, lock, run Alembic contained, read
back where the database is and what changed); the read-only ones (``current``, ``heads``,
``history``, ``branches``, ``show``) answer from the project's warm revision map.

- :mod:`.setup`: ``init``, ``list_templates``, ``connect``;
- :mod:`.read`: ``history``, ``heads``, ``branches``, ``show``, ``current``;
- :mod:`.files`: ``revision``, ``merge``, ``edit``, ``check``, ``ensure_version``;
- :mod:`.move`: ``upgrade``, ``downgrade``, ``stamp``;
- :mod:`.own`: nbmigrate's own ``schema``, ``diff``, ``test``, ``erd``, ``lint``, ``squash``, ``graph``.
"""

from __future__ import annotations

from .files import check, edit, ensure_version, merge, revision
from .move import downgrade, stamp, upgrade
from .own import diff, erd, graph, lint, schema, squash, test
from .read import branches, current, heads, history, show
from .setup import connect, init, list_templates

__all__ = [
    "branches", "check", "connect", "current", "diff", "downgrade", "edit", "ensure_version", "erd", "graph",
    "heads", "history", "init", "lint", "list_templates", "merge", "revision", "schema", "show", "squash",
    "stamp", "test", "upgrade",
]
