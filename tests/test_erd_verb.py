"""``%migrate erd`` and the diagram in before/after results, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import nbmigrate
from nbmigrate.erd import ErdResult
from support import database_state, usage_error, write_revision

USER = 'op.create_table("user", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50)))'
ADDRESS = ('op.create_table("address", sa.Column("id", sa.Integer, primary_key=True),\n'
           '    sa.Column("user_id", sa.Integer, sa.ForeignKey("user.id")))')


@pytest.fixture
def project(db_url: str, here: Path) -> Any:
    project = nbmigrate.Project()
    project.init()
    project.connect(db_url)
    write_revision(project, "0001", USER, 'op.drop_table("user")')
    write_revision(project, "0002", ADDRESS, 'op.drop_table("address")')
    yield project
    project.close()


def test_erd_of_the_database_and_at_a_revision(project: Any, db_url: str) -> None:
    project.upgrade("0001")
    now = project.run("erd")
    assert isinstance(now, ErdResult) and [t.name for t in now.diagram.tables] == ["user"] and "<svg" in now.svg
    before = database_state(db_url)
    at = project.run("erd address --at 0002")  # the database is still at 0001: replayed elsewhere
    assert database_state(db_url) == before
    drawn = {t.name: t.stub for t in at.diagram.tables}
    assert drawn == {"address": False, "user": True}  # user: only the column address refers to
    assert [e.describe() for e in at.diagram.edges] == ["address.user_id → user.id"]
    assert "address.user_id → user.id" in str(at)
    with pytest.raises(nbmigrate.BadArguments, match="No table 'nosuch'"):
        project.run("erd nosuch --at 0002")


def test_before_after_results_draw_the_changed_tables(project: Any) -> None:
    project.upgrade("0001")
    result = project.upgrade("head")
    html = result._repr_html_()
    assert "diagram (1 table changed)" in html and "<svg" in html
    assert html.count("<svg") == 1
    unchanged = project.upgrade("head")._repr_html_()  # nothing changed: nothing drawn
    assert "<svg" not in unchanged


def test_the_magic_says_a_bad_revision_in_one_line(shell: Any, here: Path) -> None:
    assert shell.run_cell("%migrate init").error_in_exec is None
    usage_error(shell, "erd --at zzzz", "No such revision or branch 'zzzz'")
