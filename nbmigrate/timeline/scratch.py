"""Scratch databases, and revision steps replayed on them through the project's own ``env.py``.

A replay is one run of ``env.py``, as ``alembic upgrade`` makes it (``EnvironmentContext`` +
``ScriptDirectory.run_env``), whose migration function hands Alembic ``RevisionStep`` objects one
at a time: between two steps the plan (a generator) reads the scratch database through the
migration's own connection, so a whole stairway (up, down, up for every revision) costs one
start of ``env.py``. Alembic applies each step and keeps the version table itself.

The run is made as ``alembic current`` makes it (``dont_mutate``: Alembic creates no version table
by itself), and the migration function first checks that env.py connected where nbmigrate
pointed it: an env.py that takes its database from elsewhere (an application's engine) is
refused before anything is written, so a replay never touches the user's database. Only then is
the version table made (``MigrationContext.stamp(script, "base")``) and the first step handed over.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NbmigrateError

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import URL

    from ..project import Project
    from ..schema import Snapshot

# A plan yields (revision id, is_upgrade) pairs; it may read the database between them. It runs
# in nbmigrate's worker thread (see nbmigrate._runtime), so it makes no other nbmigrate call.
Plan = Callable[["Probe"], Iterator[tuple[str, bool]]]


class ScratchRefused(NbmigrateError):
    """The project cannot be replayed on a scratch database (its env.py connects elsewhere)."""


class StepFailed(NbmigrateError):
    """A revision's ``upgrade()`` or ``downgrade()`` raised during a replay; where, and the error (its cause)."""

    def __init__(self, message: str, revision: str, function: str, path: str, line: int | None) -> None:
        super().__init__(message)
        self.revision = revision
        self.function = function
        self.path = path
        self.line = line


@contextlib.contextmanager
def scratch_database(project: Project) -> Iterator[URL]:
    """A new, empty database of the project's dialect, removed afterwards.

    SQLite: a file in a temporary folder. PostgreSQL, MySQL/MariaDB: ``CREATE DATABASE`` on the
    project's server with the project's credentials, dropped at the end (the role needs that
    privilege; the message says so when it lacks it).
    """
    from sqlalchemy.engine import make_url

    url = project.engine().url
    if url.get_backend_name() == "sqlite":
        folder = tempfile.mkdtemp(prefix="nbmigrate-scratch-")
        try:
            yield make_url(f"sqlite:///{Path(folder) / 'scratch.db'}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    yield from _server_database(project, url)


def _server_database(project: Project, url: URL) -> Iterator[URL]:
    import sqlalchemy as sa

    name = f"nbmigrate_scratch_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE {name}"))
        except sa.exc.DBAPIError as exc:
            raise ScratchRefused(project.redact(
                f"nbmigrate replays the history on a scratch database, and could not create one on "
                f"{project.display_url} ({str(exc.orig).strip().splitlines()[0]}). Grant the role CREATE DATABASE "
                "(PostgreSQL: CREATEDB), or `%migrate connect` a SQLite file to see a SQLite schema."
            )) from None
        try:
            yield url.set(database=name)
        finally:
            with admin.connect() as conn:
                if url.get_backend_name() == "postgresql" and conn.dialect.server_version_info >= (13,):
                    conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                else:
                    conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
    finally:
        admin.dispose()


class Probe:
    """What a plan may do between two steps: read the scratch database through the run's connection."""

    def __init__(self, context: MigrationContext, project: Project) -> None:
        self.context = context
        self._project = project

    @property
    def connection(self) -> Any:
        """The migration's own connection (inside its transaction, where there is one)."""
        return self.context.connection

    def snapshot(self) -> Snapshot:
        """The scratch database's schema now, as ``%migrate schema`` reads it."""
        from ..schema import snapshot

        return snapshot(
            self.context.connection,
            version_table=self._project.version_table,
            version_table_schema=self._project.version_table_schema,
        )


