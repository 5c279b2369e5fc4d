"""create user table

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 07:58:31.706151

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("first_name", sa.String(50)),
        sa.Column("last_name", sa.String(50), nullable=False),
        sa.Column("address", sa.String(200)),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("user")
