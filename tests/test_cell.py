"""``%%revision`` through a real IPython shell: cells become revision files Alembic runs unchanged."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from IPython.core.error import UsageError

import nbmigrate
from nbmigrate import cell as cellmod
from nbmigrate.cell import CellResult, split_cell
from nbmigrate.results import HelpResult, MigrationResult


@pytest.fixture(scope="session")
def ip(shell):
    return shell


@pytest.fixture
def project(ip, tmp_path, monkeypatch):
    """A fresh ``%migrate init`` project (embedded SQLite) in the test's folder."""
    monkeypatch.chdir(tmp_path)
    ip.run_line_magic("migrate", "init")
    names = set(ip.user_ns)
    yield tmp_path
    for name in set(ip.user_ns) - names:
        ip.user_ns.pop(name, None)
    ip.user_ns.pop("target_metadata", None)


def server_project(ip, tmp_path, monkeypatch, url):
    monkeypatch.chdir(tmp_path)
    ip.run_line_magic("migrate", "init")
    ip.run_line_magic("migrate", f"connect {url}")
    return tmp_path


def revision(ip, line, cell="# the model's changes\n"):
    result = ip.run_cell_magic("revision", line, textwrap.dedent(cell))
    assert isinstance(result, CellResult), result
    return result


def versions(root: Path) -> dict[str, str]:
    """The versions folder: file name → text."""
    folder = root / "migrations" / "versions"
    return {p.name: p.read_text() for p in sorted(folder.glob("*.py"))}


def refused(ip, root: Path, line: str, cell: str = "# the model's changes\n") -> str:
    """Run a cell that must be refused: a UsageError, and no file written or changed."""
    before = versions(root)
    outcome = ip.run_cell(f"%%revision {line}\n{textwrap.dedent(cell)}")
    error = outcome.error_in_exec
    assert type(error) is UsageError, repr(error)
    assert versions(root) == before
    return str(error)


def module_of(path: str):
    tree = ast.parse(Path(path).read_text())
    values = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            values[node.target.id] = ast.literal_eval(node.value)
    return values


def body_of(path: str, name: str) -> str:
    source = Path(path).read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(source, node)
    raise AssertionError(name)


def tables(url: str) -> dict[str, list[tuple[str, str, bool]]]:
    snap = nbmigrate.snapshot(url)
    return {
        t.name: [(c.name, c.type, c.nullable) for c in t.columns]
        for t in snap.tables.values()
        if t.name != "alembic_version" and not t.name.startswith("nbmigrate_")
    }


def alembic_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "alembic", *args], cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done


def sqlite_url(root: Path) -> str:
    return f"sqlite:///{root / 'migrations.db'}"


USER_TABLE = """
def upgrade():
    op.create_table(
        "user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("first_name", sa.String(50)),
        sa.Column("last_name", sa.String(50), nullable=False),
    )

def downgrade():
    op.drop_table("user")
"""


# -- cell → file -------------------------------------------------------------------------------


def test_bare_statements_are_the_upgrade(ip, project):
    result = revision(
        ip,
        '-m "create account"',
        """
        op.create_table("account", sa.Column("id", sa.Integer, primary_key=True))
        op.create_index("ix_account_id", "account", ["id"])
        """,
    )
    assert result.status == "created"
    assert result.downgrade_empty
    path = Path(result.path)
    assert path.parent == (project / "migrations" / "versions").resolve()
    assert path.name == f"{result.revision}_create_account.py"
    assert re.fullmatch(r"[0-9a-f]{12}", result.revision)
    values = module_of(result.path)
    assert values["revision"] == result.revision
    assert values["down_revision"] is None
    upgrade = body_of(result.path, "upgrade")
    assert '    op.create_table("account", sa.Column("id", sa.Integer, primary_key=True))' in upgrade
    assert '    op.create_index("ix_account_id", "account", ["id"])' in upgrade
    assert body_of(result.path, "downgrade").rstrip().endswith("pass")
    assert '"""create account' in result.source
    assert "# nbmigrate-cell: key=" in result.source
    # the output says the downgrade is empty, and shows the file
    text = str(result)
    html = result._repr_html_()
    assert "downgrade() is empty" in text and "downgrade() is empty" in html
    assert "migrations/versions/" + path.name in html
    assert "<span" in html  # highlighted source
    assert not re.search(r"\d+ ms", html)
    plain = ip.display_formatter.format(result)[0]["text/plain"]
    assert plain.startswith(f"%%revision: {result.revision} create account (on base): created")
    alembic_cli(project, "upgrade", "head")
    assert "account" in tables(sqlite_url(project))


