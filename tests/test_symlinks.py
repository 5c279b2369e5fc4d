"""Symlinks and file templates never make nbmigrate write, rewrite or remove a file it should not.

``%migrate revision``, ``%migrate merge`` and ``%%revision`` write a revision file under a name
Alembic computes (``file_template``). Whatever already stands at that name, or wherever that name
leads, the file either lands in a version folder as a new file or nothing is written: a symlink
at that name is refused wherever it points (outside the project, or at another file of the
versions folder), and so is a name outside the version folders. A re-run ``%%revision`` cell
whose file is reached through a symlink neither rewrites nor removes the file the link names.
An undo (a write that failed half-way) removes what the write added to a version folder, a link
and never what it names, and says so when something could not be removed. A ``versions`` folder
that is itself a symlink to a real folder is an ordinary versions folder.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from IPython.core.error import UsageError

from nbmigrate.cell import CellResult
from nbmigrate.results import RevisionFileResult

OLD = 1_500_000_000_000_000_000  # an mtime (ns) no write made now can have


@pytest.fixture
def ip(shell: Any) -> Any:
    return shell


@pytest.fixture
def root(ip: Any, here: Path) -> Any:
    """A fresh ``%migrate init`` project (embedded SQLite) in the working folder."""
    ip.run_line_magic("migrate", "init")
    names = set(ip.user_ns)
    yield here
    for name in set(ip.user_ns) - names:
        ip.user_ns.pop(name, None)


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside the project, holding a file nbmigrate must never touch."""
    folder = tmp_path_factory.mktemp("outside")
    precious = folder / "precious.txt"
    precious.write_text("precious\n")
    os.utime(precious, ns=(OLD, OLD))
    return folder


def versions(root: Path) -> Path:
    return root / "migrations" / "versions"


def listing(folder: Path) -> dict[str, Any]:
    """A folder's entries: a link as its target, a file as its bytes (and mtime), a folder as its listing."""
    if not folder.exists():
        return {}
    seen: dict[str, Any] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name == "__pycache__":
            continue
        if entry.is_symlink():
            seen[entry.name] = ("link", os.readlink(entry))
        elif entry.is_dir():
            seen[entry.name] = ("folder", listing(entry))
        else:
            seen[entry.name] = ("file", entry.read_bytes(), entry.stat().st_mtime_ns)
    return seen


def refused(ip: Any, source: str, *fragments: str) -> str:
    """Run a cell that must be refused with one line that claims no undo."""
    error = ip.run_cell(textwrap.dedent(source)).error_in_exec
    assert type(error) is UsageError, repr(error)
    message = str(error)
    assert "\n" not in message.strip(), message
    assert not re.search(r"\b(removed|undone|deleted)\b", message), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def ran(ip: Any, source: str) -> Any:
    outcome = ip.run_cell(textwrap.dedent(source))
    assert outcome.error_in_exec is None, repr(outcome.error_in_exec)
    return outcome.result


def two_heads(ip: Any) -> None:
    ran(ip, '%migrate revision -m "a" --rev-id a1')
    ran(ip, '%migrate revision -m "b" --rev-id b1 --head base --splice')


# The three ways a revision file gets written, each making revision ``abc`` with message "x".
WRITERS = {
    "revision": '%migrate revision -m "x" --rev-id abc',
    "cell": '%%revision -m "x" --rev-id abc\nop.execute("SELECT 1")\n',
    "merge": '%migrate merge heads -m "x" --rev-id abc',
}


def prepare(ip: Any, writer: str) -> str:
    if writer == "merge":
        two_heads(ip)
    return WRITERS[writer]


# -- (1) a symlink at the new file's name, pointing out of the project ------------------------


@pytest.mark.parametrize("writer", list(WRITERS))
@pytest.mark.parametrize("kind", ["file", "dangling"])
def test_a_symlink_out_of_the_versions_folder_is_never_written_through(
    ip: Any, root: Path, outside: Path, writer: str, kind: str
) -> None:
    line = prepare(ip, writer)
    # A dangling link must not name a .py file: Alembic would try to load it and refuse everything.
    target = outside / ("precious.txt" if kind == "file" else "nothing_yet.txt")
    (versions(root) / "abc_x.py").symlink_to(target)
    before, elsewhere = listing(versions(root)), listing(outside)
    message = refused(ip, line, "abc_x.py", "symlink", str(target), "Nothing was written")
    assert "outside" in message
    assert listing(versions(root)) == before
    assert listing(outside) == elsewhere  # the target untouched (bytes and mtime), nothing created beside it


