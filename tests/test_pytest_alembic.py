"""A history written only with ``%%revision`` passes pytest-alembic's default tests.

pytest-alembic's plugin does not collect under pytest 9, so its runner and its default test
functions are driven directly, on a database of their own (not the project's).
"""

from __future__ import annotations

import logging.config
import textwrap

import pytest
import sqlalchemy as sa

pytest_alembic = pytest.importorskip("pytest_alembic")
from pytest_alembic.plugin.error import AlembicTestFailure
from pytest_alembic.tests import default

MODELS = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

class Base(DeclarativeBase):
    pass

class User(Base):
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str | None] = mapped_column(sa.String(50))
    last_name: Mapped[str] = mapped_column(sa.String(50))
    mobile_number: Mapped[str | None] = mapped_column(sa.String(20))
{extra}
"""

ADDRESS = '    address: Mapped[str | None] = mapped_column(sa.String(200))'


@pytest.fixture(scope="module")
def ip(shell):
    return shell


@pytest.fixture
def project(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # env.py of `alembic init` style calls fileConfig outside nbmigrate: keep this process's logging.
    monkeypatch.setattr(logging.config, "fileConfig", lambda *args, **kwargs: None)
    ip.run_line_magic("migrate", "init")
    names = set(ip.user_ns)
    yield tmp_path
    for name in set(ip.user_ns) - names:
        ip.user_ns.pop(name, None)


def cell(ip, line: str, body: str = "# from the model\n"):
    result = ip.run_cell_magic("revision", line, textwrap.dedent(body))
    assert result.status in ("created", "rewritten", "unchanged", "reapplied"), result
    return result


def run_default_tests(root, metadata, *, model_test: bool = True) -> None:
    """pytest-alembic's default tests, on a fresh SQLite database beside the project."""
    config = pytest_alembic.Config(
        config_options={
            "file": str(root / "alembic.ini"),
            "script_location": str(root / "migrations"),
            "target_metadata": metadata,
        }
    )
    engine = sa.create_engine(f"sqlite:///{root / 'pytest_alembic.db'}")
    try:
        with engine.connect() as conn, pytest_alembic.runner(config, engine=conn) as runner:
            default.test_single_head_revision(runner)
            default.test_upgrade(runner)
            if model_test:
                default.test_model_definitions_match_ddl(runner)
            default.test_up_down_consistency(runner)
    finally:
        engine.dispose()


def test_a_cell_written_history_passes_the_default_tests(ip, project):
    cell(
        ip,
        '-m "create user" --apply',
        """
        def upgrade():
            op.create_table(
                "user",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("first_name", sa.String(50)),
                sa.Column("last_name", sa.String(50), nullable=False),
            )

        def downgrade():
            op.drop_table("user")
        """,
    )
    # a data migration with its own imports, written twice: the second run rewrites it
    data = """
        import json

        NAMES = json.loads('[["Ada", "Lovelace"], ["Alan", "Turing"]]')

        def upgrade():
            users = sa.table("user", sa.column("first_name", sa.String), sa.column("last_name", sa.String))
            op.bulk_insert(users, [{"first_name": f, "last_name": l} for f, l in NAMES])

        def downgrade():
            op.execute('DELETE FROM "user"')
        """
    cell(ip, '-m "seed users"', data.replace("Turing", "Kay"))
    assert cell(ip, '-m "seed users" --apply', data).status == "rewritten"
    cell(
        ip,
        '-m "add mobile number" --apply',
        """
        def upgrade():
            with op.batch_alter_table("user") as batch:
                batch.add_column(sa.Column("mobile_number", sa.String(20)))

        def downgrade():
            with op.batch_alter_table("user") as batch:
                batch.drop_column("mobile_number")
        """,
    )
    ip.run_cell(MODELS.format(extra=ADDRESS))
    auto = cell(ip, '-m "add address" --autogenerate --metadata Base.metadata --apply')
    assert "address" in auto.source
    heads = ip.run_line_magic("migrate", "heads")
    assert len(heads.heads) == 1
    run_default_tests(project, ip.user_ns["Base"].metadata)


def test_the_default_tests_catch_a_cell_without_downgrade(ip, project):
    cell(ip, '-m "create t" --apply', """
        def upgrade():
            op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))

        def downgrade():
            op.drop_table("t")
        """)
    result = cell(ip, '-m "create u" --apply', 'op.create_table("u", sa.Column("id", sa.Integer, primary_key=True))\n')
    assert result.downgrade_empty
    with pytest.raises(AlembicTestFailure, match="Failed to upgrade through each revision individually"):
        run_default_tests(project, None, model_test=False)
