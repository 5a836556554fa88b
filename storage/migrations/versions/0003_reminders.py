"""reminders: when a conversation left in the middle of the questions is due its one reminder

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reminded", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_index("ix_conversations_remind_at", ["remind_at"])


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_remind_at")
        batch.drop_column("reminded")
        batch.drop_column("remind_at")