def test_def_cell_with_imports_runs_under_the_cli(ip, project):
    first = revision(ip, '-m "create user"', USER_TABLE)
    assert not first.downgrade_empty
    second = revision(
        ip,
        '-m "add mobile number"',
        '''
        import json
        from sqlalchemy import String

        DEFAULT = json.dumps({"country": "CH"})

        def upgrade():
            # a column and some data
            op.add_column("user", sa.Column("mobile_number", String(20)))
            op.add_column("user", sa.Column("prefs", sa.Text(), server_default=DEFAULT))
            op.execute("""
        UPDATE "user"
           SET mobile_number = '0'
        """)

        def downgrade():
            with op.batch_alter_table("user") as batch:
                batch.drop_column("prefs")
                batch.drop_column("mobile_number")
        ''',
    )
    source = Path(second.path).read_text()
    module_part = source.split("# revision identifiers")[0]
    assert "import json\nfrom sqlalchemy import String" in module_part
    assert 'DEFAULT = json.dumps({"country": "CH"})' in module_part
    assert module_of(second.path)["down_revision"] == first.revision
    upgrade = body_of(second.path, "upgrade")
    assert "    # a column and some data" in upgrade
    # a multi-line string keeps its text exactly
    assert "\nUPDATE \"user\"\n   SET mobile_number = '0'\n\"\"\")" in upgrade
    assert "        batch.drop_column(\"prefs\")" in body_of(second.path, "downgrade")
    # the plain alembic CLI runs the files; nbmigrate on another database gives the same schema
    alembic_cli(project, "upgrade", "head")
    by_cli = tables(sqlite_url(project))
    other = f"sqlite:///{project / 'other.db'}"
    ip.run_line_magic("migrate", f"connect {other}")
    ip.run_line_magic("migrate", "upgrade head")
    assert tables(other) == by_cli
    assert [c[0] for c in by_cli["user"]] == ["id", "first_name", "last_name", "mobile_number", "prefs"]
    alembic_cli(project, "downgrade", "base")


def test_template_imports_in_the_cell_are_not_repeated(ip, project):
    result = revision(
        ip,
        '-m "t"',
        """
        from alembic import op
        import sqlalchemy as sa

        def upgrade():
            op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))
        """,
    )
    assert result.source.count("from alembic import op") == 1
    assert result.source.count("import sqlalchemy as sa") == 1


def test_split_cell():
    code = split_cell("def upgrade(): op.f()\n")
    assert code.upgrade == "    op.f()" and code.downgrade is None and not code.bare
    code = split_cell("import os\n# note\nop.f()\nif os:\n    op.g()\n")
    assert code.imports == "import os"
    assert code.upgrade == "    # note\n    op.f()\n    if os:\n        op.g()"
    assert split_cell("").empty
    assert split_cell("import os\n").empty


def test_rev_id(ip, project):
    result = revision(ip, '-m "first" --rev-id 0001', USER_TABLE)
    assert result.revision == "0001"
    assert Path(result.path).name == "0001_first.py"
    again = revision(ip, '-m "first" --rev-id 0001', USER_TABLE)
    assert again.status == "unchanged" and again.path == result.path
    assert len(versions(project)) == 1


