"""``upgrade/downgrade --preview``: run in a transaction, show everything, roll back, prove it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from IPython.core.error import UsageError

import nbmigrate

CREATE = '''
    op.create_table("item", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(40)))
    op.execute("INSERT INTO item (id, name) VALUES (1, 'a'), (2, 'b')")
'''
ADD = '''
    op.add_column("item", sa.Column("price", sa.Integer, server_default="0", nullable=False))
'''


def _write(project: nbmigrate.Project, rev_id: str, message: str, upgrade: str, downgrade: str = "    pass") -> Path:
    path = Path(project.revision(message, rev_id=rev_id).path)
    text = path.read_text()
    text = text.replace('    """Upgrade schema."""\n    pass', '    """Upgrade schema."""\n' + upgrade.strip("\n"))
    text = text.replace('    """Downgrade schema."""\n    pass', '    """Downgrade schema."""\n' + downgrade.strip("\n"))
    path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path, monkeypatch) -> nbmigrate.Project:
    monkeypatch.chdir(tmp_path)
    p = nbmigrate.Project()
    p.init("migrations")
    _write(p, "0001", "create item", CREATE, '    op.drop_table("item")')
    _write(p, "0002", "add price", ADD, '    with op.batch_alter_table("item") as b:\n        b.drop_column("price")')
    return p


def _state(url: str) -> tuple[tuple[str, ...], dict[str, list[str]], int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            tables = {t: sorted(c["name"] for c in insp.get_columns(t)) for t in insp.get_table_names()}
            heads = ()
            if "alembic_version" in tables:
                heads = tuple(r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version")))
            rows = conn.execute(sa.text("SELECT COUNT(*) FROM item")).scalar() if "item" in tables else -1
        return heads, tables, rows
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def test_preview_shows_everything_and_leaves_the_database_untouched(project, kind, request):
    url = f"sqlite:///{Path('migrations.db').resolve()}" if kind == "sqlite" else request.getfixturevalue("pg_url")
    project.connect(url)
    project.upgrade("0001")
    before = _state(url)

    result = project.upgrade("head", preview=True)

    assert result.preview is True
    assert [s.revision for s in result.steps] == ["0002"]
    assert any("price" in s for s in result.steps[0].sql)
    assert result.heads_before == ("0001",) and result.heads_after == ("0002",)
    assert result.diff.added_columns == [("item", "price")]
    assert result.after.tables["item"].row_count == 2
    assert result.note.startswith("Rolled back and checked: the database is still at 0001")
    assert _state(url) == before  # the proof, read independently of nbmigrate
    assert "Preview of upgrade head" in str(result) and "would move 0001 → 0002" in str(result)
    assert "Rolled back and checked" in result._repr_html_()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def test_preview_at_head_says_there_is_nothing_to_do(project, kind, request):
    url = f"sqlite:///{Path('migrations.db').resolve()}" if kind == "sqlite" else request.getfixturevalue("pg_url")
    project.connect(url)
    project.upgrade("head")
    before = _state(url)

    result = project.upgrade("head", preview=True)

    assert result.steps == [] and result.heads_before == result.heads_after == ("0002",)
    text, html = str(result), result._repr_html_()
    # the words `upgrade head` itself uses when the database is at head, and no move
    assert "nothing to do: the database is already there" in str(project.upgrade("head"))
    assert "\n  nothing to do: the database is already there\n" in text
    assert "<div>Nothing to do: the database is already there.</div>" in html
    assert "would move" not in text and "would move" not in html
    assert _state(url) == before


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def test_downgrade_preview_counts_the_data_it_would_lose(project, kind, request):
    url = f"sqlite:///{Path('migrations.db').resolve()}" if kind == "sqlite" else request.getfixturevalue("pg_url")
    project.connect(url)
    project.upgrade("head")
    before = _state(url)

    result = project.downgrade("base", preview=True)

    assert [s.revision for s in result.steps] == ["0002", "0001"]
    assert result.diff.removed_tables == ["item"]
    assert any("item" in note and "2 rows" in note for note in result.diff.data_loss)
    assert _state(url) == before


@pytest.mark.mysql
def test_preview_is_refused_on_mariadb(project, mysql_url):
    project.connect(mysql_url)
    with pytest.raises(nbmigrate.BadArguments, match=r"--preview cannot work on mysql.*--sql"):
        project.upgrade("head", preview=True)
    assert _state(mysql_url) == ((), {}, -1)


def test_preview_refuses_a_migration_that_commits_on_its_own(project):
    _write(
        project, "0003", "autocommit index",
        '    with op.get_context().autocommit_block():\n        op.create_index("ix_item_name", "item", ["name"])',
    )
    project.upgrade("0002")
    url = f"sqlite:///{Path('migrations.db').resolve()}"
    before = _state(url)
    with pytest.raises(nbmigrate.BadArguments, match="commits on its own"):
        project.upgrade("head", preview=True)
    assert _state(url) == before
    assert sa.inspect(sa.create_engine(url)).get_indexes("item") == []


def test_preview_refuses_an_env_py_that_opens_its_own_connection(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    subprocess.run([sys.executable, "-m", "alembic", "init", "alembic"], check=True, capture_output=True)
    ini = Path("alembic.ini")
    ini.write_text(ini.read_text().replace("driver://user:pass@localhost/dbname", "sqlite:///app.db"))
    p = nbmigrate.Project()
    p.revision("empty", rev_id="0001")
    with pytest.raises(nbmigrate.BadArguments, match="opens its own"):
        p.upgrade("head", preview=True)
    assert p.current().heads == ()


def test_preview_through_the_magic(shell, project):
    ip = shell
    ip.run_line_magic("migrate", "upgrade 0001")
    result = ip.run_line_magic("migrate", "upgrade +1 --preview")
    assert result.preview and result.heads_after == ("0002",)
    assert ip.run_line_magic("migrate", "current").heads == ("0001",)
    with pytest.raises(UsageError):
        ip.run_line_magic("migrate", "upgrade head --preview --sql")
