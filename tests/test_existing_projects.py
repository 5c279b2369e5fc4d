"""Existing Alembic projects work from a kernel without edits, and their failures are one line.

Each test builds a real project layout with the tool that makes it: a Flask app's ``migrations/``
folder written by Flask-Migrate's own ``flask db init``; an ``alembic init`` project whose env.py
follows Alembic's older cookbook (``.connect()`` on what ``config.attributes`` holds); an
``alembic init --package alembic`` folder in the working folder, which a fresh kernel would
import instead of Alembic. The databases are read directly to check what ran.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from support import usage_error

BIN = Path(sys.executable).parent


@pytest.fixture
def ip(shell: Any, here: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The IPython shell working in ``here``, with no project remembered from other tests."""
    monkeypatch.syspath_prepend(str(here))  # the working folder is importable, as in a kernel
    magics = shell.magics_manager.registry["MigrateMagics"]
    magics.forget_projects()
    before = set(shell.user_ns)
    yield shell
    magics.forget_projects()
    magics.config_file = ""
    if "flask_ctx" in shell.user_ns:  # the app's own engine (env.py's) is closed with its context
        shell.run_cell("flask_app.extensions['migrate'].db.engine.dispose()\nflask_ctx.pop()")
    for name in set(shell.user_ns) - before:
        shell.user_ns.pop(name, None)


def migrate(ip: Any, line: str) -> Any:
    result = ip.run_cell(f"_nbm = %migrate {line}")
    assert result.error_in_exec is None, f"%migrate {line} raised {result.error_in_exec!r}"
    return ip.user_ns["_nbm"]



def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a real command line; fail the test with its output if it fails."""
    done = subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})}
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def version(url: str) -> list[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if "alembic_version" not in sa.inspect(conn).get_table_names():
                return []
            return sorted(v for (v,) in conn.execute(sa.text("SELECT version_num FROM alembic_version")))
    finally:
        engine.dispose()


USER_CELL = """\
def upgrade():
    op.create_table("member", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50)))

def downgrade():
    op.drop_table("member")
"""


# -- Flask-Migrate: `flask db init` output, driven from the kernel ---------------------------------


FLASK_APP = """\
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = {url!r}
db = SQLAlchemy(app)
migrate = Migrate(app, db)


class Member(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(50))
"""


# What `flask db init` does (flask_migrate.init), naming Flask-Migrate's template by its folder.
FLASK_DB_INIT = """\
import os, flask_migrate
from alembic import command
config = flask_migrate.Config()
config.set_main_option("script_location", "migrations")
config.config_file_name = os.path.join("migrations", "alembic.ini")
command.init(config, "migrations", template=os.path.join(os.path.dirname(flask_migrate.__file__), "templates", "flask"))
"""


def flask_project(here: Path, url: str) -> str:
    """A Flask app module and the ``migrations/`` folder its ``flask db init`` writes; the module's name."""
    module = f"flaskapp_{uuid.uuid4().hex[:8]}"  # each test imports its own app
    (here / f"{module}.py").write_text(FLASK_APP.format(url=url))
    env = {**os.environ, "FLASK_APP": module}
    done = subprocess.run([sys.executable, "-m", "flask", "db", "init"], cwd=here, capture_output=True, text=True, timeout=180, env=env)
    if done.returncode != 0 and "No such template" in done.stderr:
        # Alembic 1.16.0 (the floor) looks for templates where Flask-Migrate, which overrides the
        # older `get_template_directory`, does not say: the same init with the template's folder.
        run(sys.executable, "-c", FLASK_DB_INIT, cwd=here)
    else:
        assert done.returncode == 0, f"flask db init failed:\n{done.stdout}\n{done.stderr}"
    ini = (here / "migrations" / "alembic.ini").read_text()
    assert "script_location" not in ini and "sqlalchemy.url" not in ini  # Flask-Migrate's own layout
    assert not (here / "alembic.ini").exists()
    return module


def push_app_context(ip: Any, module: str) -> None:
    result = ip.run_cell(f"from {module} import app as flask_app\nflask_ctx = flask_app.app_context()\nflask_ctx.push()")
    assert result.error_in_exec is None


