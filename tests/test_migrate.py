"""``%migrate`` in a real IPython shell, on SQLite, PostgreSQL and MariaDB/MySQL.

The seed scenario (create ``user``, add ``mobile_number``, down one, back up) runs on every
database and is checked three ways: the result objects' attributes, both renderings, and the
real database through SQLAlchemy's inspector. Every user mistake must come back as exactly
``UsageError`` (IPython then shows one line, no traceback) with a message that says what to do.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import logging
import os
import textwrap
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from IPython.core.error import UsageError

from support import usage_error

import nbmigrate
from nbmigrate.errors import MigrationFailed
from nbmigrate.results import (
    ConnectResult,
    CurrentResult,
    HistoryResult,
    InitResult,
    MigrationResult,
    RevisionFileResult,
    SqlResult,
    TextResult,
)

USER_TABLE = """\
op.create_table(
    "user",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("first_name", sa.String(50)),
    sa.Column("last_name", sa.String(50), nullable=False),
    sa.Column("address", sa.String(200)),
)"""
ADD_MOBILE = 'op.add_column("user", sa.Column("mobile_number", sa.String(20)))'
DROP_MOBILE = 'op.drop_column("user", "mobile_number")'

TRANSACTIONAL = {"sqlite": True, "postgresql": True, "mysql": False}


# -- the shell and helpers ---------------------------------------------------------------------


@pytest.fixture
def ip(shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The shared shell, working in this test's folder, with nbmigrate's settings at their defaults."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALEMBIC_CONFIG", raising=False)
    magics = shell.magics_manager.registry["MigrateMagics"]
    magics.forget_projects()
    yield shell
    magics.forget_projects()
    for trait in ("config_file", "show_schema", "graph_engine", "lock_timeout"):
        magics.set_trait(trait, magics.traits()[trait].default_value)
    for name in ("dburl", "eng", "conn"):
        shell.user_ns.pop(name, None)


def magics(ip: Any) -> Any:
    return ip.magics_manager.registry["MigrateMagics"]


def migrate(ip: Any, line: str) -> Any:
    return ip.run_line_magic("migrate", line)



def backend(url: str) -> str:
    return sa.make_url(url).get_backend_name()


def set_body(path: str | Path, upgrade: str, downgrade: str = "pass", imports: str = "") -> None:
    """Write the bodies of ``upgrade()``/``downgrade()`` into a revision file made by ``revision``."""
    path = Path(path)
    src = path.read_text()
    head, up_def, rest = src.partition("def upgrade()")
    up_part, down_def, down_part = rest.partition("def downgrade()")
    assert up_def and down_def, src
    up_part = up_part.replace("    pass\n", textwrap.indent(upgrade, "    ") + "\n", 1)
    down_part = down_part.replace("    pass\n", textwrap.indent(downgrade, "    ") + "\n", 1)
    if imports:
        head = head.replace("import sqlalchemy as sa\n", f"import sqlalchemy as sa\n{imports}\n", 1)
    path.write_text(head + up_def + up_part + down_def + down_part)
    _bump(path)


def _bump(path: Path) -> None:
    """Give a rewritten file a later mtime, whole seconds apart (caches key on mtime and size)."""
    st = path.stat()
    later = max(st.st_mtime_ns, _bump.last) + 2_000_000_000
    _bump.last = later
    os.utime(path, ns=(later, later))


_bump.last = 0  # type: ignore[attr-defined]


def write_revision(ip: Any, message: str, rev_id: str, upgrade: str, downgrade: str = "pass", options: str = "") -> RevisionFileResult:
    result = migrate(ip, f'revision -m "{message}" --rev-id {rev_id} {options}')
    assert isinstance(result, RevisionFileResult)
    set_body(result.path, upgrade, downgrade)
    return result


def database(ip: Any, db_url: str) -> str:
    """Start a project here; servers are connected to, SQLite uses the embedded default file."""
    migrate(ip, "init")
    if backend(db_url) != "sqlite":
        migrate(ip, f"connect {db_url}")
        return db_url
    return f"sqlite:///{Path.cwd() / 'migrations.db'}"


def seed(ip: Any, db_url: str) -> str:
    """Project + the two walkthrough revisions (nothing applied); returns the database URL."""
    url = database(ip, db_url)
    write_revision(ip, "create user", "0001", USER_TABLE, 'op.drop_table("user")')
    write_revision(ip, "add mobile number", "0002", ADD_MOBILE, DROP_MOBILE)
    return url


def inspect(url: str) -> dict[str, dict[str, bool]]:
    """Every table (but Alembic's and nbmigrate's own) with its columns and their nullability."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        insp = sa.inspect(engine)
        return {
            t: {c["name"]: c["nullable"] for c in insp.get_columns(t)}
            for t in insp.get_table_names()
            if t != "alembic_version" and not t.startswith("nbmigrate_")
        }
    finally:
        engine.dispose()


