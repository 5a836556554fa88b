"""an index for the round-robin of new leads: leads (agent_id, updated_at)

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_leads_agent_updated", "leads", ["agent_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_leads_agent_updated", "leads")
