"""the agency: staff (agents, managers), referral codes and referrals, leads with notes and follow-ups

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("joined_at", WHEN, nullable=False),
        sa.UniqueConstraint("channel", "external_id"),
    )
    op.create_table(
        "referral_codes",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id"), nullable=True, index=True),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("show_name", sa.Boolean(), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("revoked_at", WHEN, nullable=True),
        sa.Column("used_at", WHEN, nullable=True),
    )
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("referrer_contact_id", sa.Integer(), sa.ForeignKey("contacts.id"), nullable=True,
                  index=True),
        sa.Column("referrer_staff_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("referred_contact_id", sa.Integer(), sa.ForeignKey("contacts.id"), nullable=False,
                  unique=True),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
    )
    op.create_table(
        "leads",
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id"), primary_key=True),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True, index=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("lost_reason", sa.String(200), nullable=False),
        sa.Column("handed_off_at", WHEN, nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_table(
        "lead_notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id"), nullable=False, index=True),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
    )
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id"), nullable=False, index=True),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("due_at", WHEN, nullable=False, index=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("done_at", WHEN, nullable=True),
    )


def downgrade() -> None:
    for table in ("follow_ups", "lead_notes", "leads", "referrals", "referral_codes", "staff"):
        op.drop_table(table)
