"""The schema at any point of history and the difference between two points, on scratch databases.

Each history is real revision files replayed through the project's own env.py on SQLite,
PostgreSQL and MariaDB. The user's database is read directly before and after every verb: it must
come out unchanged (tables, rows and ``alembic_version``). Whether a second call replays is seen
from a revision whose ``upgrade()`` writes a line to a log file each time it runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import nbmigrate
from nbmigrate.errors import BadArguments, NbmigrateError, RevisionProblem
from nbmigrate.schema import Snapshot
from support import database_state, revision_source, usage_error, write_revision

USER = (
    'op.create_table("user", sa.Column("id", sa.Integer, primary_key=True), sa.Column("first_name", sa.String(50)),\n'
    '    sa.Column("last_name", sa.String(50), nullable=False), sa.Column("address", sa.String(200)))'
)
MOBILE = 'op.add_column("user", sa.Column("mobile_number", sa.String(20)))\nop.create_index("ix_user_last_name", "user", ["last_name"])'
NO_MOBILE = 'op.drop_index("ix_user_last_name", table_name="user")\nop.drop_column("user", "mobile_number")'
ADDRESS = (
    'op.create_table("address", sa.Column("id", sa.Integer, primary_key=True),\n'
    '    sa.Column("user_id", sa.Integer, sa.ForeignKey("user.id"), nullable=False), sa.Column("city", sa.String(100)))'
)


def walkthrough(here: Path, url: str, *, log: Path | None = None, version_table_schema: str = "") -> nbmigrate.Project:
    """The classic user table, then mobile_number and an index, then an address table: ab01, cd02, ef03."""
    project = nbmigrate.Project()
    project.init()
    if version_table_schema:
        ini = here / "alembic.ini"
        ini.write_text(ini.read_text().replace("[alembic]\n", f"[alembic]\nversion_table_schema = {version_table_schema}\n", 1))
        project = nbmigrate.Project()
    project.connect(url)
    first = USER if log is None else f"with open({str(log)!r}, 'a') as log:\n    log.write('ab01\\n')\n{USER}"
    write_revision(project, "ab01", first, 'op.drop_table("user")')
    write_revision(project, "cd02", MOBILE, NO_MOBILE)
    write_revision(project, "ef03", ADDRESS, 'op.drop_table("address")')
    return project


def columns(snap: Snapshot, table: str) -> list[str]:
    return snap.tables[table].column_names


@pytest.fixture
def project(db_url: str, here: Path) -> Iterator[nbmigrate.Project]:
    """The walkthrough on each database, the user's database at cd02 with one row."""
    project = walkthrough(here, db_url)
    project.upgrade("cd02", accept_risk=True)

    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO {} (first_name, last_name) VALUES ('Ada', 'Lovelace')".format(
            conn.dialect.identifier_preparer.quote("user"))))
    engine.dispose()
    yield project
    project.close()


# -- schema --at -------------------------------------------------------------------------------


def test_schema_at_every_kind_of_target(project: nbmigrate.Project, db_url: str) -> None:
    before = database_state(db_url)
    assert before["alembic_version"] == ["cd02"]

    head = project.schema(at="head")
    assert sorted(head.tables) == ["address", "user"]
    assert columns(head, "user") == ["id", "first_name", "last_name", "address", "mobile_number"]
    assert [i.name for i in head.tables["user"].indexes] == ["ix_user_last_name"]
    assert [fk.referred_table for fk in head.tables["address"].foreign_keys] == ["user"]
    assert head.note == "at head (ef03)"
    assert head.version_table == ("ef03",)  # the scratch database's, not the user's

    assert project.schema(at="base").tables == {}
    first = project.schema(at="ab01")
    assert list(first.tables) == ["user"] and "mobile_number" not in columns(first, "user")
    assert project.schema(at="ef").tables == head.tables  # a prefix
    assert project.schema(at="cd02-1").tables == first.tables
    assert project.schema(at="ab01+2").tables == head.tables

    # Relative steps count from the database's revision, cd02.
    assert project.schema(at="-1").tables == first.tables
    assert project.schema(at="-1").note == "at -1 (ab01)"
    assert project.schema(at="+1").tables == head.tables
    current = project.schema(at="current")
    assert current.note == "at current (cd02)"
    # The replayed schema at the database's revision is the database's own, row counts aside.
    assert nbmigrate.diff(project.schema(), current).is_empty
    assert current.tables["user"].row_count == 0 and project.schema().tables["user"].row_count == 1

    # The same through the Python function and the command line, and with tables named.
    assert nbmigrate.schema_at(project, "ab01").tables == first.tables
    only = project.run("schema user --at head")
    assert list(only.tables) == ["user"] and only.tables["user"] == head.tables["user"]
    assert database_state(db_url) == before