# -- (2) a symlink to another file inside the versions folder: refused as well -------------------


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_symlink_to_another_file_of_the_versions_folder_is_not_written_through_either(
    ip: Any, root: Path, writer: str
) -> None:
    """Writing through it would rewrite the file it names (notes, or another revision): refused."""
    line = prepare(ip, writer)
    notes = versions(root) / "notes.txt"
    notes.write_text("kept\n")
    os.utime(notes, ns=(OLD, OLD))
    (versions(root) / "abc_x.py").symlink_to("notes.txt")
    before = listing(versions(root))
    message = refused(ip, line, "abc_x.py", "symlink", "Nothing was written")
    assert "inside" in message
    assert listing(versions(root)) == before


def test_a_file_already_at_the_name_is_not_written_over(ip: Any, root: Path) -> None:
    """A file_template without the id gives two revisions one name: the second is refused, the first stays."""
    ini = root / "alembic.ini"
    ini.write_text(ini.read_text().replace("[alembic]\n", "[alembic]\nfile_template = %%(slug)s\n", 1))
    first = ran(ip, '%migrate revision -m "same words" --rev-id r1')
    assert isinstance(first, RevisionFileResult) and Path(first.path).name == "same_words.py"
    before = listing(versions(root))
    refused(ip, '%migrate revision -m "same words" --rev-id r2', "same_words.py", "already exists")
    refused(ip, '%%revision -m "same words" --rev-id r3\nop.execute("SELECT 1")\n', "same_words.py", "already exists")
    assert listing(versions(root)) == before


# -- (3) re-running a cell whose file became a symlink -------------------------------------------


def linked_cell(ip: Any, root: Path, outside: Path, *, apply: bool = False) -> Path:
    """A cell's revision moved out of the project, with a symlink left in its place."""
    flag = " --apply" if apply else ""
    made = ran(
        ip,
        f'%%revision -m "x" --rev-id abc{flag}\n'
        'def upgrade():\n    op.create_table("t", sa.Column("id", sa.Integer))\n\n'
        'def downgrade():\n    op.drop_table("t")\n',
    )
    assert isinstance(made, CellResult) and made.status == "created"
    link = versions(root) / "abc_x.py"
    target = outside / "abc_x.py"
    target.write_bytes(link.read_bytes())
    os.utime(target, ns=(OLD, OLD))
    link.unlink()
    link.symlink_to(target)
    return target


@pytest.mark.parametrize("message", ["x", "y"])
def test_rerunning_a_cell_whose_file_is_a_symlink_out_rewrites_and_removes_nothing(
    ip: Any, root: Path, outside: Path, message: str
) -> None:
    """Same message: Alembic would write through the link; a new one: the old file (the target) would go."""
    linked_cell(ip, root, outside)
    before, elsewhere = listing(versions(root)), listing(outside)
    refused(
        ip,
        f'%%revision -m "{message}" --rev-id abc\nop.create_table("t2", sa.Column("id", sa.Integer))\n',
        "abc_x.py",
        "symlink",
        str(outside / "abc_x.py"),
        "Nothing was written",
    )
    assert listing(versions(root)) == before
    assert listing(outside) == elsewhere


def test_reapplying_a_cell_whose_file_is_a_symlink_out_touches_neither_file_nor_database(
    ip: Any, root: Path, outside: Path
) -> None:
    """Refused before the downgrade with the applied code: the database stays at the revision."""
    linked_cell(ip, root, outside, apply=True)
    before, elsewhere = listing(versions(root)), listing(outside)
    refused(ip, '%%revision -m "x" --rev-id abc --apply\nop.create_table("t2", sa.Column("id", sa.Integer))\n', "symlink")
    assert listing(versions(root)) == before
    assert listing(outside) == elsewhere
    assert ran(ip, "%migrate current").heads == ("abc",)
    engine = sa.create_engine(f"sqlite:///{root / 'migrations.db'}")
    try:
        assert "t" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_rerunning_a_cell_reached_through_a_link_inside_the_versions_folder_keeps_the_linked_file(
    ip: Any, root: Path
) -> None:
    """A new message would remove the old file: the file the link names is never the one removed."""
    made = ran(ip, '%%revision -m "x" --rev-id abc\nop.execute("SELECT 1")\n')
    kept = versions(root) / "kept"
    kept.mkdir()
    link = Path(made.path)
    link.rename(kept / link.name)
    link.symlink_to(Path("kept") / link.name)
    before = listing(versions(root))
    refused(ip, '%%revision -m "y" --rev-id abc\nop.execute("SELECT 2")\n', "abc_x.py", "symlink", "Nothing was written")
    assert listing(versions(root)) == before


# -- (4) a file_template (or a linked folder) that leads out of the versions folder ----------------


