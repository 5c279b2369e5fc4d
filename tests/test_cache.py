"""The warm revision map: reused while the files stay put, and always what a fresh Alembic sees.

Every answer (heads, history, current) is compared with Alembic's own, built from scratch, after
each edit, addition, rename and deletion of a revision file. Files are given later mtimes whole
seconds apart: the cache keys on mtime_ns + size, and Python's bytecode cache on whole seconds.
"""

from __future__ import annotations

import io
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import alembic.command
import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from nbmigrate.errors import RevisionProblem
from nbmigrate import Project
from support import revision_source

_clock = [0]


def write(path: Path, text: str) -> None:
    """Write a file and give it an mtime later than any before (2 s steps)."""
    path.write_text(textwrap.dedent(text))
    st = path.stat()
    _clock[0] = max(_clock[0], st.st_mtime_ns) + 2_000_000_000
    os.utime(path, ns=(_clock[0], _clock[0]))


pytestmark = pytest.mark.usefixtures("here")  # every test works in its own folder


@pytest.fixture
def url(sqlite_or_pg_url: str) -> str:
    return sqlite_or_pg_url


@pytest.fixture
def project(url: str) -> Any:
    project = Project()
    project.init()
    project.connect(url)
    versions = Path("migrations/versions")
    write(versions / "0001_first.py", revision_source("0001", None, "first"))
    write(versions / "0002_second.py", revision_source("0002", "0001", "second"))
    yield project
    project.close()


def fresh(url: str) -> dict[str, Any]:
    """What Alembic itself answers, from nothing: a new Config and ScriptDirectory every time."""
    config = Config("alembic.ini", stdout=io.StringIO())
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["nbmigrate"] = True  # only keeps env.py from reconfiguring the test's logging
    script = ScriptDirectory.from_config(config)
    answer: dict[str, Any] = {
        "heads": sorted(script.get_heads()),
        "history": [(s.revision, tuple(s._normalized_down_revisions), (s.doc or "").strip()) for s in script.walk_revisions()],
    }
    try:
        alembic.command.current(config)
    except Exception as exc:  # noqa: BLE001 - a database at a revision no file defines
        answer["current"] = type(exc).__name__
    else:
        answer["current"] = sorted(line.split()[0] for line in config.stdout.getvalue().splitlines() if line.strip())
    return answer


def ours(project: Project) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "heads": sorted(project.heads().heads),
        "history": [(r.revision, r.down_revisions, r.message) for r in project.history().revisions],
    }
    try:
        answer["current"] = sorted(project.current().heads)
    except RevisionProblem:
        answer["current"] = "CommandError"
    return answer


def same(project: Project, url: str) -> dict[str, Any]:
    expected = fresh(url)
    assert ours(project) == expected
    return expected


def test_answers_equal_a_fresh_alembic_through_edits(project: Project, url: str) -> None:
    versions = Path("migrations/versions")
    assert same(project, url)["heads"] == ["0002"]
    project.upgrade("head")
    assert same(project, url)["current"] == ["0002"]

    write(versions / "0003_third.py", revision_source("0003", "0002", "third"))  # added
    assert same(project, url)["heads"] == ["0003"]

    write(versions / "0003_third.py", revision_source("0003", "0002", "third, reworded"))  # edited
    assert same(project, url)["history"][0] == ("0003", ("0002",), "third, reworded")

    write(versions / "0003_third.py", revision_source("0003", "0001", "third, now a branch"))  # re-parented
    assert same(project, url)["heads"] == ["0002", "0003"]

    write(versions / "0004_merge.py", revision_source("0004", ("0002", "0003"), "merge"))
    assert same(project, url)["heads"] == ["0004"]
    (versions / "0004_merge.py").unlink()  # deleted
    assert same(project, url)["heads"] == ["0002", "0003"]

    (versions / "0003_third.py").rename(versions / "0003_renamed.py")  # renamed
    assert same(project, url)["heads"] == ["0002", "0003"]

    write(versions / "0002_second.py", revision_source("0002", "0001", "second, reworded after applying"))
    assert ("0002", ("0001",), "second, reworded after applying") in same(project, url)["history"]

    project.upgrade("heads")
    assert same(project, url)["current"] == ["0002", "0003"]

    (versions / "0003_renamed.py").unlink()  # applied, then deleted: both say so
    assert same(project, url)["current"] == "CommandError"
    write(versions / "0003_back.py", revision_source("0003", "0001", "restored"))
    assert same(project, url)["current"] == ["0002", "0003"]


def test_the_warm_map_is_reused(project: Project) -> None:
    project.heads()
    loads = project.cache_info().loads
    module = project.script().get_revision("0001").module
    for _ in range(3):
        project.history()
        project.current()
        project.heads()
        project.show("0001")
    project.upgrade("head")
    project.downgrade("base")
    project.upgrade("0001")
    assert project.cache_info().loads == loads  # nothing changed on disk: no re-import

    write(Path("migrations/versions/0002_second.py"), revision_source("0002", "0001", "edited"))
    assert project.history().revisions[0].message == "edited"
    assert project.cache_info().loads == loads + 1
    assert project.script().get_revision("0001").module is module  # unchanged files are not re-imported
    assert project.script().get_revision("0002").module.__doc__ == "edited"

    created = project.revision("third", rev_id="0003")
    assert [r.revision for r in project.heads().revisions] == ["0003"] and Path(created.path).is_file()
    assert project.script().get_revision("0001").module is module

    project.invalidate()
    project.heads()
    assert project.script().get_revision("0001").module is not module  # a cold start imports again