def test_head_on_a_branched_history(ip, project):
    root = revision(ip, '-m "root" --rev-id r0', "op.execute('select 1')")
    revision(ip, '-m "main line" --rev-id r1', "op.execute('select 1')")
    other = revision(ip, '-m "other line" --rev-id o1 --head r0 --splice --branch-label other', "op.execute('select 1')")
    assert module_of(other.path)["down_revision"] == root.revision
    message = refused(ip, project, '-m "next"', "op.execute('select 1')")
    assert "several heads" in message and "r1" in message and "o1" in message and "--head" in message
    nxt = revision(ip, '-m "next" --head other@head', "op.execute('select 1')")
    assert nxt.down_revision == ("o1",)
    # run again: the branch's head is now this cell's revision: recognised, not a new one
    assert revision(ip, '-m "next" --head other@head', "op.execute('select 1')").status == "unchanged"
    main = revision(ip, '-m "next on main" --head r1', "op.execute('select 1')")
    assert main.down_revision == ("r1",)
    assert len(versions(project)) == 5


def test_branch_label(ip, project):
    revision(ip, '-m "root" --rev-id r0', "op.execute('select 1')")
    result = revision(ip, '-m "feature root" --head base --branch-label feature', "op.execute('select 1')")
    assert module_of(result.path)["branch_labels"] == ("feature",)
    assert result.down_revision == ()
    heads = ip.run_line_magic("migrate", "heads")
    assert sorted(heads.heads) == sorted(["r0", result.revision])
    message = refused(ip, project, '-m "again" --head r0 --branch-label feature', "op.execute('select 1')")
    assert "Branch label 'feature' is already used" in message


def test_depends_on(ip, project):
    revision(ip, '-m "a" --rev-id a1', "op.execute('select 1')")
    revision(ip, '-m "b" --rev-id b1 --head base --splice --branch-label b', "op.execute('select 1')")
    result = revision(ip, '-m "c" --head a1 --depends-on b1 --depends-on b', "op.execute('select 1')")
    assert module_of(result.path)["depends_on"] == ["b1", "b"]
    # a dependency is not a parent: shown apart, and the cell re-runs as any other
    info = {r.revision: r for r in ip.run_line_magic("migrate", "history").revisions}[result.revision]
    assert info.down_revisions == ("a1",) and info.depends_on == ("b1",)
    again = revision(ip, '-m "c" --head a1 --depends-on b1 --depends-on b', "op.execute('select 2')")
    assert again.status == "rewritten" and again.revision == result.revision and again.down_revision == ("a1",)
    message = refused(ip, project, '-m "d" --head b1 --depends-on nope', "op.execute('select 1')")
    assert "nope" in message


def test_splice(ip, project):
    revision(ip, '-m "a" --rev-id a1', "op.execute('select 1')")
    revision(ip, '-m "b" --rev-id b1', "op.execute('select 1')")
    message = refused(ip, project, '-m "side" --head a1', "op.execute('select 1')")
    assert "a1 is not a head" in message and "--splice" in message
    side = revision(ip, '-m "side" --head a1 --splice', "op.execute('select 1')")
    assert side.down_revision == ("a1",)
    assert sorted(ip.run_line_magic("migrate", "heads").heads) == sorted(["b1", side.revision])


def test_version_path(ip, project):
    folder = str(project / "migrations" / "versions")
    result = revision(ip, f'-m "in versions" --version-path {folder}', "op.execute('select 1')")
    assert Path(result.path).parent == Path(folder).resolve()
    message = refused(ip, project, f'-m "elsewhere" --version-path {project}', "op.execute('select 1')")
    assert "--version-path must be one of the project's version locations" in message
    assert list(project.glob("*elsewhere*")) == []


# -- refusals ------------------------------------------------------------------------------------


