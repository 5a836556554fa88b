"""an update whose turn keeps failing is parked, not lost: inbox.parked_at and reason; a partial
index on the outbox's pending rows, so the look for work does not grow with the messages sent; the
number of the question a message asks (outbox.asked), to tell when the customer was shown it

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")
ASKS = sa.text("asked IS NOT NULL")


def upgrade() -> None:
    op.add_column("inbox", sa.Column("parked_at", sa.DateTime(), nullable=True))
    op.add_column("inbox", sa.Column("reason", sa.String(200), nullable=False, server_default=""))
    op.create_index("ix_outbox_pending", "outbox", ["channel", "id"], postgresql_where=PENDING,
                    sqlite_where=PENDING)
    op.add_column("outbox", sa.Column("asked", sa.BigInteger(), nullable=True))
    op.create_index("ix_outbox_asked", "outbox", ["channel", "chat", "asked"], postgresql_where=ASKS,
                    sqlite_where=ASKS)


def downgrade() -> None:
    op.drop_index("ix_outbox_asked", "outbox")
    op.drop_column("outbox", "asked")
    op.drop_index("ix_outbox_pending", "outbox")
    op.drop_column("inbox", "reason")
    op.drop_column("inbox", "parked_at")
