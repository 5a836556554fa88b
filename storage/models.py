"""The tables: who we talk to, the conversation with them, and every contact event."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Contact(Base):
    """A person, as known on one channel."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "external_id"), Index("ix_contacts_created", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str] = mapped_column(String(10))
    start_payload: Mapped[str | None] = mapped_column(String(64), default=None)
    active_mode: Mapped[str] = mapped_column(String(20), default="customer", server_default="customer")
    # When the channel refused a message for good (the person blocked the bot); cleared when they write.
    unreachable_since: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversations: Mapped[list[Conversation]] = relationship(back_populates="contact")


class Conversation(Base):
    """One run of the sale with a contact: its stage and everything answered so far."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_mode_created", "mode", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    mode: Mapped[str] = mapped_column(String(20), default="customer")
    state: Mapped[str] = mapped_column(String(30))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    remind_at: Mapped[datetime | None] = mapped_column(default=None, index=True)  # the one reminder, when due
    reminded: Mapped[bool] = mapped_column(default=False, server_default=false())

    contact: Mapped[Contact] = relationship(back_populates="conversations")


class ContactEvent(Base):
    """One line of the contact log: an inbound message, an outbound reply or a change of stage."""

    __tablename__ = "contact_events"
    __table_args__ = (Index("ix_contact_events_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # inbound | outbound | transition | consent | objection | handoff
    kind: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Delivery(Base):
    """An update already handled, by its channel's id: a second delivery of it is ignored."""

    __tablename__ = "deliveries"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class InboxItem(Base):
    """An update as it arrived, kept from before the channel is told it was received until it has
    been handled: what a crash interrupts is handled after the restart, in order per chat."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("channel", "delivery_id"),
                      Index("ix_inbox_chat", "channel", "chat", "sequence"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    delivery_id: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(BigInteger)  # the channel's order (Telegram's update_id)
    chat: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # a turn that kept failing: the update is left aside for an operator (`salesbot parked`), with why
    parked_at: Mapped[datetime | None] = mapped_column(default=None)
    reason: Mapped[str] = mapped_column(String(200), server_default="")


ASKS = text("asked IS NOT NULL")  # an outbox row of a message that asks a question
PENDING = text("outbox.status = 'pending'")  # an outbox row not yet sent (a partial index's condition)


class EvidenceEntry(Base):
    """One entry of a sale's evidence (storage/evidence.py): a line of its contact log as canonical
    JSON (`entry`), chained to the entry before it by hashes, so that an edited, removed or
    reordered entry shows. Written in the transaction that writes the line; never updated."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("conversation_id", "seq", name="uq_evidence_conversation_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column()  # 1, 2, 3... per conversation
    entry: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class OutboxItem(Base):
    """A message to send, written in the transaction that decided it; sent in order per chat.

    status: pending (not yet accepted by the channel), sent, or failed (refused for good: reason)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_chat", "channel", "chat", "status", "id"),
                      # the chats with messages to send, read every few seconds, whatever was sent before
                      Index("ix_outbox_pending", "channel", "id", postgresql_where=PENDING,
                            sqlite_where=PENDING),
                      # when the message that asked a question reached the person (a retype is told apart)
                      Index("ix_outbox_asked", "channel", "chat", "asked", postgresql_where=ASKS,
                            sqlite_where=ASKS))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat: Mapped[str] = mapped_column(String(64))  # whom it goes to: the customer's chat or the agent's
    conversation_id: Mapped[int | None] = mapped_column(default=None)  # whose log records it when sent
    stage: Mapped[str] = mapped_column(String(30), default="")
    kind: Mapped[str] = mapped_column(String(20))  # message | chart
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str] = mapped_column(String(200), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)  # by the channel's clock (Telegram's)
    asked: Mapped[int | None] = mapped_column(BigInteger, default=None)  # the question it asks (Reply.asked)


# -- the agency: its people, its leads, and the referrals that bring them ------------------------
class Staff(Base):
    """An agent or a manager of the agency, as known on one channel (README: Roles)."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(10))  # agent | manager
    name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReferralCode(Base):
    """A start code: a client's or an agent's link, a campaign's, or a one-time invitation to join
    as an agent. Random (unguessable), kept here; revoked codes credit nobody."""

    __tablename__ = "referral_codes"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # client | agent | campaign | staff_invite | login
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), default=None, index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    show_name: Mapped[bool] = mapped_column(default=False)  # the client agreed to be named to friends
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    used_at: Mapped[datetime | None] = mapped_column(default=None)  # a one-time invitation, once used


class Referral(Base):
    """Someone who came by a code: who brought them, and how far they went."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    referrer_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), default=None,
                                                            index=True)
    referrer_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    referred_contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), unique=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="came")  # came | answered | client


class Lead(Base):
    """A customer as the agency works them: whose they are and where the agent has got to."""

    __tablename__ = "leads"
    __table_args__ = (Index("ix_leads_agent_updated", "agent_id", "updated_at"),)  # the round-robin

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None, index=True)
    # new | contacted | meeting | applied | won | lost
    status: Mapped[str] = mapped_column(String(12), default="new")
    lost_reason: Mapped[str] = mapped_column(String(200), default="")
    handed_off_at: Mapped[datetime | None] = mapped_column(default=None)
    # Until then the customer's typed messages go to their agent, who wrote to them (/reply; /done ends it).
    talking_until: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LeadNote(Base):
    __tablename__ = "lead_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class FollowUp(Base):
    """A reminder an agent set on a lead; the periodic job delivers it to the agent when due."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    due_at: Mapped[datetime] = mapped_column(index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None] = mapped_column(default=None)


def contact_length(column: str) -> int | None:
    """The most characters a contact's text column keeps (None: no limit)."""
    kind = Contact.__table__.c[column].type
    return kind.length if isinstance(kind, String) else None
