"""A database password never shows: not in results, errors, failure reports, logs or files.

The canary is a real PostgreSQL role whose password needs URL-encoding (``S3cr@t%x``, in a URL
``S3cr%40t%25x``, in an ini file ``S3cr%%40t%%25x``); the server trusts local connections, so any
password logs in. Every form of it, and its first characters, are looked for in everything
nbmigrate shows or writes while the test connects (by URL, Engine and Connection, by the Python
API and the magic), migrates, fails, and fails to connect.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import logging
import re
import urllib.parse
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


def test_replays_and_the_lint_never_show_the_password(
    canary_url: str, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    """Scratch databases are made with the project's credentials: nothing they say may show them."""
    monkeypatch.chdir(tmp_path)
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    out = io.StringIO()
    seen: list[Any] = []
    try:
        with redirect_stdout(out), redirect_stderr(out):
            project = nbmigrate.Project()
            project.init("migrations")
            project.connect(canary_url)
            write_revision(project, "0001", 'op.create_table("t", sa.Column("id", sa.Integer))', 'op.drop_table("t")')
            with pytest.raises(NbmigrateError, match="could not create one") as refused:  # canary may not CREATE DATABASE
                project.schema(at="head")
            seen.append(refused.value)
            with admin.connect() as conn:
                conn.execute(sa.text("ALTER ROLE canary CREATEDB"))
            seen += [project.schema(at="head"), project.diff("base", "head", sql=True), project.test(),
                     project.lint("base:head"), project.erd(at="head")]
            write_revision(project, "0002", FAILING_WITH_PASSWORD.replace("nowhere", "no_such_table"))
            with pytest.raises(NbmigrateError, match="0002 upgrade") as failed:
                project.schema(at="head")
            seen += [failed.value, project.test()]
            project.close()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text("ALTER ROLE canary NOCREATEDB"))
        admin.dispose()
    assert not seen[-1].ok and seen[-1].failures[0].revision == "0002"
    for value in seen:
        assert leaks(shown(value)) == [], value
    assert leaks(out.getvalue()) == []
    assert leaks(logs.getvalue()) == []
    assert leaks(files_text(tmp_path)) == []


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
    from nbmigrate import masking

    project = nbmigrate.Project()
    masking.remember_url("postgresql+psycopg://canary:S3cr%40t%25x@127.0.0.1/test")  # as connect() does
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
    magics.forget_projects()
    yield shell
    magics.forget_projects()
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


# -- one masker: passwords where they stand as passwords, never code or names ---------------------
#
# A weak password (a common word: ``pass``, ``user``) is masked only where it stands as a password:
# in a URL, a ``password=`` pair, a SQL parameter. A strong one is masked wherever it appears.


def test_the_masker_masks_passwords_where_they_stand_as_passwords() -> None:
    from nbmigrate import masking

    unknown = "Other-p4ss/w@rd%#?&é:x"  # never given to nbmigrate: only its positions tell
    for text in (
        f"postgresql+psycopg://app:{unknown}@db.example/app",
        f"url = 'mysql://app:{unknown}@db.example:3306' and more",
        f"postgresql://app:{urllib.parse.quote_plus(unknown)}@db.example/app",
        f"postgresql://app:{urllib.parse.quote(unknown, safe='')}@[::1]:5432/app?sslmode=require",
        f"host=db password={unknown} dbname=app",
        f"DRIVER={{x}};SERVER=db;UID=app;PWD={unknown};",
        f"{{'user': 'app', 'password': '{unknown}'}}",
        f'{{"password": "{unknown}"}}',
        f"CREATE ROLE app LOGIN PASSWORD '{unknown}'",
        f"CREATE USER app IDENTIFIED BY '{unknown}'",
    ):
        masked = masking.mask(text)
        assert "Other" not in masked and "p4ss" not in masked and "w@rd" not in masked, (text, masked)
        assert "***" in masked
    assert masking.mask("postgresql://app:pw@db/app") == "postgresql://app:***@db/app"
    assert masking.mask_url_passwords("a postgresql://app:p/w@db/app b") == "a postgresql://app:***@db/app b"


