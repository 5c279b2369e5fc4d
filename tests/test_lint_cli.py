"""``python -m nbmigrate lint``: exit codes, the three formats, and the rule table kept in docs/lint.md.

Each test runs the command as CI would, a subprocess of this environment's Python in the project
folder, with this checkout's nbmigrate first on the path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nbmigrate
from support import write_revision

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("ALEMBIC_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "nbmigrate", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def project(here: Path) -> nbmigrate.Project:
    """A project whose database (its config's SQLite file) has 0001 applied and 0002 (a column dropped) pending."""
    project = nbmigrate.Project()
    project.init()
    write_revision(project, "0001", 'op.create_table("orders", sa.Column("id", sa.BigInteger, primary_key=True), '
                                    'sa.Column("note", sa.String(20)))')
    project.upgrade("head")
    write_revision(project, "0002", 'op.drop_column("orders", "note")')
    return project


def test_exit_codes_and_text(project: nbmigrate.Project, here: Path) -> None:
    failed = cli("lint", cwd=here)
    assert failed.returncode == 1, failed.stderr
    assert "FAILED" in failed.stdout and "NBM108 dropping-column  0002" in failed.stdout
    clean = cli("lint", "base:0001", cwd=here)
    assert clean.returncode == 0 and "\nok" in clean.stdout, clean.stdout + clean.stderr


def test_json_and_github(project: nbmigrate.Project, here: Path) -> None:
    out = cli("lint", "--format", "json", cwd=here)
    data = json.loads(out.stdout)
    assert out.returncode == 1 and data["ok"] is False and data["range"] == "0001:heads"
    (finding,) = data["findings"]
    assert finding["code"] == "NBM108" and finding["path"] == "migrations/versions/0002_rev_0002.py"
    assert finding["lock"] == "database write lock" and finding["rewrites"] and finding["backward_incompatible"]
    github = cli("lint", "--format", "github", cwd=here)
    first = github.stdout.splitlines()[0]
    assert github.returncode == 1
    assert first.startswith(f"::error file=migrations/versions/0002_rev_0002.py,line={finding['line']},title=NBM108 dropping-column::")


def test_usage_errors_exit_2(project: nbmigrate.Project, here: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    bad = cli("lint", "--format", "yaml", cwd=here)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    assert cli("lint", "nope1234", cwd=here).returncode == 2
    elsewhere = tmp_path_factory.mktemp("empty")
    missing = cli("lint", cwd=elsewhere)
    assert missing.returncode == 2 and "No Alembic project" in missing.stderr
    assert cli("nothing", cwd=here).returncode == 2
    assert cli("lint", "--format", "markdown", cwd=here).returncode == 2


def test_config_and_url_options(project: nbmigrate.Project, here: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = tmp_path_factory.mktemp("cwd")
    empty_db = f"sqlite:///{tmp_path_factory.mktemp('db') / 'fresh.db'}"
    out = cli("lint", "-c", str(here / "alembic.ini"), "--url", empty_db, "--format", "json", cwd=other)
    data = json.loads(out.stdout)
    assert [r["revision"] for r in data["revisions"]] == ["0001", "0002"]  # an empty database: everything pending
    assert data["database"].endswith("fresh.db")


def test_rule_table_and_docs(here: Path) -> None:
    text = cli("lint", "--rules", cwd=here)
    assert text.returncode == 0 and "NBM201  error    creating-index-non-concurrently" in text.stdout
    rows = json.loads(cli("lint", "--rules", "--format", "json", cwd=here).stdout)
    assert len(rows) == len(nbmigrate.lint.RULES) and all(r["explanation"] and "http" not in r["explanation"] for r in rows)
    markdown = cli("lint", "--rules", "--format", "markdown", cwd=here).stdout
    assert markdown == (ROOT / "docs" / "lint.md").read_text(), "regenerate docs/lint.md"
