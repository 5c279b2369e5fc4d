"""A database password never shows: not in results, errors, failure reports, logs or files.

The canary is a real PostgreSQL role whose password needs URL-encoding (``S3cr@t%x``, in a URL
``S3cr%40t%25x``, in an ini file ``S3cr%%40t%%25x``); the server trusts local connections, so any
password logs in. Every form of it, and its first characters, are looked for in everything
nbmigrate shows or writes while the test connects (by URL, Engine and Connection, by the Python
API and the magic), migrates, fails, and fails to connect.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import nbmigrate
from support import write_revision
from nbmigrate.errors import ConnectionFailed, MigrationFailed, NbmigrateError

PASSWORD = "S3cr@t%x"
FORMS = (PASSWORD, "S3cr%40t%25x", "S3cr%%40t%%25x", "S3cr@t%%x", "S3cr")  # decoded, URL-encoded, ini-escaped, as a pyformat driver shows it, prefix


# A statement that carries the password and fails; the file holds no password (files are checked).
FAILING_WITH_PASSWORD = 'import os; op.execute("SELECT \'" + os.environ["CANARY"] + "\' FROM nowhere")'


def leaks(text: str) -> list[str]:
    return [form for form in FORMS if form in text]


def shown(value: Any) -> str:
    """Everything a result or error shows: str, repr, HTML and its report."""
    parts = [str(value), repr(value)]
    for attr in ("_repr_html_", "summary"):
        fn = getattr(value, attr, None)
        if callable(fn):
            parts.append(fn() or "")
    report = getattr(value, "report", None)
    if report is not None:
        parts.append(shown(report))
        parts.extend(str(getattr(report, f)) for f in ("statement", "error", "output", "partial_sql", "warnings", "database"))
    for field in ("output", "warnings", "sql", "database", "text", "source"):
        if hasattr(value, field):
            parts.append(str(getattr(value, field)))
    return "\n".join(parts)


@pytest.fixture
def canary_url(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``pg_url``'s database, owned by the role ``canary`` whose password is ``S3cr@t%x``."""
    monkeypatch.setenv("CANARY", PASSWORD)
    url = sa.make_url(pg_url)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = 'canary'")).first()
        if not exists:
            conn.execute(sa.text("CREATE ROLE canary LOGIN PASSWORD 'S3cr@t%x'"))
        conn.execute(sa.text(f"ALTER DATABASE {url.database} OWNER TO canary"))
    admin.dispose()
    yield f"postgresql+psycopg://canary:S3cr%40t%25x@{url.host}:{url.port or 5432}/{url.database}"


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Every log record of every logger while the test runs, formatted."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield sink
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)


def files_text(root: Path, skip: tuple[str, ...] = ()) -> str:
    return "\n".join(
        p.read_bytes().decode("latin-1") for p in root.rglob("*") if p.is_file() and p.name not in skip
    )


