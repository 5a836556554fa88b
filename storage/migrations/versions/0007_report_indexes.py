"""indexes for the dashboard's date ranges: conversations (mode, created_at), contacts (created_at)

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_conversations_mode_created", "conversations", ["mode", "created_at"])
    op.create_index("ix_contacts_created", "contacts", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_contacts_created", "contacts")
    op.drop_index("ix_conversations_mode_created", "conversations")