def version(url: str) -> set[str] | None:
    """What alembic_version says (``None`` when the table does not exist)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        if not sa.inspect(engine).has_table("alembic_version"):
            return None
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}
    finally:
        engine.dispose()


def rendered(result: Any) -> str:
    text, html = str(result), result._repr_html_()
    assert text.strip() and html.startswith('<div class="nbm')
    return text + "\n" + html


# -- the seed scenario on every database ---------------------------------------------------------


def test_seed_scenario(db_url: str, ip: Any) -> None:
    kind = backend(db_url)
    init = migrate(ip, "init")
    assert isinstance(init, InitResult)
    assert {"alembic.ini", "migrations/env.py", "migrations/script.py.mako"} <= set(init.files)
    assert init.database == "sqlite:///migrations.db"  # the embedded default, beside the folder
    assert "script_location = %(here)s/migrations" in Path("alembic.ini").read_text()
    rendered(init)
    if kind == "sqlite":
        url = f"sqlite:///{Path.cwd() / 'migrations.db'}"
    else:
        url = db_url
        connected = migrate(ip, f"connect {db_url}")
        assert isinstance(connected, ConnectResult)
        assert connected.dialect == kind and connected.heads == ()
        assert "Connected to" in rendered(connected)
        assert db_url not in Path("alembic.ini").read_text()  # the kernel only, never the file

    first = migrate(ip, 'revision -m "create user" --rev-id 0001')
    assert isinstance(first, RevisionFileResult)
    assert first.revision == "0001" and first.message == "create user"
    assert first.path.endswith(os.path.join("migrations", "versions", "0001_create_user.py"))
    assert "revision: str = '0001'" in first.source and "down_revision" in first.source
    assert "0001" in rendered(first)
    set_body(first.path, USER_TABLE, 'op.drop_table("user")')

    up = migrate(ip, "upgrade head")
    assert isinstance(up, MigrationResult)
    assert up.dialect == kind and up.transactional_ddl is TRANSACTIONAL[kind]
    assert up.heads_before == () and up.heads_after == ("0001",) and up.reached
    assert [(s.direction, s.from_revisions, s.to_revisions, s.message) for s in up.steps] == [
        ("upgrade", (), ("0001",), "create user")
    ]
    assert any("CREATE TABLE" in s and "user" in s for s in up.steps[0].sql)
    assert all(s in up.sql for s in up.steps[0].sql)
    assert up.diff is not None
    out = rendered(up)
    assert "base → 0001, create user" in out
    assert ("non-transactional DDL" in out) is (kind == "mysql")
    assert inspect(url) == {"user": {"id": False, "first_name": True, "last_name": False, "address": True}}
    assert version(url) == {"0001"}

    write_revision(ip, "add mobile number", "0002", ADD_MOBILE, DROP_MOBILE)
    up2 = migrate(ip, "upgrade head")
    assert [(s.from_revisions, s.to_revisions, s.message) for s in up2.steps] == [(("0001",), ("0002",), "add mobile number")]
    assert any("ADD COLUMN" in s.upper() and "mobile_number" in s for s in up2.steps[0].sql)
    assert up2.heads_before == ("0001",) and up2.heads_after == ("0002",) and up2.reached
    assert "mobile_number" in inspect(url)["user"]
    assert "mobile_number" in rendered(up2)

    down = migrate(ip, "downgrade -1")
    assert [(s.direction, s.from_revisions, s.to_revisions) for s in down.steps] == [("downgrade", ("0002",), ("0001",))]
    assert down.heads_after == ("0001",) and down.reached
    assert "mobile_number" not in inspect(url)["user"]
    assert "0002 → 0001" in rendered(down)

    current = migrate(ip, "current")
    assert isinstance(current, CurrentResult)
    assert current.heads == ("0001",) and not current.at_head
    assert [(r.revision, r.message) for r in current.revisions] == [("0001", "create user")]
    assert "create user" in rendered(current)

    history = migrate(ip, "history")
    assert isinstance(history, HistoryResult)
    assert [(r.revision, r.state) for r in history.revisions] == [("0002", "pending"), ("0001", "current")]
    assert history.current == ("0001",)
    out = rendered(history)
    assert "pending" in out and "current" in out and "add mobile number" in out

    heads = migrate(ip, "heads")
    assert heads.heads == ["0002"] and [r.state for r in heads.revisions] == ["pending"]
    assert "0002" in rendered(heads)

    stamped = migrate(ip, "stamp head")
    assert isinstance(stamped, MigrationResult)
    assert stamped.heads_before == ("0001",) and stamped.heads_after == ("0002",)
    assert [s.direction for s in stamped.steps] == ["stamp"]
    assert version(url) == {"0002"} and "mobile_number" not in inspect(url)["user"]  # no DDL ran
    rendered(stamped)
    migrate(ip, "stamp 0001")
    assert version(url) == {"0001"}

    offline = migrate(ip, "upgrade --sql head")
    assert isinstance(offline, SqlResult)
    assert "-- Running upgrade  -> 0001" in offline.sql and "-- Running upgrade 0001 -> 0002" in offline.sql
    assert "CREATE TABLE" in offline.sql and "mobile_number" in offline.sql
    assert "mobile_number" in rendered(offline)
    assert version(url) == {"0001"}  # --sql runs nothing

    again = migrate(ip, "upgrade head")
    assert again.heads_after == ("0002",)
    states = [(r.revision, r.state) for r in migrate(ip, "history").revisions]
    assert states == [("0002", "current"), ("0001", "applied")]
    assert migrate(ip, "current").at_head
    assert set(inspect(url)["user"]) == {"id", "first_name", "last_name", "address", "mobile_number"}


def test_results_are_values_and_python_api_matches(ip: Any) -> None:
    """``r = %migrate upgrade head`` works, and Project gives the same answers."""
    url = seed(ip, "sqlite://")
    ip.run_cell("r = %migrate upgrade head")
    r = ip.user_ns["r"]
    assert isinstance(r, MigrationResult) and r.heads_after == ("0002",)
    project = nbmigrate.Project()
    assert project.current().heads == ("0002",)
    assert [x.revision for x in project.history().revisions] == ["0002", "0001"]
    down = project.run("downgrade base")
    assert down.heads_after == () and inspect(url) == {}
    assert project.upgrade("0001").heads_after == ("0001",)


# -- Alembic's grammar ----------------------------------------------------------------------------


@pytest.fixture
def branched(ip: Any) -> str:
    """0001 → 0002 (mainline) and 0001 → 0003 (branch label ``side``); nothing applied."""
    url = seed(ip, "sqlite://")
    write_revision(
        ip, "side table", "0003", 'op.create_table("side", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("side")', options="--head 0001 --splice --branch-label side",
    )
    return url


def test_ranges_relative_steps_and_prefixes(ip: Any) -> None:
    url = seed(ip, "sqlite://")
    write_revision(ip, "third", "0003", 'op.create_table("third", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("third")')

    assert migrate(ip, "upgrade +2").heads_after == ("0002",)
    assert migrate(ip, "downgrade -1").heads_after == ("0001",)
    assert migrate(ip, "upgrade 0001+2").heads_after == ("0003",)
    assert migrate(ip, "downgrade base+1").heads_after == ("0001",)
    assert version(url) == {"0001"}

    assert [r.revision for r in migrate(ip, "history -r 0001:0002").revisions] == ["0002", "0001"]
    assert [r.revision for r in migrate(ip, "history -r 0002:").revisions] == ["0003", "0002"]
    assert [r.revision for r in migrate(ip, "history -r :0001").revisions] == ["0001"]
    assert [r.revision for r in migrate(ip, "history -r current:").revisions] == ["0003", "0002", "0001"]

    offline = migrate(ip, "upgrade --sql 0001:0003").sql
    assert "-- Running upgrade 0001 -> 0002" in offline and "-- Running upgrade 0002 -> 0003" in offline
    assert "-> 0001" not in offline.replace("0001 -> 0002", "")
    back = migrate(ip, "downgrade --sql 0003:0001").sql
    assert "-- Running downgrade 0003 -> 0002" in back and "DROP TABLE third" in back

    usage_error(ip, "upgrade 0001:0002", "needs --sql")
    usage_error(ip, "downgrade --sql 0001", "needs a range")
    usage_error(ip, "upgrade +5", "+5")
    usage_error(ip, "history -r 0001", "[start]:[end]")


def test_prefixes_and_ambiguous_prefix(ip: Any) -> None:
    url = database(ip, "sqlite://")
    write_revision(ip, "one", "abcd1111", 'op.create_table("one", sa.Column("id", sa.Integer, primary_key=True))')
    write_revision(ip, "two", "abcd2222", 'op.create_table("two", sa.Column("id", sa.Integer, primary_key=True))')
    assert migrate(ip, "upgrade abcd1").heads_after == ("abcd1111",)
    assert [r.revision for r in migrate(ip, "show abcd2").revisions] == ["abcd2222"]
    message = usage_error(ip, "upgrade abcd", "abcd1111", "abcd2222")
    assert "Multiple revisions start with 'abcd'" in message
    usage_error(ip, "show abcd", "abcd1111", "abcd2222")
    assert version(url) == {"abcd1111"}


def test_branches_labels_merge_show_edit(branched: str, ip: Any) -> None:
    url = branched
    message = usage_error(ip, "upgrade head", "several heads", "0002", "0003", "merge")
    assert "Name one" in message

    heads = migrate(ip, "heads")
    assert sorted(heads.heads) == ["0002", "0003"]
    assert [r.branch_labels for r in heads.revisions if r.revision == "0003"] == [("side",)]
    branches = migrate(ip, "branches")
    assert [r.revision for r in branches.revisions] == ["0001"] and branches.revisions[0].is_branch_point
    assert "branch point" in rendered(branches)

    up = migrate(ip, "upgrade side@head")
    assert [s.to_revisions for s in up.steps] == [("0001",), ("0003",)]
    assert up.heads_after == ("0003",) and "side" in inspect(url)
    assert sorted(migrate(ip, "upgrade heads").heads_after) == ["0002", "0003"]
    assert migrate(ip, "downgrade side@-1").heads_after == ("0002",)  # relative to a branch
    assert "side" not in inspect(url)
    assert sorted(migrate(ip, "upgrade side@+1").heads_after) == ["0002", "0003"]

    merged = migrate(ip, 'merge heads -m "merge branches" --rev-id 0004')
    assert isinstance(merged, RevisionFileResult) and merged.revision == "0004"
    assert "down_revision" in merged.source and "0002" in merged.source and "0003" in merged.source
    up = migrate(ip, "upgrade head")
    assert up.heads_after == ("0004",)
    assert len(up.steps) == 1 and sorted(up.steps[0].from_revisions) == ["0002", "0003"]
    info = migrate(ip, "show 0004").revisions[0]
    assert info.is_merge_point and sorted(info.down_revisions) == ["0002", "0003"] and info.state == "current"
    assert "merge point" in rendered(migrate(ip, "history"))

    shown = migrate(ip, "show current")
    assert [r.revision for r in shown.revisions] == ["0004"]
    assert [r.revision for r in migrate(ip, "show head").revisions] == ["0004"]

    edited = migrate(ip, "edit 0003")
    assert isinstance(edited, RevisionFileResult)
    assert edited.path.endswith("0003_side_table.py")
    assert edited.source == Path(edited.path).read_text()
    assert "side table" in rendered(edited)
    assert migrate(ip, "edit current").revision == "0004"
    usage_error(ip, "edit nope", "nope")
    assert sorted(migrate(ip, "downgrade 0003").heads_after) == ["0002", "0003"]


def test_tag_and_x_arguments_reach_the_migration(ip: Any) -> None:
    url = database(ip, "sqlite://")
    body = (
        'name = context.get_tag_argument() or context.get_x_argument(as_dictionary=True).get("table", "plain")\n'
        'op.create_table(name, sa.Column("id", sa.Integer, primary_key=True))'
    )
    result = migrate(ip, 'revision -m "named table" --rev-id 0001')
    set_body(result.path, body, 'op.drop_table(context.get_tag_argument() or context.get_x_argument(as_dictionary=True).get("table", "plain"))', imports="from alembic import context")
    migrate(ip, "upgrade head --tag tagged")
    assert set(inspect(url)) == {"tagged"}
    migrate(ip, "downgrade base --tag tagged")
    migrate(ip, "-x table=from_x upgrade head")
    assert set(inspect(url)) == {"from_x"}
    migrate(ip, "-x table=from_x downgrade base")
    migrate(ip, "upgrade head")
    assert set(inspect(url)) == {"plain"}
    assert "CREATE TABLE tagged" in migrate(ip, "upgrade --sql head --tag tagged").sql  # offline too
    # -x belongs to the line: the kernel's connected database is still the one used.
    other = f"sqlite:///{Path.cwd() / 'other.db'}"
    migrate(ip, f"connect {other}")
    up = migrate(ip, "-x table=elsewhere upgrade head")
    assert up.database == "sqlite:///other.db" and set(inspect(other)) == {"elsewhere"}
    assert set(inspect(url)) == {"plain"}
    assert migrate(ip, "current").database == "sqlite:///other.db"


def test_list_templates_ensure_version_and_stamp_purge(ip: Any) -> None:
    templates = migrate(ip, "list_templates")
    assert isinstance(templates, TextResult)
    for name in ("generic", "async", "pyproject", "nbmigrate"):
        assert name in templates.text
    assert "generic" in rendered(templates)

    url = seed(ip, "sqlite://")
    offline = migrate(ip, "ensure_version --sql")
    assert isinstance(offline, SqlResult) and "CREATE TABLE alembic_version" in offline.sql
    assert version(url) is None
    ensured = migrate(ip, "ensure_version")
    assert isinstance(ensured, TextResult) and "alembic_version" in ensured.title
    assert version(url) == set()
    migrate(ip, "upgrade head")
    purged = migrate(ip, "stamp --purge 0001")
    assert purged.heads_after == ("0001",) and version(url) == {"0001"}
    assert "0002" in migrate(ip, "stamp --sql 0002").sql and version(url) == {"0001"}
    usage_error(ip, "stamp nope", "nope")


def test_check_with_and_without_target_metadata(db_url: str, ip: Any) -> None:
    url = seed(ip, db_url)
    migrate(ip, "upgrade head")
    usage_error(ip, "check", "does not provide a MetaData", "target_metadata")

    metadata = sa.MetaData()
    sa.Table(
        "user", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("first_name", sa.String(50)),
        sa.Column("last_name", sa.String(50), nullable=False),
        sa.Column("address", sa.String(200)),
        sa.Column("mobile_number", sa.String(20)),
    )
    magics(ip).project.config.attributes["target_metadata"] = metadata
    same = migrate(ip, "check")
    assert isinstance(same, TextResult)
    assert same.ok, same.text  # nbmigrate's own tables (nbmigrate_checksums) are no difference
    assert "No new upgrade operations" in same.title

    sa.Table("audit", metadata, sa.Column("id", sa.Integer, primary_key=True))
    differs = migrate(ip, "check")
    assert not differs.ok and "audit" in differs.text and "add_table" in differs.text
    assert "differ" in rendered(differs)

    # The metadata stays with the project when alembic.ini is edited (the config is rebuilt).
    with open("alembic.ini", "a") as f:
        f.write("\n# edited\n")
    assert not migrate(ip, "check").ok

    auto = migrate(ip, 'revision --autogenerate -m "audit table" --rev-id 0003')
    assert "create_table('audit'" in auto.source or 'create_table("audit"' in auto.source
    migrate(ip, "upgrade head")
    assert "audit" in inspect(url) and migrate(ip, "check").ok


# -- finding the project ------------------------------------------------------------------------


def test_config_elsewhere_config_setting_and_alembic_config(ip: Any) -> None:
    Path("conf").mkdir()
    init = migrate(ip, "-c conf/app.ini init conf/mig")
    assert Path("conf/app.ini").is_file() and Path("conf/mig/env.py").is_file()
    assert not Path("conf/conf").exists()  # DIR is relative to where we run, as with `alembic -c`
    assert init.database == "sqlite:///conf/mig.db"
    usage_error(ip, "current", "No Alembic project", "%migrate init")

    result = migrate(ip, '-c conf/app.ini revision -m "create user" --rev-id 0001')
    set_body(result.path, USER_TABLE, 'op.drop_table("user")')
    assert migrate(ip, "-c conf/app.ini upgrade head").heads_after == ("0001",)
    assert "user" in inspect("sqlite:///conf/mig.db")

    ip.run_line_magic("config", "MigrateMagics.config_file = 'conf/app.ini'")
    assert migrate(ip, "current").heads == ("0001",)
    ip.run_line_magic("config", "MigrateMagics.config_file = ''")
    usage_error(ip, "current", "%migrate init")

    os.environ["ALEMBIC_CONFIG"] = "conf/app.ini"  # the ip fixture removes it again
    assert [r.revision for r in migrate(ip, "history").revisions] == ["0001"]
    assert nbmigrate.Project().current().heads == ("0001",)
    del os.environ["ALEMBIC_CONFIG"]

    usage_error(ip, "-c a.ini -c b.ini current", "only one ini file")
    usage_error(ip, "-c nothere.ini current", "nothere.ini", "%migrate init")
    usage_error(ip, "-c conf/app.ini -n nosuch current", "app.ini has no [nosuch] section", "sections: alembic")


def test_pyproject_toml_project(ip: Any) -> None:
    migrate(ip, "init -t pyproject pmig")
    assert "[tool.alembic]" in Path("pyproject.toml").read_text()
    Path("alembic.ini").unlink()  # [tool.alembic] alone is a project; the URL comes from connect
    migrate(ip, "connect sqlite:///p.db")
    result = migrate(ip, '-c pyproject.toml revision -m "create user" --rev-id 0001')
    assert Path(result.path).parent == Path.cwd() / "pmig" / "versions"
    set_body(result.path, USER_TABLE, 'op.drop_table("user")')
    migrate(ip, "-c pyproject.toml connect sqlite:///p.db")
    assert migrate(ip, "-c pyproject.toml upgrade head").heads_after == ("0001",)
    assert "user" in inspect(f"sqlite:///{Path.cwd() / 'p.db'}")
    assert migrate(ip, "current").heads == ("0001",)  # found without -c too


def test_named_section(ip: Any) -> None:
    seed(ip, "sqlite://")
    with open("alembic.ini", "a") as f:
        f.write("\n[reporting]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///%(here)s/reporting.db\n")
    up = migrate(ip, "-n reporting upgrade head")
    assert up.heads_after == ("0002",) and "reporting.db" in up.database
    assert "user" in inspect(f"sqlite:///{Path.cwd() / 'reporting.db'}")
    assert migrate(ip, "current").heads == ()  # the default section's database is untouched
    assert migrate(ip, "-n reporting current").heads == ("0002",)


def test_connect_targets(db_url: str, ip: Any) -> None:
    url = seed(ip, db_url)
    engine = sa.create_engine(url)
    try:
        ip.user_ns["eng"] = engine
        connected = migrate(ip, "connect eng")
        assert connected.dialect == backend(url)
        migrate(ip, "upgrade 0001")
        ip.user_ns["dburl"] = url
        assert migrate(ip, "connect dburl").heads == ("0001",)
        with engine.connect() as conn:
            ip.user_ns["conn"] = conn
            assert migrate(ip, "connect conn").heads == ("0001",)
        assert version(url) == {"0001"}
    finally:
        engine.dispose()


def test_init_twice(ip: Any) -> None:
    migrate(ip, "init")
    usage_error(ip, "init", "migrations already exists and is not empty")
    usage_error(ip, "init -t no_such_template elsewhere", "No such template")
    second = migrate(ip, "init second")
    assert any("alembic.ini already existed and was left unchanged" in w and "%(here)s/migrations" in w for w in second.warnings)
    assert "left unchanged" in str(second) and "left unchanged" in second._repr_html_()
    assert migrate(ip, "heads").revisions == []  # still the first environment


def test_in_memory_sqlite_lives_across_commands(ip: Any) -> None:
    """Each command runs in a worker thread; an in-memory database must still be the same one."""
    seed(ip, "sqlite://")
    migrate(ip, "connect sqlite://")
    assert migrate(ip, "upgrade head").heads_after == ("0002",)
    assert migrate(ip, "current").heads == ("0002",)
    assert [r.state for r in migrate(ip, "history").revisions] == ["current", "applied"]
    assert migrate(ip, "downgrade -1").heads_before == ("0002",)
    assert not Path("migrations.db").exists()


# -- errors: one line, no traceback ------------------------------------------------------------


def test_argument_errors(ip: Any) -> None:
    seed(ip, "sqlite://")
    message = usage_error(ip, "upgrad head", "Unknown command 'upgrad'", "Did you mean `upgrade`?")
    assert "Commands:" in message
    usage_error(ip, "frobnicate", "Unknown command 'frobnicate'")
    usage_error(ip, "upgrade", "required: revision", "Usage:")
    usage_error(ip, "upgrade head extra", "unrecognized arguments: extra")
    usage_error(ip, "history --bogus", "unrecognized arguments: --bogus")
    usage_error(ip, 'revision -m "unclosed', "Check the quotes")
    usage_error(ip, "revision -m x --rev-id ../../evil", "cannot be a revision id")
    usage_error(ip, "-x", "expected one argument")
    help_text = migrate(ip, "--help")
    assert "upgrade" in str(help_text) and "connect" in str(help_text)
    assert "--sql" in str(migrate(ip, "upgrade --help"))
    assert "upgrade" in str(migrate(ip, ""))


def test_revision_errors(ip: Any) -> None:
    seed(ip, "sqlite://")
    usage_error(ip, "upgrade nope", "'nope'", "%migrate history")
    usage_error(ip, "show nope", "'nope'", "%migrate history")
    usage_error(ip, "history -r nope:", "'nope'")
    usage_error(ip, "downgrade -3", "-3")
    usage_error(ip, "upgrade 0001:0002 --tag x", "needs --sql")


def test_missing_project(ip: Any) -> None:
    for line in ("upgrade head", "history", "current", "heads", 'revision -m "x"', "check", "stamp head", "edit head"):
        usage_error(ip, line, "No Alembic project", "Run `%migrate init`")


@pytest.mark.parametrize(
    ("source", "fragments"),
    [
        ("revision = '0003'\ndown_revision = '0002'\ndef upgrade(:\n    pass\n", ("SyntaxError", "line 3")),
        ("import no_such_module_nbm\nrevision = '0003'\ndown_revision = '0002'\n", ("ModuleNotFoundError", "no_such_module_nbm", "line 1")),
        ("revision = '0003'\ndown_revision = '0002'\nundefined_helper()\n", ("NameError", "undefined_helper", "line 3")),
    ],
    ids=["syntax-error", "import-error", "name-error"],
)
def test_broken_revision_file(ip: Any, source: str, fragments: tuple[str, ...]) -> None:
    url = seed(ip, "sqlite://")
    migrate(ip, "upgrade head")
    broken = Path("migrations/versions/0003_broken.py")
    broken.write_text(source)
    for line in ("history", "heads", "current", "upgrade head", 'revision -m "next"'):
        usage_error(ip, line, "0003_broken.py", "does not load", *fragments)
    assert version(url) == {"0002"}
    broken.unlink()
    assert migrate(ip, "heads").heads == ["0002"]


def test_down_revision_no_file_defines(ip: Any) -> None:
    seed(ip, "sqlite://")
    Path("migrations/versions/0003_dangling.py").write_text(
        "revision = '0003'\ndown_revision = '9999'\ndef upgrade():\n    pass\ndef downgrade():\n    pass\n"
    )
    for line in ("history", "heads", "current", "upgrade head", "edit 0003"):
        usage_error(ip, line, "0003_dangling.py", "revises 9999, which no revision file defines")


def test_a_bug_keeps_its_traceback(ip: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only user mistakes become one-line UsageErrors; nbmigrate's own bugs show themselves."""
    import nbmigrate.commands.read

    seed(ip, "sqlite://")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("internal")

    monkeypatch.setattr(nbmigrate.commands.read, "history_result", broken)
    assert type(ip.run_cell("%migrate history").error_in_exec) is KeyError
    # A library under a folder named `versions` (pyenv keeps every Python in ~/.pyenv/versions/)
    # is not a revision file: its KeyError is a bug too.
    from nbmigrate.errors import translate

    lib = Path("versions")
    lib.mkdir()
    (lib / "somelib.py").write_text("def fail():\n    return {}['missing']\n")
    namespace: dict[str, Any] = {"__name__": "somelib"}
    exec(compile((lib / "somelib.py").read_text(), str((lib / "somelib.py").resolve()), "exec"), namespace)
    with pytest.raises(KeyError) as caught:
        namespace["fail"]()
    assert translate(caught.value) is None


