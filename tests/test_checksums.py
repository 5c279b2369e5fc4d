"""Checksums of applied revision files stay true when the ``alembic`` command line moves the database.

nbmigrate records each applied revision file's SHA-256 in ``nbmigrate_checksums`` and warns when
an applied revision's file has changed since. The real ``alembic`` command line (a subprocess in
the project folder, on the same database) moves the database between nbmigrate's runs:

* a revision the command line un-applied has no checksum left to compare: editing its file is
  no "edited after applied", before or after the command line applies the edited file again;
* a file edited while its revision is still applied still warns;
* nbmigrate's ``env.py`` (the one ``%migrate init`` writes, and the repository's
  ``migrations/env.py``) records and forgets checksums when the command line runs it, so an edit
  after ``alembic upgrade head`` is noticed.

A project made by ``alembic init`` (its own ``env.py``, checksums switched on in the ini) gets the
reconciliation only: what its command line applies has no checksum until nbmigrate applies it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nbmigrate
from support import checksum_rows, revision_source

REPO_ENV = Path(__file__).resolve().parent.parent / "migrations" / "env.py"
REVISIONS = {
    "0001": ('op.create_table("a", sa.Column("id", sa.Integer))', 'op.drop_table("a")'),
    "0002": ('op.create_table("b", sa.Column("id", sa.Integer))', 'op.drop_table("b")'),
}
EDITED = "edited after it was applied"


def make_project(root: Path, url: str, env: str) -> nbmigrate.Project:
    """A project in ``root`` on ``url`` with revisions 0001 and 0002.

    ``env``: ``"nbmigrate"`` (``%migrate init``'s env.py), ``"repo"`` (the repository's
    ``migrations/env.py`` in its place) or ``"alembic"`` (``alembic init``'s, checksums on).
    """
    if env == "alembic":
        alembic("init", "migrations", cwd=root)
    project = nbmigrate.Project(root / "alembic.ini")
    if env != "alembic":
        project.init(str(root / "migrations"))
    if env == "repo":
        shutil.copyfile(REPO_ENV, root / "migrations" / "env.py")
    ini = root / "alembic.ini"
    lines = []
    for line in ini.read_text().splitlines():
        if line.startswith("sqlalchemy.url"):
            line = f"sqlalchemy.url = {url.replace('%', '%%')}"
            if env == "alembic":
                line += "\nnbmigrate.checksums = true"
        lines.append(line)
    ini.write_text("\n".join(lines) + "\n")
    for n, (rev, (up, down)) in enumerate(REVISIONS.items()):
        down_rev = list(REVISIONS)[n - 1] if n else None
        (root / "migrations" / "versions" / f"{rev}_rev.py").write_text(revision_source(rev, down_rev, upgrade=up, downgrade=down))
    return project


def alembic(*args: str, cwd: Path) -> str:
    """Run the real ``alembic`` command line in ``cwd``; fail the test with its output if it fails."""
    done = subprocess.run([sys.executable, "-m", "alembic", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"alembic {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stderr


def revision_file(root: Path, rev: str) -> Path:
    return root / "migrations" / "versions" / f"{rev}_rev.py"


def edit(root: Path, rev: str) -> None:
    path = revision_file(root, rev)
    path.write_text(path.read_text() + "\n# edited\n")


def sha256(root: Path, rev: str) -> str:
    return hashlib.sha256(revision_file(root, rev).read_bytes()).hexdigest()



def edited_warnings(result: nbmigrate.MigrationResult) -> list[str]:
    return [w for w in result.warnings if EDITED in w]


@pytest.fixture
def url(sqlite_or_pg_url: str) -> str:
    return sqlite_or_pg_url


@pytest.mark.parametrize("env", ["nbmigrate", "alembic"])
@pytest.mark.parametrize("down", ["base", "-1"])
def test_a_revision_the_command_line_unapplied_has_no_checksum_to_compare(
    env: str, down: str, url: str, here: Path
) -> None:
    project = make_project(here, url, env)
    project.upgrade("head", schema=False)
    assert checksum_rows(url) == {"0001": sha256(here, "0001"), "0002": sha256(here, "0002")}

    alembic("downgrade", down, cwd=here)
    edit(here, "0002")  # no longer applied: an edit is no "edited after applied"
    result = project.upgrade("0001", schema=False)  # the next nbmigrate run
    assert edited_warnings(result) == []
    assert checksum_rows(url) == {"0001": sha256(here, "0001")}

    alembic("upgrade", "head", cwd=here)  # the edited 0002, applied by the command line
    result = project.upgrade("head", schema=False)
    assert edited_warnings(result) == []
    if env == "alembic":  # its env.py records nothing: 0002 has no checksum
        assert checksum_rows(url) == {"0001": sha256(here, "0001")}
    else:
        assert checksum_rows(url) == {"0001": sha256(here, "0001"), "0002": sha256(here, "0002")}

    edit(here, "0001")  # still applied: this one is an edit after applying
    warned = edited_warnings(project.upgrade("head", schema=False))
    assert len(warned) == 1 and warned[0].startswith("Revision 0001 (migrations/versions/0001_rev.py) was edited")


@pytest.mark.parametrize("env", ["nbmigrate", "repo"])
def test_nbmigrates_env_py_records_checksums_under_the_command_line(env: str, url: str, here: Path) -> None:
    project = make_project(here, url, env)

    alembic("upgrade", "head", cwd=here)
    assert checksum_rows(url) == {"0001": sha256(here, "0001"), "0002": sha256(here, "0002")}
    edit(here, "0002")
    warned = edited_warnings(project.upgrade("head", schema=False))
    assert len(warned) == 1 and warned[0].startswith("Revision 0002 (migrations/versions/0002_rev.py) was edited")

    alembic("downgrade", "-1", cwd=here)  # forgets what it un-applies
    assert checksum_rows(url) == {"0001": sha256(here, "0001")}
    alembic("upgrade", "head", cwd=here)  # records the file as it is now
    assert checksum_rows(url) == {"0001": sha256(here, "0001"), "0002": sha256(here, "0002")}
    assert edited_warnings(project.upgrade("head", schema=False)) == []
    alembic("stamp", "base", cwd=here)  # a stamp, too
    assert checksum_rows(url) == {}
    alembic("stamp", "0001", cwd=here)
    assert checksum_rows(url) == {"0001": sha256(here, "0001")}

    ini = here / "alembic.ini"  # switched off: the command line neither reads nor writes the table
    ini.write_text(ini.read_text().replace("[alembic]\n", "[alembic]\nnbmigrate.checksums = false\n", 1))
    alembic("stamp", "head", cwd=here)
    assert checksum_rows(url) == {"0001": sha256(here, "0001")}