def test_refusals_write_nothing(ip, project):
    revision(ip, '-m "root"', USER_TABLE)
    assert "was never closed) at line 2, column 18" in refused(ip, project, '-m "x"', "def upgrade():\n    op.add_column(\n")
    message = refused(ip, project, '-m "x"', "def upgrade():\n    op.f(]\n")
    assert "The cell is not valid Python" in message and "line 2, column 10" in message and "op.f(]" in message
    assert "The cell has no upgrade" in refused(ip, project, '-m "x"', "\n# nothing yet\n")
    assert "The cell has no upgrade" in refused(ip, project, '-m "x"', "import os\n")
    assert "downgrade() but no upgrade()" in refused(ip, project, '-m "x"', "def downgrade():\n    pass\n")
    assert "A revision needs a message" in refused(ip, project, "", "op.f()")
    assert "A revision needs a message" in refused(ip, project, '-m "  "', "op.f()")
    assert "cannot be a revision id" in refused(ip, project, '-m "x" --rev-id ../evil', "op.f()")
    assert "takes no arguments" in refused(ip, project, '-m "x"', "def upgrade(x):\n    pass\n")
    assert "cannot become a revision file: 'await' outside" in refused(ip, project, '-m "x"', "await op.f()\n")
    assert "docstring" in refused(ip, project, '-m \'say """hi"""\'', "op.f()")
    assert "--sql does not apply" in refused(ip, project, '-m "x" --sql', "op.f()")
    assert "unrecognized arguments: --nope" in refused(ip, project, '-m "x" --nope', "op.f()")
    assert "--metadata names the model for --autogenerate" in refused(ip, project, '-m "x" --metadata md', "op.f()")


def test_id_already_taken(ip, project):
    ip.run_line_magic("migrate", 'revision -m "by hand" --rev-id 0002')
    message = refused(ip, project, '-m "cell" --rev-id 0002', "op.f()")
    assert "Revision id '0002' is already taken by 0002_by_hand.py" in message


def test_several_heads_refused(ip, project):
    ip.run_line_magic("migrate", 'revision -m "a" --rev-id a1')
    ip.run_line_magic("migrate", 'revision -m "b" --rev-id b1 --head base --splice')
    message = refused(ip, project, '-m "c"', "op.f()")
    assert "There are several heads (a1 'a', b1 'b')" in message
    assert "name the parent with --head" in message


def test_message_cannot_leave_the_versions_folder(ip, project):
    result = revision(ip, '-m "../../etc/evil"', "op.f()")
    assert Path(result.path).parent == (project / "migrations" / "versions").resolve()
    assert Path(result.path).name == f"{result.revision}_etc_evil.py"
    assert not (project / "etc").exists()


def test_raiseerr_keeps_the_error(ip, project):
    with pytest.raises(nbmigrate.BadArguments):
        ip.run_cell_magic("revision", '-m "x" --raiseerr', "\n")


def test_help(ip, project):
    result = ip.run_cell_magic("revision", "--help", "\n")
    assert isinstance(result, HelpResult)
    assert "--autogenerate" in result.text and "--apply" in result.text and "--metadata" in result.text


# -- --apply ---------------------------------------------------------------------------------------


def test_apply(ip, project):
    first = revision(ip, '-m "create user" --apply', USER_TABLE)
    assert isinstance(first.apply, MigrationResult)
    assert first.apply.heads_after == (first.revision,)
    assert [s.revision for s in first.apply.steps] == [first.revision]
    assert first.apply.diff.added_tables == ["user"]
    assert any("CREATE TABLE" in s for s in first.apply.sql)
    html = first._repr_html_()
    assert "--apply" in html and "CREATE" in html
    assert "--apply:" in str(first)
    second = revision(
        ip,
        '-m "add mobile" --apply',
        """
        def upgrade():
            op.add_column("user", sa.Column("mobile", sa.String(20)))

        def downgrade():
            op.drop_column("user", "mobile")
        """,
    )
    assert second.apply.diff.added_columns == [("user", "mobile")]
    assert "mobile" in [c[0] for c in tables(sqlite_url(project))["user"]]


def test_apply_failure_keeps_the_file_for_a_rewrite(ip, project):
    revision(ip, '-m "create user" --apply', USER_TABLE)
    outcome = ip.run_cell('%%revision -m "broken" --apply\nop.add_column("nope", sa.Column("x", sa.Integer))\n')
    assert type(outcome.error_in_exec) is UsageError
    assert "fix the cell and run it again" in str(outcome.error_in_exec)
    assert len(versions(project)) == 2
    fixed = revision(ip, '-m "broken" --apply', 'op.create_table("nope", sa.Column("id", sa.Integer, primary_key=True))')
    assert fixed.status == "rewritten"
    assert "nope" in tables(sqlite_url(project))
    assert len(versions(project)) == 2


