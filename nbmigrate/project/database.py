"""The project's database: pointing it elsewhere, its engine and connections, the version table read.

:class:`Project` is :class:`~nbmigrate.project.config.ProjectConfig` with the database this
kernel migrates: the URL from the config, or what ``connect`` pointed this kernel at, or the one
the project's env.py connects to on its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BadArguments, ConnectionFailed
from ..paths import relative_path
from .config import ProjectConfig
from .connections import connectable, transactional_sqlite, transactional_sqlite_connection
from .urls import _check_host, _engine_options, _missing_driver, sync_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine, URL


class Project(ProjectConfig):
    """An Alembic project and the database this kernel migrates with it.

    ``config`` is what ``alembic -c`` takes: an ini file, a ``pyproject.toml``, or both (a list).
    Without it, ``alembic.ini`` and ``pyproject.toml`` in ``directory`` (default: the current
    directory) are used, like the ``alembic`` command line does (``ALEMBIC_CONFIG`` included);
    where there are neither, ``migrations/alembic.ini`` beside an ``env.py``, as ``flask db``
    finds a Flask-Migrate project.
    """

    # -- database ------------------------------------------------------------------------

    def use(self, target: Any) -> None:
        """Point this project at another database for this kernel only (nothing is written to disk).

        ``target`` is a URL (string or ``sqlalchemy.URL``), an ``Engine`` or a ``Connection``.
        """
        from sqlalchemy.engine import Connection, Engine, make_url
        from sqlalchemy.exc import ArgumentError

        if isinstance(target, (Engine, Connection)):
            self._override = target
            self._remember(target.engine.url)
        else:
            if not isinstance(target, str) and type(target).__name__ != "URL":
                raise BadArguments(
                    f"Cannot connect to a {type(target).__name__}: give a URL, an Engine or a Connection."
                )
            try:
                url = make_url(target)
            except (ArgumentError, ValueError):  # ValueError: a port that is not a number
                raise BadArguments(
                    f"{self.redact(str(target))!r} is not a database URL (e.g. sqlite:///file.db, "
                    "postgresql+psycopg://user@host/db) nor a variable holding one."
                ) from None
            self._remember(url)
            _check_host(url, self.redact)
            self._override = url
        self._dispose_engine()
        self._apply_override()

    def elsewhere(self, target: Any) -> Project:
        """This project (its files, section and ``-x`` options) on another database, for this kernel only.

        The copy has a config and an engine of its own, so nothing it does reaches this project's
        database or its in-memory settings; it reads the same revision files. Close it when done.
        """
        other = Project.__new__(Project)
        other.__dict__.update(self.__dict__)
        other._config = other._config_key = other._override = other._engine = other._engine_url = other._env_url = None
        from .._cache import ScriptCache

        other._scripts = ScriptCache()
        other._config_named = True
        other.use(target)
        return other

    def close(self) -> None:
        """Release this project's database connections (the engine is made again when needed)."""
        self._dispose_engine()

    def __enter__(self) -> Project:
        """``with Project(...) as project:`` closes the project's connections at the end of the block."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """True when ``connect`` pointed this project at a database of its own choosing."""
        return self._override is not None

    def disconnect(self) -> None:
        """Go back to the database named in the project's config."""
        self._override = None
        self._dispose_engine()
        self._config_key = None  # rebuilt (keeping its attributes) without the in-memory URL

    def engine(self) -> Engine:
        """The engine for this project's database (made once; SQLite gets transactional DDL).

        A config without ``sqlalchemy.url`` whose env.py finds the database itself (Flask-Migrate's
        takes it from the Flask app) is asked where that is: see :meth:`_url_from_env`.
        """
        from sqlalchemy import create_engine
        from sqlalchemy.engine import Connection, Engine

        if isinstance(self._override, Engine):
            return self._override
        if isinstance(self._override, Connection):
            return self._override.engine
        url = self.url
        if url is None:
            url = self._url_from_env()
        if url is None:
            raise ConnectionFailed(
                f"No database configured: set sqlalchemy.url in {self.ini_path.name}, "
                "or use `%migrate connect URL`."
            )
        key = url.render_as_string(hide_password=False)
        if self._engine is None or self._engine_url != key:
            self._dispose_engine()
            try:
                engine = create_engine(sync_url(url), **_engine_options(url))
            except ModuleNotFoundError as exc:  # the dialect's driver: say what to install
                raise ConnectionFailed(_missing_driver(url, exc.name or str(exc))) from None
            except Exception as exc:
                from ..errors import translate

                mapped = translate(exc, self.redact)
                if mapped is None or mapped is exc:
                    raise
                raise mapped from exc  # `--raiseerr` shows the original
            if engine.dialect.name == "sqlite":
                transactional_sqlite(engine)
            self._engine, self._engine_url = engine, key
        return self._engine

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection to the project's database, outside any transaction; closed afterwards.

        While it is lent, it also answers ``connect()`` (see :func:`connectable`), so an env.py
        of Alembic's older cookbook runs on it as on an Engine.
        """
        from sqlalchemy.engine import Connection

        if isinstance(self._override, Connection):
            with transactional_sqlite_connection(self._override), connectable(self._override):
                yield self._override
            return
        try:
            conn = self.engine().connect()
        except Exception as exc:
            from ..errors import translate

            mapped = translate(exc, self.redact)
            if mapped is None or mapped is exc:
                raise
            raise mapped from exc  # `--raiseerr` shows the original
        try:
            with transactional_sqlite_connection(conn), connectable(conn):
                yield conn
        finally:
            conn.close()

    def current_heads(self, conn: Connection, *, end_transaction: bool = True) -> tuple[str, ...]:
        """The revisions recorded in the version table (empty when it does not exist yet).

        The read's own transaction is ended so Alembic later sees a connection outside any
        transaction; ``end_transaction=False`` reads inside a transaction that must go on
        (a ``--preview``).
        """
        from alembic.runtime.migration import MigrationContext

        began = not conn.in_transaction()  # a transaction of the caller's (a connected Connection) goes on
        context = MigrationContext.configure(
            conn,
            opts={"version_table": self.version_table, "version_table_schema": self.version_table_schema},
        )
        try:
            return tuple(context.get_current_heads())
        finally:
            if end_transaction and began and conn.in_transaction():
                conn.rollback()

    def _url_from_env(self) -> URL | None:
        """The database the project's env.py connects to, for a config that names none.

        Flask-Migrate's env.py takes its engine from the Flask app (``current_app``), others from
        the environment. env.py is run as ``alembic current`` runs it (no version table is made)
        and stopped once it has connected, before any migration; its answer holds until the
        config changes. ``None`` when there is no env.py to ask; :class:`ConnectionFailed` saying
        where env.py failed when it cannot answer.
        """
        from alembic.runtime.environment import EnvironmentContext

        from .._runtime import contained, in_worker
        from ..errors import translate

        if not self.exists:
            return None
        try:
            script = self.script()
        except Exception:  # no scripts folder (yet): nothing to ask
            return None
        if not Path(script.env_py_location).is_file():
            return None
        found: list[URL] = []

        def connected(rev: Any, context: Any) -> list[Any]:
            found.append(context.connection.engine.url)
            return []  # nothing to run

        def ask() -> None:
            with EnvironmentContext(self.config, script, fn=connected, dont_mutate=True):
                script.run_env()

        error: BaseException | None = None
        if in_worker():  # already contained (a command's run): the worker cannot wait for itself
            try:
                ask()
            except BaseException as exc:  # noqa: BLE001 - said below, as for a contained call
                error = exc
        else:
            _, _, error = contained(ask)
        where = f"{relative_path(self.ini_path)} names no sqlalchemy.url, so the database is the one its env.py connects to"
        if isinstance(error, KeyboardInterrupt):
            raise error
        if error is not None:
            mapped = translate(error, self.redact)
            why = str(mapped) if mapped is not None else self.redact(f"{type(error).__name__}: {error}")
            raise ConnectionFailed(f"{why.rstrip()} ({where}.)") from error
        if not found:
            raise ConnectionFailed(
                f"No database configured: {where}, and {relative_path(script.env_py_location)} connected to none. "
                "Set sqlalchemy.url, or use `%migrate connect URL`."
            )
        url = found[0]
        self._remember(url.render_as_string(hide_password=False))
        _check_host(url, self.redact)
        self._env_url = (self._config_key, url)
        return url

    # -- internals -----------------------------------------------------------------------

    def _dispose_engine(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._engine = None
        self._engine_url = None

    def __repr__(self) -> str:
        return f"<nbmigrate.Project {self.ini_path} database={self.display_url}>"
