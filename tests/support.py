"""Helpers the test modules share: revision files written through nbmigrate or by hand."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from IPython.core.error import UsageError

import nbmigrate


def revision_source(
    rev: str,
    down: Any,
    message: str = "",
    upgrade: str = "pass",
    downgrade: str = "pass",
    *,
    branch_labels: Any = None,
    depends_on: Any = None,
) -> str:
    """The text of a revision file, written by hand (``project.revision`` refuses a broken graph)."""
    return (
        f'"""{message or f"rev {rev}"}"""\n'
        "from alembic import op\n"
        "import sqlalchemy as sa\n\n"
        f"revision = {rev!r}\n"
        f"down_revision = {down!r}\n"
        f"branch_labels = {branch_labels!r}\n"
        f"depends_on = {depends_on!r}\n\n\n"
        f"def upgrade():\n{textwrap.indent(upgrade, '    ')}\n\n\n"
        f"def downgrade():\n{textwrap.indent(downgrade, '    ')}\n"
    )


def write_revision(project: nbmigrate.Project, rev_id: str, upgrade: str, downgrade: str = "pass") -> Path:
    """Create revision ``rev_id`` with ``project.revision`` and put the code into its functions."""
    path = Path(project.revision(f"rev {rev_id}", rev_id=rev_id).path)
    source = path.read_text()
    source = source.replace('    """Upgrade schema."""\n    pass', '    """Upgrade schema."""\n' + textwrap.indent(upgrade, "    "))
    source = source.replace('    """Downgrade schema."""\n    pass', '    """Downgrade schema."""\n' + textwrap.indent(downgrade, "    "))
    path.write_text(source)
    return path


def usage_error(ip: Any, line: str, *fragments: str) -> str:
    """``%migrate line`` (or a cell) must fail with exactly one UsageError holding ``fragments``."""
    result = ip.run_cell(line if line.startswith("%") else f"%migrate {line}")
    error = result.error_in_exec
    assert type(error) is UsageError, f"{line!r} raised {type(error).__name__}: {error}"
    message = str(error)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def checksum_rows(url: str) -> dict[str, str]:
    """nbmigrate's checksum side table as the database holds it: revision → sha256."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("nbmigrate_checksums"):
                return {}
            return dict(conn.execute(sa.text("SELECT revision, sha256 FROM nbmigrate_checksums")).all())
    finally:
        engine.dispose()


def applied_rows_and_version(url: str) -> tuple[list[str], list[str]]:
    """The rows of the test table ``applied`` (sorted) and what ``alembic_version`` says."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = sorted(r for (r,) in conn.execute(sa.text("SELECT rev FROM applied")))
            version = [v for (v,) in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]
        return rows, version
    finally:
        engine.dispose()


def database_state(url: str) -> dict[str, Any]:
    """A database as read directly: each table's columns, indexes and rows, and ``alembic_version``.

    The timeline verbs replay on scratch databases; comparing this before and after each verb
    shows that the user's own database was not touched.
    """
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            state: dict[str, Any] = {}
            for name in sorted(inspector.get_table_names()):
                table = sa.table(name)
                rows = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                columns = [c["name"] for c in inspector.get_columns(name)]
                indexes = sorted(i["name"] or "" for i in inspector.get_indexes(name))
                state[name] = (columns, indexes, rows)
            if "alembic_version" in state:
                state["alembic_version"] = sorted(v for (v,) in conn.execute(sa.text("SELECT version_num FROM alembic_version")))
            return state
    finally:
        engine.dispose()


@contextmanager
def ops(url: str) -> Iterator[Operations]:
    """Alembic operations on a connection to ``url``, committed at the end."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            yield Operations(MigrationContext.configure(conn))
    finally:
        engine.dispose()


# An empty revision (upgrade and downgrade pass) with its links, for histories that only need a shape.
REVISION = '''"""{message}

Revision ID: {rev}
"""
revision = {rev!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {deps!r}


def upgrade():
    pass


def downgrade():
    pass
'''


def write_history(folder: Path, history: Sequence[tuple[Any, Any, Any, Any]]) -> Path:
    """Revision files in ``folder/versions``, one per ``(revision, down_revision, branch_labels, depends_on)``."""
    versions = folder / "versions"
    versions.mkdir(parents=True)
    for i, (rev, down, labels, deps) in enumerate(history):
        text = REVISION.format(message=f"step {i}", rev=rev, down=down, labels=labels, deps=deps)
        (versions / f"{rev}_step_{i}.py").write_text(text, encoding="utf-8")
    return versions


# a - b - c(merge of b, e) - d       branch label "main" on a
#  \- e (label "side", depends on b's branch through the label "main")
#  f (a second base, depends_on "side"), g after f depending on d
BRANCHED_HISTORY: list[tuple[Any, Any, Any, Any]] = [
    ("a", None, ("main",), None),
    ("b", "a", None, None),
    ("e", "a", ("side",), None),
    ("c", ("b", "e"), None, None),
    ("d", "c", None, None),
    ("f", None, ("other",), ("side",)),
    ("g", "f", None, ("d",)),
]