def test_duplicate_revision_ids_warn_loudly(ip: Any) -> None:
    seed(ip, "sqlite://")
    Path("migrations/versions/0002_copy.py").write_text(
        "revision = '0002'\ndown_revision = '0001'\ndef upgrade():\n    pass\ndef downgrade():\n    pass\n"
    )
    with pytest.warns(UserWarning, match="0002.*0002_add_mobile_number.py.*0002_copy.py|0002.*0002_copy.py.*0002_add"):
        heads = migrate(ip, "heads")
    for result in (heads, migrate(ip, "history"), migrate(ip, "current")):
        assert any("Revision id 0002 is defined by 2 files" in w for w in result.warnings)
        assert "Revision id 0002 is defined by 2 files" in rendered(result)
    Path("migrations/versions/0002_copy.py").unlink()
    assert migrate(ip, "heads").warnings == []


def test_multiple_heads_message(branched: str, ip: Any) -> None:
    for line in ("upgrade head", "revision -m next", "stamp head"):
        usage_error(ip, line, "0002", "0003")
    usage_error(ip, "upgrade head", "%migrate merge heads")


def test_connection_errors(ip: Any) -> None:
    seed(ip, "sqlite://")
    usage_error(ip, "connect not_a_url", "neither a database URL", "nor a variable")
    ip.user_ns["dburl"] = 42
    usage_error(ip, "connect dburl", "Cannot connect to a int")
    usage_error(ip, "connect nosuchdialect://x/y", "nosuchdialect")
    usage_error(ip, "connect postgresql+psycopg://nobody@127.0.0.1:9/none", "Cannot connect to the database")
    usage_error(ip, "connect sqlite:////nonexistent_dir_nbm/x.db", "Cannot connect to the database")
    # A failed connect leaves the kernel where it was.
    assert migrate(ip, "current").database == "sqlite:///migrations.db"
    # The config's own URL unreachable: commands that need the database say so in one line.
    text = Path("alembic.ini").read_text().replace("sqlite:///%(here)s/migrations.db", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    Path("alembic.ini").write_text(text)
    usage_error(ip, "upgrade head", "Cannot connect to the database")
    usage_error(ip, "current", "Cannot connect to the database")
    history = migrate(ip, "history")  # the files still answer
    assert [r.revision for r in history.revisions] == ["0002", "0001"]
    assert any("Database state not shown" in w for w in history.warnings)


def test_raiseerr_shows_the_real_exception(ip: Any) -> None:
    from alembic.util import CommandError

    seed(ip, "sqlite://")
    for line in ("--raiseerr show nope", "history -r nope: --raiseerr"):
        error = ip.run_cell(f"%migrate {line}").error_in_exec
        assert type(error) is CommandError and "nope" in str(error)
    error = ip.run_cell("%migrate upgrade nope --raiseerr").error_in_exec
    assert type(error) is not UsageError and "nope" in str(error)
    error = ip.run_cell("%migrate --raiseerr connect postgresql+psycopg://nobody@127.0.0.1:9/none").error_in_exec
    assert isinstance(error, sa.exc.OperationalError)
    error = ip.run_cell("%migrate --raiseerr upgrade").error_in_exec
    assert isinstance(error, nbmigrate.BadArguments)
    Path("migrations/versions/0003_broken.py").write_text("revision = '0003'\ndown_revision = '0002'\nboom()\n")
    error = ip.run_cell("%migrate history --raiseerr").error_in_exec
    assert type(error) is NameError


# -- failed migrations: the exact state after -----------------------------------------------------


FAILING = """\
op.create_table("audit", sa.Column("id", sa.Integer, primary_key=True))
op.add_column("user", sa.Column("note", sa.String(20)))
op.execute("SELECT * FROM no_such_table_nbm")"""


def test_failed_migration_reports_the_state(db_url: str, ip: Any) -> None:
    kind = backend(db_url)
    url = seed(ip, db_url)
    write_revision(ip, "failing", "0003", FAILING, 'op.drop_table("audit")')
    migrate(ip, "upgrade 0001")
    before_schema, before_version = inspect(url), version(url)

    with pytest.raises(MigrationFailed) as caught:
        magics(ip).project.upgrade("head")
    report = caught.value.report
    assert report.revision == "0003" and report.message == "failing"
    assert "no_such_table_nbm" in (report.statement or "") and report.heads_before == ("0001",)
    assert report.transactional_ddl is TRANSACTIONAL[kind]
    if TRANSACTIONAL[kind]:
        assert report.rolled_back and report.heads_after == ("0001",) and report.completed == []
        assert inspect(url) == before_schema and version(url) == before_version == {"0001"}
        message = usage_error(ip, "upgrade head", "failed in revision 0003", "no_such_table_nbm", "Rolled back", "still at 0001")
        assert inspect(url) == before_schema and version(url) == {"0001"}
    else:
        assert not report.rolled_back and report.heads_after == ("0002",)
        assert [s.revision for s in report.completed] == ["0002"]
        assert any("audit" in s for s in report.partial_sql) and any("note" in s for s in report.partial_sql)
        assert version(url) == {"0002"}
        assert set(inspect(url)) == {"user", "audit"} and {"mobile_number", "note"} <= set(inspect(url)["user"])
        summary = report.summary()
        for fragment in ("Not rolled back", "Completed revisions: 0002", "alembic_version now says: 0002", "CREATE TABLE audit"):
            assert fragment in summary
        # Run again, it fails at its first statement (audit exists now): nothing more changed.
        message = usage_error(ip, "upgrade head", "failed in revision 0003", "already exists", "0002")
        assert version(url) == {"0002"}
    assert "Traceback" not in message
    assert "failed" in rendered(report)


def test_reached_is_checked_after_upgrade(ip: Any) -> None:
    """An env.py that migrates some other database: nbmigrate notices the database did not move."""
    url = seed(ip, "sqlite://")
    Path("migrations/env.py").write_text(textwrap.dedent("""\
        from alembic import context
        from sqlalchemy import create_engine

        engine = create_engine("sqlite:///elsewhere.db")
        with engine.connect() as connection:
            context.configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
        """))
    result = migrate(ip, "upgrade head")
    assert not result.reached and result.heads_after == ()
    assert "not at 'head'" in result.note and "config.attributes['connection']" in result.note
    assert "not at 'head'" in str(result) and "not at &#x27;head&#x27;" in result._repr_html_()
    assert inspect(url) == {} and "user" in inspect(f"sqlite:///{Path.cwd() / 'elsewhere.db'}")


# -- kernel safety -------------------------------------------------------------------------------


def _generic_project(url: str) -> None:
    """What `alembic init migrations` makes (its env.py calls fileConfig), pointed at ``url``."""
    from alembic import command
    from alembic.config import Config

    command.init(Config("alembic.ini", stdout=io.StringIO()), "migrations")
    text = Path("alembic.ini").read_text()
    Path("alembic.ini").write_text(text.replace("driver://user:pass@localhost/dbname", url.replace("%", "%%")))


def test_alembic_logging_does_not_leak(ip: Any) -> None:
    _generic_project("sqlite:///gen.db")
    assert "fileConfig(config.config_file_name)" in Path("migrations/env.py").read_text()
    root = logging.getLogger()
    mine = logging.getLogger("kernel.app")
    mine.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        existing = {name: (lg.disabled, lg.level, list(lg.handlers), lg.propagate)
                    for name, lg in logging.Logger.manager.loggerDict.items() if isinstance(lg, logging.Logger)}
        before = (list(root.handlers), root.level)
        write_revision(ip, "create user", "0001", USER_TABLE, 'op.drop_table("user")')
        for line in ("upgrade head", "history", "current", "downgrade base", "upgrade head --sql", "check"):
            ip.run_cell(f"%migrate {line}")
        assert (list(root.handlers), root.level) == before
        for name, state in existing.items():
            lg = logging.getLogger(name)
            assert (lg.disabled, lg.level, list(lg.handlers), lg.propagate) == state, name
        assert not mine.disabled
        assert handler.stream.getvalue() == ""  # Alembic's INFO lines went into the results
    finally:
        root.removeHandler(handler)


def test_nothing_reaches_the_real_stdout_or_stderr(ip: Any, capfd: pytest.CaptureFixture[str]) -> None:
    capfd.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seed(ip, "sqlite://")
        up = migrate(ip, "upgrade head")
        for line in ("downgrade -1", "history", "heads", "current", "branches", "show head", "stamp head",
                     "upgrade --sql head", "ensure_version", "list_templates", "edit 0001", "stamp 0001", "upgrade head"):
            migrate(ip, line)
        with pytest.raises(UsageError):
            migrate(ip, "upgrade nope")
        with pytest.raises(UsageError):
            migrate(ip, "bogus")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert [s.to_revisions for s in up.steps] == [("0001",), ("0002",)]


def test_generic_project_output_is_captured(ip: Any, capfd: pytest.CaptureFixture[str]) -> None:
    _generic_project("sqlite:///gen.db")
    capfd.readouterr()
    write_revision(ip, "create user", "0001", USER_TABLE, 'op.drop_table("user")')
    result = migrate(ip, "upgrade head")
    migrate(ip, "downgrade base")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert result.heads_after == ("0001",) and result.reached


def test_sys_exit_in_env_py_is_contained(ip: Any) -> None:
    seed(ip, "sqlite://")
    Path("migrations/env.py").write_text("import sys\nsys.exit(3)\n")
    for line in ("upgrade head", "upgrade --sql head", "stamp head"):
        usage_error(ip, line, "exit status 3")
    assert [r.revision for r in migrate(ip, "history").revisions] == ["0002", "0001"]  # the kernel lives on


ASYNC_WRAPPER = """

async def _nbm_async_main():
    await asyncio.sleep(0)
    run_migrations_online()
"""


def test_env_using_asyncio_run_inside_a_running_loop(ip: Any) -> None:
    url = seed(ip, "sqlite://")
    env = Path("migrations/env.py")
    text = env.read_text().replace("from logging.config import fileConfig", "import asyncio\nfrom logging.config import fileConfig")
    text = text.replace("\nif context.is_offline_mode():", ASYNC_WRAPPER + "\nif context.is_offline_mode():")
    text = text.replace("else:\n    run_migrations_online()", "else:\n    asyncio.run(_nbm_async_main())")
    env.write_text(text)

    async def in_the_kernels_loop() -> Any:
        assert asyncio.get_running_loop() is not None
        return migrate(ip, "upgrade head")

    result = asyncio.run(in_the_kernels_loop())
    assert result.heads_after == ("0002",) and result.reached and "user" in inspect(url)


@pytest.mark.skipif(importlib.util.find_spec("aiosqlite") is None, reason="aiosqlite is not installed")
def test_alembic_async_template_with_aiosqlite(ip: Any) -> None:
    from alembic import command
    from alembic.config import Config

    command.init(Config("alembic.ini", stdout=io.StringIO()), "migrations", template="async")
    text = Path("alembic.ini").read_text()
    Path("alembic.ini").write_text(text.replace("driver://user:pass@localhost/dbname", "sqlite+aiosqlite:///async.db"))
    write_revision(ip, "create user", "0001", USER_TABLE, 'op.drop_table("user")')

    async def in_the_kernels_loop() -> Any:
        return migrate(ip, "upgrade head")

    result = asyncio.run(in_the_kernels_loop())
    assert result.heads_after == ("0001",) and result.reached
    assert "user" in inspect(f"sqlite:///{Path.cwd() / 'async.db'}")
    assert migrate(ip, "current").heads == ("0001",)


# -- secrets (a basic canary) --------------------------------------------------------------------


@pytest.fixture
def canary_url(pg_url: str) -> Iterator[str]:
    """A database owned by a fresh role whose password is ``S3cr@t`` (URL-encoded in the URL)."""
    admin_url = sa.make_url(pg_url)
    role = f"canary_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD 'S3cr@t'"))
        conn.execute(sa.text(f"CREATE DATABASE {role} OWNER {role}"))
    try:
        yield admin_url.set(username=role, password="S3cr@t", database=role).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {role} WITH (FORCE)"))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