def test_branches_labels_and_depends_on(here: Path, sqlite_url: str) -> None:
    project = nbmigrate.Project()
    project.init()
    project.connect(sqlite_url)
    versions = here / "migrations" / "versions"

    def revision(rev: str, down: Any, upgrade: str, downgrade: str, **options: Any) -> None:
        (versions / f"{rev}.py").write_text(revision_source(rev, down, f"rev {rev}", upgrade, downgrade, **options))

    revision("0001", None, 'op.create_table("customer", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("customer")')
    revision("0002", "0001", 'op.add_column("customer", sa.Column("email", sa.String(200)))',
             'op.drop_column("customer", "email")', branch_labels=("contact",))
    revision("0003", "0001", 'op.create_table("orders", sa.Column("id", sa.Integer, primary_key=True),\n'
             '    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customer.id")))', 'op.drop_table("orders")', branch_labels=("orders",))
    # Its own base, needing 0003 (and so 0001) first: depends_on.
    revision("r001", None, 'op.create_table("summary", sa.Column("customer_id", sa.Integer, sa.ForeignKey("customer.id"), primary_key=True))',
             'op.drop_table("summary")', branch_labels=("reporting",), depends_on="0003")
    project.upgrade("contact@head", accept_risk=True)
    before = database_state(sqlite_url)

    def tables(target: str) -> dict[str, list[str]]:
        snap = project.schema(at=target)
        return {name: snap.tables[name].column_names for name in sorted(snap.tables)}

    assert tables("contact@head") == {"customer": ["id", "email"]}
    assert tables("orders@head") == {"customer": ["id"], "orders": ["id", "customer_id"]}
    assert tables("reporting@head") == {"customer": ["id"], "orders": ["id", "customer_id"], "summary": ["customer_id"]}
    assert tables("r0") == tables("reporting@head")
    assert tables("heads") == {"customer": ["id", "email"], "orders": ["id", "customer_id"], "summary": ["customer_id"]}
    assert project.schema(at="heads").note == "at heads (0002, r001)"  # r001 needs 0003: no head
    assert tables("current") == {"customer": ["id", "email"]}
    with pytest.raises(BadArguments, match="'orders@-1': the database has no revision on the branch orders"):
        project.schema(at="orders@-1")

    with pytest.raises(RevisionProblem, match="nope"):
        project.schema(at="nope@-1")

    # With both branches applied, a relative step counts from the named branch's revision.
    project.upgrade("orders@head", accept_risk=True)
    before = database_state(sqlite_url)
    assert tables("orders@-1") == {"customer": ["id"]}  # from 0003
    assert tables("contact@-1") == {"customer": ["id"]}  # from 0002
    assert project.schema(at="orders@-1").note == "at orders@-1 (0001)"
    with pytest.raises(BadArguments, match=r"'-1' counts from 0002, 0003: more than one revision"):
        project.schema(at="-1")

    with pytest.raises(RevisionProblem, match=r"'head' is ambiguous: there are several heads \(0002, 0003, r001\)"):
        project.schema(at="head")
    with pytest.raises(RevisionProblem, match="Multiple revisions start with '000'"):
        project.schema(at="000")
    with pytest.raises(BadArguments, match=r"'0001\+1': 0001 branches into 0002, 0003; name the revision instead"):
        project.schema(at="0001+1")

    # diff across branches works; its --sql needs one point below the other.
    across = project.diff("contact@head", "orders@head")
    assert across.diff.added_tables == ["orders"] and across.diff.table("customer").removed_columns[0].name == "email"
    with pytest.raises(BadArguments, match="0002 and 0003 are on different branches"):
        project.diff("contact@head", "orders@head", sql=True)
    with pytest.raises(BadArguments, match="name single revisions"):
        project.diff("0001", "heads", sql=True)
    up = project.diff("0003", "reporting@head", sql=True)
    assert up.diff.added_tables == ["summary"] and "CREATE TABLE summary" in up.sql
    assert database_state(sqlite_url) == before


# -- caching -----------------------------------------------------------------------------------