def test_weak_passwords_are_masked_only_as_passwords() -> None:
    from nbmigrate import masking

    for word in ("pass", "user", "test", "admin", "password", "postgres", "Summer2024", "12345678", "1a2b"):
        assert not masking.is_strong(word)
        masking.remember(word)
    for word in ("S3cr@t%x", "S3cr@t", "p@ss", "a8Fh3kLq92xZ", "Canary-p4ss/w@rd%#?&é"):
        assert masking.is_strong(word)
    code = (
        'def upgrade():\n    op.create_table("user", sa.Column("test", sa.String), sa.Column("admin", sa.Boolean))\n'
        "    pass\n\n\ndef downgrade():\n    op.drop_table('user')\n    pass\n"
        'CREATE TABLE "user" (test VARCHAR, admin BOOLEAN, password VARCHAR); -- postgres postgresql Summer2024\n'
        "-- revision 1a2b3c4d5e6f, 12345678 rows\n"
        "Can't locate revision identified by 'nope'; using password: YES; f(password=pw, x=1); \"PWD=%s\" % pwd\n"
    )
    assert masking.mask(code) == code
    assert masking.mask("driver://user:pass@localhost/dbname") == "driver://user:***@localhost/dbname"
    params = "[SQL: SELECT ? FROM no_such_table]\n[parameters: ('user', 'kept', 'admin')]"
    assert masking.mask(params) == "[SQL: SELECT ? FROM no_such_table]\n[parameters: ('***', 'kept', '***')]"


CANARY = "Canary-p4ss/w@rd%#?&é"
# What would show of the canary, whole or in part, in any encoding: every form keeps these.
CANARY_PARTS = ("Canary", "p4ss", "w@rd", "w%40rd", "w&#64;rd")
WEAK_ROLE, CANARY_ROLE = "nbm_weak", "nbm_canary"


def canary_leaks(text: str) -> list[str]:
    forms = {CANARY, urllib.parse.quote(CANARY, safe=""), urllib.parse.quote_plus(CANARY), urllib.parse.quote(CANARY)}
    forms |= {form.replace("%", "%%") for form in forms}
    texts = (text, html.unescape(text))
    return sorted({part for part in (*forms, *CANARY_PARTS) for t in texts if part in t})


def shown_everywhere(ip: Any, value: Any) -> str:
    """Everything a value shows: str, repr, pretty text, every format IPython displays it in."""
    from IPython.lib.pretty import pretty

    parts = [str(value), repr(value)]
    if isinstance(value, BaseException):
        parts += [str(arg) for arg in value.args]
        report = getattr(value, "report", None)
        if report is not None:
            parts.append(shown_everywhere(ip, report))
    elif hasattr(value, "get_state"):  # a widget: the state the front end receives, and its outputs
        parts.append(json.dumps(value.get_state(), ensure_ascii=False, default=str))
        parts.append(json.dumps(value.get_state(), default=str))
        data, _ = value._repr_mimebundle_()
        parts += [str(v) for v in data.values()]
        parts += [str(value.details), str(value.error), str(value.result_html), str(value.revisions)]
    else:
        parts.append(pretty(value))
        data, _ = ip.display_formatter.format(value)
        parts += [str(v) for v in data.values()]
    return "\n".join(parts)


def login_role(url: str, role: str, password: str) -> str:
    """A login of ``role`` with ``password`` that owns ``url``'s database; its URL."""
    base = sa.make_url(url)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        if base.get_backend_name() == "postgresql":
            if not conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
                conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
            conn.execute(sa.text(f"ALTER ROLE {role} PASSWORD '{password}'"))
            conn.exec_driver_sql(f"ALTER DATABASE {base.database} OWNER TO {role}")
        else:
            # PyMySQL sends the password as Latin-1: the stored hash is made from those bytes.
            digest = hashlib.sha1(hashlib.sha1(password.encode("latin1")).digest()).hexdigest().upper()
            conn.exec_driver_sql(f"CREATE USER IF NOT EXISTS '{role}'@'%%'")
            conn.exec_driver_sql(f"ALTER USER '{role}'@'%%' IDENTIFIED BY PASSWORD '*{digest}'")
            conn.exec_driver_sql(f"GRANT ALL ON {base.database}.* TO '{role}'@'%%'")
    admin.dispose()
    return base.set(username=role, password=password).render_as_string(hide_password=False)


def set_ini_url(root: Path, url: str) -> None:
    ini = root / "alembic.ini"
    escaped = url.replace("%", "%%")
    ini.write_text(re.sub(r"(?m)^sqlalchemy\.url = .*$", lambda _: f"sqlalchemy.url = {escaped}", ini.read_text()))


