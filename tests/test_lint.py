"""The linter on real databases: every rule flags its risky form and not its safe recipe.

Each case (tests/lint_cases.py) builds a project on a fresh database of the dialect, applies a base
revision with rows, writes the risky form and the safe recipe as two branches from it, and lints
each. What a finding claims is then checked against the database itself:

* PostgreSQL: the statement runs in a transaction that is rolled back; the strongest lock the
  session holds on the table (``pg_locks``) is the lock the finding names, a claimed rewrite
  changes the table's ``relfilenode``, a claimed scan reads rows (``pg_stat_xact_user_tables``);
* MariaDB/MySQL: the statement is sent with the ``ALGORITHM=..., LOCK=...`` the finding names
  (accepted) and with the next better one (refused);
* SQLite: a statement the finding says fails does fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

import nbmigrate
from lint_cases import BASE, CASES, Case
from nbmigrate.errors import RiskyMigration
from nbmigrate.lint import check_upgrade, lint
from nbmigrate.lint.rules import RULES
from support import revision_source, write_revision

URL_FIXTURE = {"postgresql": "pg_url", "mysql": "mysql_url", "sqlite": "sqlite_url"}
MARK = {"postgresql": [pytest.mark.postgresql], "mysql": [pytest.mark.mysql], "sqlite": []}
PG_ORDER = ["AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock",
            "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"]
# For a MySQL/MariaDB claim: the better algorithms or locks the server must refuse for the statement.
BETTER = {
    "ALGORITHM=COPY, LOCK=SHARED": ["ALGORITHM=INPLACE", "ALGORITHM=COPY, LOCK=NONE"],
    "ALGORITHM=INPLACE, LOCK=SHARED": ["ALGORITHM=INPLACE, LOCK=NONE"],
    "ALGORITHM=INPLACE, LOCK=NONE": ["ALGORITHM=INSTANT"],
    "ALGORITHM=INSTANT": [],
}


def _params() -> list:
    return [pytest.param(case, dialect, marks=MARK[dialect], id=f"{case.code}-{dialect}")
            for case in CASES for dialect in case.dialects]


def test_every_rule_has_a_case() -> None:
    assert {r.code for r in RULES} == {c.code for c in CASES}


def add_chain(project: nbmigrate.Project, prefix: str, bodies: list[str], down: str = "b0") -> str:
    """Revisions ``prefix1``, ``prefix2``... after ``down``, one per body; the last one's id."""
    versions = Path(project.script().versions)
    for i, body in enumerate(bodies, 1):
        rev = f"{prefix}{i}"
        (versions / f"{rev}_case.py").write_text(revision_source(rev, down, f"{prefix} step {i}", body))
        down = rev
    project.invalidate()
    return down


def base_project(url: str) -> nbmigrate.Project:
    project = nbmigrate.Project()
    project.init()
    project.connect(url)
    write_revision(project, "b0", BASE)
    project.upgrade("head")
    return project


