"""A project's own version table, whatever its name and schema, stays out of the user's schema.

Projects here keep their revisions in ``my_versions`` (on PostgreSQL in a schema ``meta`` of
their own). The table is named two ways: by the ``version_table`` / ``version_table_schema``
options that nbmigrate's ``env.py`` reads, and by an ``env.py`` that passes its own names to
``context.configure`` (then only the run knows them). Either way the diffs of upgrade and
downgrade show only the user's tables, the snapshots name the right version table with its rows,
and the database really holds that table with those rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import nbmigrate
from nbmigrate.schema import CHECKSUM_TABLE, snapshot
from support import write_revision

VERSIONS = "my_versions"
META = "meta"
THING = 'op.create_table("thing", sa.Column("id", sa.Integer, primary_key=True))'
DROP_THING = 'op.drop_table("thing")'
OTHER = 'op.create_table("other", sa.Column("id", sa.Integer, primary_key=True))'


def backend(url: str) -> str:
    return sa.make_url(url).get_backend_name()


def version_schema(url: str) -> str | None:
    """The schema of the version table: one of its own on PostgreSQL, the default elsewhere."""
    return META if backend(url) == "postgresql" else None


def create_schema(url: str, name: str | None) -> None:
    if name is None:
        return
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {name}"))
    finally:
        engine.dispose()


def stored(url: str, schema: str | None) -> dict[str, Any]:
    """What the database holds, read without nbmigrate: its tables and the version rows."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            versions = sa.table(VERSIONS, sa.column("version_num"), schema=schema)
            return {
                "tables": sorted(insp.get_table_names()),
                "version_schema_tables": sorted(insp.get_table_names(schema=schema)),
                "versions": (
                    sorted(conn.execute(sa.select(versions.c.version_num)).scalars())
                    if insp.has_table(VERSIONS, schema=schema)
                    else None
                ),
            }
    finally:
        engine.dispose()


def assert_no_bookkeeping(snap: Any) -> None:
    """The snapshot names the custom version table apart and never lists bookkeeping tables."""
    assert VERSIONS not in snap.tables
    assert "alembic_version" not in snap.tables
    assert CHECKSUM_TABLE not in snap.tables
    assert snap.version_table_name == VERSIONS
    for text in (str(snap), snap._repr_html_()):
        assert "alembic_version" not in text
        # Said of the project's own table only, and only while the database has none yet.
        assert ("no such table" in text) == (snap.version_table is None)
        assert (f"{VERSIONS}: no such table" in text) == (snap.version_table is None)


def assert_diff_only(result: Any, added: Sequence[str] = (), removed: Sequence[str] = ()) -> None:
    """The run's diff holds exactly these user tables; bookkeeping shows only as its version line."""
    d = result.diff
    assert (d.added_tables, d.removed_tables, d.changed_tables) == (list(added), list(removed), [])
    assert_no_bookkeeping(result.before)
    assert_no_bookkeeping(result.after)
    for text in (str(d), d._repr_html_()):
        assert "alembic_version" not in text
        # The version table appears only in the one line saying how its rows changed.
        mentions = [line for line in re.split(r"<[^>]+>|\n", text) if VERSIONS in line]
        assert mentions == ([f"{VERSIONS}: {versions(d.before)} → {versions(d.after)}"] if d.version_changed else [])


def versions(snap: Any) -> str:
    if snap.version_table is None:
        return "(no table)"
    return ", ".join(snap.version_table) or "(empty)"


@pytest.fixture
def url(db_url: str, here: Path) -> str:
    """An empty database on SQLite, PostgreSQL and MariaDB, with the version table's schema made."""
    create_schema(db_url, version_schema(db_url))
    return db_url


@pytest.fixture
def projects() -> Iterator[list[nbmigrate.Project]]:
    """Projects made by a test, their engines closed afterwards."""
    made: list[nbmigrate.Project] = []
    yield made
    for project in made:
        project.close()


def ini_project(url: str, projects: list[nbmigrate.Project]) -> nbmigrate.Project:
    """A project whose alembic.ini names the version table (nbmigrate's env.py passes it on)."""
    nbmigrate.Project().init("migrations")
    options = f"version_table = {VERSIONS}\n"
    if version_schema(url):
        options += f"version_table_schema = {version_schema(url)}\n"
    ini = Path("alembic.ini")
    ini.write_text(ini.read_text().replace("[alembic]\n", f"[alembic]\n{options}", 1))
    project = nbmigrate.Project()
    projects.append(project)
    project.connect(url)
    return project


