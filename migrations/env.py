"""Alembic environment written by nbmigrate.

It runs unchanged under the ``alembic`` command line. In a notebook, nbmigrate passes its own
connection in ``config.attributes["connection"]`` (and a ``MetaData`` for autogenerate in
``config.attributes["target_metadata"]``); otherwise the engine comes from ``sqlalchemy.url``.
On SQLite, DDL runs inside real transactions, so a failed migration leaves no trace.
"""

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
        conn.exec_driver_sql("BEGIN")


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
        **options,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations against the database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    if _is_sqlite(url):
        _transactional_sqlite(engine)
    with engine.connect() as connection:
        run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
