"""contacts.active_mode: whether a contact is in a customer conversation or an agent's rehearsal

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(
            sa.Column("active_mode", sa.String(length=20), nullable=False, server_default="customer"))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("active_mode")