def test_a_flask_migrate_project_upgrades_and_downgrades_from_a_kernel(sqlite_or_pg_url: str, ip: Any, here: Path) -> None:
    url = sqlite_or_pg_url
    module = flask_project(here, url)
    push_app_context(ip, module)
    env_before = (here / "migrations" / "env.py").read_text()

    result = ip.run_cell_magic("revision", '-m "create member" --rev-id 0001', USER_CELL)
    assert Path(result.path).parent == here / "migrations" / "versions"
    second = migrate(ip, 'revision -m "empty step" --rev-id 0002')
    assert Path(second.path).parent == here / "migrations" / "versions"

    up = migrate(ip, "upgrade head")
    assert up.heads_after == ("0002",) and up.reached and [s.revision for s in up.steps] == ["0001", "0002"]
    assert "member" in tables(url) and version(url) == ["0002"]
    assert sa.make_url(url).database.rsplit("/", 1)[-1] in up.database  # the database env.py uses, named
    assert migrate(ip, "current").heads == ("0002",)
    assert [(r.revision, r.state) for r in migrate(ip, "history").revisions] == [("0002", "current"), ("0001", "applied")]
    # Flask-Migrate's own command line agrees with what the kernel did.
    assert "0002 (head)" in run(sys.executable, "-m", "flask", "db", "current", cwd=here, env={"FLASK_APP": module})

    offline = migrate(ip, "upgrade base:head --sql")
    assert "CREATE TABLE member" in offline.sql and "0002" in offline.sql

    down = migrate(ip, "downgrade base")
    assert down.heads_after == () and [s.revision for s in down.steps] == ["0002", "0001"]
    assert "member" not in tables(url) and version(url) == []
    assert (here / "migrations" / "env.py").read_text() == env_before  # nothing edited


def test_a_flask_migrate_project_named_with_config(sqlite_url: str, ip: Any, here: Path) -> None:
    """``-c migrations/alembic.ini`` and ``%config MigrateMagics.config_file`` find the same folder."""
    module = flask_project(here, sqlite_url)
    push_app_context(ip, module)
    ip.run_cell_magic("revision", '-m "create member" --rev-id 0001', USER_CELL)
    assert migrate(ip, "-c migrations/alembic.ini upgrade head").heads_after == ("0001",)
    ip.run_line_magic("config", 'MigrateMagics.config_file = "migrations/alembic.ini"')
    assert migrate(ip, "current").heads == ("0001",)
    assert version(sqlite_url) == ["0001"]


def test_a_flask_migrate_project_without_the_app_context_is_one_line(sqlite_url: str, ip: Any, here: Path) -> None:
    flask_project(here, sqlite_url)
    ip.run_cell_magic("revision", '-m "create member" --rev-id 0001', USER_CELL)
    usage_error(ip, "upgrade head", "migrations/env.py, line", "Working outside of application context", "app_context().push()")
    usage_error(ip, "upgrade head --sql", "migrations/env.py, line", "Working outside of application context")
    assert tables(sqlite_url) == set()


# -- an env.py of Alembic's older cookbook: `.connect()` on what it is given ----------------------


OLD_COOKBOOK_ONLINE = '''\
def run_migrations_online() -> None:
    """The older cookbook: use the connection given, calling connect() on it like on an Engine."""
    connectable = config.attributes.get('connection', None)
    if connectable is None:
        connectable = engine_from_config(
            config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
        )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


'''


def old_cookbook_project(here: Path, url: str) -> None:
    run(str(BIN / "alembic"), "init", "migrations", cwd=here)
    ini = here / "alembic.ini"
    ini.write_text(ini.read_text().replace("driver://user:pass@localhost/dbname", url.replace("%", "%%")))
    env = here / "migrations" / "env.py"
    source = env.read_text()
    source, n = re.subn(r"def run_migrations_online\(\).*?\n\n\n", OLD_COOKBOOK_ONLINE, source, flags=re.DOTALL)
    assert n == 1
    env.write_text(source)