def test_the_warm_map_is_reused_by_the_magic(shell: Any, here: Path) -> None:
    ip = shell
    magics = ip.magics_manager.registry["MigrateMagics"]
    magics.forget_projects()
    try:
        ip.run_line_magic("migrate", "init")
        ip.run_line_magic("migrate", "revision -m first --rev-id 0001")
        project = magics.project
        ip.run_line_magic("migrate", "heads")  # sees the file `revision` just wrote
        loads = project.cache_info().loads
        for line in ("heads", "history", "current", "upgrade head", "show head", "downgrade base", "branches"):
            ip.run_line_magic("migrate", line)
        assert project.cache_info().loads == loads
        ip.run_line_magic("migrate", "revision -m second --rev-id 0002")
        assert ip.run_line_magic("migrate", "heads").heads == ["0002"]
        assert project.cache_info().loads == loads + 1
    finally:
        magics.forget_projects()


def test_config_change_keeps_unchanged_modules(project: Project) -> None:
    project.heads()
    module = project.script().get_revision("0001").module
    with open("alembic.ini", "a") as f:
        f.write("\n# touched\n")
    st = Path("alembic.ini").stat()
    os.utime("alembic.ini", ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    assert project.heads().heads == ["0002"]
    assert project.script().get_revision("0001").module is module


def test_same_second_same_size_edit_is_seen(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's .pyc trusts (whole-second mtime, size): a quick same-size rewrite must not import old code."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    path = Path("migrations/versions/0002_second.py")
    write(path, revision_source("0002", "0001", "version A"))
    assert project.history().revisions[0].message == "version A"
    assert any(Path("migrations/versions/__pycache__").glob("0002_second*.pyc"))
    st = path.stat()
    path.write_text(textwrap.dedent(revision_source("0002", "0001", "version B")))  # same size
    assert path.stat().st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # same second, 1 ns later
    assert project.history().revisions[0].message == "version B"
    assert fresh(str(project.url))["history"][0][2] == "version B"


def test_duplicate_ids_are_problems_until_fixed(project: Project) -> None:
    versions = Path("migrations/versions")
    write(versions / "0002_copy.py", revision_source("0002", "0001", "copy"))
    with pytest.warns(UserWarning, match="Revision id 0002 is defined by 2 files"):
        project.heads()
    assert project.script_problems == [
        "Revision id 0002 is defined by 2 files (0002_copy.py, 0002_second.py): Alembic uses only the last one. "
        "Give each revision its own id."
    ] or project.script_problems == [
        "Revision id 0002 is defined by 2 files (0002_second.py, 0002_copy.py): Alembic uses only the last one. "
        "Give each revision its own id."
    ]
    project.history()
    assert project.script_problems  # still there while the files clash
    (versions / "0002_copy.py").unlink()
    project.heads()
    assert project.script_problems == []


def test_broken_file_then_fixed(project: Project, url: str) -> None:
    path = Path("migrations/versions/0003_broken.py")
    write(path, "revision = '0003'\ndown_revision = '0002'\nboom(\n")
    with pytest.raises(RevisionProblem, match="does not load"):
        project.heads()
    with pytest.raises(RevisionProblem, match="does not load"):
        project.history()  # the error stays until the file is fixed, the map is not half-built
    write(path, revision_source("0003", "0002", "fixed"))
    assert same(project, url)["heads"] == ["0003"]


def test_sqlalchemy_engine_not_rebuilt_per_command(project: Project) -> None:
    project.heads()
    engine = project.engine()
    project.current()
    project.upgrade("head")
    assert project.engine() is engine
    assert isinstance(engine, sa.engine.Engine)


def test_the_kernel_watch_spares_the_stats_and_sees_every_change(project: Project) -> None:
    """On Linux the version folder is watched: a warm command reads no file, and misses no change."""
    import subprocess

    project.heads()
    watched = project.cache_info().change_detection == "inotify"
    assert watched == sys.platform.startswith("linux")
    scans = project.cache_info().scans
    project.heads()
    project.history()
    assert project.cache_info().scans == (scans if watched else scans + 2)
    # a change made by another process, in place, at the same size: seen by the next command
    path = Path("migrations/versions/0002_second.py")
    source = path.read_text().replace('"""second"""', '"""SECOND"""')
    subprocess.run([sys.executable, "-c", f"open({str(path)!r}, 'w').write({source!r})"], check=True)
    assert project.history().revisions[0].message == "SECOND" and project.cache_info().scans > scans
    path.unlink()  # removed
    assert [r.revision for r in project.heads().revisions] == ["0001"]


def test_a_symlinked_revision_file_is_looked_at_every_time(project: Project, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "0003_third.py"
    target.write_text(textwrap.dedent(revision_source("0003", "0002", "third")))
    Path("migrations/versions/0003_third.py").symlink_to(target)
    assert [r.revision for r in project.heads().revisions] == ["0003"]
    assert project.cache_info().change_detection == "stat"  # its changes happen where no watch looks
    write(target, revision_source("0003", "0002", "third, edited where it lives"))
    assert project.history().revisions[0].message == "third, edited where it lives"