def page_text(markup: str) -> str:
    """What a browser shows of some HTML: the text without tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


WEAK_CELL = '''\
def upgrade():
    op.create_table(
        "user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("admin", sa.String(20), server_default="admin"),
        sa.Column("test", sa.String(20)),
        sa.Column("pass", sa.String(20)),
    )
    for _ in ():
        pass

def downgrade():
    op.drop_table("user")
'''


@pytest.mark.parametrize("password", ["pass", "user", "test", "admin"])
def test_weak_passwords_never_rewrite_code_or_names(
    password: str, sqlite_or_pg_url: str, ip: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A project made by ``alembic init`` and a password that is a common word: code stays code."""
    from IPython.core.error import UsageError

    ip.run_line_magic("migrate", "init -t generic migrations")
    if sqlite_or_pg_url.startswith("sqlite"):
        # The placeholder URL alembic init writes (password "pass"), or one like it; the kernel
        # works on SQLite through `connect`.
        placeholder = "driver://user:pass@localhost/dbname"
        set_ini_url(tmp_path, placeholder.replace(":pass@", f":{password}@"))
        ip.run_line_magic("migrate", f"connect {sqlite_or_pg_url}")
        url = placeholder.replace(":pass@", f":{password}@")
    else:
        url = login_role(sqlite_or_pg_url, WEAK_ROLE, password)
        set_ini_url(tmp_path, url)

    created = ip.run_line_magic("migrate", 'revision -m "first" --rev-id 0001')
    edited = ip.run_line_magic("migrate", "edit 0001")
    cell = ip.run_cell_magic("revision", '-m "user table" --rev-id 0002 --apply', WEAK_CELL)
    schema = ip.run_line_magic("migrate", "schema user")
    for result in (created, edited):
        for text in (str(result), page_text(result._repr_html_())):
            assert re.search(r"^    pass$", text, re.M), text
            assert "***" not in text, text
    assert cell.apply is not None and any(re.match(r"CREATE TABLE [\"`]?user[\"`]? \(", s) for s in cell.apply.sql)
    for text in (str(cell), page_text(cell._repr_html_())):
        assert 'op.create_table(\n        "user",' in text and '"admin"' in text and '"test"' in text, text
        assert re.search(r"^        pass$", text, re.M), text
        assert re.search(r"\btable user", text), text  # the schema's changes name the table
        assert text.count("***") == text.count(":***@"), text  # masked in the database's URL only
    assert re.search(r"CREATE TABLE [\"`]?user[\"`]? \(", page_text(cell._repr_html_()))  # the steps' SQL
    for text in (str(schema), page_text(schema._repr_html_())):
        assert "user" in text and "admin" in text and "test" in text and "pass" in text, text
        assert "***" not in text
    if not sqlite_or_pg_url.startswith("sqlite"):
        assert f"{WEAK_ROLE}:***@" in cell.apply.database and f":{password}@" not in str(cell)

    # The password as a SQL parameter of a failing statement is masked there, and only there.
    failing = f'op.execute(sa.text("SELECT :v AS admin FROM no_such_table").bindparams(v={password!r}))\n'
    ip.run_cell_magic("revision", '-m "broken" --rev-id 0003', failing)
    capsys.readouterr()
    error = ip.run_cell("%migrate upgrade head --raiseerr").error_in_exec
    shown = capsys.readouterr().out
    assert error is not None and "[parameters:" in str(error)
    for text in (str(error), shown):
        (parameters,) = re.findall(r"\[parameters: .*\]", text)
        assert password not in parameters and "'***'" in parameters, parameters
        assert "AS admin FROM no_such_table" in text
    # And in a URL, wherever one is quoted.
    with pytest.raises(UsageError) as caught:
        ip.run_line_magic("migrate", f"connect {url.replace('127.0.0.1', 'no-such-host.invalid')}")
    assert f":{password}@" not in str(caught.value)


CANARY_VAULT = f'''\
import warnings

CANARY = {CANARY!r}
DSN = "postgresql://app:" + CANARY + "@db.example.invalid/app"  # a malformed URL: "/" and "@" unencoded

def upgrade():
    op.create_table(
        "vault",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dsn", sa.String(200), server_default=DSN),
        sa.Column("secret", sa.String(200), server_default={CANARY!r}),  # the widget shows upgrade()'s source
        sa.CheckConstraint("secret <> '" + CANARY + "x'", name="ck_vault_secret"),
    )
    op.execute("INSERT INTO vault (id, secret) VALUES (1, '" + CANARY + "')")
    op.bulk_insert(sa.table("vault", sa.column("id", sa.Integer), sa.column("dsn", sa.String)), [{{"id": 2, "dsn": DSN}}])
    print("connecting with", DSN)
    warnings.warn("the password is " + CANARY)

def downgrade():
    op.drop_table("vault")
'''