@pytest.mark.postgresql
@pytest.mark.parametrize("env", ["nbmigrate", "alembic-init"])
def test_password_never_shown(env: str, canary_url: str, ip: Any, capfd: pytest.CaptureFixture[str]) -> None:
    """With nbmigrate's env.py (connection passed in) and an own env.py (URL from the config)."""
    assert "S3cr%40t" in canary_url
    secrets = ("S3cr@t", "S3cr%40t", "S3cr")
    shown: list[str] = []
    if env == "nbmigrate":
        seed(ip, "sqlite://")
    else:
        _generic_project("sqlite:///gen.db")
        write_revision(ip, "create user", "0001", USER_TABLE, 'op.drop_table("user")')
        write_revision(ip, "add mobile number", "0002", ADD_MOBILE, DROP_MOBILE)
    ip.user_ns["dburl"] = canary_url
    for line in (f"connect {canary_url}", "upgrade head", "history", "current", "heads", "downgrade -1",
                 "upgrade --sql 0001:0002", "stamp head", "stamp 0001", "connect dburl"):
        shown.append(rendered(migrate(ip, line)))
    write_revision(ip, "failing", "0003", "op.execute('SELECT * FROM no_such_table_nbm')", options="--head 0002")
    migrate(ip, "upgrade 0002")
    shown.append(usage_error(ip, "upgrade head", "no_such_table_nbm"))
    with pytest.raises(MigrationFailed) as caught:
        magics(ip).project.upgrade("head")
    shown += [str(caught.value), rendered(caught.value.report), caught.value._repr_html_()]
    bad_host = canary_url.replace("127.0.0.1:5432", "127.0.0.1:9")
    shown.append(usage_error(ip, f"connect {bad_host}", "Cannot connect"))
    shown.append(usage_error(ip, f"connect {canary_url.rsplit('/', 1)[0]}/no_such_db_nbm", "no_such_db_nbm"))
    shown.append(usage_error(ip, f"connect {canary_url.replace('postgresql+psycopg', 'postgresql+nodriver')}", "nodriver"))
    shown.append(repr(magics(ip).project))
    shown.append(magics(ip).project.display_url)
    out, err = capfd.readouterr()
    shown += [out, err]
    for text in shown:
        for secret in secrets:
            assert secret not in text
    assert "S3cr" not in Path("alembic.ini").read_text()
    assert all("S3cr" not in p.read_text() for p in Path("migrations").rglob("*.py"))


