"""``Project``: finding the config as the ``alembic`` command does, the database, and redaction."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import nbmigrate
from nbmigrate.errors import BadArguments, ConnectionFailed, ProjectNotFound
from nbmigrate import Project
from nbmigrate.project import sync_url, transactional_sqlite


@pytest.fixture(autouse=True)
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALEMBIC_CONFIG", raising=False)
    return tmp_path


def alembic_init(ini: str = "alembic.ini", directory: str = "migrations", template: str = "generic", url: str = "sqlite:///app.db") -> None:
    command.init(Config(ini, stdout=io.StringIO()), directory, template=template)
    text = Path(ini).read_text()
    Path(ini).write_text(text.replace("driver://user:pass@localhost/dbname", url))


# -- finding the project ------------------------------------------------------------------------


def test_no_project_says_run_init(here: Path) -> None:
    project = Project()
    assert not project.exists
    with pytest.raises(ProjectNotFound) as caught:
        project.require()
    message = str(caught.value)
    assert str(here.resolve()) in message and "alembic.ini" in message and "Run `%migrate init`" in message
    with pytest.raises(ProjectNotFound):
        project.heads()


def test_ini_in_the_working_directory(here: Path) -> None:
    alembic_init()
    project = Project()
    assert project.exists and project.ini_path == here / "alembic.ini"
    assert project.config.get_main_option("script_location").endswith("migrations")
    assert project.config.attributes["nbmigrate"] is True
    assert project.url == sa.make_url("sqlite:///app.db")


def test_pyproject_toml_alone(here: Path) -> None:
    Path("pyproject.toml").write_text('[project]\nname = "x"\n')
    assert not Project().exists  # a pyproject.toml without [tool.alembic] is not a project
    Path("pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.alembic]\nscript_location = "%(here)s/migrations"\n')
    project = Project()
    assert project.exists and project.toml_path == here / "pyproject.toml"
    assert project.config.get_alembic_option("script_location") == f"{here}/migrations"
    assert project.url is None and project.display_url == "(no database configured)"
    with pytest.raises(ConnectionFailed, match="No database configured.*%migrate connect URL"):
        project.engine()


def test_config_argument_forms(here: Path) -> None:
    Path("conf").mkdir()
    alembic_init("conf/app.ini", "conf/mig")
    assert Project("conf/app.ini").ini_path == here / "conf/app.ini"
    assert Project(Path("conf/app.ini")).exists
    both = Project(["conf/app.ini", "pyproject.toml"])
    assert both.ini_path == here / "conf/app.ini" and both.toml_path == here / "pyproject.toml"
    toml_only = Project(["conf/pyproject.toml"])
    assert toml_only.toml_path == here / "conf/pyproject.toml" and toml_only.ini_path == here / "alembic.ini"
    with pytest.raises(BadArguments, match="only one ini file"):
        Project(["a.ini", "b.ini"])
    with pytest.raises(BadArguments, match="pyproject.toml indicated more than once"):
        Project(["pyproject.toml", "x/pyproject.toml"])
    elsewhere = Project("app.ini", directory=here / "conf")
    assert elsewhere.ini_path == here / "conf/app.ini" and elsewhere.exists


def test_alembic_config_environment_variable(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Path("conf").mkdir()
    alembic_init("conf/app.ini", "conf/mig")
    monkeypatch.setenv("ALEMBIC_CONFIG", "conf/app.ini")
    assert Project().ini_path == here / "conf/app.ini" and Project().exists
    monkeypatch.setenv("ALEMBIC_CONFIG", "conf/pyproject.toml")
    project = Project()
    assert project.toml_path == here / "conf/pyproject.toml" and project.ini_path == here / "alembic.ini"
    assert Project("conf/app.ini").exists  # -c wins over the variable


def test_name_and_x_reach_alembic(here: Path) -> None:
    alembic_init()
    with open("alembic.ini", "a") as f:
        f.write("\n[other]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///other.db\n")
    project = Project(name="other", x=["a=1", "b=2"])
    assert project.config.config_ini_section == "other"
    assert project.url == sa.make_url("sqlite:///other.db")
    assert project.config.cmd_opts.x == ["a=1", "b=2"]
    assert Project().config.cmd_opts.x is None


def test_config_is_rebuilt_when_the_ini_changes_and_keeps_attributes(here: Path) -> None:
    alembic_init()
    project = Project()
    config = project.config
    assert project.config is config  # unchanged files: the same Config
    metadata = sa.MetaData()
    config.attributes["target_metadata"] = metadata
    text = Path("alembic.ini").read_text().replace("sqlite:///app.db", "sqlite:///changed.db")
    Path("alembic.ini").write_text(text)
    st = Path("alembic.ini").stat()
    os.utime("alembic.ini", ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    rebuilt = project.config
    assert rebuilt is not config and project.url == sa.make_url("sqlite:///changed.db")
    assert rebuilt.attributes["target_metadata"] is metadata
    assert "connection" not in rebuilt.attributes


def test_bad_url_in_the_config(here: Path) -> None:
    alembic_init(url="not a url at all")
    with pytest.raises(ConnectionFailed, match="is not a database URL.*%migrate connect URL"):
        Project().url  # noqa: B018


# -- the database -------------------------------------------------------------------------------


def test_use_overrides_in_memory_only(here: Path) -> None:
    alembic_init()
    before = Path("alembic.ini").read_text()
    project = Project()
    project.use("sqlite:///other.db")
    assert project.url == sa.make_url("sqlite:///other.db")
    assert project.config.get_main_option("sqlalchemy.url") == "sqlite:///other.db"  # for an own env.py
    project.use(sa.make_url("sqlite:///third.db"))
    assert project.display_url == "sqlite:///third.db"
    project.disconnect()
    assert project.url == sa.make_url("sqlite:///app.db")
    assert project.config.get_main_option("sqlalchemy.url") == "sqlite:///app.db"
    assert Path("alembic.ini").read_text() == before


def test_use_engine_and_connection(here: Path) -> None:
    alembic_init()
    project = Project()
    engine = sa.create_engine(f"sqlite:///{here / 'eng.db'}")
    try:
        project.use(engine)
        assert project.engine() is engine and project.url == engine.url
        with project.connection() as conn:
            assert conn.engine is engine
        with engine.connect() as given:
            project.use(given)
            with project.connection() as conn:
                assert conn is given
            assert not given.closed  # the caller's connection stays open
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("target", "fragment"),
    [("not a url", "'not a url' is not a database URL"), ("postgresql://u:S3cr%40t@h:port/db", "is not a database URL"), (42, "Cannot connect to a int")],
)
def test_use_rejects(target: object, fragment: str) -> None:
    with pytest.raises(BadArguments) as caught:
        Project().use(target)
    assert fragment in str(caught.value) and "S3cr" not in str(caught.value)


def test_unreachable_database(here: Path) -> None:
    project = Project()
    project.use("postgresql+psycopg://nobody@127.0.0.1:9/none")
    with pytest.raises(ConnectionFailed, match="Cannot connect to the database") as caught:
        with project.connection():
            pass
    assert isinstance(caught.value.__cause__, sa.exc.OperationalError)  # for --raiseerr
    project.use("nosuchdialect://x/y")
    with pytest.raises(ConnectionFailed, match="nosuchdialect"):
        project.engine()


def test_engine_is_kept_and_sqlite_ddl_is_transactional(here: Path) -> None:
    project = Project()
    project.use(f"sqlite:///{here / 'tx.db'}")
    engine = project.engine()
    assert project.engine() is engine
    with project.connection() as conn:
        with conn.begin() as tx:
            conn.exec_driver_sql("CREATE TABLE t (id INTEGER)")
            tx.rollback()
        assert not sa.inspect(conn).has_table("t")  # the DDL rolled back
    assert project.current_heads(engine.connect()) == ()
    project.use(f"sqlite:///{here / 'other.db'}")
    assert project.engine() is not engine


def test_transactional_sqlite_recipe(here: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{here / 'r.db'}")
    transactional_sqlite(engine)
    try:
        with engine.connect() as conn:
            conn.begin()
            conn.exec_driver_sql("CREATE TABLE a (id INTEGER)")
            conn.rollback()
            assert not sa.inspect(conn).has_table("a")
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite+aiosqlite:///a.db", "sqlite+pysqlite:///a.db"),
        ("postgresql+asyncpg://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql+psycopg_async://u@h/db", "postgresql+psycopg://u@h/db"),
        ("mysql+aiomysql://u@h/db", "mysql+pymysql://u@h/db"),
        ("mysql+asyncmy://u@h/db", "mysql+pymysql://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///a.db", "sqlite:///a.db"),
    ],
)
def test_sync_url_for_nbmigrates_own_reads(given: str, used: str) -> None:
    assert sync_url(sa.make_url(given)).render_as_string(hide_password=False) == used


# -- secrets ------------------------------------------------------------------------------------


def test_redact_masks_passwords_in_every_spelling() -> None:
    project = Project()
    project.use("postgresql+psycopg://me:S3cr%40t@127.0.0.1/db")
    assert "S3cr" not in project.display_url and "***" in project.display_url
    text = "postgresql+psycopg://me:S3cr%40t@127.0.0.1/db failed; password S3cr@t; quoted S3cr%40t; plus S3cr%40t"
    redacted = project.redact(text)
    assert "S3cr" not in redacted and redacted.count("***") >= 3
    # Any URL's password, even one nbmigrate never saw.
    assert project.redact("mysql+pymysql://root:hunter2@db/x") == "mysql+pymysql://root:***@db/x"
    assert project.redact("no secrets here") == "no secrets here"
    assert "S3cr" not in repr(project)


def test_password_from_the_config_is_remembered(here: Path) -> None:
    alembic_init(url="postgresql+psycopg://me:Pa55word@127.0.0.1/db")
    project = Project()
    project.config  # noqa: B018 - reading the config notes the password
    assert project.redact("it was Pa55word") == "it was ***"
    assert "Pa55word" not in project.display_url


# -- commands through the Python API -----------------------------------------------------------


def test_init_writes_a_relocatable_project(here: Path) -> None:
    result = Project().init()
    ini = Path("alembic.ini").read_text()
    assert "script_location = %(here)s/migrations" in ini
    assert "sqlalchemy.url = sqlite:///%(here)s/migrations.db" in ini
    assert result.directory == "migrations" and result.database == "sqlite:///migrations.db"
    assert "alembic.ini" in result.files and "migrations/env.py" in result.files


def test_init_with_a_directory(here: Path) -> None:
    (here / "sub").mkdir()
    Project(directory=here / "sub").init("mig")
    assert (here / "sub/mig/env.py").is_file() and (here / "sub/alembic.ini").is_file()
    assert "script_location = %(here)s/mig" in (here / "sub/alembic.ini").read_text()
    assert not (here / "mig").exists()


def test_init_pyproject_template(here: Path) -> None:
    Project().init("pmig", template="pyproject")
    assert "[tool.alembic]" in Path("pyproject.toml").read_text()
    assert Path("pmig/env.py").is_file()


def test_project_commands(here: Path) -> None:
    project = nbmigrate.Project()
    project.init()
    first = project.revision("create thing", rev_id="0001")
    assert first.revision == "0001" and Path(first.path).is_file()
    assert [r.revision for r in project.heads().revisions] == ["0001"]
    assert project.upgrade("head").heads_after == ("0001",)
    assert project.current().heads == ("0001",)
    assert project.show("0001").revisions[0].state == "current"
    assert project.edit("0001").source == Path(first.path).read_text()
    assert project.stamp("base").heads_after == ()
    assert project.downgrade("base", sql=False).heads_after == ()
    assert "generic" in project.list_templates().text
    assert project.run("history").revisions[0].revision == "0001"