def env_py_project(url: str, projects: list[nbmigrate.Project]) -> nbmigrate.Project:
    """A project whose env.py passes its own version table to context.configure; the ini says nothing."""
    project = nbmigrate.Project()
    projects.append(project)
    project.init("migrations")
    env = Path("migrations/env.py")
    source = env.read_text()
    for option, value in (("version_table", VERSIONS), ("version_table_schema", version_schema(url))):
        line = f'config.get_main_option("{option}")'
        assert line in source
        source = source.replace(line, repr(value))
    env.write_text(source)
    project.connect(url)
    return project


def test_named_in_the_ini_upgrade_and_downgrade(url: str, projects: list[nbmigrate.Project]) -> None:
    project = ini_project(url, projects)
    schema = version_schema(url)
    write_revision(project, "0001", THING, DROP_THING)

    up = project.upgrade("head")
    assert_diff_only(up, added=["thing"])
    assert (up.before.version_table, up.after.version_table) == (None, ("0001",))
    assert stored(url, schema)["versions"] == ["0001"]
    assert "alembic_version" not in stored(url, schema)["tables"]

    shown = project.schema()
    assert list(shown.tables) == ["thing"]
    assert shown.version_table == ("0001",)
    assert_no_bookkeeping(shown)
    assert str(shown).splitlines()[-1] == f"{VERSIONS}: 0001"

    down = project.downgrade("-1")
    assert_diff_only(down, removed=["thing"])
    assert (down.before.version_table, down.after.version_table) == (("0001",), ())
    held = stored(url, schema)
    # Alembic keeps the emptied version table; the checksum table lives beside it.
    assert held["versions"] == []
    assert {VERSIONS, CHECKSUM_TABLE} <= set(held["version_schema_tables"])
    assert "thing" not in held["tables"]
    assert list(project.schema().tables) == []
    assert str(project.schema()).splitlines()[-1] == f"{VERSIONS}: empty"


def test_hidden_only_in_its_own_schema(url: str, projects: list[nbmigrate.Project]) -> None:
    """Reflecting the default schema, and (where it has one of its own) the version table's schema."""
    schema = version_schema(url)
    project = ini_project(url, projects)
    write_revision(project, "0001", THING, DROP_THING)
    project.upgrade("head")
    if schema is not None:
        # A user's table of the same name in another schema is no bookkeeping.
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE public.{VERSIONS} (id integer PRIMARY KEY)"))
        engine.dispose()

    for reflected in [None] + ([schema] if schema is not None else []):
        snap = project.schema(db_schema=reflected)
        # The version table's rows are read from its own schema, whichever schema is reflected.
        assert snap.version_table == ("0001",)
        assert snap.version_table_schema == schema
        assert "alembic_version" not in snap.tables and CHECKSUM_TABLE not in snap.tables
        if reflected is not None:
            assert list(snap.tables) == []
        else:
            assert list(snap.tables) == ([VERSIONS] if schema is not None else []) + ["thing"]

        # The same names given to snapshot() directly.
        direct = snapshot(url, schema=reflected, version_table=VERSIONS, version_table_schema=schema)
        assert direct.tables == snap.tables
        assert direct.version_table == ("0001",)


def test_named_only_by_env_py(url: str, projects: list[nbmigrate.Project]) -> None:
    # Upgrades only: pre-flight reads the version table the project's options name, so with
    # these options silent it sees no applied revision and refuses `downgrade -1`.
    project = env_py_project(url, projects)
    schema = version_schema(url)
    assert project.version_table == "alembic_version"  # the ini says nothing: only the run knows
    write_revision(project, "0001", THING, DROP_THING)

    first = project.upgrade("head")
    assert_diff_only(first, added=["thing"])
    assert first.after.version_table == ("0001",)
    assert stored(url, schema)["versions"] == ["0001"]

    # The second run starts from a database that already holds the version table: it is no
    # user table that disappears, and its rows before the run are the ones Alembic read.
    write_revision(project, "0002", OTHER, 'op.drop_table("other")')
    second = project.upgrade("head")
    assert_diff_only(second, added=["other"])
    assert (second.before.version_table, second.after.version_table) == (("0001",), ("0002",))
    assert stored(url, schema)["versions"] == ["0002"]
    assert "alembic_version" not in stored(url, schema)["tables"]


def test_preview_proves_its_rollback_with_the_custom_table(
    sqlite_or_pg_url: str, projects: list[nbmigrate.Project]
) -> None:
    url = sqlite_or_pg_url
    create_schema(url, version_schema(url))
    project = ini_project(url, projects)
    write_revision(project, "0001", THING, DROP_THING)

    preview = project.upgrade("head", preview=True)
    assert_diff_only(preview, added=["thing"])
    assert "Rolled back and checked" in preview.note
    assert stored(url, version_schema(url))["versions"] is None
    assert "thing" not in stored(url, version_schema(url))["tables"]
