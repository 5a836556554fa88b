"""Repositories over the tables, and a unit of work that commits them as one transaction."""
from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from storage.agency import Agency
from storage.workspace import LeadBook
from storage.models import Contact, ContactEvent, Conversation, Delivery, InboxItem, OutboxItem, utcnow


class Contacts:
    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, channel: str, external_id: str) -> Contact | None:
        return self.session.scalars(
            select(Contact).where(Contact.channel == channel, Contact.external_id == external_id)
        ).one_or_none()

    def get_or_create(self, channel: str, external_id: str, name: str, locale: str,
                      start_payload: str | None = None) -> Contact:
        contact = self.find(channel, external_id)
        if contact is None:
            contact = Contact(channel=channel, external_id=external_id, name=name, locale=locale,
                              start_payload=start_payload)
            self.session.add(contact)
            self.session.flush()
        elif start_payload and not contact.start_payload:
            contact.start_payload = start_payload
        return contact

    def erase(self, contact: Contact) -> None:
        """Delete a person and everything recorded about them (their request, by law)."""
        ids = select(Conversation.id).where(Conversation.contact_id == contact.id)
        self.session.execute(delete(ContactEvent).where(ContactEvent.conversation_id.in_(ids)))
        self.session.execute(delete(OutboxItem).where(OutboxItem.conversation_id.in_(ids)))
        self.session.execute(delete(Conversation).where(Conversation.contact_id == contact.id))
        self.session.delete(contact)


class Conversations:
    def __init__(self, session: Session) -> None:
        self.session = session

    def open(self, channel: str, external_id: str, name: str, locale: str,
             start_payload: str | None = None) -> tuple[Contact, Conversation]:
        """The contact and their current conversation in the mode they are in (a sale or a
        rehearsal), created when new; one query when both exist."""
        row = self.session.execute(
            select(Contact, Conversation)
            .outerjoin(Conversation,
                       (Conversation.contact_id == Contact.id) & (Conversation.mode == Contact.active_mode))
            .where(Contact.channel == channel, Contact.external_id == external_id)
            .order_by(Conversation.id.desc())
            .limit(1)
        ).one_or_none()
        if row is None:
            contact = Contacts(self.session).get_or_create(channel, external_id, name, locale, start_payload)
            return contact, self.start(contact, "approach")
        contact, conversation = row
        contact.unreachable_since = None  # they wrote: they can be written to
        if start_payload and not contact.start_payload:
            contact.start_payload = start_payload
        return contact, conversation or self.start(contact, "approach", contact.active_mode)

    def of(self, channel: str, external_id: str) -> Conversation | None:
        """Someone's current customer conversation, by their channel id (None: no such person)."""
        return self.session.scalars(
            select(Conversation).join(Contact, Conversation.contact_id == Contact.id)
            .where(Contact.channel == channel, Contact.external_id == external_id,
                   Conversation.mode == "customer")
            .order_by(Conversation.id.desc()).limit(1)).first()

    def current(self, contact: Contact, mode: str = "customer") -> Conversation | None:
        return self.session.scalars(
            select(Conversation)
            .where(Conversation.contact_id == contact.id, Conversation.mode == mode)
            .order_by(Conversation.id.desc())
            .limit(1)
        ).one_or_none()

    def start(self, contact: Contact, state: str, mode: str = "customer") -> Conversation:
        conversation = Conversation(contact_id=contact.id, mode=mode, state=state, data={})
        self.session.add(conversation)
        self.session.flush()
        return conversation

    def rehearsal_scores(self, contact: Contact) -> list[tuple[datetime, int]]:
        rows = self.session.scalars(
            select(Conversation)
            .where(Conversation.contact_id == contact.id, Conversation.mode == "rehearsal")
            .order_by(Conversation.id)
        )
        return [(row.updated_at, row.data["score"]) for row in rows if "score" in row.data]

    def due_reminders(self, channel: str, now: datetime) -> list[tuple[Contact, Conversation]]:
        rows = self.session.execute(
            select(Contact, Conversation).join(Conversation, Conversation.contact_id == Contact.id)
            .where(Contact.channel == channel, Conversation.remind_at <= now,
                   Conversation.reminded.is_(False), Contact.unreachable_since.is_(None))
            .order_by(Conversation.remind_at)
        )
        return [(contact, conversation) for contact, conversation in rows]


class Events:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.pending: list[dict[str, Any]] = []

    def add(self, conversation: Conversation, kind: str, stage: str, text: str = "",
            detail: dict[str, Any] | None = None) -> None:
        """Queue a line of the log; the unit of work writes all of them in one statement on commit."""
        self.add_to(conversation.id, kind, stage, text, detail)

    def add_to(self, conversation_id: int, kind: str, stage: str, text: str = "",
               detail: dict[str, Any] | None = None) -> None:
        self.pending.append({"conversation_id": conversation_id, "kind": kind, "stage": stage, "text": text,
                             "detail": detail or {}, "at": utcnow()})

    def write(self) -> None:
        if self.pending:
            self.session.execute(insert(ContactEvent), self.pending)
            self.pending = []

    def of(self, conversation_id: int) -> list[ContactEvent]:
        return list(self.session.scalars(
            select(ContactEvent)
            .where(ContactEvent.conversation_id == conversation_id)
            .order_by(ContactEvent.id)
        ))