# -- re-running a cell ----------------------------------------------------------------------------


def test_rerun_unchanged(ip, project):
    first = revision(ip, '-m "create user"', USER_TABLE)
    before = versions(project)
    again = revision(ip, '-m "create user"', USER_TABLE)
    assert again.status == "unchanged"
    assert again.revision == first.revision
    assert versions(project) == before
    assert "unchanged" in str(again) and "unchanged" in again._repr_html_()


def test_rerun_changed_not_applied_rewrites_in_place(ip, project, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # so that stale bytecode could exist
    first = revision(ip, '-m "create user"', USER_TABLE)
    revision(ip, '-m "create user" --apply', USER_TABLE)  # applies the unchanged revision
    second = revision(ip, '-m "add mobile"', 'op.add_column("user", sa.Column("mobile", sa.String(20)))')
    # a change that keeps the file's size: neither the warm revision map nor bytecode may go stale
    rewritten = revision(ip, '-m "add mobile"', 'op.add_column("user", sa.Column("mobile", sa.String(30)))')
    assert rewritten.status == "rewritten"
    assert rewritten.revision == second.revision and rewritten.path == second.path
    assert len(Path(rewritten.path).read_text()) == len(second.source)
    assert len(versions(project)) == 2
    assert "String(30)" in body_of(rewritten.path, "upgrade")
    assert rewritten.down_revision == (first.revision,)
    offline = alembic_cli(project, "upgrade", f"{first.revision}:head", "--sql")
    assert "VARCHAR(30)" in offline.stdout
    ip.run_line_magic("migrate", "upgrade head")
    assert ("mobile", "VARCHAR(30)", True) in tables(sqlite_url(project))["user"]
    assert "rewritten" in str(rewritten)


def test_rerun_changed_and_applied(ip, project):
    revision(ip, '-m "create user" --apply', USER_TABLE)
    changed = USER_TABLE.replace('sa.Column("last_name", sa.String(50), nullable=False),', 'sa.Column("last_name", sa.String(80), nullable=False),\n        sa.Column("address", sa.String(200)),')
    before = versions(project)
    message = refused(ip, project, '-m "create user"', changed)
    assert "already applied to this database" in message and "--apply" in message
    assert versions(project) == before
    result = revision(ip, '-m "create user" --apply', changed)
    assert result.status == "reapplied"
    assert result.downgrade is not None and [s.direction for s in result.downgrade.steps] == ["downgrade"]
    assert result.apply.heads_after == (result.revision,)
    assert "address" in [c[0] for c in tables(sqlite_url(project))["user"]]
    assert len(versions(project)) == 1
    assert "re-applied" in str(result) and "downgrade with the applied code" in result._repr_html_()
    assert revision(ip, '-m "create user"', changed).status == "unchanged"


def test_rerun_applied_below_head_is_refused_even_with_apply(ip, project):
    first = revision(ip, '-m "create user" --apply', USER_TABLE)
    revision(ip, '-m "more" --apply', 'op.add_column("user", sa.Column("x", sa.Integer))')
    message = refused(ip, project, '-m "create user" --apply --head base', USER_TABLE.replace("50", "60"))
    assert f"Downgrade the database to {first.revision} first" in message


def test_cell_id_recognises_the_cell_across_messages_and_restarts(ip, project, monkeypatch):
    class Kernel:
        def __init__(self):
            self.cell = "cell-1"

        def get_parent(self):
            return {"metadata": {"cellId": self.cell}}

    kernel = Kernel()
    monkeypatch.setattr(ip, "kernel", kernel, raising=False)
    first = revision(ip, '-m "add things"', "op.execute('select 1')")
    renamed = revision(ip, '-m "add user table"', USER_TABLE)
    assert renamed.status == "rewritten" and renamed.revision == first.revision
    assert list(versions(project)) == [f"{first.revision}_add_user_table.py"]
    # a restarted kernel (a new project, no record) still knows the cell by the file's marker
    ip.magics_manager.registry["MigrateMagics"].forget_projects()
    assert cellmod.records(ip.magics_manager.registry["MigrateMagics"].project) == {}
    assert revision(ip, '-m "add user table"', USER_TABLE).status == "unchanged"
    kernel.cell = "cell-2"
    other = revision(ip, '-m "add user table"', USER_TABLE.replace('"user"', '"person"'))
    assert other.status == "created" and other.down_revision == (first.revision,)
    records = cellmod.records(ip.find_magic("migrate").__self__.project)
    assert records[("cell", "cell-1")][0] == first.revision
    assert records[("cell", "cell-2")][0] == other.revision


def test_another_cell_naming_a_taken_rev_id_is_refused(ip, project, monkeypatch):
    class Kernel:
        cell = "cell-1"

        def get_parent(self):
            return {"metadata": {"cellId": self.cell}}

    kernel = Kernel()
    monkeypatch.setattr(ip, "kernel", kernel, raising=False)
    first = revision(ip, '-m "left" --rev-id b001 --branch-label left', "op.execute('select 1')")
    assert revision(ip, '-m "left" --rev-id b001 --branch-label left', "op.execute('select 2')").status == "rewritten"
    kernel.cell = "cell-2"
    message = refused(ip, project, '-m "another cell" --rev-id b001', "op.execute('select 3')")
    assert "Revision id 'b001' is already taken by b001_left.py" in message
    assert "select 2" in Path(first.path).read_text()


def test_without_a_cell_id_a_message_names_its_cell_wherever_it_stands(ip, project):
    first = revision(ip, '-m "create a"', 'op.create_table("a", sa.Column("id", sa.Integer))')
    revision(ip, '-m "create b"', 'op.create_table("b", sa.Column("id", sa.Integer))')
    again = revision(ip, '-m "create a"', 'op.create_table("a", sa.Column("id", sa.Integer))')
    assert again.status == "unchanged" and again.revision == first.revision
    changed = revision(ip, '-m "create a"', 'op.create_table("a", sa.Column("id", sa.BigInteger))')
    assert changed.status == "rewritten" and changed.revision == first.revision and changed.down_revision == ()
    assert len(versions(project)) == 2


def test_a_failed_apply_raises_migration_failed(project):
    p = nbmigrate.Project()
    with pytest.raises(nbmigrate.MigrationFailed) as caught:
        p.revision_cell("op.execute('SELECT * FROM no_such_table_nbm')", message="broken", apply=True)
    assert caught.value.report.revision is not None and "no_such_table_nbm" in caught.value.report.error
    assert "The revision file was written" in str(caught.value)
    assert isinstance(caught.value.__cause__, sa.exc.OperationalError)  # what --raiseerr shows


def test_message_key_survives_a_restart(ip, project):
    first = revision(ip, '-m "create user"', USER_TABLE)
    ip.magics_manager.registry["MigrateMagics"].forget_projects()  # a restarted kernel: a new project, no record
    assert cellmod.records(ip.magics_manager.registry["MigrateMagics"].project) == {}
    again = revision(ip, '-m "create user"', USER_TABLE.replace("50", "70"))
    assert again.status == "rewritten" and again.revision == first.revision
    assert len(versions(project)) == 1


# -- --autogenerate ---------------------------------------------------------------------------------


MODELS_V1 = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

class Base(DeclarativeBase):
    pass

class User(Base):
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
"""

MODELS_V2 = """
import sqlalchemy as sa

target_metadata = sa.MetaData()
sa.Table(
    "user", target_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("email", sa.String(100)),
)
"""

MODELS_V3 = """
import sqlalchemy as sa

target_metadata = sa.MetaData()
sa.Table(
    "user", target_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("email", sa.String(100)),
)
"""


def run(ip, code):
    outcome = ip.run_cell(textwrap.dedent(code))
    assert outcome.error_in_exec is None, outcome.error_in_exec


def _autogenerate_history(ip, root: Path, url: str):
    run(ip, MODELS_V1)
    created = revision(ip, '-m "models" --autogenerate --metadata Base.metadata --apply')
    assert created.status == "created" and created.autogenerated
    assert "op.create_table('user'" in created.source
    assert "op.drop_table('user')" in body_of(created.path, "downgrade")
    assert not created.downgrade_empty
    assert created.apply.diff.added_tables == ["user"]
    # unchanged model, applied: recognised as unchanged
    assert revision(ip, '-m "models" --autogenerate --metadata Base.metadata').status == "unchanged"

    run(ip, MODELS_V2)
    added = revision(ip, '-m "add email" --autogenerate --apply')
    assert "add_column" in added.source and "'email'" in added.source
    assert added.apply.diff.added_columns == [("user", "email")]

    run(ip, MODELS_V3)
    altered = revision(ip, '-m "name as text" --autogenerate --apply', "op.execute(\"UPDATE \\\"user\\\" SET name = name\")")
    assert "alter_column" in altered.source
    upgrade = body_of(altered.path, "upgrade")
    assert upgrade.index("alter_column") < upgrade.index("UPDATE")  # operations first, then the cell's code
    name = {c[0]: c[1] for c in tables(url)["user"]}["name"]
    assert name.upper() == "TEXT"
    return created, added, altered


def test_autogenerate_sqlite(ip, project):
    _, added, altered = _autogenerate_history(ip, project, sqlite_url(project))
    assert "batch_alter_table" in added.source  # render_as_batch on SQLite
    assert "batch_alter_table" in altered.source
    # the files run under the CLI to the same schema, in a copy of the project
    by_nbmigrate = tables(sqlite_url(project))
    copy = project / "copy"
    copy.mkdir()
    shutil.copy(project / "alembic.ini", copy / "alembic.ini")
    shutil.copytree(project / "migrations", copy / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    alembic_cli(copy, "upgrade", "head")
    assert tables(sqlite_url(copy)) == by_nbmigrate


@pytest.mark.postgresql
def test_autogenerate_postgresql(ip, tmp_path, monkeypatch, pg_url):
    root = server_project(ip, tmp_path, monkeypatch, pg_url)
    try:
        _, added, _ = _autogenerate_history(ip, root, pg_url)
        assert "batch_alter_table" not in added.source
        assert "op.add_column('user'" in added.source
    finally:
        for name in ("Base", "User", "target_metadata", "DeclarativeBase", "Mapped", "mapped_column"):
            ip.user_ns.pop(name, None)


def test_autogenerate_rerun(ip, project):
    run(ip, MODELS_V2)
    created = revision(ip, '-m "users" --autogenerate')
    # not applied, model unchanged: unchanged; model changed: rewritten
    assert revision(ip, '-m "users" --autogenerate').status == "unchanged"
    run(ip, MODELS_V3)
    rewritten = revision(ip, '-m "users" --autogenerate --apply')
    assert rewritten.status == "rewritten" and rewritten.revision == created.revision
    assert "sa.Text()" in rewritten.source
    # applied: a changed model is refused, or re-applied with --apply
    run(ip, MODELS_V2)
    message = refused(ip, project, '-m "users" --autogenerate')
    assert "The model changed" in message and "--apply" in message
    again = revision(ip, '-m "users" --autogenerate --apply')
    assert again.status == "reapplied"
    assert "sa.String(length=50)" in again.source
    assert {c[0]: c[1] for c in tables(sqlite_url(project))["user"]}["name"] == "VARCHAR(50)"
    assert len(versions(project)) == 1


def test_autogenerate_refusals(ip, project):
    message = refused(ip, project, '-m "x" --autogenerate')
    assert "No MetaData for --autogenerate" in message and "--metadata" in message
    assert "there is no variable 'Nope'" in refused(ip, project, '-m "x" --autogenerate --metadata Nope.metadata')
    run(ip, "answer = 42")
    assert "is a int, not a MetaData" in refused(ip, project, '-m "x" --autogenerate --metadata answer')
    run(ip, "import sqlalchemy as sa\ntarget_metadata = sa.MetaData()")
    assert "found no differences" in refused(ip, project, '-m "x" --autogenerate')
    run(ip, MODELS_V2)
    revision(ip, '-m "users" --autogenerate')  # not applied
    run(ip, MODELS_V3)
    assert "Upgrade it first" in refused(ip, project, '-m "more" --autogenerate')


# -- every database -----------------------------------------------------------------------------------


def test_apply_and_reapply_on_every_database(ip, tmp_path, monkeypatch, db_url):
    if db_url.startswith("sqlite"):
        monkeypatch.chdir(tmp_path)
        ip.run_line_magic("migrate", "init")
        ip.run_line_magic("migrate", f"connect {db_url}")
    else:
        server_project(ip, tmp_path, monkeypatch, db_url)
    first = revision(ip, '-m "create user" --apply', USER_TABLE)
    assert first.apply.diff.added_tables == ["user"]
    changed = USER_TABLE.replace('sa.String(50)),', 'sa.String(50)),\n        sa.Column("address", sa.String(200)),')
    result = revision(ip, '-m "create user" --apply', changed)
    assert result.status == "reapplied"
    assert "address" in [c[0] for c in tables(db_url)["user"]]
    assert len(versions(tmp_path)) == 1


def test_reapply_on_a_branched_database_touches_only_that_revision(ip, project):
    root = revision(ip, '-m "root" --rev-id r0 --apply', USER_TABLE)
    revision(ip, '-m "a" --rev-id aa --apply', 'op.create_table("a", sa.Column("id", sa.Integer, primary_key=True))')
    revision(
        ip,
        '-m "b" --rev-id bb --head r0 --splice --apply',
        """
        def upgrade():
            op.create_table("b", sa.Column("id", sa.Integer, primary_key=True))

        def downgrade():
            op.drop_table("b")
        """,
    )
    assert sorted(ip.run_line_magic("migrate", "current").heads) == ["aa", "bb"]
    changed = """
        def upgrade():
            op.create_table("b2", sa.Column("id", sa.Integer, primary_key=True))

        def downgrade():
            op.drop_table("b2")
        """
    result = revision(ip, '-m "b" --rev-id bb --head r0 --splice --apply', changed)
    assert result.status == "reapplied"
    assert [(s.revision, s.direction) for s in result.downgrade.steps] == [("bb", "downgrade")]
    assert [(s.revision, s.direction) for s in result.apply.steps] == [("bb", "upgrade")]
    assert sorted(result.apply.heads_after) == ["aa", "bb"]
    assert sorted(tables(sqlite_url(project))) == ["a", "b2", "user"]
    assert result.down_revision == (root.revision,)
    # the bare cell's revision has no downgrade: undoing it would leave its table behind, so a
    # re-apply is refused before anything runs
    aa = project / "migrations" / "versions" / "aa_a.py"
    source = aa.read_text()
    with pytest.raises(UsageError, match=r"applied revision aa \(aa_a.py\) has an empty downgrade\(\).*Nothing was written"):
        revision(ip, '-m "a" --rev-id aa --apply', 'op.create_table("a2", sa.Column("id", sa.Integer, primary_key=True))')
    assert aa.read_text() == source
    assert sorted(ip.run_line_magic("migrate", "current").heads) == ["aa", "bb"]
    assert sorted(tables(sqlite_url(project))) == ["a", "b2", "user"]


def test_an_autogenerate_cell_with_only_the_magic_line(ip, project):
    run(ip, MODELS_V2)
    # IPython refuses a cell magic with an empty body; a comment is enough
    outcome = ip.run_cell('%%revision -m "users" --autogenerate\n# from the model\n')
    assert outcome.error_in_exec is None
    assert isinstance(outcome.result, CellResult) and "create_table" in outcome.result.source


def test_resolve_metadata():
    md = sa.MetaData()

    class Base:
        metadata = md

    assert cellmod.resolve_metadata("Base", {"Base": Base}) is md
    assert cellmod.resolve_metadata("Base.metadata", {"Base": Base}) is md
    assert cellmod.resolve_metadata(None, {"target_metadata": [md]}) == [md]
    with pytest.raises(nbmigrate.BadArguments, match="has no attribute 'nope'"):
        cellmod.resolve_metadata("Base.nope", {"Base": Base})
