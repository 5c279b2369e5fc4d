"""Read-only commands on a database that cannot be read: the state is unknown, never "at base".

``history``, ``heads`` and ``show`` still answer from the revision files, but each revision's
state is "unknown" (in the text, the HTML and the data) and one line says why. The placeholder
URL ``alembic init`` writes is named as such, with how to set a real one.
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
import sqlalchemy as sa

import nbmigrate
from nbmigrate.errors import ConnectionFailed
from support import write_revision

# Each command, and Alembic's own line for revision 0001 in it (the CLI's words).
READ_ONLY = {"history": "<base> -> 0001 (head), rev 0001\n", "heads": "0001 (head)\n", "show head": "Rev: 0001 (head)\n"}


def project_with_url(here: Path, url: str, template: str = "nbmigrate") -> nbmigrate.Project:
    """A project with revision 0001 whose alembic.ini names ``url`` as its database."""
    project = nbmigrate.Project()
    project.init("migrations", template=template)
    write_revision(project, "0001", "pass")
    ini = here / "alembic.ini"
    text = ini.read_text()
    if template == "nbmigrate":
        text = text.replace("sqlite:///%(here)s/migrations.db", url.replace("%", "%%"))
    ini.write_text(text)
    return nbmigrate.Project()  # a new kernel's view of the edited config


def assert_state_unknown(project: nbmigrate.Project, *reason: str) -> list[str]:
    """Each read-only result says "state unknown" with its reason in one line; returns the warnings."""
    said = []
    for line, alembic_says in READ_ONLY.items():
        result = project.run(line)
        text = str(result)
        html = unescape(re.sub(r"<style>.*?</style>", "", result._repr_html_(), flags=re.S))
        assert [info.revision for info in result.revisions] == ["0001"], line
        assert [info.state for info in result.revisions] == ["unknown"], line
        assert result.current is None, line
        # The files still answer: Alembic's own line for the revision, as the CLI prints it.
        assert result.text.startswith(alembic_says), (line, result.text)
        assert "state unknown" in text.splitlines()[0], (line, text)
        assert "at base" not in text and "pending" not in text, (line, text)
        assert "state unknown" in html and "at base" not in html and "pending" not in html, line
        assert len(result.warnings) == 1 and "\n" not in result.warnings[0], (line, result.warnings)
        for words in reason:
            assert words in result.warnings[0], (line, result.warnings)
            assert words in text and words in html, line
        said.append(result.warnings[0])
    return said


def test_sqlite_file_that_cannot_be_opened(here: Path) -> None:
    (here / "a_folder.db").mkdir()  # a folder where the database file should be
    project = project_with_url(here, f"sqlite:///{here / 'a_folder.db'}")
    assert_state_unknown(project, "Cannot connect to the database", "unable to open database file")


def test_server_that_refuses(here: Path) -> None:
    project = project_with_url(here, "postgresql+psycopg://nobody@127.0.0.1:9/none")
    assert_state_unknown(project, "Cannot connect to the database")


def test_server_database_that_does_not_exist(here: Path, server_url: str) -> None:
    missing = sa.make_url(server_url)
    missing = missing.set(database=f"{missing.database}_missing").render_as_string(hide_password=False)
    project = project_with_url(here, missing)
    words = "does not exist" if missing.startswith("postgresql") else "Unknown database"
    assert_state_unknown(project, "Cannot connect to the database", words)


def test_alembic_init_placeholder_url(here: Path) -> None:
    project = project_with_url(here, "", template="generic")
    assert "driver://user:pass@localhost/dbname" in (here / "alembic.ini").read_text()
    for said in assert_state_unknown(project, "placeholder", "%migrate connect"):
        assert "pass@" not in said and "pip install" not in said
    # Commands that need the database refuse in one line with the same hint.
    for call in (project.current, lambda: project.upgrade("head")):
        with pytest.raises(ConnectionFailed) as caught:
            call()
        message = str(caught.value)
        assert "placeholder" in message and "%migrate connect" in message and "\n" not in message
        assert "pass@" not in message and "pip install" not in message
