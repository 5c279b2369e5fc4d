"""An Alembic project as a kernel sees it: its config, its revision files, and its database.

:class:`Project` finds the configuration the way the ``alembic`` command line does, keeps one
``ScriptDirectory`` per project warm between commands (see :mod:`nbmigrate._cache`), and owns the
database connection: the URL from the config, or what ``connect`` pointed this kernel at. The
passwords of its URLs are given to :mod:`nbmigrate.masking`, which every text leaving nbmigrate
passes (:meth:`Project.redact`, the renderers at the end).

- :mod:`~nbmigrate.project.config`: :class:`ProjectConfig`, the files, the ``Config``, the warm
  revision map and the URL they name; :class:`CacheInfo`.
- :mod:`~nbmigrate.project.database`: :class:`Project`, that and the database: engine,
  connections, the version table.
- :mod:`~nbmigrate.project.files`: which config files to read, and reading them.
- :mod:`~nbmigrate.project.urls`: a URL's synchronous driver and engine options, what is said
  about a URL.
- :mod:`~nbmigrate.project.connections`: SQLite's transactional DDL, ``connect()`` on a lent
  connection.
- :mod:`~nbmigrate.project.alembic_import`: :func:`ensure_alembic`.
"""

from __future__ import annotations

from .alembic_import import ensure_alembic
from .config import CacheInfo, ProjectConfig
from .connections import connectable, transactional_sqlite, transactional_sqlite_connection
from .database import Project
from .files import DEFAULT_VERSION_TABLE, FLASK_MIGRATE_DIRECTORY, TEMPLATE_DIR
from .urls import mask_url_passwords, sync_url

__all__ = [
    "DEFAULT_VERSION_TABLE",
    "FLASK_MIGRATE_DIRECTORY",
    "TEMPLATE_DIR",
    "CacheInfo",
    "Project",
    "ProjectConfig",
    "connectable",
    "ensure_alembic",
    "mask_url_passwords",
    "sync_url",
    "transactional_sqlite",
    "transactional_sqlite_connection",
]
