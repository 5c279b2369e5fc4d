"""nbmigrate: Alembic database migrations in Jupyter.

``%load_ext nbmigrate`` registers ``%migrate`` and ``%%revision``. The same features are a
Python API: :class:`Project` (one method per ``%migrate`` verb, and :meth:`Project.run` for a
whole command line), :func:`snapshot` and :func:`diff` for schemas, :func:`schema_at` for the schema at any revision, and the result objects
every command returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    BadArguments,
    ConnectionFailed,
    Interrupted,
    LockTimeout,
    MigrationFailed,
    NbmigrateError,
    NbmigrateWarning,
    ProjectNotFound,
    RevisionProblem,
    RiskyMigration,
)

if TYPE_CHECKING:
    from .api import Project

__version__ = "0.1.0"

__all__ = [
    "BadArguments",
    "ConnectionFailed",
    "Interrupted",
    "LockTimeout",
    "MigrationFailed",
    "NbmigrateError",
    "NbmigrateWarning",
    "Project",
    "ProjectNotFound",
    "RevisionProblem",
    "RiskyMigration",
    "__version__",
    "diff",
    "load_ipython_extension",
    "schema_at",
    "snapshot",
]


def snapshot(bind: Any, **options: Any) -> Any:
    """A schema snapshot of any database (URL, Engine or Connection); see :mod:`nbmigrate.schema`."""
    from .schema import snapshot as take

    return take(bind, **options)


def diff(before: Any, after: Any) -> Any:
    """The differences between two schema snapshots; see :mod:`nbmigrate.schema`."""
    from .schema import diff as compare

    return compare(before, after)


def schema_at(project: Project, revision: str) -> Any:
    """The schema at ``revision`` (any Alembic target), replayed on a scratch database; see :mod:`nbmigrate.timeline`."""
    from .timeline.at import schema_at as build

    project.require()
    return build(project, revision)


def __getattr__(name: str) -> Any:
    """``nbmigrate.Project`` is imported when first asked for, so that ``%load_ext`` stays light."""
    if name == "Project":
        from .api import Project

        return Project
    raise AttributeError(f"module 'nbmigrate' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbmigrate``: register ``%migrate`` and ``%%revision``."""
    from .magics import load

    load(ipython)
