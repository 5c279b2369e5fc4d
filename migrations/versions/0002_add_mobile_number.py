"""add mobile number

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 07:58:31.711638

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("user", sa.Column("mobile_number", sa.String(20)))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("user") as batch:
        batch.drop_column("mobile_number")