class Deliveries:
    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(self, channel: str, delivery_id: str) -> bool:
        """Record a delivery; False when it was recorded before (a duplicate)."""
        insert_ = _insert(self.session)
        if insert_ is None:  # any other database: look first
            if self.session.get(Delivery, (channel, delivery_id)) is not None:
                return False
            self.session.add(Delivery(channel=channel, delivery_id=delivery_id))
            return True
        statement = insert_(Delivery).values(channel=channel, delivery_id=delivery_id, at=utcnow())
        inserted = statement.on_conflict_do_nothing().returning(Delivery.delivery_id)
        return self.session.execute(inserted).first() is not None

    def forget_before(self, moment: datetime) -> int:
        """Drop records of deliveries older than any repeat Telegram still sends; returns how many."""
        # an ORM DELETE returns a CursorResult, which has the row count; Session.execute is typed as Result
        result = cast("CursorResult[Any]", self.session.execute(delete(Delivery).where(Delivery.at < moment)))
        return result.rowcount


def _insert(session: Session) -> Any:
    """The dialect's INSERT with ON CONFLICT DO NOTHING, or None for a database without it."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(session.get_bind().dialect.name)
    return dialect.insert if dialect else None


class Inbox:
    """Updates received and not yet handled (see InboxItem)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def put(self, channel: str, delivery_id: str, sequence: int, chat: str, payload: dict[str, Any]) -> None:
        """Keep an update; one received before (Telegram sends again what was not answered) is kept once."""
        row = {"channel": channel, "delivery_id": delivery_id, "sequence": sequence, "chat": chat,
               "payload": payload, "received_at": utcnow()}
        insert_ = _insert(self.session)
        if insert_ is None:
            if not self.session.scalars(select(InboxItem.id).where(
                    InboxItem.channel == channel, InboxItem.delivery_id == delivery_id)).first():
                self.session.add(InboxItem(**row))
            return
        self.session.execute(insert_(InboxItem).values(**row).on_conflict_do_nothing())

    def first(self, channel: str, chat: str) -> InboxItem | None:
        """The chat's earliest update not yet handled."""
        return self.session.scalars(
            select(InboxItem).where(InboxItem.channel == channel, InboxItem.chat == chat)
            .order_by(InboxItem.sequence).limit(1)
        ).first()

    def done(self, channel: str, delivery_id: str) -> None:
        self.session.execute(delete(InboxItem).where(InboxItem.channel == channel,
                                                     InboxItem.delivery_id == delivery_id))

    def chats(self, channel: str) -> list[str]:
        """Chats with updates waiting, the one waiting longest first."""
        rows = self.session.execute(
            select(InboxItem.chat).where(InboxItem.channel == channel)
            .group_by(InboxItem.chat).order_by(func.min(InboxItem.sequence)))
        return [chat for (chat,) in rows]


class Outbox:
    """Messages decided and not yet sent (see OutboxItem); sending them logs them."""

    def __init__(self, session: Session, events: Events) -> None:
        self.session = session
        self.events = events

    def add(self, channel: str, chat: str, conversation_id: int | None, stage: str, kind: str,
            payload: dict[str, Any]) -> None:
        self.session.add(OutboxItem(channel=channel, chat=chat, conversation_id=conversation_id, stage=stage,
                                    kind=kind, payload=payload, status="pending", reason="", attempts=0,
                                    created_at=utcnow()))

    def pending(self, channel: str, chat: str) -> list[OutboxItem]:
        return list(self.session.scalars(
            select(OutboxItem).where(OutboxItem.channel == channel, OutboxItem.chat == chat,
                                     OutboxItem.status == "pending")
            .order_by(OutboxItem.id)))

    def chats(self, channel: str) -> list[str]:
        """Chats with messages waiting, the one waiting longest first."""
        rows = self.session.execute(
            select(OutboxItem.chat).where(OutboxItem.channel == channel, OutboxItem.status == "pending")
            .group_by(OutboxItem.chat).order_by(func.min(OutboxItem.id)))
        return [chat for (chat,) in rows]

    def sent(self, item_id: int) -> None:
        """The channel took the message: mark it, and only now write it into the contact log."""
        item = self.session.get(OutboxItem, item_id)
        if item is None or item.status != "pending":  # erased meanwhile, or marked by another worker
            return
        item.status, item.sent_at, item.attempts = "sent", utcnow(), item.attempts + 1
        if item.conversation_id is not None and item.kind == "message":
            self.events.add_to(item.conversation_id, "outbound", item.stage, item.payload["text"],
                               {"buttons": [b[1] for b in item.payload["buttons"]]}
                               if item.payload.get("buttons") else {})

    def failed(self, item_id: int, reason: str, unreachable: bool = False) -> None:
        """Refused for good (the chat is gone, the bot was blocked): kept, with why, never sent.
        unreachable: the person cannot be written to at all; their contact is marked so."""
        item = self.session.get(OutboxItem, item_id)
        if item is None or item.status != "pending":
            return
        item.status, item.reason, item.attempts = "failed", reason[:200], item.attempts + 1
        if unreachable:
            self.session.execute(update(Contact).where(Contact.channel == item.channel,
                                                       Contact.external_id == item.chat)
                                 .values(unreachable_since=utcnow()))


class UnitOfWork:
    """One transaction: `with db.unit_of_work() as uow: ...; uow.commit()`; anything else rolls back."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.contacts = Contacts(self.session)
        self.conversations = Conversations(self.session)
        self.events = Events(self.session)
        self.deliveries = Deliveries(self.session)
        self.inbox = Inbox(self.session)
        self.outbox = Outbox(self.session, self.events)
        self.agency = Agency(self.session)
        self.leads = LeadBook(self.session)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.close()  # rolls back whatever was not committed; loaded objects stay readable

    def commit(self) -> None:
        self.events.write()
        self.session.commit()
