"""nbmigrate and the ``alembic`` command line share projects both ways, unchanged.

* A revision written by ``%migrate revision`` runs under ``alembic upgrade head``, and gives the
  same schema as ``%migrate upgrade head`` on a fresh database.
* A project made by plain ``alembic init`` (its own env.py, URL in alembic.ini) works with
  ``%migrate`` as it is, and the CLI agrees with what nbmigrate did.
* A project made by ``%migrate init`` runs from any working directory and after being moved.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from nbmigrate.results import CurrentResult
from support import revision_source

USER_TABLE = """\
op.create_table(
    "user",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("first_name", sa.String(50)),
    sa.Column("last_name", sa.String(50), nullable=False),
    sa.Column("address", sa.String(200)),
)
op.create_index("ix_user_last_name", "user", ["last_name"])"""
ADD_MOBILE = 'op.add_column("user", sa.Column("mobile_number", sa.String(20), server_default="none"))'


@pytest.fixture
def ip(shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALEMBIC_CONFIG", raising=False)
    magics = shell.magics_manager.registry["MigrateMagics"]
    magics.forget_projects()
    yield shell
    magics.forget_projects()


def migrate(ip: Any, line: str) -> Any:
    return ip.run_line_magic("migrate", line)


def alembic(*args: str, cwd: Path | None = None) -> str:
    """Run the real ``alembic`` command line; fail the test with its stderr if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "alembic", *args], cwd=cwd or Path.cwd(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"alembic {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def set_body(path: str | Path, upgrade: str, downgrade: str) -> None:
    path = Path(path)
    head, up_def, rest = path.read_text().partition("def upgrade()")
    up_part, down_def, down_part = rest.partition("def downgrade()")
    up_part = up_part.replace("    pass\n", textwrap.indent(upgrade, "    ") + "\n", 1)
    down_part = down_part.replace("    pass\n", textwrap.indent(downgrade, "    ") + "\n", 1)
    path.write_text(head + up_def + up_part + down_def + down_part)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def schema(url: str) -> dict[str, Any]:
    """The schema as the inspector sees it (nbmigrate's own bookkeeping tables left out)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        insp = sa.inspect(engine)
        out: dict[str, Any] = {}
        for table in sorted(insp.get_table_names()):
            if table.startswith("nbmigrate_"):
                continue
            out[table] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in insp.get_columns(table)],
                "pk": insp.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(table)),
            }
        if "alembic_version" in out:
            with engine.connect() as conn:
                out["alembic_version"]["rows"] = sorted(r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version")))
        return out
    finally:
        engine.dispose()


def second_database(request: pytest.FixtureRequest, db_url: str, here: Path) -> str:
    kind = sa.make_url(db_url).get_backend_name()
    if kind == "sqlite":
        return f"sqlite:///{here / 'cli.db'}"
    return request.getfixturevalue({"postgresql": "pg_url", "mysql": "mysql_url"}[kind])


def ini_for(url: str, name: str) -> str:
    """A copy of alembic.ini pointing the CLI at ``url`` (same migrations folder)."""
    text = Path("alembic.ini").read_text().replace("sqlite:///%(here)s/migrations.db", url.replace("%", "%%"))
    Path(name).write_text(text)
    return name


def test_revisions_from_migrate_run_under_the_cli(request: pytest.FixtureRequest, db_url: str, ip: Any, tmp_path: Path) -> None:
    kind = sa.make_url(db_url).get_backend_name()
    migrate(ip, "init")
    if kind == "sqlite":
        ours = f"sqlite:///{tmp_path / 'migrations.db'}"
    else:
        ours = db_url
        migrate(ip, f"connect {db_url}")
    first = migrate(ip, 'revision -m "create user" --rev-id 0001')
    set_body(first.path, USER_TABLE, 'op.drop_index("ix_user_last_name", table_name="user")\nop.drop_table("user")')
    second = migrate(ip, 'revision -m "add mobile number"')  # an id Alembic makes up
    set_body(second.path, ADD_MOBILE, 'op.drop_column("user", "mobile_number")')
    result = migrate(ip, "upgrade head")
    assert result.heads_after == (second.revision,)

    theirs = second_database(request, db_url, tmp_path)
    cli_ini = ini_for(theirs, "cli.ini")
    alembic("-c", cli_ini, "upgrade", "head")
    assert schema(ours) == schema(theirs)
    assert set(schema(theirs)) == {"alembic_version", "user"}

    assert f"{second.revision} (head)" in alembic("-c", cli_ini, "current")
    history = alembic("-c", cli_ini, "history")
    assert "0001 -> " + second.revision in history and "<base> -> 0001" in history
    # The CLI reads nbmigrate's database too, and agrees with %migrate.
    ours_ini = ini_for(ours, "ours.ini")
    assert f"{second.revision} (head)" in alembic("-c", ours_ini, "current")
    alembic("-c", cli_ini, "downgrade", "base")
    assert set(schema(theirs)) == {"alembic_version"}
    assert migrate(ip, "downgrade base").heads_after == ()
    assert schema(ours) == schema(theirs)


def test_offline_sql_matches_the_cli(ip: Any, tmp_path: Path) -> None:
    migrate(ip, "init")
    first = migrate(ip, 'revision -m "create user" --rev-id 0001')
    set_body(first.path, USER_TABLE, 'op.drop_table("user")')
    ours = migrate(ip, "upgrade --sql head").sql
    theirs = alembic("upgrade", "head", "--sql")
    strip = lambda sql: [line for line in sql.splitlines() if line.strip() and not line.startswith("INFO")]  # noqa: E731
    assert strip(ours) == strip(theirs)


def test_an_alembic_init_project_works_unchanged(db_url: str, ip: Any, tmp_path: Path) -> None:
    kind = sa.make_url(db_url).get_backend_name()
    alembic("init", "migrations")
    url = f"sqlite:///{tmp_path / 'gen.db'}" if kind == "sqlite" else db_url
    ini = Path("alembic.ini")
    ini.write_text(ini.read_text().replace("driver://user:pass@localhost/dbname", url.replace("%", "%%")))
    env_before = Path("migrations/env.py").read_text()
    ini_before = ini.read_text()

    first = migrate(ip, 'revision -m "create user" --rev-id 0001')
    assert Path(first.path).parent == tmp_path / "migrations" / "versions"
    set_body(first.path, USER_TABLE, 'op.drop_index("ix_user_last_name", table_name="user")\nop.drop_table("user")')
    second = migrate(ip, 'revision -m "add mobile number" --rev-id 0002')
    set_body(second.path, ADD_MOBILE, 'op.drop_column("user", "mobile_number")')

    up = migrate(ip, "upgrade head")
    assert up.heads_after == ("0002",) and up.reached and [s.to_revisions for s in up.steps] == [("0001",), ("0002",)]
    assert "mobile_number" in [c["name"] for c in sa.inspect(sa.create_engine(url, poolclass=sa.pool.NullPool)).get_columns("user")]
    assert [(r.revision, r.state) for r in migrate(ip, "history").revisions] == [("0002", "current"), ("0001", "applied")]
    assert "0002 (head)" in alembic("current")
    assert migrate(ip, "downgrade -1").heads_after == ("0001",)
    assert "0001" in alembic("current")
    alembic("upgrade", "head")
    assert migrate(ip, "current").heads == ("0002",)
    alembic("downgrade", "base")
    assert migrate(ip, "current").heads == ()

    assert Path("migrations/env.py").read_text() == env_before  # nothing edited
    assert ini.read_text() == ini_before


def test_a_migrate_init_project_runs_from_anywhere(ip: Any, tmp_path: Path) -> None:
    migrate(ip, "init")
    first = migrate(ip, 'revision -m "create user" --rev-id 0001')
    set_body(first.path, USER_TABLE, 'op.drop_table("user")')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    alembic("-c", str(tmp_path / "alembic.ini"), "upgrade", "head", cwd=elsewhere)
    assert "user" in schema(f"sqlite:///{tmp_path / 'migrations.db'}")  # the file beside the project
    assert not (elsewhere / "migrations.db").exists()
    assert migrate(ip, "current").heads == ("0001",)

    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.copytree(tmp_path / "migrations", moved / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(tmp_path / "alembic.ini", moved / "alembic.ini")
    alembic("upgrade", "head", cwd=moved)
    assert "user" in schema(f"sqlite:///{moved / 'migrations.db'}")


# -- read-only answers, word for word ----------------------------------------------------------

# Two version folders; a branch point (0001), a merge (0004), a branch label carried down its
# branch, and depends_on across the folders both ways: 0003 needs b001, b002 needs 0002, and b003
# needs 0005, which makes 0005 an "effective head" (nothing revises it, b003 depends on it).
DEPENDS_ON_HISTORY = [
    ("versions", "0001", None, "create base", {}),
    ("versions", "0002", "0001", "main two", {}),
    ("versions", "0003", "0001", "side three", {"branch_labels": ("side",), "depends_on": "b001"}),
    ("versions", "0004", ("0002", "0003"), "merge main and side", {}),
    ("versions", "0005", "0004", "after merge", {}),
    ("other", "b001", None, "other base", {"branch_labels": ("other",)}),
    ("other", "b002", "b001", "other two", {"depends_on": "0002"}),
    ("other", "b003", "b002", "other three", {"depends_on": ("0005",)}),
]
READ_ONLY_LINES = [
    "current",
    "current -v",
    "history",
    "history -v",
    "history -i",
    "history -r 0002:0005",
    "history -r b001:b003",
    "history -v -r :0004",
    "heads",
    "heads -v",
    "heads --resolve-dependencies",
    "branches",
    "branches -v",
    "show 0004",
    "show heads",
    "show side@head",
    "show current",
]
# What the CLI answers from the revision files alone: asked once, compared in every state.
FILES_ONLY = {line for line in READ_ONLY_LINES if "current" not in line and " -i" not in line}
# Alembic prints these from a set (the current revisions, a branch point's next revisions): its
# order changes from one process to the next, so only the lines are compared, not their order.
UNORDERED = {"current", "current -v", "branches", "branches -v"}


def write_depends_on_history(tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text(
        ini.read_text().replace(
            "path_separator = os",
            "path_separator = os\nversion_locations = %(here)s/migrations/versions:%(here)s/migrations/other",
        )
    )
    (tmp_path / "migrations" / "other").mkdir()
    for folder, rev, down, message, options in DEPENDS_ON_HISTORY:
        body = f'op.create_table("t_{rev}", sa.Column("id", sa.Integer, primary_key=True))'
        source = revision_source(rev, down, message, body, f'op.drop_table("t_{rev}")', **options)
        (tmp_path / "migrations" / folder / f"{rev}_{message.replace(' ', '_')}.py").write_text(source)


def branches_into_sorted(text: str) -> str:
    """``text`` with each ``Branches into:`` list sorted: Alembic prints a set there, in any order."""
    rows = text.split("\n")
    for i, row in enumerate(rows):
        if row.startswith("Branches into: "):
            rows[i] = "Branches into: " + ", ".join(sorted(row.removeprefix("Branches into: ").split(", ")))
    return "\n".join(rows)


def assert_same_answer(ours: Any, theirs: str, line: str, state: str) -> None:
    """nbmigrate's result says what the CLI printed: its ``text`` and, below its header, its text form."""
    header, _, body = str(ours).partition("\n")
    where = f"{line} [{state}]"
    assert not ours.warnings, (where, ours.warnings)
    text, body, theirs = branches_into_sorted(ours.text), branches_into_sorted(body), branches_into_sorted(theirs)
    if line in UNORDERED:
        assert sorted(text.splitlines()) == sorted(theirs.splitlines()), where
        assert sorted(body.splitlines()) == sorted(theirs.rstrip().splitlines()), where
    else:
        assert text == theirs, where
        assert body == theirs.rstrip(), where
    assert header.startswith(line.split()[0]) and "state unknown" not in header, (where, header)


def alembic_lines(lines: list[str]) -> dict[str, str]:
    """The CLI's stdout for each line: a process each, a few at a time (each takes about a second)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(lines, pool.map(lambda line: alembic(*line.split()), lines)))


def cli_ids(text: str) -> list[str]:
    """The revision ids in the order the CLI lists them (one line each, or a ``Rev:`` entry each)."""
    ids = []
    for row in text.splitlines():
        if row.startswith("Rev: "):
            ids.append(row.split()[1])
        elif row and not row.startswith((" ", "Parent:", "Merges:", "Also", "Branch", "Path:", "Current revision")):
            ids.append(row.split(" -> ")[-1].split(",")[0].split()[0])
    return ids


def test_read_only_answers_match_the_cli_on_a_depends_on_history(db_url: str, ip: Any, tmp_path: Path) -> None:
    kind = sa.make_url(db_url).get_backend_name()
    migrate(ip, "init")
    url = f"sqlite:///{tmp_path / 'migrations.db'}"
    if kind != "sqlite":  # the CLI and nbmigrate read the same alembic.ini, so the same database
        url = db_url
        ini_for(db_url, "alembic.ini")
    write_depends_on_history(tmp_path)

    states = {
        "base": [],
        # One branch: other@b002 brings 0001 and 0002 along (b002 depends on 0002); the version
        # table holds b002 alone, and `current` also lists 0002, applied through the dependency.
        "one branch": ["upgrade other@b002"],
        # 0005 (an effective head) and b002 in the version table.
        "effective head": ["upgrade 0005"],
        # Everything: the version table holds b003, and `current` lists 0005 too.
        "all": ["upgrade heads"],
    }
    seen_marks = set()
    answers: dict[str, str] = {}
    for state, upgrades in states.items():
        for upgrade in upgrades:
            migrate(ip, upgrade)
        tables = set(schema(url))
        answers.update(alembic_lines([line for line in READ_ONLY_LINES if line not in FILES_ONLY or line not in answers]))
        for line in READ_ONLY_LINES:
            ours, theirs = migrate(ip, line), answers[line]
            assert_same_answer(ours, theirs, line, state)
            listed = cli_ids(theirs)
            if isinstance(ours, CurrentResult):
                assert sorted(r.revision for r in ours.revisions) == sorted(listed), (line, state)
                assert sorted(ours.heads) == schema(url).get("alembic_version", {}).get("rows", []), (line, state)
                assert {r.state for r in ours.revisions} <= {"current", "applied"}
            else:
                if line not in UNORDERED:
                    assert [r.revision for r in ours.revisions] == listed, (line, state)
                if line.startswith("heads"):
                    assert ours.heads == listed, (line, state)
                # A revision is applied exactly when the table its upgrade creates exists.
                for info in ours.revisions:
                    assert (info.state in ("applied", "current")) == (f"t_{info.revision}" in tables), (line, state, info)
            seen_marks |= {mark for mark in ("(effective head)", "(current)", "(mergepoint)", "(branchpoint)") if mark in theirs}
        effective = {r.revision: r.is_effective_head for r in migrate(ip, "history").revisions}
        assert [rev for rev, flag in effective.items() if flag] == ["0005"]
        html = migrate(ip, "history")._repr_html_()
        assert "effective head" in html and "state unknown" not in html
    assert seen_marks == {"(effective head)", "(current)", "(mergepoint)", "(branchpoint)"}
