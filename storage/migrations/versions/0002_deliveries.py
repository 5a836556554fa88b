"""deliveries: updates already handled, so that a repeated delivery is processed once

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "delivery_id"),
    )
    op.create_index("ix_deliveries_at", "deliveries", ["at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_at", table_name="deliveries")
    op.drop_table("deliveries")