def replay(project: Project, script: ScriptDirectory, url: URL, plan: Plan) -> Project:
    """Run ``plan``'s steps on the scratch database at ``url`` in one run of ``env.py``.

    Returns the project pointed at the scratch database (still open: the caller may read it
    before the database goes away; close it). Errors come translated, as from ``%migrate``.
    """
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import RevisionStep

    from .. import engine

    scratch = project.elsewhere(url)
    # The version table goes in the scratch database's own schema: a version_table_schema names a
    # schema of the user's database, and on MariaDB/MySQL (a schema is a database there) the
    # replay would write its versions into the user's real version table.
    scratch.config.set_main_option("version_table_schema", "")
    elsewhere: list[Any] = []
    versions_elsewhere: list[str] = []  # an env.py's own version_table_schema, on MariaDB/MySQL
    running: list[tuple[str, bool]] = []  # the step Alembic is running now, if any
    try:

        def steps(heads: Any, context: MigrationContext) -> Iterator[Any]:
            found = context.connection.engine.url
            if found.get_backend_name() != url.get_backend_name() or found.database != url.database:
                elsewhere.append(found)  # not the scratch database: run nothing there, write nothing
                return
            schema = context.version_table_schema
            if url.get_backend_name() == "mysql" and schema and schema != url.database:
                versions_elsewhere.append(schema)  # another database of the server: write nothing there
                return
            context.stamp(script, "base")  # the version table (dont_mutate below: made only here)
            # Alembic asks for the next step only once the previous one is applied and recorded.
            for revision, is_upgrade in plan(Probe(context, scratch)):
                running.append((revision, is_upgrade))
                yield RevisionStep(script.revision_map, script.get_revision(revision), is_upgrade)
                running.clear()

        def run() -> None:
            with EnvironmentContext(scratch.config, script, fn=steps, dont_mutate=True):
                script.run_env()

        try:
            engine.run_contained(scratch, engine.with_connection(scratch, run, needs_db=True))
        except Exception as exc:
            # A revision's own code failed (bad SQL, a Python error): most such errors are not
            # translated (on the user's database, upgrade reports them with what was left), so
            # without this they would escape as a traceback from inside the replay.
            if not running:
                raise
            revision, is_upgrade = running[0]
            raise _step_failed(project, script, revision, is_upgrade, exc) from (exc.__cause__ or exc)
        if elsewhere:
            env = Path(script.env_py_location).name
            raise ScratchRefused(
                f"This project's {env} connects to a database of its own choosing, not to the one nbmigrate "
                "gives it (config.attributes['connection'] or sqlalchemy.url), so nbmigrate cannot replay its "
                "history on a scratch database. Nothing was run."
            )
        if versions_elsewhere:
            env = Path(script.env_py_location).name
            raise ScratchRefused(
                f"This project's {env} keeps the version table in the database {versions_elsewhere[0]}, outside the "
                "scratch database nbmigrate replays the history on, so a replay would write versions there. Have it "
                "read version_table_schema from alembic.ini (as nbmigrate's env.py does). Nothing was run."
            )
    except BaseException:
        scratch.close()
        raise
    return scratch


def _step_failed(project: Project, script: ScriptDirectory, revision: str, is_upgrade: bool, exc: BaseException) -> StepFailed:
    """The error of a step, said at the line of its revision file that raised."""
    from .. import engine
    from ..paths import relative_path

    cause = exc.__cause__ if isinstance(exc, NbmigrateError) and exc.__cause__ is not None else exc
    path = script.get_revision(revision).path
    line = None
    tb = cause.__traceback__
    while tb is not None:  # the innermost frame in the revision's file
        if Path(tb.tb_frame.f_code.co_filename).resolve() == Path(path).resolve():
            line = tb.tb_lineno
        tb = tb.tb_next
    function = "upgrade" if is_upgrade else "downgrade"
    where = relative_path(path) + (f", line {line}" if line is not None else "")
    return StepFailed(
        project.redact(f"{revision} {function}() failed on the scratch database ({where}): {engine.error_text(cause)}"),
        revision, function, path, line,
    )
