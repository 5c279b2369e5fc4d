"""Squash: a chain of revisions becomes one, proved equal on scratch databases, or nothing changes.

The walkthrough is the repository's own ``migrations/`` folder (the classic user table and its
mobile number) with two more revisions on top, on SQLite, PostgreSQL and MariaDB: squashed, the
history gives the same schema at every point that remains, round-trips, and the database already
at head keeps working through the revisions after the squash. Every refusal and every failed
proof must leave the revision files byte for byte as they were.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nbmigrate
from nbmigrate.errors import BadArguments, NbmigrateError
from nbmigrate.timeline.squash import SquashNotProved
from support import database_state, revision_source, usage_error, write_revision

ROOT = Path(__file__).resolve().parent.parent


def squash(project: nbmigrate.Project, rev_range: str, message: str | None = "squashed", **options: Any) -> Any:
    return nbmigrate.commands.squash(project, rev_range, message, **options)


def versions(here: Path) -> dict[str, bytes]:
    """Every file of the versions folder, by name, with its bytes (bytecode aside)."""
    folder = here / "migrations" / "versions"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def walkthrough(here: Path, url: str) -> nbmigrate.Project:
    """The repository's migrations (0001 user, 0002 mobile_number), then 0003 an index, 0004 an address table."""
    shutil.copytree(ROOT / "migrations", here / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "alembic.ini", here / "alembic.ini")
    project = nbmigrate.Project()
    project.connect(url)
    write_revision(project, "0003", 'op.create_index("ix_user_last_name", "user", ["last_name"])', 'op.drop_index("ix_user_last_name", table_name="user")')
    write_revision(
        project, "0004",
        'op.create_table("address", sa.Column("id", sa.Integer, primary_key=True),\n'
        '    sa.Column("user_id", sa.Integer, sa.ForeignKey("user.id"), nullable=False), sa.Column("city", sa.String(100)))',
        'op.drop_table("address")',
    )
    return project


def without_checksums(state: dict[str, Any]) -> dict[str, Any]:
    """The user's tables and version: squash re-records a checksum in nbmigrate's side table, nothing else."""
    return {name: value for name, value in state.items() if name != "nbmigrate_checksums"}


@pytest.fixture
def project(db_url: str, here: Path) -> Iterator[nbmigrate.Project]:
    project = walkthrough(here, db_url)
    yield project
    project.close()


def test_the_walkthrough_squashed_is_proved_equal_and_later_revisions_still_work(project: nbmigrate.Project, db_url: str, here: Path) -> None:
    project.upgrade("head", accept_risk=True)
    before = database_state(db_url)
    at = {rev: project.schema(at=rev).tables for rev in ("0003", "head")}
    old = versions(here)

    result = squash(project, "base:0003", "user table with mobile number and index")
    assert (result.revision, result.down_revision, result.proved) == ("0003", None, True)
    assert result.replaced == ["0001", "0002", "0003"] and result.data_code == []
    now = versions(here)
    new = Path(result.path)
    assert sorted(now) == sorted([new.name, next(n for n in old if n.startswith("0004_"))])
    assert now[next(n for n in now if n.startswith("0004_"))] == old[next(n for n in old if n.startswith("0004_"))]
    assert {Path(p).name for p in result.removed_files} == {n for n in old if not n.startswith("0004_")}
    assert "revision: str = '0003'" in result.source and "down_revision: Union[str, Sequence[str], None] = None" in result.source
    assert "mobile_number" in result.source and "ix_user_last_name" in result.source
    assert str(result).startswith("Squashed 0001, 0002, 0003 into 0003 (down revision base); proved")
    assert "proved" in result._repr_html_()

    # The new history: the same schemas, a clean round trip, the user's database as it was.
    assert {rev: project.schema(at=rev).tables for rev in ("0003", "head")} == at
    assert project.test().ok
    assert without_checksums(database_state(db_url)) == without_checksums(before)
    # The database at head goes down through 0004 and back up: the revision after B still works,
    # and nbmigrate sees no edited file where the squashed one replaced 0003.
    down = project.downgrade("0003")
    assert down.heads_after == ("0003",) and database_state(db_url).get("address") is None
    up = project.upgrade("head", accept_risk=True)
    assert up.heads_after == ("0004",)
    assert not [w for w in down.warnings + up.warnings if "was edited after it was applied" in w]
    assert without_checksums(database_state(db_url)) == without_checksums(before)