@pytest.mark.parametrize(("case", "dialect"), _params())
def test_rule(case: Case, dialect: str, here: Path, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(URL_FIXTURE[dialect])
    project = base_project(url)
    risky = add_chain(project, "r", case.body("risky", dialect))
    safe = add_chain(project, "s", case.body("safe", dialect))

    result = lint(project, f"b0:{risky}")
    flagged = [f for f in result.findings if f.code == case.code]
    assert flagged, f"{case.code} not flagged on {dialect}:\n{result}"
    for f in flagged:
        assert f.revision.startswith("r") and f.path.endswith("_case.py") and f.line, f
        assert f.message and f.recipe and f.severity in ("error", "warning", "info")

    safe_result = lint(project, f"b0:{safe}")
    still = [f for f in safe_result.findings if f.code == case.code and not f.allowed]
    assert not still, f"{case.code}'s safe recipe is flagged on {dialect}:\n{safe_result}"
    errors = [f for f in safe_result.blocking() if f.code != "NBM002"]
    assert not errors, f"the safe recipe of {case.code} has errors on {dialect}:\n{safe_result}"

    {"postgresql": _prove_pg, "mysql": _prove_mysql, "sqlite": _prove_sqlite}[dialect](url, flagged)


def _prove_pg(url: str, findings: list) -> None:
    """Each finding's lock is the strongest one its statement takes; its rewrite and scan are real."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        for f in findings:
            # CONCURRENTLY runs outside a transaction only, where the locks are gone once it returns.
            if f.lock not in PG_ORDER or "CONCURRENTLY" in f.statement.upper() or f.code in ("NBM207", "NBM003"):
                continue
            with engine.connect() as conn:
                oid, node = conn.execute(sa.text("SELECT oid, relfilenode FROM pg_class WHERE oid = to_regclass(:t)"),
                                         {"t": f.table}).one()
                read = _tuples_read(conn, oid)
                try:
                    conn.exec_driver_sql(f.statement)
                except sa.exc.DBAPIError:
                    assert f.code == "NBM101", f"{f.statement} failed"  # refused on a table with rows, as it says
                    conn.rollback()
                    continue
                modes = [m for (m,) in conn.execute(
                    sa.text("SELECT mode FROM pg_locks WHERE relation = :o AND pid = pg_backend_pid()"), {"o": oid})]
                assert max(modes, key=PG_ORDER.index) == f.lock, (f, modes)
                now = conn.execute(sa.text("SELECT relfilenode FROM pg_class WHERE oid = :o"), {"o": oid}).scalar()
                if f.rewrites:
                    assert now != node, (f, "rewrite")
                elif now is not None and f.code != "NBM303":  # dropped; or truncated, a new empty file
                    assert now == node, (f, "rewrite")
                if f.scans or f.rewrites:
                    assert _tuples_read(conn, oid) > read, (f, "scan")
                conn.rollback()
    finally:
        engine.dispose()


def _tuples_read(conn: sa.Connection, oid: int) -> int:
    return int(conn.execute(sa.text("SELECT coalesce(seq_tup_read, 0) FROM pg_stat_xact_user_tables WHERE relid = :o"),
                            {"o": oid}).scalar() or 0)


def _prove_mysql(url: str, findings: list) -> None:
    """The first finding with an ALGORITHM claim: the server accepts that and refuses anything better."""
    claims = [f for f in findings if f.lock in BETTER and f.statement.upper().startswith("ALTER TABLE")]
    if not claims:
        return
    f = claims[0]
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            better = list(BETTER[f.lock])
            if f.lock == "ALGORITHM=INPLACE, LOCK=NONE" and f.rewrites:
                better.append("ALGORITHM=NOCOPY")  # MariaDB's in place without a rebuild
            for clause in better:
                with pytest.raises(sa.exc.DBAPIError):
                    conn.exec_driver_sql(f"{f.statement}, {clause}")
            conn.exec_driver_sql(f"{f.statement}, {f.lock}")
    finally:
        engine.dispose()


def _prove_sqlite(url: str, findings: list) -> None:
    """A statement a finding says fails on SQLite does fail."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        for f in findings:
            if f.lock == "fails on SQLite" and f.statement:
                with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError):
                    conn.exec_driver_sql(f.statement)
    finally:
        engine.dispose()


# -- sizes, order, the default range ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql),
                                  pytest.param("mysql", marks=pytest.mark.mysql)])
