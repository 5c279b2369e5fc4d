"""Alembic environment written by nbmigrate.

It runs unchanged under the ``alembic`` command line. In a notebook, nbmigrate passes its own
connection in ``config.attributes["connection"]`` (and a ``MetaData`` for autogenerate in
``config.attributes["target_metadata"]``); otherwise the engine comes from ``sqlalchemy.url``.
On SQLite, DDL runs inside real transactions, so a failed migration leaves no trace.

Run by the command line (or any caller but nbmigrate, which does both itself), an upgrade,
downgrade or stamp takes nbmigrate's migration lock when nbmigrate is installed, so it never runs
at the same time as a notebook's (see ``nbmigrate.locks``; wait up to ``nbmigrate.lock_timeout``
seconds, default 60), and records the checksums of the revision files it applies (see
``nbmigrate.checksums``), so that nbmigrate notices a file edited after it was applied.
Autogenerate leaves nbmigrate's own tables (``nbmigrate_checksums``) alone.
"""

import contextlib
from logging.config import fileConfig

from sqlalchemy import create_engine, event, pool

from alembic import context

config = context.config

# Configure logging for the command line; inside a notebook the kernel's logging is left alone.
if config.config_file_name is not None and not config.attributes.get("nbmigrate"):
    fileConfig(config.config_file_name)

# The MetaData autogenerate compares with, e.g. `target_metadata = mymodel.Base.metadata`.
target_metadata = config.attributes.get("target_metadata")

VERSION_TABLE = config.get_main_option("version_table") or "alembic_version"
VERSION_TABLE_SCHEMA = config.get_main_option("version_table_schema") or None

try:
    from nbmigrate import checksums, locks
except ImportError:  # nbmigrate is not installed here: migrate without its lock and checksums
    checksums = locks = None

NBMIGRATE_TABLES = {"nbmigrate_checksums"}
READ_ONLY_COMMANDS = {"current", "check", "revision", "history", "heads", "branches", "show"}


def _include_name(name, type_, parent_names) -> bool:
    """Autogenerate compares everything but nbmigrate's own tables."""
    return not (type_ == "table" and name in NBMIGRATE_TABLES)


def _others_write() -> bool:
    """Whether a caller other than nbmigrate (which locks and records itself) runs a command that writes."""
    cmd = getattr(config.cmd_opts, "cmd", None)
    command = getattr(cmd[0], "__name__", "") if cmd else ""
    return locks is not None and not config.attributes.get("nbmigrate") and command not in READ_ONLY_COMMANDS


def _migration_lock(connection):
    """nbmigrate's migration lock, unless nbmigrate runs this (it holds it) or nothing is written."""
    if not _others_write():
        return contextlib.nullcontext()
    return locks.database_lock(
        connection,
        version_table=VERSION_TABLE,
        schema=VERSION_TABLE_SCHEMA,
        timeout=float(config.get_main_option("nbmigrate.lock_timeout") or 60),
        notify=locks.print_notice,
    )


def _checksums_recorded():
    """Record the checksums of the revision files the run applies, as nbmigrate would (see _others_write)."""
    if not _others_write():
        return contextlib.nullcontext()
    return checksums.recorded(config, context.script, context.get_context())


def _is_sqlite(url_or_connection) -> bool:
    name = getattr(getattr(url_or_connection, "dialect", None), "name", None)
    return name == "sqlite" if name else str(url_or_connection).startswith("sqlite")


def _transactional_sqlite(engine) -> None:
    """pysqlite commits before DDL on its own; take transactions over so DDL can roll back."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # While nbmigrate's migration lock is held, BEGIN IMMEDIATE: the run's transaction takes
        # SQLite's write lock before it reads the version table.
        begin = conn.info.get("nbmigrate.begin")
        begin(conn) if begin is not None else conn.exec_driver_sql("BEGIN")


def _sqlite_is_transactional(connection) -> bool:
    driver = connection.connection.driver_connection
    return getattr(driver, "isolation_level", "") is None


def run_migrations_offline() -> None:
    """Write the migration's SQL instead of running it (``--sql``)."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        version_table=VERSION_TABLE,
        version_table_schema=VERSION_TABLE_SCHEMA,
        render_as_batch=_is_sqlite(url),
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations(connection) -> None:
    """Run the migrations on one connection."""
    sqlite = _is_sqlite(connection)
    options = {}
    if sqlite and _sqlite_is_transactional(connection):
        options["transactional_ddl"] = True
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        version_table_schema=VERSION_TABLE_SCHEMA,
        render_as_batch=sqlite,
        include_name=_include_name,
        **options,
    )
    with _checksums_recorded(), context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations against the database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        with _migration_lock(connection):
            run_migrations(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    if _is_sqlite(url):
        _transactional_sqlite(engine)
    with engine.connect() as connection, _migration_lock(connection):
        run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