# -- mistakes found by hand, each once answered wrongly ------------------------------------------


def test_mistakes_get_a_next_step(branched: str, ip: Any) -> None:
    usage_error(ip, 'revision -m "again" --rev-id 0002', "Revision id '0002' is already taken by 0002_add_mobile_number.py")
    usage_error(ip, "revision -m x --branch-label side --head 0002", "already used by revision 0003", "Choose another --branch-label")
    # a refused write leaves the warm revision map as it was
    assert sorted(migrate(ip, "heads").heads) == ["0002", "0003"]
    usage_error(ip, "upgrade +5", "several heads", "branchname@+1")
    migrate(ip, "upgrade 0002")
    usage_error(ip, "downgrade 0003", "not a valid downgrade target", "%migrate current")
    usage_error(ip, "downgrade 0002+1", "%migrate history")
    usage_error(ip, "init --template nosuch other", "No such template", "%migrate list_templates")
    usage_error(ip, "-c nodir/alembic.ini init gen", "nodir/alembic.ini does not exist", "Nothing was written")
    assert not Path("gen").exists() and not Path("nodir").exists()
    usage_error(ip, "graph -r nope:head", "No such revision or branch 'nope'", "%migrate history")
    usage_error(ip, "graph -r heads:base", "not an ancestor", "older:newer")


