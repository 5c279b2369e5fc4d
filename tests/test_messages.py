"""Messages read as sentences and give advice that fits the mistake (issues 16.7 and 18.7).

A ``-c`` that names no file is told to check that path, not to "pass -c"; a problem that ends in
"(line 3)" still ends its sentence; a failure report on a database that runs DDL in transactions
(SQLite as nbmigrate sets it up, PostgreSQL) never says it runs DDL without them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import nbmigrate
from IPython.core.error import UsageError

from nbmigrate.errors import ConnectionFailed, MigrationFailed, ProjectNotFound
from support import write_revision


def message_of(line: str, shell: Any) -> str:
    """``%migrate line`` must fail with exactly UsageError; its message."""
    from IPython.core.error import UsageError

    error = shell.run_cell(f"%migrate {line}").error_in_exec
    assert type(error) is UsageError, f"{line!r} raised {type(error).__name__}: {error}"
    return str(error)


@pytest.fixture
def ip(shell: Any, here: Path) -> Any:
    magics = shell.magics_manager.registry["MigrateMagics"]
    magics.forget_projects()
    yield shell
    magics.forget_projects()


# -- -c and the config file ---------------------------------------------------------------------


def test_a_c_path_that_names_no_file_is_told_to_check_that_path(ip: Any) -> None:
    message = message_of("-c conf/nosuch.ini current", ip)
    assert message.startswith("No Alembic project at conf/nosuch.ini: no such file")
    assert "Check the path, or run `%migrate init` with the same -c/--config" in message
    assert "pass -c" not in message.lower()


def test_without_c_a_missing_project_still_says_to_run_init(ip: Any) -> None:
    message = message_of("current", ip)
    assert message.startswith("No Alembic project in ") and "Run `%migrate init`" in message


def test_a_c_file_that_is_no_ini_file_is_told_what_to_give_instead(ip: Any, here: Path) -> None:
    (here / "notes.txt").write_text("just notes\n")
    message = message_of("-c notes.txt current", ip)
    assert message.startswith("notes.txt is not an ini file Alembic can read")
    assert "Pass an alembic.ini" not in message and "instead" in message


def test_a_missing_config_from_python_names_the_path(here: Path) -> None:
    with pytest.raises(ProjectNotFound, match=r"No Alembic project at nosuch\.ini: no such file"):
        nbmigrate.Project("nosuch.ini").history()


# -- "Nothing was run." ends a sentence ---------------------------------------------------------


def test_a_problem_ending_in_a_line_number_ends_its_sentence(here: Path) -> None:
    project = nbmigrate.Project()
    project.init("migrations")
    project.revision("one", rev_id="0001")
    Path("migrations/versions/0002.py").write_text("revision = '0002'\ndown_revision = '0001'\nundefined_helper()\n")
    with pytest.raises(nbmigrate.RevisionProblem) as caught:
        project.upgrade("head")
    assert str(caught.value) == (
        "migrations/versions/0002.py does not load: NameError: name 'undefined_helper' is not defined "
        "(line 3). Nothing was run."
    )


# -- what a failure report says about transactions ------------------------------------------------

FAIL = 'op.execute("SELECT * FROM no_such_table")'
CREATE_A = 'op.create_table("a", sa.Column("id", sa.Integer, primary_key=True))'
# The migration's own commit keeps 0001 and the first INSERT; the failure rolls back the rest.
COMMITS_THEN_FAILS = 'op.execute("INSERT INTO a (id) VALUES (1)")\nop.get_bind().commit()\n' + FAIL


def test_a_partial_failure_on_transactional_ddl_does_not_claim_ddl_without_transactions(sqlite_or_pg_url: str) -> None:
    project = nbmigrate.Project()
    project.init("migrations")
    project.connect(sqlite_or_pg_url)
    write_revision(project, "0001", CREATE_A)
    write_revision(project, "0002", COMMITS_THEN_FAILS)
    try:
        with pytest.raises(MigrationFailed) as caught:
            project.upgrade("head")
    finally:
        project.disconnect()
    report = caught.value.report
    assert report.transactional_ddl is True and not report.rolled_back and report.heads_after == ("0001",)
    summary = report.summary()
    assert "without transactions" not in summary
    dialect = report.dialect
    assert (
        f"Not rolled back in full ({dialect} runs DDL in transactions, but what was committed before the "
        "failure stays). Completed revisions: 0001. alembic_version now says: 0001."
    ) in summary
    assert str(caught.value) == summary


# -- a missing driver: what to install, in one line ----------------------------------------------


@pytest.mark.parametrize(
    ("url", "advice"),
    [
        ("postgresql+pg8000://me:drv-Secret-1@localhost/app", '`pip install pg8000`), or use the driver nbmigrate\'s extra brings: `pip install "nbmigrate[postgresql]"` and a postgresql+psycopg:// URL.'),
        ("mysql://me:drv-Secret-1@localhost/app", '`pip install mysqlclient`), or use the driver nbmigrate\'s extra brings: `pip install "nbmigrate[mysql]"` and a mysql+pymysql:// URL.'),
    ],
)
def test_a_missing_driver_says_what_to_install(ip: Any, here: Path, url: str, advice: str) -> None:
    ip.run_line_magic("migrate", "init")
    result = ip.run_cell(f"%migrate connect {url}")
    error = result.error_in_exec
    assert type(error) is UsageError and "\n" not in str(error) and str(error).endswith(advice)
    assert "drv-Secret-1" not in str(error)
    project = nbmigrate.Project()
    with pytest.raises(ConnectionFailed) as refused:
        project.connect(url)
    ini = here / "alembic.ini"
    ini.write_text(re.sub(r"(?m)^sqlalchemy\.url = .*$", f"sqlalchemy.url = {url}", ini.read_text()))
    with pytest.raises(ConnectionFailed) as caught:
        nbmigrate.Project().run("upgrade head")
    for said in (str(refused.value), str(caught.value)):
        assert said.endswith(advice) and "drv-Secret-1" not in said