def test_python_api_never_shows_the_password(
    canary_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    seen: list[Any] = []
    with redirect_stdout(out), redirect_stderr(out):
        project = nbmigrate.Project()
        seen.append(project.init("migrations"))
        seen.append(project.connect(canary_url))
        seen.append(project)
        write_revision(project, "0001", 'op.create_table("t", sa.Column("id", sa.Integer))')
        # A failing statement that carries the password itself.
        write_revision(project, "0002", FAILING_WITH_PASSWORD.replace("nowhere", "no_such_table"))
        with pytest.raises(MigrationFailed) as failed:
            project.upgrade("head")
        seen.append(failed.value)
        seen.append(project.upgrade("0001"))
        seen.append(project.upgrade("head", sql=True))
        seen.append(project.current())
        seen.append(project.history())
        seen.append(project.downgrade("base"))
        seen.append(project.stamp("0001"))
    assert "S3cr@t%x" in project.config.get_main_option("sqlalchemy.url").replace("%40", "@").replace("%25", "%")  # set, in memory
    assert leaks(failed.value.report.statement) == []
    for value in seen:
        assert leaks(shown(value)) == [], value
    assert leaks(out.getvalue()) == []
    assert leaks(logs.getvalue()) == []
    assert leaks(files_text(tmp_path)) == []
    assert failed.value.report.statement == "SELECT '***' FROM no_such_table"


def test_failed_connections_never_show_the_password(canary_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    project = nbmigrate.Project()
    project.init("migrations")
    wrong_host = re.sub(r"@[^/]+/", "@no-such-host.invalid/", canary_url)
    wrong_port = re.sub(r":\d+/", ":1/", canary_url)
    not_a_url = canary_url.replace(":5432", ":port")
    for bad in (wrong_host, wrong_port, not_a_url):
        with pytest.raises(NbmigrateError) as caught:
            project.connect(bad)
        assert isinstance(caught.value, (ConnectionFailed, nbmigrate.BadArguments))
        assert leaks(shown(caught.value)) == [], caught.value
        assert leaks(str(caught.value.__cause__ or "")) == []
    assert leaks(files_text(tmp_path)) == []


def test_redact_masks_every_form() -> None:
    project = nbmigrate.Project()
    project._remember("postgresql+psycopg://canary:S3cr%40t%25x@127.0.0.1/test")
    texts = [
        "password S3cr@t%x",
        "url postgresql+psycopg://canary:S3cr%40t%25x@127.0.0.1/test",
        "ini sqlalchemy.url = postgresql+psycopg://canary:S3cr%%40t%%25x@127.0.0.1/test",
        "escaped S3cr%%40t%%25x",
        "as run by a pyformat driver: SELECT 'S3cr@t%%x'",
    ]
    for text in texts:
        assert leaks(project.redact(text)) == [], (text, project.redact(text))
    # A known password with "@" in it, unencoded in a URL, is masked whole.
    assert leaks(project.redact("postgresql://canary:S3cr@t%x@127.0.0.1/test")) == []
    assert project.redact("postgresql://canary:S3cr@t%x@127.0.0.1/test") == "postgresql://canary:***@127.0.0.1/test"


# -- through the magic ---------------------------------------------------------------------------


@pytest.fixture
def ip(shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    magics = shell.magics_manager.registry["MigrateMagics"]
    magics._projects.clear()
    yield shell
    for project in magics._projects.values():
        project._dispose_engine()
    magics._projects.clear()
    for name in ("dburl", "eng", "conn"):
        shell.user_ns.pop(name, None)


@pytest.mark.parametrize("how", ["url", "engine", "connection"])
def test_magic_never_shows_the_password(
    how: str, canary_url: str, ip: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], logs: io.StringIO
) -> None:
    from IPython.core.error import UsageError

    seen: list[Any] = [ip.run_line_magic("migrate", "init")]
    engine = sa.create_engine(canary_url)
    if how == "url":
        seen.append(ip.run_line_magic("migrate", f"connect {canary_url}"))
    elif how == "engine":
        ip.user_ns["eng"] = engine
        seen.append(ip.run_line_magic("migrate", "connect eng"))
    else:
        ip.user_ns["conn"] = engine.connect()
        seen.append(ip.run_line_magic("migrate", "connect conn"))
    seen.append(ip.run_line_magic("migrate", 'revision -m "first" --rev-id 0001'))
    path = Path(seen[-1].path)
    path.write_text(path.read_text().replace("    pass", "    " + FAILING_WITH_PASSWORD, 1))
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("migrate", "upgrade head")
    seen.append(caught.value)
    for line in ("current", "history", "heads", "upgrade head --sql", "schema"):
        try:
            seen.append(ip.run_line_magic("migrate", line))
        except UsageError as exc:
            seen.append(exc)
    unreachable = re.sub(r"@[^/]+/", "@no-such-host.invalid/", canary_url)
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("migrate", "connect " + unreachable)
    seen.append(caught.value)
    with pytest.raises(Exception) as raised:  # --raiseerr: the driver's own error, traceback and all
        ip.run_line_magic("migrate", "--raiseerr connect " + unreachable)
    seen.append(raised.value)
    if how == "connection":
        ip.user_ns["conn"].close()
    engine.dispose()
    for value in seen:
        assert leaks(shown(value)) == [], value
    captured = capsys.readouterr()
    assert leaks(captured.out + captured.err) == []
    assert leaks(logs.getvalue()) == []
    assert leaks(files_text(tmp_path)) == []


def test_the_config_path_never_shows_the_password(
    canary_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    """The URL in alembic.ini (ini-escaped), read by an env.py of Alembic's own making."""
    monkeypatch.chdir(tmp_path)
    project = nbmigrate.Project()
    project.init("migrations", template="generic")
    ini = tmp_path / "alembic.ini"
    text = ini.read_text()
    ini.write_text(re.sub(r"(?m)^sqlalchemy\.url = .*$", "sqlalchemy.url = " + canary_url.replace("%", "%%"), text))
    write_revision(project, "0001", FAILING_WITH_PASSWORD)
    seen: list[Any] = [project.current()]
    with pytest.raises(MigrationFailed) as failed:
        project.upgrade("head")
    seen.append(failed.value)
    seen.append(project.upgrade("head", sql=True))
    ini.write_text(ini.read_text().replace("@127.0.0.1", "@no-such-host.invalid"))
    with pytest.raises(NbmigrateError) as unreachable:
        project.upgrade("head")
    seen.append(unreachable.value)
    for value in seen:
        assert leaks(shown(value)) == [], value
    assert leaks(logs.getvalue()) == []
    assert leaks(files_text(tmp_path, skip=("alembic.ini",))) == []