def test_an_env_py_calling_connect_on_the_given_connection(sqlite_or_pg_url: str, ip: Any, here: Path) -> None:
    url = sqlite_or_pg_url
    old_cookbook_project(here, url)
    ip.run_cell_magic("revision", '-m "create member" --rev-id 0001', USER_CELL)
    run(str(BIN / "alembic"), "upgrade", "head", cwd=here)  # the command line runs it
    run(str(BIN / "alembic"), "downgrade", "base", cwd=here)

    up = migrate(ip, "upgrade head")
    assert up.heads_after == ("0001",) and up.reached and not up.note and "member" in tables(url)
    preview = migrate(ip, "downgrade base --preview")
    # Rolled back: only the connection nbmigrate passed runs inside its outer transaction.
    assert preview.heads_after == () and "member" in tables(url) and version(url) == ["0001"]
    assert migrate(ip, "ensure_version").title.startswith("Version table")
    assert migrate(ip, "downgrade base").heads_after == () and "member" not in tables(url)

    # A Connection of the user's is handed back as it was given.
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    conn = engine.connect()
    ip.user_ns["user_conn"] = conn
    migrate(ip, "connect user_conn")
    assert migrate(ip, "upgrade head").heads_after == ("0001",)
    assert not hasattr(conn, "connect")
    conn.close()
    engine.dispose()
    assert version(url) == ["0001"]


# -- a migrations folder named `alembic` in the working folder ------------------------------------


SHADOWED_KERNEL = """\
import sys
from IPython.core.interactiveshell import InteractiveShell

assert sys.path[0] == "", sys.path  # the working folder comes first, as in a kernel
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "nbmigrate")
for line in ("current", "upgrade head", "current"):
    result = ip.run_cell("_r = %migrate " + line)
    error = result.error_in_exec
    print(line, "->", type(error).__name__ if error else ip.user_ns["_r"].__class__.__name__,
          error if error else getattr(ip.user_ns["_r"], "heads", getattr(ip.user_ns["_r"], "heads_after", None)))
import alembic
print("alembic from", alembic.__file__)
"""


def test_a_migrations_package_named_alembic_does_not_shadow_alembic(tmp_path: Path) -> None:
    run(str(BIN / "alembic"), "init", "--package", "alembic", cwd=tmp_path)
    assert (tmp_path / "alembic" / "__init__.py").is_file()
    ini = tmp_path / "alembic.ini"
    ini.write_text(ini.read_text().replace("driver://user:pass@localhost/dbname", "sqlite:///app.db"))
    (tmp_path / "alembic" / "versions" / "0001_member.py").write_text(textwrap.dedent('''\
        """create member"""
        from alembic import op
        import sqlalchemy as sa

        revision = "0001"
        down_revision = None
        branch_labels = None
        depends_on = None


        def upgrade():
            op.create_table("member", sa.Column("id", sa.Integer, primary_key=True))


        def downgrade():
            op.drop_table("member")
    '''))
    run(str(BIN / "alembic"), "current", cwd=tmp_path)  # the command line works from here

    out = run(sys.executable, "-c", SHADOWED_KERNEL, cwd=tmp_path)
    lines = out.splitlines()
    assert "current -> CurrentResult ()" in lines, out
    assert "upgrade head -> MigrationResult ('0001',)" in lines, out
    assert "current -> CurrentResult ('0001',)" in lines, out
    real = next(line for line in lines if line.startswith("alembic from"))
    assert str(tmp_path) not in real, out
    assert version(f"sqlite:///{tmp_path / 'app.db'}") == ["0001"]


# -- failures that were tracebacks: one line each -------------------------------------------------


def test_an_exception_in_env_py_is_one_line_with_its_file_and_line(sqlite_url: str, ip: Any, here: Path) -> None:
    run(str(BIN / "alembic"), "init", "migrations", cwd=here)
    ini = here / "alembic.ini"
    ini.write_text(ini.read_text().replace("driver://user:pass@localhost/dbname", sqlite_url))
    env = here / "migrations" / "env.py"
    lines = env.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("target_metadata = "))
    lines.insert(at + 1, 'raise LookupError("APP_SETTINGS is not set")')
    env.write_text("\n".join(lines) + "\n")
    ip.run_cell_magic("revision", '-m "create member" --rev-id 0001', USER_CELL)
    where = f"migrations/env.py, line {at + 2}"
    usage_error(ip, "upgrade head", where, "LookupError: APP_SETTINGS is not set")
    usage_error(ip, "upgrade head --sql", where, "LookupError: APP_SETTINGS is not set")
    usage_error(ip, "stamp head", where, "LookupError: APP_SETTINGS is not set")
    assert version(sqlite_url) == []