def test_a_second_call_replays_nothing_and_an_edited_file_is_seen(db_url: str, here: Path) -> None:
    log = here / "replays.log"
    project = walkthrough(here, db_url, log=log)
    project.upgrade("ab01", accept_risk=True)
    log.unlink()  # the user's own upgrade wrote a line too
    before = database_state(db_url)

    def replays() -> int:
        return len(log.read_text().splitlines()) if log.exists() else 0

    first = project.schema(at="head")
    assert replays() == 1
    again = project.schema(at="head")
    assert replays() == 1 and again.tables == first.tables
    project.run("schema --at ef03")
    project.diff("base", "head")  # base needs no replay, head is known
    assert replays() == 1
    project.schema(at="cd02")  # another set of revisions: replayed once, then known
    project.schema(at="cd02")
    assert replays() == 2

    # One replay serves every point of a diff: both built in one run.
    path = next((here / "migrations" / "versions").glob("cd02_*.py"))
    path.write_text(path.read_text().replace('sa.String(20)))', 'sa.String(20)))\n    op.add_column("user", sa.Column("nickname", sa.String(20)))'))
    changed = project.diff("ab01", "cd02")
    assert replays() == 3
    assert [c for t, c in changed.diff.added_columns] == ["mobile_number", "nickname"]
    assert "nickname" in columns(project.schema(at="head"), "user")
    assert database_state(db_url) == before


# -- diff --------------------------------------------------------------------------------------


def test_diff_between_points_and_the_sql_between_them(project: nbmigrate.Project, db_url: str) -> None:
    before = database_state(db_url)
    result = project.diff("ab01", "head")
    assert (result.start.heads, result.end.heads) == (("ab01",), ("ef03",))
    assert result.diff.added_tables == ["address"]
    assert result.diff.added_columns == [("user", "mobile_number")]
    assert [i.name for i in result.diff.table("user").added_indexes] == ["ix_user_last_name"]
    assert result.sql is None
    assert "replayed on a scratch database" in str(result) and "mobile_number" in result._repr_html_()

    up = project.diff("ab01", "head", sql=True)
    assert "mobile_number" in up.sql and "ix_user_last_name" in up.sql and "address" in up.sql
    assert "DROP" not in up.sql
    assert "-- SQL between them (offline)" in str(up)
    down = project.diff("head", "-1", sql=True)  # head down to ab01, the database's -1
    assert down.diff.removed_tables == ["address"] and down.diff.removed_columns == [("user", "mobile_number")]
    assert "DROP TABLE address" in down.sql and "mobile_number" in down.sql
    same = project.diff("current", "cd02", sql=True)
    assert same.diff.is_empty and same.sql == ""
    line = project.run("diff base ef03 --sql")
    assert line.diff.added_tables == ["address", "user"] and "CREATE TABLE" in line.sql
    assert database_state(db_url) == before


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "error", "fragment"),
    [
        ("schema --at nope", RevisionProblem, "No such revision or branch 'nope'"),
        ("schema --at 0", RevisionProblem, "No such revision or branch '0'"),
        ("diff ab01 nope", RevisionProblem, "No such revision or branch 'nope'"),
        ("diff ab01", BadArguments, "the following arguments are required: end"),
        ("schema --at +9", BadArguments, "'+9' goes above the head ef03"),
        ("schema --at ab01-1-1", RevisionProblem, "ab01-1-1"),
        ("schema missing --at head", BadArguments, "No table 'missing' at head"),
        ("test ab01", BadArguments, "A range is [start]:[end]"),
        ("test nope:", RevisionProblem, "No such revision or branch 'nope'"),
        ("squash ef03 -m squashed", BadArguments, "squash takes a range A:B"),
    ],
)
def test_mistakes_are_one_clear_error(line: str, error: type, fragment: str, here: Path, sqlite_url: str) -> None:
    project = walkthrough(here, sqlite_url)
    project.upgrade("cd02", accept_risk=True)
    before = database_state(sqlite_url)
    files = {p: p.read_bytes() for p in (here / "migrations" / "versions").glob("*.py")}
    with pytest.raises(NbmigrateError) as raised:
        project.run(line)
    assert type(raised.value) is error, f"{line}: {type(raised.value).__name__}: {raised.value}"
    assert fragment in str(raised.value)
    assert "\n" not in str(raised.value)
    assert database_state(sqlite_url) == before
    assert {p: p.read_bytes() for p in (here / "migrations" / "versions").glob("*.py")} == files


def test_a_revision_that_fails_in_the_replay_is_one_error_at_its_line(db_url: str, here: Path) -> None:
    project = walkthrough(here, db_url)
    path = write_revision(project, "gh04", 'op.add_column("user", sa.Column("x", sa.Integer))\nop.execute("UPDATE nosuch SET x = 1")')
    line = path.read_text().splitlines().index('    op.execute("UPDATE nosuch SET x = 1")') + 1
    with pytest.raises(NbmigrateError) as raised:
        project.schema(at="head")
    message = str(raised.value)
    assert message.startswith(f"gh04 upgrade() failed on the scratch database (migrations/versions/{path.name}, line {line}): ")
    assert "nosuch" in message
    assert project.schema(at="ef03").tables["address"]  # the revisions below still replay
    assert database_state(db_url) == {}


