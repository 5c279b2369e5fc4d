"""Pre-flight (every problem of the files and of alembic_version, at once, nothing run) and the
checksums that notice a revision file edited after it was applied."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import nbmigrate
from support import checksum_rows, revision_source
from nbmigrate.errors import RevisionProblem


def rev_file(
    project: nbmigrate.Project,
    rev: str,
    down: Any,
    body: str = "pass",
    *,
    down_body: str = "pass",
    depends_on: Any = None,
    branch_labels: Any = None,
    name: str | None = None,
) -> Path:
    """Write a revision file by hand (``project.revision`` would refuse a broken graph)."""
    path = project.ini_path.parent / "migrations" / "versions" / f"{name or rev}.py"
    path.write_text(
        revision_source(rev, down, upgrade=body, downgrade=down_body, depends_on=depends_on, branch_labels=branch_labels)
    )
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> nbmigrate.Project:
    monkeypatch.chdir(tmp_path)
    project = nbmigrate.Project()
    project.init("migrations")
    return project


def problems_of(project: nbmigrate.Project, target: str = "head", command: str = "upgrade") -> RevisionProblem:
    with pytest.raises(RevisionProblem) as caught:
        getattr(project, command)(target)
    return caught.value


def database_untouched(project: nbmigrate.Project) -> bool:
    """True when nothing was run: for the default SQLite file, it was not even created."""
    return not (project.ini_path.parent / "migrations.db").exists()


# -- the files ----------------------------------------------------------------------------------


def test_every_file_problem_is_reported_at_once_and_nothing_runs(project: nbmigrate.Project) -> None:
    rev_file(project, "0001", None, 'op.create_table("t", sa.Column("id", sa.Integer))')
    rev_file(project, "0002", "0001", "pass", name="0002_broken").write_text("revision = '0002'\ndef upgrade(:\n")
    rev_file(project, "0003", "0001", name="0003_import").write_text("import no_such_module\nrevision = '0003'\n")
    rev_file(project, "0004", "0009")
    rev_file(project, "0005", "0001", name="0005_a")
    rev_file(project, "0005", "0001", name="0005_b")
    rev_file(project, "0006", "0007")
    rev_file(project, "0007", "0006")
    rev_file(project, "0008", "0001", depends_on="nowhere")

    error = problems_of(project)

    assert list(error.problems) == [
        "migrations/versions/0002_broken.py does not load: SyntaxError: invalid syntax (line 2)",
        "migrations/versions/0003_import.py does not load: ModuleNotFoundError: No module named 'no_such_module' (line 1)",
        "Revision id 0005 is defined by 2 files: migrations/versions/0005_a.py, migrations/versions/0005_b.py.",
        "0004 (migrations/versions/0004.py) revises 0009, which no revision file defines.",
        "0008 (migrations/versions/0008.py) depends on nowhere, which is no revision or branch label.",
        "Revisions 0006, 0007 form a cycle: each comes, through the others, before itself.",
    ]
    text = str(error)
    assert text.startswith("The revision files have 6 problems; nothing was run:\n  - migrations/versions/0002_broken.py")
    assert text.endswith("Fix them and run the command again.")
    assert database_untouched(project)


def test_a_dangling_down_revision_is_a_problem_not_a_key_error(project: nbmigrate.Project) -> None:
    rev_file(project, "0001", None)
    rev_file(project, "0002", "0404")
    error = problems_of(project)
    assert str(error) == (
        "0002 (migrations/versions/0002.py) revises 0404, which no revision file defines. Nothing was run."
    )
    assert database_untouched(project)


def test_a_branch_label_used_twice(project: nbmigrate.Project) -> None:
    rev_file(project, "0001", None, branch_labels="main")
    rev_file(project, "0002", None, branch_labels="main")
    error = problems_of(project, "heads")
    assert error.problems == ("Branch label 'main' of 0002 is already used by 0001.",)


def test_duplicate_ids_block_a_run_even_when_the_map_builds(project: nbmigrate.Project) -> None:
    rev_file(project, "0001", None, name="0001_a")
    rev_file(project, "0001", None, name="0001_b")
    error = problems_of(project)
    assert str(error) == (
        "Revision id 0001 is defined by 2 files (0001_a.py, 0001_b.py): Alembic uses only the last one. "
        "Give each revision its own id. Nothing was run."
    )
    assert database_untouched(project)


@pytest.mark.parametrize(
    ("command", "target", "expected"),
    [
        ("upgrade", "nosuch", "No such revision or branch 'nosuch'. Check `%migrate history`"),
        ("downgrade", "nosuch", "No such revision or branch 'nosuch'. Check `%migrate history`"),
        ("stamp", "nosuch", "No such revision or branch 'nosuch'. Check `%migrate history`"),
        ("upgrade", "head", "'head' is ambiguous: there are several heads"),
    ],
)
def test_a_target_that_does_not_resolve_runs_nothing(project: nbmigrate.Project, command: str, target: str, expected: str) -> None:
    rev_file(project, "0001", None)
    rev_file(project, "0002", "0001")
    rev_file(project, "0003", "0001")
    error = problems_of(project, target, command)
    assert expected in str(error) and str(error).endswith("Nothing was run.")
    assert database_untouched(project)


def test_a_relative_target_resolves_against_the_database(project: nbmigrate.Project) -> None:
    rev_file(project, "0001", None)
    error = problems_of(project, "-1", "downgrade")
    assert "Nothing was run" in str(error)
    assert project.current().heads == ()


def test_preflight_through_the_magic_is_one_usage_error(shell: Any, project: nbmigrate.Project) -> None:
    from IPython.core.error import UsageError

    rev_file(project, "0001", None, name="0001").write_text("revision = '0001'\nboom(\n")
    rev_file(project, "0002", "0404")
    ip = shell
    magics = ip.magics_manager.registry["MigrateMagics"]
    magics.forget_projects()
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("migrate", "upgrade head")
    magics.forget_projects()
    assert type(caught.value) is UsageError
    assert str(caught.value).startswith("The revision files have 2 problems; nothing was run:")
    assert database_untouched(project)


# -- alembic_version ----------------------------------------------------------------------------


def set_versions(url: str, *versions: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM alembic_version"))
        for version in versions:
            conn.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version})
    engine.dispose()


def test_version_rows_that_do_not_match_the_files_are_all_reported(
    db_url: str, project: nbmigrate.Project
) -> None:
    project.connect(db_url)
    rev_file(project, "0001", None)
    rev_file(project, "0002", "0001")
    rev_file(project, "0003", None, branch_labels="other")
    rev_file(project, "0004", "0003", 'op.create_table("t", sa.Column("id", sa.Integer))')
    project.stamp("0001")
    set_versions(db_url, "0001", "0002", "dead")

    error = problems_of(project, "heads")

    assert error.problems == (
        "alembic_version holds dead, which no revision file defines: restore that file, or record "
        "where the database really is with `%migrate stamp --purge REVISION`.",
        "alembic_version holds both 0001 and 0002, which comes after it on the same branch: it should "
        "hold only the last revision of each branch (`%migrate stamp --purge 0002`, if that is where "
        "the database is).",
    )
    assert str(error).startswith("Pre-flight found 2 problems; nothing was run:")
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    assert not sa.inspect(engine).has_table("t")
    engine.dispose()
    # The fix the message suggests works (stamp is the repair tool: it does not check the rows).
    project.stamp("0002", purge=True)
    assert set(project.upgrade("heads").heads_after) == {"0002", "0004"}


# -- checksums ----------------------------------------------------------------------------------



def edited(warnings: list[str]) -> list[str]:
    return [w for w in warnings if "was edited after it was applied" in w]


def test_an_applied_revision_edited_since_gives_a_warning(db_url: str, project: nbmigrate.Project) -> None:
    project.connect(db_url)
    first = rev_file(project, "0001", None, 'op.create_table("t", sa.Column("id", sa.Integer))', down_body='op.drop_table("t")')
    rev_file(project, "0002", "0001")

    result = project.upgrade("head")
    assert result.diff is None or "nbmigrate_checksums" not in str(result.diff)
    rows = checksum_rows(db_url)
    assert rows == {
        "0001": hashlib.sha256(first.read_bytes()).hexdigest(),
        "0002": hashlib.sha256((first.parent / "0002.py").read_bytes()).hexdigest(),
    }
    assert edited(project.upgrade("head").warnings) == []

    # Line endings only: not an edit.
    first.write_bytes(first.read_bytes().replace(b"\n", b"\r\n"))
    assert edited(project.upgrade("head").warnings) == []

    first.write_text(first.read_text().replace('"id"', '"ident"'))
    warnings = edited(project.upgrade("head").warnings)
    assert len(warnings) == 1
    assert warnings[0].startswith("Revision 0001 (migrations/versions/0001.py) was edited after it was applied to this database on ")
    assert warnings[0].endswith("the database holds what the file said then. Undo the edit, or put the change into a new revision.")

    # Down and up again: the row follows the file as it was applied now.
    project.downgrade("base")
    assert checksum_rows(db_url) == {}
    project.upgrade("head")
    assert edited(project.upgrade("head").warnings) == []
    assert checksum_rows(db_url)["0001"] == hashlib.sha256(first.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def test_stamp_records_and_unrecords(sqlite_url: str, project: nbmigrate.Project) -> None:
    project.connect(sqlite_url)
    rev_file(project, "0001", None)
    rev_file(project, "0002", "0001")
    project.stamp("0002")
    assert set(checksum_rows(sqlite_url)) == {"0001", "0002"}
    project.stamp("0001")
    assert set(checksum_rows(sqlite_url)) == {"0001"}


def test_checksums_can_be_turned_off(sqlite_url: str, project: nbmigrate.Project) -> None:
    ini = project.ini_path
    ini.write_text(ini.read_text().replace("[alembic]\n", "[alembic]\nnbmigrate.checksums = false\n", 1))
    project.connect(sqlite_url)
    first = rev_file(project, "0001", None)
    project.upgrade("head")
    assert checksum_rows(sqlite_url) == {}
    first.write_text(first.read_text() + "\n# edited\n")
    assert edited(project.upgrade("head").warnings) == []
    assert checksum_rows(sqlite_url) == {}


@pytest.mark.parametrize("setting", [None, "true"])
def test_an_alembic_init_project_gets_no_checksum_table_unless_asked(
    setting: str | None, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its env.py does not know the table: autogenerate (and `check`) would want to drop it."""
    monkeypatch.chdir(tmp_path)
    project = nbmigrate.Project()
    project.init("alembic", template="generic")
    ini = project.ini_path
    text = ini.read_text().replace("driver://user:pass@localhost/dbname", sqlite_url)
    if setting:
        text = text.replace("[alembic]\n", f"[alembic]\nnbmigrate.checksums = {setting}\n", 1)
    ini.write_text(text)
    rev = Path(project.revision("first", rev_id="0001").path)
    project.upgrade("head")
    assert set(checksum_rows(sqlite_url)) == ({"0001"} if setting else set())
    if not setting:
        env_py = tmp_path / "alembic" / "env.py"
        env_py.write_text(env_py.read_text().replace("target_metadata = None", "import sqlalchemy\ntarget_metadata = sqlalchemy.MetaData()"))
        assert project.check().ok  # nothing of nbmigrate's in the database for autogenerate to drop
    assert rev.is_file()
