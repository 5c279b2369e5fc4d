"""Shared fixtures: a fresh, empty database per test on SQLite, PostgreSQL and MariaDB/MySQL.

Server tests read the server's URL from ``NBMIGRATE_TEST_POSTGRESQL_URL`` and
``NBMIGRATE_TEST_MYSQL_URL``. Without the variable the test is skipped, unless
``NBMIGRATE_REQUIRE_SERVERS`` is set (CI sets it): then a missing server is a failure.
Each test gets a database of its own (``CREATE DATABASE``), dropped afterwards, so tests never
see each other's tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

from typing import Any

import pytest
import sqlalchemy as sa

SERVER_ENV = {
    "postgresql": "NBMIGRATE_TEST_POSTGRESQL_URL",
    "mysql": "NBMIGRATE_TEST_MYSQL_URL",
}


def _server_url(kind: str) -> sa.URL:
    name = SERVER_ENV[kind]
    raw = os.environ.get(name)
    if not raw:
        if os.environ.get("NBMIGRATE_REQUIRE_SERVERS"):
            pytest.fail(f"{name} is not set but NBMIGRATE_REQUIRE_SERVERS is")
        pytest.skip(f"{name} is not set")
    return sa.make_url(raw)


def _fresh_database(kind: str) -> Iterator[str]:
    base = _server_url(kind)
    name = f"nbm_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if kind == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A URL of an empty SQLite file in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL of a new, empty PostgreSQL database."""
    yield from _fresh_database("postgresql")


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A URL of a new, empty MariaDB/MySQL database."""
    yield from _fresh_database("mysql")


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgresql),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def db_url(request, tmp_path) -> Iterator[str]:
    """An empty database of each kind in turn: SQLite, PostgreSQL, MariaDB/MySQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
    else:
        yield from _fresh_database(request.param)


@pytest.fixture(
    params=[pytest.param("postgresql", marks=pytest.mark.postgresql), pytest.param("mysql", marks=pytest.mark.mysql)]
)
def server_url(request) -> Iterator[str]:
    """An empty database on each server in turn: PostgreSQL, MariaDB/MySQL."""
    yield from _fresh_database(request.param)


@pytest.fixture
def here(tmp_path, monkeypatch) -> Any:
    """The test's temporary folder as the working directory, with no ALEMBIC_CONFIG from outside."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALEMBIC_CONFIG", raising=False)
    return tmp_path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def sqlite_or_pg_url(request, here) -> str:
    """An empty database on SQLite (in ``here``), then on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{here / 'test.db'}"
    return request.getfixturevalue("pg_url")


def ipython_shell() -> Any:
    """IPython's test shell (one per process), with nbmigrate loaded.

    ``globalipapp.start_ipython`` answers only its first caller (later ones get ``None``), so
    every test module takes the shell from here.
    """
    from IPython.testing import globalipapp

    ip = globalipapp.start_ipython() or globalipapp.get_ipython()
    if "MigrateMagics" not in ip.magics_manager.registry:
        ip.run_line_magic("load_ext", "nbmigrate")
    return ip


@pytest.fixture(scope="session")
def shell() -> Any:
    """The process's IPython test shell with nbmigrate loaded (see :func:`ipython_shell`)."""
    return ipython_shell()


# -- what CI compares between its jobs -------------------------------------------------------

_deselected = 0


def pytest_deselected(items: list) -> None:
    global _deselected
    _deselected += len(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Write how many tests were collected (selected or not) where ``NBMIGRATE_COLLECTED_FILE`` says.

    ``.ci/run`` fails a job that collects fewer tests than the locked job: a test file that stops
    being collected under some release cannot pass unnoticed.
    """
    target = os.environ.get("NBMIGRATE_COLLECTED_FILE")
    if target:
        with open(target, "w") as out:
            out.write(f"{len(session.items) + _deselected}\n")