CANARY_KEYS = f'''\
from urllib.parse import quote_plus

CANARY = {CANARY!r}

def upgrade():
    op.add_column("vault", sa.Column("conn", sa.String(300), server_default="host=db password=" + quote_plus(CANARY) + " dbname=app"))
    op.execute(sa.text("UPDATE vault SET conn = :c").bindparams(c="postgresql://app:" + quote_plus(CANARY) + "@db/app"))

def downgrade():
    op.drop_column("vault", "conn")
'''

CANARY_FAILING = f'''\
def upgrade():
    op.execute(sa.text("SELECT :pw FROM no_such_table").bindparams(pw={CANARY!r}))
'''


def test_a_canary_password_shows_nowhere(
    db_url: str, ip: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The password planted in column defaults, stored values, a SQL parameter and the URL, and
    every result type, the widget's state and the tracebacks looked through for it."""
    from IPython.core.error import UsageError

    ip.run_line_magic("migrate", "init")
    kind = sa.make_url(db_url).get_backend_name()
    if kind == "sqlite":
        # The config names the team's server; this kernel works on a SQLite copy.
        set_ini_url(tmp_path, f"postgresql+psycopg://app:{urllib.parse.quote_plus(CANARY)}@db.example.invalid/app")
        ip.run_line_magic("migrate", f"connect {db_url}")
    else:
        set_ini_url(tmp_path, login_role(db_url, CANARY_ROLE, CANARY))
    project = ip.magics_manager.registry["MigrateMagics"].project
    seen: list[Any] = []

    def run(line: str) -> Any:
        try:
            value = ip.run_line_magic("migrate", line)
        except UsageError as exc:
            value = exc
        seen.append(value)
        return value

    seen.append(ip.run_cell_magic("revision", '-m "vault" --rev-id 0001', CANARY_VAULT))
    if kind != "mysql":  # MariaDB cannot roll DDL back: no preview there
        preview = run("upgrade 0001 --preview")
        assert preview.diff is not None and preview.diff.added_tables == ["vault"]
    assert "INSERT INTO vault" in str(run("upgrade 0001 --sql"))
    run("upgrade 0001")
    snapshot = run("schema")
    assert snapshot["vault"].column("secret").default is not None  # the default is there, masked when shown
    for line in ("history", "history --verbose", "current", "heads", "show 0001", "edit 0001", "stamp base", "stamp 0001"):
        run(line)
    applied = ip.run_cell_magic("revision", '-m "keys" --rev-id 0002 --apply', CANARY_KEYS)
    seen.append(applied)
    assert applied.apply is not None and applied.apply.heads_after == ("0002",)
    seen.append(ip.run_cell_magic("revision", '-m "broken" --rev-id 0003', CANARY_FAILING))
    failed = run("upgrade head")
    assert isinstance(failed, UsageError) and "no_such_table" in str(failed)
    with pytest.raises(nbmigrate.MigrationFailed) as caught:
        project.upgrade("head")
    seen.append(caught.value)
    capsys.readouterr()
    raised = ip.run_cell("%migrate upgrade head --raiseerr").error_in_exec
    traceback_shown = capsys.readouterr()
    assert raised is not None and "[parameters:" in str(raised)
    seen.append(raised)

    graph = run("graph")
    for rev in ("0001", "0002", "0003"):
        graph.select(rev)
        assert graph.details["upgrade"]
        seen.append(graph.get_state())
    graph.upgrade_to("0003")
    if graph.needs_confirm:
        graph.confirm()
    assert graph.error
    seen.append(graph.get_state())
    graph.downgrade_to("base")
    graph.confirm()
    assert "vault" in graph.result_html
    seen.append(graph)
    run("upgrade 0002")
    run("downgrade base")

    for value in seen:
        assert canary_leaks(shown_everywhere(ip, value)) == [], value
    assert canary_leaks(traceback_shown.out + traceback_shown.err) == []
    # Masked where it was, the rest kept: the malformed URL's host, the listing, the statement.
    assert "'postgresql://app:***@db.example.invalid/app'" in str(snapshot) and "'***'" in str(snapshot)
    assert re.search(r"\[parameters: .*'\*\*\*'", traceback_shown.out) and "FROM no_such_table" in traceback_shown.out
    assert canary_leaks(capsys.readouterr().out) == []
