"""Helpers the test modules share: revision files written through nbmigrate or by hand."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

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
