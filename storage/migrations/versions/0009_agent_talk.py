"""the customer talks with their agent: leads.talking_until

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("talking_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("leads", "talking_until")