def test_stamp_purge_arrives_where_asked(ip: Any) -> None:
    seed(ip, "sqlite://")
    migrate(ip, "upgrade head")
    result = migrate(ip, "stamp 0001 --purge")
    assert result.heads_after == ("0001",) and result.reached and result.note == ""
    result = migrate(ip, "stamp heads --purge")
    assert result.heads_after == ("0002",) and result.reached and result.note == ""


def test_history_says_when_the_database_is_at_a_revision_no_file_defines(ip: Any) -> None:
    url = seed(ip, "sqlite://")
    migrate(ip, "upgrade head")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ghost1'"))
    engine.dispose()
    result = migrate(ip, "history")
    assert any("alembic_version holds ghost1, which no revision file defines" in w for w in result.warnings)
    assert "ghost1" in rendered(result)


def test_raiseerr_on_a_failed_migration_shows_the_database_error(ip: Any) -> None:
    seed(ip, "sqlite://")
    write_revision(ip, "failing", "0003", "op.execute('SELECT * FROM no_such_table_nbm')")
    with pytest.raises(sa.exc.OperationalError, match="no_such_table_nbm"):
        migrate(ip, "upgrade head --raiseerr")
    usage_error(ip, "upgrade head", "failed in revision 0003", "no_such_table_nbm")