def test_pending_revisions_sized_riskiest_first(kind: str, here: Path, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(URL_FIXTURE[kind])
    project = base_project(url)
    write_revision(project, "p1", 'op.add_column("orders", sa.Column("q", sa.Integer))')
    write_revision(project, "p2", 'op.drop_column("items", "order_id")\nop.alter_column("orders", "n", type_=sa.BigInteger, existing_type=sa.Integer)'
                   if kind != "sqlite" else 'op.drop_column("items", "order_id")')
    result = lint(project)  # default: what the database has pending
    assert [r.revision for r in result.revisions] == ["p1", "p2"]
    assert result.rev_range == "b0:heads" and result.sized
    codes = [f.code for f in result.findings]
    if kind != "sqlite":
        assert codes.index("NBM105") < codes.index("NBM108")  # a rewrite comes before a drop
        rewrite = result.findings[codes.index("NBM105")]
        assert "orders (50 rows" in rewrite.message, rewrite.message
        assert rewrite.size.rows == 50 and rewrite.size.bytes
    drop = result.findings[codes.index("NBM108")]
    assert "items (50 rows" in drop.message, drop.message
    assert not result.ok
    with pytest.raises(RiskyMigration) as refused:  # refused before anything ran
        project.upgrade("head")
    assert refused.value.result.findings == result.findings
    assert [r.revision for r in lint(project).revisions] == ["p1", "p2"]
    project.upgrade("head", accept_risk=True)
    assert lint(project).revisions == [] and lint(project).ok


def test_marker_policy_and_outputs(here: Path, sqlite_url: str) -> None:
    project = base_project(sqlite_url)
    write_revision(project, "m1", '# nbmigrate: allow dropping-column -- unused since 4.2\nop.drop_column("orders", "t")')
    result = lint(project)
    (finding,) = [f for f in result.findings if f.code == "NBM108"]
    assert finding.allowed and result.ok and result.revisions[0].reasons == {"NBM108": "unused since 4.2"}
    assert "allowed NBM108" in str(result) and "allowed by marker" in result._repr_html_()

    write_revision(project, "m2", 'op.execute("UPDATE orders SET n = 0")\nop.add_column("orders", sa.Column("z", sa.Integer, nullable=False))')
    result = lint(project)
    assert not result.ok and [f.code for f in result.blocking()] == ["NBM101"]
    data = json.loads(result.to_json())
    assert data["ok"] is False and data["counts"]["error"] == 1 and data["counts"]["allowed"] == 1
    assert {f["code"] for f in data["findings"]} == {"NBM101", "NBM108", "NBM001"}
    line = next(f["line"] for f in data["findings"] if f["code"] == "NBM101")
    source = Path(next(f["path"] for f in data["findings"] if f["code"] == "NBM101")).read_text().splitlines()
    assert "nullable=False" in source[line - 1]
    github = result.github().splitlines()
    assert any(g.startswith("::error file=migrations/versions/m2_rev_m2.py,line=") and "NBM101" in g for g in github)
    assert any(g.startswith("::notice ") and "NBM108" in g for g in github)

    text = result.refusal()
    assert "revision m2" in text and "NBM101 adding-not-nullable-column" in text and "nullable=True" in text
    with pytest.raises(RiskyMigration) as refused:
        check_upgrade(project, "head")
    assert str(refused.value) == text and refused.value.result.blocking()[0].code == "NBM101"
    assert check_upgrade(project, "head", accept_risk=True).findings

    ini = Path("alembic.ini")
    ini.write_text(ini.read_text().replace("[alembic]\n", "[alembic]\nnbmigrate.lint.disable = NBM101, not-analysed\n", 1))
    result = lint(project)
    assert result.ok and {f.code for f in result.findings} == {"NBM108"}
    ini.write_text(ini.read_text().replace("nbmigrate.lint.disable = NBM101, not-analysed\n",
                                           "nbmigrate.lint.fail = warning\nnbmigrate.lint.disable = NBM101\n"))
    assert lint(project).ok  # NBM001 is info
    write_revision(project, "m3", 'with op.batch_alter_table("orders") as b:\n    b.alter_column("n", type_=sa.BigInteger)')
    result = lint(project)
    assert not result.ok and [f.code for f in result.blocking()] == ["NBM401"]


def test_broken_markers_and_policy_are_said(here: Path, sqlite_url: str) -> None:
    project = base_project(sqlite_url)
    write_revision(project, "k1", '# nbmigrate: allow NBM999\n# nbmigrate: ignore NBM108\nop.drop_column("orders", "t")')
    result = lint(project)
    assert not result.ok
    assert any("marker names no rule 'NBM999'" in w for w in result.warnings), result.warnings
    assert any("is not `# nbmigrate: allow CODE`" in w for w in result.warnings), result.warnings
    Path("pyproject.toml").write_text('[tool.nbmigrate.lint]\nfail = "sometimes"\n')
    with pytest.raises(nbmigrate.NbmigrateError, match="use error, warning or never"):
        lint(project)
    Path("pyproject.toml").write_text('[tool.nbmigrate.lint]\nfail = "never"\ndisable = ["NBM001"]\n')
    assert lint(project).ok


def test_repository_history_has_no_errors(here: Path) -> None:
    """The repository's own migrations/ (the tutorial's history) lint clean of errors, offline and online."""
    import shutil

    repo = Path(__file__).resolve().parent.parent
    shutil.copytree(repo / "migrations", here / "migrations")
    shutil.copy(repo / "alembic.ini", here / "alembic.ini")
    project = nbmigrate.Project()
    project.connect(f"sqlite:///{here / 'repo.db'}")
    result = lint(project, "base:heads")
    assert [r.revision for r in result.revisions] == ["0001", "0002"]
    assert result.ok and not [f for f in result.findings if f.severity != "info"], str(result)


@pytest.mark.postgresql
def test_not_null_after_a_validated_check_in_the_database(here: Path, pg_url: str) -> None:
    """PostgreSQL 12+ sets NOT NULL without a scan when a validated CHECK says so: read from the database."""
    project = base_project(pg_url)
    write_revision(project, "v1", 'op.create_check_constraint("n_nn", "orders", "n IS NOT NULL", postgresql_not_valid=True)')
    write_revision(project, "v2", 'op.execute("UPDATE orders SET n = 0 WHERE n IS NULL")\n'
                                  'op.execute("ALTER TABLE orders VALIDATE CONSTRAINT n_nn")')
    write_revision(project, "v3", 'op.alter_column("orders", "n", nullable=False, existing_type=sa.Integer)\n'
                                  'op.alter_column("orders", "c", nullable=False, existing_type=sa.Integer)')
    project.upgrade("v2")
    result = lint(project)
    assert [r.revision for r in result.revisions] == ["v3"]
    assert [f.fields["column"] for f in result.findings if f.code == "NBM106"] == ["c"]


# -- server versions, without a database --------------------------------------------------------------


def _analysed(sql: list[str], dialect: str, version: tuple[int, ...] | None) -> list:
    """The findings of revision ``x2``: its statements, after ``x1`` created ``t (a INTEGER, c ...)``."""
    from nbmigrate.lint import RevisionStatements, Statement, analyse

    setup, *body = sql if sql[0].startswith("CREATE TABLE") else ["CREATE TABLE t (a INTEGER)", *sql]
    revisions = [RevisionStatements(f"x{n}", statements=tuple(Statement(i, s, in_transaction=dialect == "postgresql")
                                                             for i, s in enumerate(stmts)))
                 for n, stmts in ((1, [setup]), (2, body))]
    return [f for f in analyse(revisions, dialect, version) if f.revision == "x2"]


@pytest.mark.parametrize(("sql", "dialect", "version", "expected"), [
    ("ALTER TABLE t ADD COLUMN x INTEGER DEFAULT '0'", "postgresql", (10, 23), {"NBM102": "AccessExclusiveLock"}),
    ("ALTER TABLE t ADD COLUMN x INTEGER DEFAULT '0'", "postgresql", (11, 0), {}),
    ("ALTER TABLE t ADD COLUMN x TIMESTAMP WITH TIME ZONE DEFAULT now()", "postgresql", None, {}),
    ("ALTER TABLE t ADD COLUMN x UUID DEFAULT gen_random_uuid()", "postgresql", (16,), {"NBM102": "AccessExclusiveLock"}),
    ("ALTER TABLE t DROP COLUMN x", "mysql", (8, 0, 20), {"NBM108": "ALGORITHM=INPLACE, LOCK=NONE"}),
    ("ALTER TABLE t DROP COLUMN x", "mysql", (8, 0, 29), {"NBM108": "ALGORITHM=INSTANT"}),
    ("ALTER TABLE t DROP COLUMN x", "mysql", None, {"NBM108": "ALGORITHM=INSTANT"}),
    ("ALTER TABLE t CHANGE a b INTEGER NULL", "mariadb", (10, 3, 39), {"NBM107": "ALGORITHM=INPLACE, LOCK=NONE"}),
    ("ALTER TABLE t CHANGE a b INTEGER NULL", "mariadb", (10, 11, 6), {"NBM107": "ALGORITHM=INSTANT"}),
    ("ALTER TABLE t DROP COLUMN x", "sqlite", (3, 30, 1), {"NBM108": "database write lock", "NBM402": "fails on SQLite"}),
    ("ALTER TABLE t DROP COLUMN x", "sqlite", (3, 45, 0), {"NBM108": "database write lock"}),
    ("ALTER TABLE t RENAME COLUMN a TO b", "sqlite", (3, 24, 0), {"NBM107": "database write lock", "NBM402": "fails on SQLite"}),
])
def test_server_versions(sql: str, dialect: str, version: tuple[int, ...] | None, expected: dict) -> None:
    found = {f.code: f.lock for f in _analysed([sql], dialect, version) if f.code != "NBM003"}
    assert found == expected


@pytest.mark.parametrize(("before", "after", "dialect", "flagged"), [
    ("VARCHAR(20)", "VARCHAR(40)", "mysql", False),  # the length prefix stays one byte
    ("VARCHAR(60)", "VARCHAR(100)", "mysql", True),  # 240 -> 400 bytes of utf8mb4: a copy
    ("VARCHAR(60)", "VARCHAR(100)", "mariadb", False),
    ("VARCHAR(20)", "TEXT", "postgresql", False),
    ("VARCHAR(40)", "VARCHAR(20)", "postgresql", True),
    ("NUMERIC(10, 2)", "NUMERIC(12, 2)", "postgresql", False),
    ("INTEGER", "BIGINT", "postgresql", True),
])
def test_type_changes_that_rewrite(before: str, after: str, dialect: str, flagged: bool) -> None:
    alter = (f"ALTER TABLE t MODIFY c {after} NULL" if dialect in ("mysql", "mariadb")
             else f"ALTER TABLE t ALTER COLUMN c TYPE {after}")
    codes = [f.code for f in _analysed([f"CREATE TABLE t (c {before})", alter], dialect, None)]
    assert "NBM109" not in codes  # MODIFY ... NULL restates a nullable column
    assert ("NBM105" in codes) == flagged, codes


def test_raw_sql_sqlglot_cannot_read_is_reported() -> None:
    (finding,) = [f for f in _analysed(["SELEKT nonsense FROM"], "postgresql", None) if f.code == "NBM001"]
    assert finding.severity == "info" and "sqlglot cannot parse it" in finding.message


@pytest.mark.postgresql
def test_a_lent_connection_keeps_its_transaction(here: Path, pg_url: str) -> None:
    """Linting over a Connection the user is in a transaction on rolls back nothing of theirs."""
    project = base_project(pg_url)
    write_revision(project, "t1", 'op.alter_column("orders", "zzz", type_=sa.BigInteger)')  # no such column: facts say nothing
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("INSERT INTO items (id, order_id) VALUES (999, 1)"))
            project.connect(conn)
            result = lint(project)
            assert [r.revision for r in result.revisions] == ["t1"] and result.sized
            assert conn.in_transaction()
            assert conn.execute(sa.text("SELECT count(*) FROM items WHERE id = 999")).scalar() == 1
            conn.rollback()
    finally:
        project.disconnect()
        engine.dispose()


def test_offline_server_version_from_the_config(here: Path) -> None:
    """With no database to ask, nbmigrate.lint.server_version says which release to judge for."""
    project = nbmigrate.Project()
    project.init()
    write_revision(project, "o1", 'op.create_table("orders", sa.Column("id", sa.BigInteger, primary_key=True))')
    write_revision(project, "o2", 'op.add_column("orders", sa.Column("n", sa.Integer, nullable=False, server_default="0"))')
    project.use("postgresql+psycopg://nobody@127.0.0.1:1/nowhere")  # nothing listens there: offline
    result = lint(project)
    assert not result.sized and result.server_version is None
    assert not [f for f in result.findings if f.severity == "error"]  # PostgreSQL 11+: a constant default is free
    assert any("database not read" in w for w in result.warnings) and any("newest releases" in w for w in result.warnings)
    ini = Path("alembic.ini")
    ini.write_text(ini.read_text().replace("[alembic]\n", "[alembic]\nnbmigrate.lint.server_version = 10.23\n", 1))
    result = lint(project)
    assert result.server_version == (10, 23) and result.rev_range == "base:heads"
    assert [f.code for f in result.findings if f.severity == "error"] == ["NBM102"]