def test_an_env_py_that_connects_elsewhere_is_refused_and_runs_nothing(here: Path, sqlite_url: str) -> None:
    project = walkthrough(here, sqlite_url)
    env = here / "migrations" / "env.py"
    # An application's env.py: its engine from its own settings, whatever nbmigrate passes.
    env.write_text(
        "from alembic import context\nimport sqlalchemy as sa\n\n"
        f"engine = sa.create_engine({sqlite_url!r})\n"
        "with engine.connect() as connection:\n"
        "    context.configure(connection=connection)\n"
        "    with context.begin_transaction():\n"
        "        context.run_migrations()\n"
    )
    with pytest.raises(NbmigrateError, match=r"This project's env.py connects to a database of its own choosing.*Nothing was run"):
        project.schema(at="head")
    with pytest.raises(NbmigrateError, match="its own choosing"):
        project.test()
    assert database_state(sqlite_url) == {}


@pytest.fixture
def other_mysql_database(mysql_url: str) -> Iterator[str]:
    """The name of a second database on the MariaDB server, where a project keeps its version table."""
    name = f"nbm_meta_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(sa.make_url(mysql_url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE {name}"))
    admin.dispose()


def test_a_version_table_in_another_database_is_not_written_by_the_replay(mysql_url: str, other_mysql_database: str, here: Path) -> None:
    # On MariaDB a version_table_schema is another database on the same server: the user's.
    project = walkthrough(here, mysql_url, version_table_schema=other_mysql_database)
    project.ensure_version()
    versions_url = sa.make_url(mysql_url).set(database=other_mysql_database).render_as_string(hide_password=False)
    before = database_state(mysql_url), database_state(versions_url)
    assert before[1] == {"alembic_version": []}
    assert sorted(project.schema(at="head").tables) == ["address", "user"]
    assert project.test().ok
    assert (database_state(mysql_url), database_state(versions_url)) == before

    # An env.py that names that database itself cannot be redirected: refused before anything runs.
    env = here / "migrations" / "env.py"
    env.write_text(env.read_text().replace(
        'VERSION_TABLE_SCHEMA = config.get_main_option("version_table_schema") or None', f"VERSION_TABLE_SCHEMA = {other_mysql_database!r}"))
    with pytest.raises(NbmigrateError, match=f"keeps the version table in the database {other_mysql_database}, outside the scratch database"):
        project.schema(at="cd02")
    assert (database_state(mysql_url), database_state(versions_url)) == before


def test_a_version_table_schema_of_postgresql_is_made_in_the_scratch_database(pg_url: str, here: Path) -> None:
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA meta"))  # where the user keeps the version table
    project = walkthrough(here, pg_url, version_table_schema="meta")
    project.upgrade("ab01", accept_risk=True)

    def state() -> tuple[Any, ...]:
        with engine.connect() as conn:
            return database_state(pg_url), conn.execute(sa.text("SELECT version_num FROM meta.alembic_version")).all()

    before = state()
    assert before[1] == [("ab01",)]
    assert sorted(project.schema(at="head").tables) == ["address", "user"]
    assert project.test().ok
    assert state() == before
    engine.dispose()


# -- the magics --------------------------------------------------------------------------------


@pytest.fixture
def ip(shell: Any, here: Path) -> Iterator[Any]:
    """The shared shell working in ``here``, with no project remembered from other tests."""
    magics = shell.magics_manager.registry["MigrateMagics"]
    magics.forget_projects()
    yield shell
    magics.forget_projects()
    for name in ("_at", "_diff"):
        shell.user_ns.pop(name, None)


def test_the_magics_return_results_and_say_mistakes_in_one_line(ip: Any, here: Path) -> None:
    assert ip.run_cell("%migrate init").error_in_exec is None
    project = nbmigrate.Project()
    write_revision(project, "ab01", USER, 'op.drop_table("user")')
    write_revision(project, "cd02", MOBILE, NO_MOBILE)
    usage_error(ip, "schema --at -1", "'-1' goes below base")  # the database is at base
    ok = ip.run_cell("_at = %migrate schema --at ab01\n_diff = %migrate diff ab01 head --sql")
    assert ok.error_in_exec is None
    assert list(ip.user_ns["_at"].tables) == ["user"]
    assert ip.user_ns["_diff"].diff.added_columns == [("user", "mobile_number")]
    usage_error(ip, "schema --at nope", "No such revision or branch 'nope'")
    usage_error(ip, "test cd02", "A range is [start]:[end]")
    assert database_state(f"sqlite:///{here / 'migrations.db'}") == {}  # the magics replayed elsewhere
