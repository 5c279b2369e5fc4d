"""The round-trip check (``%migrate test``): every step up, down and up again on a scratch database.

Planted mistakes must fail at the revision that has them (a downgrade that forgets an index,
one that drops the wrong column, an upgrade whose SQL fails half-way, seeded rows left behind,
two heads, models that do not match); the histories the tutorials build, and the repository's
own ``migrations/`` folder, must pass. The user's database is read before and after: untouched.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import sqlalchemy as sa

import nbmigrate
from nbmigrate.errors import BadArguments
from support import database_state, revision_source, usage_error, write_revision

ROOT = Path(__file__).resolve().parent.parent

ACCOUNT = (
    'op.create_table("account", sa.Column("id", sa.Integer, primary_key=True),\n'
    '    sa.Column("name", sa.String(50), nullable=False), sa.Column("email", sa.String(100)))'
)


def history(here: Path, url: str, upgrade: str, downgrade: str) -> tuple[nbmigrate.Project, Path]:
    """0001 creates ``account``; 0002 holds the code under test; 0003 adds a table after it."""
    project = nbmigrate.Project()
    project.init()
    project.connect(url)
    write_revision(project, "0001", ACCOUNT, 'op.drop_table("account")')
    path = write_revision(project, "0002", upgrade, downgrade)
    write_revision(project, "0003", 'op.create_table("note", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("note")')
    return project, path


def line_of(path: Path, code: str) -> int:
    """The line number of ``code`` in the file (its first occurrence, after indentation)."""
    return [line.strip() for line in path.read_text().splitlines()].index(code) + 1


def test_a_good_history_passes_and_the_database_is_untouched(db_url: str, here: Path) -> None:
    project, _ = history(
        here, db_url,
        'op.add_column("account", sa.Column("mobile", sa.String(20)))\nop.create_index("ix_account_name", "account", ["name"])',
        'op.drop_index("ix_account_name", table_name="account")\nop.drop_column("account", "mobile")',
    )
    project.upgrade("0001")
    before = database_state(db_url)
    result = project.test()
    assert result.ok and bool(result)
    assert [s.revision for s in result.steps] == ["0001", "0002", "0003"]
    assert [(c.name, c.ok) for c in result.checks] == [("the revision graph loads (no depends_on cycle)", True), ("a single head", True)]
    assert result.dialect == sa.make_url(db_url).get_backend_name()
    assert str(result).startswith("Round trip passed: 3/3 steps")
    assert database_state(db_url) == before


def test_a_downgrade_that_forgets_an_index_fails_at_its_revision(db_url: str, here: Path) -> None:
    project, path = history(
        here, db_url,
        'op.create_index("ix_account_name", "account", ["name"])',
        "pass  # the index stays",
    )
    result = project.test()
    assert not result.ok
    [failed] = result.failures
    assert (failed.revision, failed.path, failed.line) == ("0002", str(path), line_of(path, "def downgrade() -> None:"))
    assert failed.problem == "downgrade() did not give back the schema before the revision"
    assert [i.name for i in failed.diff.table("account").added_indexes] == ["ix_account_name"]
    # The steps stop there: 0003 would start from a wrong schema.
    assert [s.revision for s in result.steps] == ["0001", "0002"]
    text = str(result)
    assert "FAIL 0002 rev 0002  downgrade() did not give back" in text and f"{path.name}:{failed.line}" in text
    assert "+ index ix_account_name (name)" in text
    assert "ix_account_name" in result._repr_html_()
    assert database_state(db_url) == {}


def test_a_downgrade_that_drops_the_wrong_column_fails(db_url: str, here: Path) -> None:
    project, path = history(
        here, db_url,
        'op.add_column("account", sa.Column("mobile", sa.String(20)))',
        'with op.batch_alter_table("account") as batch:\n    batch.drop_column("email")',
    )
    [failed] = project.test().failures
    assert failed.revision == "0002" and failed.problem.startswith("downgrade() did not give back")
    assert failed.diff.added_columns == [("account", "mobile")]
    assert failed.diff.removed_columns == [("account", "email")]


def test_an_upgrade_failing_half_way_is_reported_at_its_file_and_line(db_url: str, here: Path) -> None:
    project, path = history(
        here, db_url,
        'op.add_column("account", sa.Column("mobile", sa.String(20)))\nop.execute("UPDATE no_such_table SET x = 1")',
        'op.drop_column("account", "mobile")',
    )
    result = project.test()
    [failed] = result.failures
    assert (failed.revision, failed.path) == ("0002", str(path))
    assert failed.line == line_of(path, 'op.execute("UPDATE no_such_table SET x = 1")')
    assert failed.problem.startswith("upgrade() failed: ") and "no_such_table" in failed.problem
    assert [s.revision for s in result.steps] == ["0001", "0002"]
    assert f"{path.name}:{failed.line}" in str(result)
    assert database_state(db_url) == {}


SEED = 'op.bulk_insert(sa.table("account", sa.column("id"), sa.column("name")), [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Alan"}])'


def test_seeded_rows_must_leave_with_the_downgrade(db_url: str, here: Path) -> None:
    project, path = history(here, db_url, SEED, 'op.execute("DELETE FROM account WHERE id IN (1, 2)")')
    assert project.test().ok
    path.write_text(path.read_text().replace('op.execute("DELETE FROM account WHERE id IN (1, 2)")', "pass"))
    [failed] = project.test().failures
    assert failed.revision == "0002"
    assert failed.problem == (
        "downgrade() did not give back the schema before the revision "
        "(account has 2 rows, not 0: rows a revision adds must leave with its downgrade)"
    )


def test_two_heads_fail_the_single_head_check(here: Path, sqlite_url: str) -> None:
    project, _ = history(here, sqlite_url, "pass", "pass")
    versions = here / "migrations" / "versions"
    (versions / "0004_side.py").write_text(revision_source("0004", "0001", "side branch", 'op.create_table("side", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("side")'))
    result = project.test()
    assert not result.ok and result.failures == []  # every step passes; the history has two heads
    heads = [c for c in result.checks if c.name == "a single head"]
    assert [(c.ok, c.detail) for c in heads] == [(False, '2 heads: 0003, 0004; merge them with `%migrate merge heads -m "merge"`, '
                                                   "or give each independent branch a label of its own (--branch-label)")]
    assert sorted(s.revision for s in result.steps) == ["0001", "0002", "0003", "0004"]
    project.merge("heads", message="merge")
    assert project.test().ok


def test_a_range_checks_only_its_revisions(here: Path, sqlite_url: str) -> None:
    # 0001 forgets to drop its table; a range starting after it applies 0001 unchecked.
    project, _ = history(here, sqlite_url, 'op.add_column("account", sa.Column("mobile", sa.String(20)))', 'op.drop_column("account", "mobile")')
    first = next((here / "migrations" / "versions").glob("0001_*.py"))
    first.write_text(first.read_text().replace('op.drop_table("account")', "pass"))
    assert [f.revision for f in project.test().failures] == ["0001"]
    assert project.test("base:0001").failures[0].revision == "0001"
    later = project.test("0001:")
    assert later.ok and later.rev_range == "0001:" and [s.revision for s in later.steps] == ["0002", "0003"]
    middle = project.run("test 0001:0002")
    assert middle.ok and [s.revision for s in middle.steps] == ["0002"]
    with pytest.raises(BadArguments, match=r"A range is \[start\]:\[end\]"):
        project.test("0002")


MODELS = """
import sqlalchemy as sa
metadata = sa.MetaData()
sa.Table(
    "account", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("email", sa.String(100)),
    sa.Column("mobile", sa.String(20)),
)
sa.Table("note", metadata, sa.Column("id", sa.Integer, primary_key=True))
"""


def models(extra: str = "") -> sa.MetaData:
    namespace: dict[str, Any] = {}
    exec(MODELS.replace('    sa.Column("mobile", sa.String(20)),\n', f'    sa.Column("mobile", sa.String(20)),\n{extra}'), namespace)
    return namespace["metadata"]


def test_models_that_match_pass_and_models_that_differ_fail(db_url: str, here: Path) -> None:
    project, _ = history(here, db_url, 'op.add_column("account", sa.Column("mobile", sa.String(20)))', 'op.drop_column("account", "mobile")')
    matching = project.test(metadata=models())
    assert matching.ok and matching.checks[-1].name == "the models match the schema at the end"
    differing = project.test(metadata=models('    sa.Column("city", sa.String(80)),\n'))
    assert not differing.ok and differing.failures == []
    [check] = [c for c in differing.checks if not c.ok]
    assert check.name == "the models match the schema at the end" and "city" in check.detail
    assert database_state(db_url) == {}


# -- the tutorials' histories ------------------------------------------------------------------


def test_the_repository_migrations_folder_passes(db_url: str, here: Path) -> None:
    shutil.copytree(ROOT / "migrations", here / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "alembic.ini", here / "alembic.ini")
    project = nbmigrate.Project()
    project.connect(db_url)
    result = project.test()
    assert result.ok, str(result)
    assert [s.revision for s in result.steps] == ["0001", "0002"]
    assert database_state(db_url) == {}


@pytest.fixture
def ip(shell: Any, here: Path) -> Iterator[Any]:
    """The shared shell working in ``here``, with no project remembered from other tests."""
    magics = shell.magics_manager.registry["MigrateMagics"]
    magics.forget_projects()
    before = set(shell.user_ns)
    yield shell
    magics.forget_projects()
    for name in set(shell.user_ns) - before:
        shell.user_ns.pop(name, None)


# The cells that build a tutorial's history: its %%revision cells, the %migrate lines that move the
# database (a re-run %%revision cell depends on what is applied), and the models autogenerate reads.
BUILDS = re.compile(r"^(%%revision|%migrate (init|merge|upgrade|downgrade)\b(?!.*--(preview|sql)))")


def rebuild(ip: Any, notebook: Path) -> list[str]:
    """Run the cells of ``notebook`` that build its history, in order; the revision ids it names."""
    ids = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        source = cell.source
        if cell.cell_type != "code" or not (BUILDS.match(source) or "(DeclarativeBase)" in source):
            continue
        result = ip.run_cell(source, silent=True)
        # The tutorials show some upgrades failing (a unique index over duplicates); the rest must run.
        assert result.error_in_exec is None or source.startswith("%migrate upgrade"), f"{source.splitlines()[0]}: {result.error_in_exec}"
        ids += re.findall(r"--rev-id (\w+)", source.splitlines()[0])
    return sorted(set(ids))


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_the_tutorial_histories_pass(name: str, ip: Any, here: Path) -> None:
    ids = rebuild(ip, ROOT / "notebooks" / name)
    assert len(ids) >= 2
    project = nbmigrate.Project()
    url = f"sqlite:///{here / 'migrations.db'}"
    before = database_state(url)
    result = project.test()
    assert set(ids) <= {s.revision for s in result.steps}
    assert database_state(url) == before
    assert result.ok, str(result)
    if name.startswith("05_"):
        # Its 0002 deletes duplicate accounts 0001 seeded: no downgrade brings them back, and the step says so.
        [step] = [s for s in result.steps if s.revision == "0002"]
        assert "account has 2 rows, not 3" in step.note and "no downgrade undoes" in step.note


def test_the_magic_runs_the_check_and_reads_metadata_from_the_kernel(ip: Any, here: Path) -> None:
    assert ip.run_cell("%migrate init").error_in_exec is None
    project = nbmigrate.Project()
    write_revision(project, "0001", ACCOUNT, 'op.drop_table("account")')
    write_revision(project, "0002", 'op.add_column("account", sa.Column("mobile", sa.String(20)))', 'op.drop_column("account", "mobile")')
    write_revision(project, "0003", 'op.create_table("note", sa.Column("id", sa.Integer, primary_key=True))', 'op.drop_table("note")')
    ip.user_ns["Base"] = type("Base", (), {"metadata": models()})
    ran = ip.run_cell("_rt = %migrate test --metadata Base.metadata")
    assert ran.error_in_exec is None and ip.user_ns["_rt"].ok
    assert ip.user_ns["_rt"].checks[-1].name == "the models match the schema at the end"
    usage_error(ip, "test --metadata Nothing.metadata", "there is no variable 'Nothing'")
    usage_error(ip, "test 0001", "A range is [start]:[end]")


def test_the_command_line_runs_the_check_with_an_exit_code(here: Path, sqlite_url: str) -> None:
    import json
    import subprocess
    import sys

    project = nbmigrate.Project()
    project.init()
    write_revision(project, "0001", ACCOUNT, 'op.drop_table("account")')
    path = write_revision(project, "0002", 'op.create_index("ix_account_name", "account", ["name"])', "pass")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "nbmigrate", "test", *args], capture_output=True, text=True, cwd=here)

    failed = run("--format", "json")
    report = json.loads(failed.stdout)
    assert failed.returncode == 1 and not report["ok"]
    assert [(s["revision"], s["ok"]) for s in report["steps"]] == [("0001", True), ("0002", False)]
    path.write_text(path.read_text().replace('    """Downgrade schema."""\n    pass', '    """Downgrade schema."""\n    op.drop_index("ix_account_name", "account")'))
    passed = run()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.startswith("Round trip passed: 2/2 steps")
    usage = run("--metadata", "no_such_module:Base.metadata")
    assert usage.returncode == 2 and "cannot import no_such_module" in usage.stderr


def test_a_column_dropped_and_added_back_passes_whatever_its_place(here: Path, sqlite_url: str) -> None:
    # ADD COLUMN can only append: the column comes back last, and the schema is the same.
    project = nbmigrate.Project()
    project.init()
    project.connect(sqlite_url)
    write_revision(project, "0001", 'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True), sa.Column("a", sa.Text), sa.Column("b", sa.Text))',
                   'op.drop_table("t")')
    write_revision(project, "0002", 'op.drop_column("t", "a")', 'op.add_column("t", sa.Column("a", sa.Text))')
    result = project.test()
    assert result.ok, str(result)