def revision_file(here: Path, rev: str, down: str | None, upgrade: str, downgrade: str | None) -> None:
    source = (
        f'"""rev {rev}"""\nfrom alembic import op\nimport sqlalchemy as sa\n\n'
        f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n{textwrap.indent(upgrade, '    ')}\n"
    )
    if downgrade is not None:
        source += f"\n\ndef downgrade():\n{textwrap.indent(downgrade, '    ')}\n"
    (here / "migrations" / "versions" / f"{rev}_rev.py").write_text(source)


def test_a_revision_without_downgrade(ip: Any, here: Path) -> None:
    """Legal: it upgrades without a word; a downgrade that needs it is refused in one line."""
    migrate(ip, "init")
    revision_file(here, "0001", None, 'op.create_table("member", sa.Column("id", sa.Integer, primary_key=True))', None)
    revision_file(here, "0002", "0001", 'op.add_column("member", sa.Column("name", sa.String(20)))', 'op.drop_column("member", "name")')
    up = migrate(ip, "upgrade head")
    assert up.heads_after == ("0002",) and not up.warnings
    assert migrate(ip, "downgrade -1").heads_after == ("0001",)  # 0002 has its downgrade
    url = f"sqlite:///{here / 'migrations.db'}"
    usage_error(ip, "downgrade base", "0001", "migrations/versions/0001_rev.py", "no downgrade()", "Nothing was run")
    usage_error(ip, "downgrade 0001:base --sql", "0001", "no downgrade()")
    assert version(url) == ["0001"] and "member" in tables(url)


@pytest.mark.parametrize(
    "body",
    [
        'sa.inspect(op.get_bind()).get_columns("member")',
        'op.get_bind().execute(sa.text("SELECT COUNT(*) FROM member")).scalar()',
    ],
    ids=["inspect", "execute"],
)
def test_offline_sql_of_a_revision_that_reads_the_database(body: str, ip: Any, here: Path) -> None:
    migrate(ip, "init")
    revision_file(here, "0001", None, 'op.create_table("member", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("member")')
    revision_file(here, "0002", "0001", body, "pass")
    usage_error(
        ip, "upgrade head --sql",
        "revision 0002", "migrations/versions/0002_rev.py, line 12", "inspects the live database", "cannot run offline",
    )
    assert migrate(ip, "upgrade head").heads_after == ("0002",)  # online it runs


def test_offline_sql_that_sqlite_cannot_do_is_one_line(ip: Any, here: Path) -> None:
    migrate(ip, "init")
    revision_file(here, "0001", None, 'op.create_table("member", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("member")')
    revision_file(here, "0002", "0001", 'op.create_unique_constraint("uq_member_id", "member", ["id"])', "pass")
    usage_error(
        ip, "upgrade head --sql",
        "revision 0002", "migrations/versions/0002_rev.py, line 12", "NotImplementedError: No support for ALTER of constraints",
    )


# -- warnings: the snapshot's apart from the migration's -------------------------------------------


def test_snapshot_warnings_are_kept_apart_and_collapsed(ip: Any, here: Path) -> None:
    migrate(ip, "init")
    revision_file(
        here, "0001", None,
        'op.create_table("member", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(20)))\n'
        'op.execute("CREATE INDEX ix_member_lower ON member (lower(name))")\n'
        'import warnings\nwarnings.warn("the migration says this")',
        'op.drop_table("member")',
    )
    up = migrate(ip, "upgrade head")
    assert up.warnings == ["the migration says this"]
    assert any("expression-based index ix_member_lower" in w for w in up.snapshot_warnings)
    html = up._repr_html_()
    collapsed = re.findall(r"<details><summary>([^<]*)</summary>(.*?)</details>", html, flags=re.DOTALL)
    assert any("snapshot" in summary and "ix_member_lower" in body for summary, body in collapsed), html
    assert "the migration says this" in html and not any("the migration says" in body for _, body in collapsed)
    text = str(up)
    assert "warning: the migration says this" in text and "ix_member_lower" not in text
    assert "1 warning from reading the schema" in text and "snapshot_warnings" in text
    down = migrate(ip, "downgrade base")
    assert down.warnings == [] and any("ix_member_lower" in w for w in down.snapshot_warnings)