@pytest.mark.parametrize("writer", list(WRITERS))
@pytest.mark.parametrize("how", ["template", "linked folder"])
def test_a_name_outside_the_versions_folder_is_refused_before_anything_is_written(
    ip: Any, root: Path, outside: Path, writer: str, how: str
) -> None:
    line = prepare(ip, writer)
    if how == "template":
        template, lands = "../../outside/%%(rev)s", root / "outside"
    else:
        (versions(root) / "shared").symlink_to(outside, target_is_directory=True)
        template, lands = "shared/%%(rev)s", outside
    ini = root / "alembic.ini"
    ini.write_text(ini.read_text().replace("[alembic]\n", f"[alembic]\nfile_template = {template}\n", 1))
    before, there = listing(versions(root)), listing(lands)
    message = refused(ip, line, "outside the project's version locations", "file_template", "Nothing was written")
    assert str(lands / "abc.py") in message
    assert listing(versions(root)) == before
    assert listing(lands) == there  # not even the folder the template names was created
    if how == "template":
        assert not lands.exists()


# -- (5) an undo removes what the write added, never a link's target, and says what it could not --


def with_hooks(root: Path, *hooks: tuple[str, dict[str, str]]) -> None:
    lines = [f"hooks = {', '.join(name for name, _ in hooks)}"]
    for name, options in hooks:
        lines += [f"{name}.{key} = {value}" for key, value in options.items()]
    ini = root / "alembic.ini"
    ini.write_text(ini.read_text().replace("[post_write_hooks]\n", "[post_write_hooks]\n" + "\n".join(lines) + "\n", 1))


def replacing_hook(code: str) -> dict[str, str]:
    """A post-write hook that runs Python on the written file (``sys.argv[1]``)."""
    return {"type": "exec", "executable": sys.executable, "options": f'-c "{code}" REVISION_SCRIPT_FILENAME'}


BROKEN = ("broken", {"type": "no_such_hook_type"})  # fails after the file was written (and swapped)


@pytest.mark.parametrize("writer", ["revision", "cell"])
def test_a_failed_write_removes_the_link_it_left_never_the_file_it_names(
    ip: Any, root: Path, outside: Path, writer: str
) -> None:
    target = outside / "precious.txt"
    with_hooks(root, ("swap", replacing_hook(f"import os, sys; os.remove(sys.argv[1]); os.symlink({str(target)!r}, sys.argv[1])")), BROKEN)
    before, elsewhere = listing(versions(root)), listing(outside)
    error = ip.run_cell(WRITERS[writer]).error_in_exec
    assert type(error) is UsageError and "no_such_hook_type" in str(error), repr(error)
    assert listing(versions(root)) == before  # the link the failed write left is gone
    assert listing(outside) == elsewhere  # and what it named is untouched


def test_a_failed_write_that_cannot_be_undone_says_what_is_left(ip: Any, root: Path) -> None:
    with_hooks(root, ("swap", replacing_hook("import os, sys; os.remove(sys.argv[1]); os.mkdir(sys.argv[1])")), BROKEN)
    error = ip.run_cell(WRITERS["revision"]).error_in_exec
    assert type(error) is UsageError, repr(error)
    message = str(error)
    left = versions(root) / "abc_x.py"
    assert left.is_dir()  # the undo could not remove it ...
    assert "\n" not in message.strip() and "no_such_hook_type" in message
    assert "was not fully undone" in message and "migrations/versions/abc_x.py is still there: remove it" in message


# -- a versions folder that is itself a symlink to a real folder -------------------------------


def test_a_symlinked_versions_folder_is_an_ordinary_versions_folder(ip: Any, root: Path) -> None:
    shared = root / "shared" / "versions"
    shared.parent.mkdir()
    versions(root).rename(shared)
    versions(root).symlink_to(Path("..") / "shared" / "versions", target_is_directory=True)

    ran(ip, '%migrate revision -m "one" --rev-id a1')
    made = ran(ip, '%%revision -m "two" --rev-id b1\nop.create_table("t", sa.Column("id", sa.Integer))\n')
    assert made.status == "created"
    rewritten = ran(ip, '%%revision -m "two again" --rev-id b1\nop.create_table("t", sa.Column("id", sa.Integer))\n')
    assert rewritten.status == "rewritten"
    in_place = ran(ip, '%%revision -m "two again" --rev-id b1\nop.create_table("t2", sa.Column("id", sa.Integer))\n')
    assert in_place.status == "rewritten" and '"t2"' in (shared / "b1_two_again.py").read_text()
    ran(ip, '%migrate revision -m "three" --rev-id c1 --head a1 --splice')
    merged = ran(ip, '%migrate merge heads -m "join" --rev-id m1')
    assert isinstance(merged, RevisionFileResult)
    assert sorted(p.name for p in shared.glob("*.py")) == ["a1_one.py", "b1_two_again.py", "c1_three.py", "m1_join.py"]
    assert versions(root).is_symlink()
    assert ran(ip, "%migrate upgrade heads").heads_after == ("m1",)