def test_a_squash_from_a_revision_keeps_the_revisions_below_and_above(here: Path, sqlite_url: str) -> None:
    project = walkthrough(here, sqlite_url)
    head = project.schema(at="head").tables
    result = squash(project, "0001:0003", "mobile number and index")
    assert (result.revision, result.down_revision, result.replaced) == ("0003", "0001", ["0002", "0003"])
    assert sorted(n[:4] for n in versions(here)) == ["0001", "0003", "0004"]
    assert project.schema(at="head").tables == head
    assert [s.revision for s in project.test().steps] == ["0001", "0003", "0004"]
    assert project.upgrade("head", accept_risk=True).heads_after == ("0004",)
    assert project.downgrade("base").heads_after == ()


def branched(here: Path, url: str) -> nbmigrate.Project:
    """0001, then 0002 and 0003 both after it, merged by 0004; r005 after the merge."""
    project = nbmigrate.Project()
    project.init()
    project.connect(url)
    folder = here / "migrations" / "versions"
    table = 'op.create_table("t{0}", sa.Column("id", sa.Integer, primary_key=True))'
    for rev, down in (("0001", None), ("0002", "0001"), ("0003", "0001"), ("0004", ("0002", "0003")), ("r005", "0004")):
        (folder / f"{rev}.py").write_text(revision_source(rev, down, f"rev {rev}", table.format(rev), f'op.drop_table("t{rev}")'))
    return project


@pytest.mark.parametrize(
    ("rev_range", "fragment"),
    [
        ("base:0004", "squash needs one straight line from base to 0004, and 0002 comes after 0001"),
        ("base:0002", "0001 has a revision after it outside the range (0003)"),
        ("0001:0002", "Only 0002 lies between 0001 and 0002: there is nothing to squash it with"),
        ("0002:0001", "0002 is not below 0001: nothing to squash between them"),
        ("0004", "squash takes a range A:B"),
        ("base:base", "squash runs from one revision (or base) to one revision"),
    ],
)
def test_what_squash_refuses_leaves_every_file_as_it_was(rev_range: str, fragment: str, here: Path, sqlite_url: str) -> None:
    project = branched(here, sqlite_url)
    before = versions(here)
    with pytest.raises(BadArguments) as raised:
        squash(project, rev_range)
    assert fragment in str(raised.value)
    assert versions(here) == before
    assert database_state(sqlite_url) == {}


def test_a_squash_that_would_leave_a_dependency_dangling_is_refused(here: Path, sqlite_url: str) -> None:
    project = walkthrough(here, sqlite_url)
    folder = here / "migrations" / "versions"
    (folder / "r100.py").write_text(revision_source("r100", None, "needs 0002", depends_on="0002", branch_labels=("side",)))
    before = versions(here)
    with pytest.raises(BadArguments, match="r100 depends on 0002 inside the range"):
        squash(project, "base:0003")
    assert versions(here) == before


def labelled(here: Path, url: str) -> nbmigrate.Project:
    """0001, then 0002 starting the branch ``feature``, then 0003 and 0004 on it."""
    project = nbmigrate.Project()
    project.init()
    project.connect(url)
    folder = here / "migrations" / "versions"
    table = 'op.create_table("t{0}", sa.Column("id", sa.Integer, primary_key=True))'
    for rev, down, labels in (("0001", None, None), ("0002", "0001", ("feature",)), ("0003", "0002", None), ("0004", "0003", None)):
        source = revision_source(rev, down, f"rev {rev}", table.format(rev), f'op.drop_table("t{rev}")', branch_labels=labels)
        (folder / f"{rev}.py").write_text(source)
    return project


def test_a_squash_on_a_labelled_branch_leaves_the_label_where_it_is_declared(here: Path, sqlite_url: str) -> None:
    project = labelled(here, sqlite_url)
    result = squash(project, "0002:0004", "t0003 and t0004")  # 0003 and 0004 inherit the label; 0002 declares it
    assert "branch_labels: Union[str, Sequence[str], None] = None" in result.source
    assert project.schema(at="feature@head").tables.keys() == {"t0001", "t0002", "t0003", "t0004"}
    again = squash(project, "0001:0004", "the feature")  # the chain declares it now: the new file does
    assert "branch_labels: Union[str, Sequence[str], None] = ('feature',)" in again.source
    assert project.upgrade("feature@head", accept_risk=True).heads_after == ("0004",)


def test_a_file_alembic_writes_then_refuses_is_removed(here: Path, sqlite_url: str) -> None:
    # A script.py.mako from before branch labels: Alembic writes the new file, then refuses it.
    project = labelled(here, sqlite_url)
    mako = here / "migrations" / "script.py.mako"
    mako.write_text("\n".join(line for line in mako.read_text().splitlines() if not line.startswith("branch_labels")))
    before = versions(here)
    with pytest.raises(NbmigrateError, match="does not have them"):
        squash(project, "0001:0004", "the feature")
    assert versions(here) == before
    assert project.schema(at="head").tables.keys() == {"t0001", "t0002", "t0003", "t0004"}