def test_a_password_with_an_unencoded_at_sign_is_refused_whole(ip: Any) -> None:
    database(ip, "sqlite://")
    message = usage_error(ip, "connect postgresql+psycopg://me:S3cr@t%x@127.0.0.1/test", "write each \"@\" of the password as %40")
    assert "S3cr" not in message and "t%x" not in message


def test_a_sqlite_file_outside_the_working_directory_is_shown_without_dots(ip: Any, tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    migrate(ip, "init")
    os.chdir(tmp_path / "work")
    magics(ip).config_file = "../alembic.ini"
    assert migrate(ip, "current").database == f"sqlite:///{tmp_path.resolve() / 'migrations.db'}"


def test_check_and_autogenerate_compare_the_kernels_models(ip: Any) -> None:
    database(ip, "sqlite://")
    usage_error(ip, "check", "does not provide a MetaData", "--metadata Base.metadata")
    ip.run_cell("import sqlalchemy as sa\nmodels = sa.MetaData()\nsa.Table('user', models, sa.Column('id', sa.Integer, primary_key=True))")
    differ = migrate(ip, "check --metadata models")
    assert not differ.ok and "add_table" in differ.text
    made = migrate(ip, "revision -m users --autogenerate --metadata models --rev-id 0001")
    assert "op.create_table('user'" in made.source
    migrate(ip, "upgrade head")
    ip.user_ns["target_metadata"] = ip.user_ns["models"]
    try:
        assert migrate(ip, "check").ok  # a target_metadata variable is used without --metadata
    finally:
        ip.user_ns.pop("target_metadata")
    usage_error(ip, "revision -m x --metadata models", "add --autogenerate")
    usage_error(ip, "check --metadata nope", "no variable 'nope'")


def test_a_multi_step_run_shows_progress_in_a_notebook(ip: Any) -> None:
    from IPython.utils.capture import capture_output

    seed(ip, "sqlite://")
    with capture_output() as captured:  # a kernel-like publisher: displays are kept, updates included
        result = migrate(ip, "upgrade head")
    frames = [o.data for o in captured.outputs]
    assert [f["text/plain"] for f in frames] == [
        "step 1 of 2: upgrade base → 0001: create user",
        "step 2 of 2: upgrade 0001 → 0002: add mobile number",
    ]  # and the line stays so: an emptied one would be left in a saved notebook, showing nothing
    assert '<progress value="2" max="2">' in frames[1]["text/html"]
    assert len(result.steps) == 2
    with capture_output() as captured:  # one step: no progress line
        migrate(ip, "downgrade -1")
    assert captured.outputs == []


def test_the_sql_shown_is_the_migrations_own(ip: Any) -> None:
    seed(ip, "sqlite://")
    write_revision(
        ip, "wider names", "0003",
        'with op.batch_alter_table("user") as batch:\n    batch.alter_column("first_name", type_=sa.String(80))',
    )
    migrate(ip, "upgrade 0002")
    result = migrate(ip, "upgrade head")  # SQLite rebuilds the table: Alembic reflects it first
    assert not any(s.upper().startswith("PRAGMA") or "sqlite_master" in s for s in result.sql), result.sql
    assert any(s.startswith("CREATE TABLE _alembic_tmp_user") for s in result.sql)
    assert all(s == s.strip() for s in result.sql) and set(result.steps[0].sql) <= set(result.sql)


def test_schema_without_a_project_says_to_init(ip: Any) -> None:
    usage_error(ip, "schema", "Run `%migrate init`")
    migrate(ip, "connect sqlite://")  # a database of its own needs no project
    assert migrate(ip, "schema").tables == {}


def test_graph_widget_actions_move_the_database_and_redraw(db_url: str, ip: Any) -> None:
    url = seed(ip, db_url)
    migrate(ip, "upgrade 0001")
    w = migrate(ip, "graph")
    states = lambda: {r["id"]: r["state"] for r in w.revisions}  # noqa: E731
    assert states() == {"0001": "current", "0002": "pending"}

    w.upgrade_to("0002")  # previewed first where the database can roll DDL back
    if TRANSACTIONAL[backend(url)]:
        assert not w.needs_confirm
    else:
        assert w.needs_confirm and "could not be previewed" in w.warning
        w.confirm()
    assert w.error == "" and version(url) == {"0002"} and states() == {"0001": "applied", "0002": "current"}
    assert "upgrade 0002" in w.result_html

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    user = sa.table("user", *(sa.column(c) for c in ("id", "first_name", "last_name", "mobile_number")))
    with engine.begin() as conn:
        conn.execute(user.insert().values(id=1, first_name="a", last_name="b", mobile_number="1"))
    engine.dispose()
    write_revision(ip, "drop mobile number", "0003", DROP_MOBILE, ADD_MOBILE)
    w.refresh()
    w.upgrade_to("0003")  # it drops a column that holds data: asked first, nothing run yet
    assert w.needs_confirm and version(url) == {"0002"}
    # The lint's risky step first (its size as the database reports it), then what the preview saw.
    assert w.warning.startswith("Risky steps: NBM108 dropping-column in 0003: drops column mobile_number from user (1 row")
    if TRANSACTIONAL[backend(url)]:
        assert w.warning.endswith(". This upgrade drops data: column `user.mobile_number` dropped, 1 of 1 row had values. Run it?")
    w.confirm()
    assert version(url) == {"0003"} and "mobile_number" not in inspect(url)["user"]

    w.downgrade_to("0001")
    assert w.needs_confirm and w.warning == "A downgrade can lose data. Run it?" and version(url) == {"0003"}
    w.confirm()
    assert version(url) == {"0001"} and states() == {"0001": "current", "0002": "pending", "0003": "pending"}
    assert 'class="node nbm&#45;rev nbm&#45;current' in w.svg and w.error == ""


def test_graph_collapse_option(ip: Any) -> None:
    database(ip, "sqlite://")
    for n in range(1, 9):
        migrate(ip, f"revision -m r{n} --rev-id {n:04d}")
    whole = migrate(ip, "graph")
    assert whole.graph.runs == {} and 'id="run&#45;' not in whole.svg  # a short history is drawn whole
    folded = migrate(ip, "graph --collapse 3")
    assert folded.graph.runs == {"0002": ("0002", "0003", "0004", "0005", "0006", "0007")}
    assert 'id="run&#45;0002"' in folded.svg and 'id="rev&#45;0004"' not in folded.svg
    assert migrate(ip, "graph --collapse 0").graph.runs == {}
    usage_error(ip, "graph --collapse -1", "--collapse takes a number")


def test_sqlite_stays_transactional_after_an_autocommit_block(here: Path) -> None:
    # Alembic's autocommit_block() hands the connection back with pysqlite's own transactions on;
    # the next commands must still run (and roll back) in nbmigrate's explicit transactions.
    import nbmigrate
    from support import write_revision

    project = nbmigrate.Project()
    project.init()
    write_revision(project, "0001", 'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("t")')
    write_revision(project, "0002", 'with op.get_context().autocommit_block():\n    op.execute("CREATE INDEX ix_t ON t (id)")',
                   'op.drop_index("ix_t", table_name="t")')
    write_revision(project, "0003", 'op.add_column("t", sa.Column("x", sa.Integer))\nop.execute("SELECT no_such_function()")')
    project.upgrade("0002")
    assert project.current().heads == ("0002",)
    with pytest.raises(nbmigrate.MigrationFailed, match="Rolled back"):
        project.upgrade("head")
    assert "x" not in nbmigrate.snapshot(project.engine())["t"].column_names
