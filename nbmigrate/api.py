"""The Python API: :class:`Project`, a project with a method for every ``%migrate`` verb.

``nbmigrate.Project`` is this class. Each method calls the command of the same name in
:mod:`nbmigrate.commands` (``%%revision``'s in :mod:`nbmigrate.cell`) with the project first, so
``project.upgrade("head")`` is ``%migrate upgrade head``. The configuration, the database and the
warm revision map are :class:`nbmigrate.project.Project`'s, which the layers below take.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import commands, project
from .cell import revision_cell
from .parser import run_line

__all__ = ["Project"]


class Project(project.Project):
    """An Alembic project and its database, with every ``%migrate`` verb as a method.

    ``Project()`` finds ``alembic.ini`` (or ``pyproject.toml``'s ``[tool.alembic]``) in the
    working directory; see :class:`nbmigrate.project.Project` for its arguments.
    """

    def run(self, line: str, **options: Any) -> Any:
        """Run a ``%migrate`` command line, e.g. ``project.run("upgrade head")``."""
        return run_line(line, project=self, **options)

    def init(self, directory: str = "migrations", template: str = "nbmigrate", package: bool = False) -> Any:
        """Create a migration environment (see :func:`nbmigrate.commands.init`)."""
        return commands.init(self, directory, template, package)

    def connect(self, target: Any) -> Any:
        """Point this kernel at another database (see :func:`nbmigrate.commands.connect`)."""
        return commands.connect(self, target)

    def upgrade(self, revision: str = "head", **options: Any) -> Any:
        """Upgrade the database (see :func:`nbmigrate.commands.upgrade`)."""
        return commands.upgrade(self, revision, **options)

    def downgrade(self, revision: str, **options: Any) -> Any:
        """Downgrade the database (see :func:`nbmigrate.commands.downgrade`)."""
        return commands.downgrade(self, revision, **options)

    def stamp(self, revisions: str | Sequence[str], **options: Any) -> Any:
        """Stamp the version table (see :func:`nbmigrate.commands.stamp`)."""
        return commands.stamp(self, revisions, **options)

    def revision(self, message: str | None = None, **options: Any) -> Any:
        """Create a revision file (see :func:`nbmigrate.commands.revision`)."""
        return commands.revision(self, message, **options)

    def revision_cell(self, cell: str, **options: Any) -> Any:
        """Make a revision from a cell's code (see :func:`nbmigrate.cell.revision_cell`)."""
        return revision_cell(self, cell, **options)

    def merge(self, revisions: str | Sequence[str], **options: Any) -> Any:
        """Create a merge revision (see :func:`nbmigrate.commands.merge`)."""
        return commands.merge(self, revisions, **options)

    def current(self, **options: Any) -> Any:
        """The database's current revision(s) (see :func:`nbmigrate.commands.current`)."""
        return commands.current(self, **options)

    def history(self, rev_range: str | None = None, **options: Any) -> Any:
        """Revisions with their state in the database (see :func:`nbmigrate.commands.history`)."""
        return commands.history(self, rev_range, **options)

    def heads(self, **options: Any) -> Any:
        """The head revisions (see :func:`nbmigrate.commands.heads`)."""
        return commands.heads(self, **options)

    def branches(self, **options: Any) -> Any:
        """The branch points (see :func:`nbmigrate.commands.branches`)."""
        return commands.branches(self, **options)

    def show(self, rev: str) -> Any:
        """One or more revisions (see :func:`nbmigrate.commands.show`)."""
        return commands.show(self, rev)

    def edit(self, rev: str) -> Any:
        """A revision file's path and source (see :func:`nbmigrate.commands.edit`)."""
        return commands.edit(self, rev)

    def check(self, metadata: Any = None) -> Any:
        """Whether autogenerate would find operations (see :func:`nbmigrate.commands.check`)."""
        return commands.check(self, metadata=metadata)

    def ensure_version(self, sql: bool = False) -> Any:
        """Create the version table if missing (see :func:`nbmigrate.commands.ensure_version`)."""
        return commands.ensure_version(self, sql)

    def list_templates(self) -> Any:
        """The templates ``init`` can use (see :func:`nbmigrate.commands.list_templates`)."""
        return commands.list_templates(self)

    def graph(self, rev_range: str | None = None, **options: Any) -> Any:
        """The revision graph with this database's state (see :func:`nbmigrate.commands.graph`).

        A :class:`~nbmigrate.results.GraphResult`: the graph, its SVG, its HTML and text;
        ``GraphWidget.for_result(project.graph())`` is the live widget ``%migrate graph`` shows.
        """
        self.require()
        return commands.graph(self, rev_range, **{"run": self.run, **options})

    def schema(self, tables: Sequence[str] = (), db_schema: str | None = None, at: str | None = None) -> Any:
        """A snapshot of the database's tables, or of the schema ``at`` a revision (see :func:`nbmigrate.commands.schema`)."""
        return commands.schema(self, tables, db_schema, at)

    def erd(self, tables: Sequence[str] = (), at: str | None = None, engine: str | None = None) -> Any:
        """An ER diagram of the database's tables, or of the schema ``at`` a revision (see :func:`nbmigrate.commands.erd`)."""
        self.require()
        return commands.erd(self, tables, at=at, engine=engine)

    def squash(self, rev_range: str, message: str | None = None, accept_data_code: bool = False) -> Any:
        """One revision for the chain ``A:B``, proved on scratch databases (see :func:`nbmigrate.commands.squash`)."""
        self.require()
        return commands.squash(self, rev_range, message, accept_data_code=accept_data_code)

    def lint(self, rev_range: str | None = None) -> Any:
        """What the pending revisions (or ``rev_range``) will lock and rewrite (see :func:`nbmigrate.commands.lint`)."""
        self.require()
        return commands.lint(self, rev_range)

    def diff(self, start: str, end: str, sql: bool = False) -> Any:
        """The schema between two points of history (see :func:`nbmigrate.commands.diff`)."""
        self.require()
        return commands.diff(self, start, end, sql=sql)

    def test(self, rev_range: str | None = None, metadata: Any = None) -> Any:
        """The round-trip check of every revision on a scratch database (see :func:`nbmigrate.commands.test`)."""
        self.require()
        return commands.test(self, rev_range, metadata=metadata)