SEED = 'op.bulk_insert(sa.table("user", sa.column("id"), sa.column("last_name")), [{"id": 1, "last_name": "Lovelace"}])'


def test_data_moving_code_is_refused_unless_accepted_and_then_listed(db_url: str, here: Path) -> None:
    project = walkthrough(here, db_url)
    seeded = next((here / "migrations" / "versions").glob("0003_*.py"))
    seeded.write_text(seeded.read_text().replace('    op.create_index(', f"    {SEED}\n    op.create_index("))
    line = [x.strip() for x in seeded.read_text().splitlines()].index(SEED) + 1
    before = versions(here)
    with pytest.raises(BadArguments) as raised:
        squash(project, "base:0003")
    assert f"The chain moves data, which a squash made from the schema cannot carry: 0003 line {line}: `{SEED}`" in str(raised.value)
    assert "--accept-data-code" in str(raised.value) and versions(here) == before

    result = project.run('squash base:0003 -m "seeded users" --accept-data-code')
    assert result.proved and [(d.revision, d.line, d.code) for d in result.data_code] == [("0003", line, SEED)]
    assert "# TODO carry over by hand, from the squashed revisions:" in result.source
    assert f"# 0003, line {line}: {SEED}" in result.source
    assert f"carry over by hand: 0003 line {line}: {SEED}" in str(result)
    assert project.test().ok  # the squashed history no longer seeds: it round-trips


def test_a_failed_proof_puts_every_file_back_byte_for_byte(pg_url: str, here: Path) -> None:
    # On PostgreSQL a renamed table keeps its sequence's name (accounts_id_seq); a table created
    # with the new name gets account_id_seq, and autogenerate cannot write the old name.
    project = nbmigrate.Project()
    project.init()
    project.connect(pg_url)
    write_revision(project, "0001", 'op.create_table("accounts", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50)))', 'op.drop_table("accounts")')
    write_revision(project, "0002", 'op.rename_table("accounts", "account")', 'op.rename_table("account", "accounts")')
    write_revision(project, "0003", 'op.add_column("account", sa.Column("email", sa.String(100)))', 'op.drop_column("account", "email")')
    project.upgrade("head", accept_risk=True)
    before, state, head = versions(here), database_state(pg_url), project.schema(at="head").tables
    with pytest.raises(SquashNotProved) as raised:
        squash(project, "base:0002")
    assert str(raised.value) == (
        "The squash could not be proved: the schema after the squashed revision (0002) differs from the chain's. "
        "The chain's files were put back; nothing changed."
    )
    [changed] = raised.value.difference.changed_columns
    assert changed == ("account", "id")
    assert versions(here) == before
    assert database_state(pg_url) == state
    assert project.schema(at="head").tables == head and project.test().ok


def test_what_sqlalchemy_cannot_read_is_not_squashed_away(here: Path, sqlite_url: str) -> None:
    # SQLite's expression indexes are skipped by reflection: the new revision would lack one,
    # and the proof, reading the schema the same way, would not see it missing.
    project = walkthrough(here, sqlite_url)
    path = next((here / "migrations" / "versions").glob("0003_*.py"))
    path.write_text(path.read_text().replace('["last_name"]', '[sa.text("lower(last_name)")]'))
    before = versions(here)
    with pytest.raises(SquashNotProved, match=r"SQLAlchemy cannot read all of the schema at 0003 .*expression-based index ix_user_last_name"):
        squash(project, "base:0003")
    assert versions(here) == before
    assert squash(project, "base:0002").proved  # below the index, nothing is lost


@pytest.fixture
def ip(shell: Any, here: Path) -> Iterator[Any]:
    """The shared shell working in ``here``, with no project remembered from other tests."""
    magics = shell.magics_manager.registry["MigrateMagics"]
    magics.forget_projects()
    yield shell
    magics.forget_projects()
    shell.user_ns.pop("_sq", None)


def test_the_magic_squashes_and_says_mistakes_in_one_line(ip: Any, here: Path) -> None:
    walkthrough(here, f"sqlite:///{here / 'migrations.db'}").close()
    usage_error(ip, "squash base:0002", "squash needs a message for the new revision")
    usage_error(ip, "squash 0002 -m x", "squash takes a range A:B")
    assert ip.run_cell('_sq = %migrate squash base:0002 -m "user table"').error_in_exec is None
    assert ip.user_ns["_sq"].replaced == ["0001", "0002"]
    with pytest.raises(BadArguments, match="Only 0002 lies between base and 0002"):  # once is all
        squash(nbmigrate.Project(), "base:0002")
