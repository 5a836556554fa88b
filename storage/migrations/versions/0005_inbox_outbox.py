"""inbox (updates kept until handled), outbox (messages kept until sent), contacts.unreachable_since

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", ID, primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("chat", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("channel", "delivery_id"),
    )
    op.create_index("ix_inbox_chat", "inbox", ["channel", "chat", "sequence"])
    op.create_table(
        "outbox",
        sa.Column("id", ID, primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("chat", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(30), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbox_chat", "outbox", ["channel", "chat", "status", "id"])
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("unreachable_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("unreachable_since")
    op.drop_table("outbox")
    op.drop_table("inbox")
