"""Repositories over the tables, and a unit of work that commits them as one transaction."""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, delete, func, insert, select, update
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
            self.session.connection().execute(_EVENTS_INSERT, self.pending)
            self.pending = []

    def of(self, conversation_id: int) -> list[ContactEvent]:
        return list(self.session.scalars(
            select(ContactEvent)
            .where(ContactEvent.conversation_id == conversation_id)
            .order_by(ContactEvent.id)
        ))


# The statements of the message path, built once: plain Core on the session's connection, since
# the ORM's per-object bookkeeping costs more than the work itself for rows nobody edits in place.
_INBOX, _OUTBOX, _DELIVERIES, _EVENTS = (cast(Table, model.__table__)
                                         for model in (InboxItem, OutboxItem, Delivery, ContactEvent))
_EVENTS_INSERT = insert(_EVENTS)
_INBOX_FIRST = (select(_INBOX.c.payload)
                .where(_INBOX.c.channel == bindparam("channel"), _INBOX.c.chat == bindparam("chat"))
                .order_by(_INBOX.c.sequence).limit(1))
_INBOX_DONE = delete(_INBOX).where(_INBOX.c.channel == bindparam("channel"),
                                   _INBOX.c.delivery_id == bindparam("delivery_id"))
_OUTBOX_ADD = insert(_OUTBOX)
_OUTBOX_PENDING = (select(_OUTBOX.c.id, _OUTBOX.c.kind, _OUTBOX.c.payload)
                   .where(_OUTBOX.c.channel == bindparam("channel"), _OUTBOX.c.chat == bindparam("chat"),
                          _OUTBOX.c.status == "pending")
                   .order_by(_OUTBOX.c.id))


# Marks a pending outbox row (not one erased meanwhile, or marked by another worker); the row comes back.
_OUTBOX_MARK = (update(_OUTBOX).where(_OUTBOX.c.id == bindparam("item_id"), _OUTBOX.c.status == "pending")
                .values(attempts=_OUTBOX.c.attempts + 1)
                .returning(_OUTBOX.c.channel, _OUTBOX.c.chat, _OUTBOX.c.conversation_id, _OUTBOX.c.stage,
                           _OUTBOX.c.kind, _OUTBOX.c.payload))
_OUTBOX_SENT = _OUTBOX_MARK.values(status="sent", sent_at=bindparam("now", type_=_OUTBOX.c.sent_at.type))
_OUTBOX_FAILED = _OUTBOX_MARK.values(status="failed", reason=bindparam("reason", type_=_OUTBOX.c.reason.type))


@functools.cache
def _insert_new(dialect: str, table: Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for a database that has it (RETURNING a column, so that
    the caller can tell whether the row was new), else None."""
    module = {"postgresql": postgresql, "sqlite": sqlite}.get(dialect)
    if module is None:
        return None
    return module.insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)


class Deliveries:
    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(self, channel: str, delivery_id: str) -> bool:
        """Record a delivery; False when it was recorded before (a duplicate)."""
        connection = self.session.connection()
        insert_ = _insert_new(connection.dialect.name, _DELIVERIES)
        row = {"channel": channel, "delivery_id": delivery_id, "at": utcnow()}
        if insert_ is None:  # any other database: look first
            if self.session.get(Delivery, (channel, delivery_id)) is not None:
                return False
            connection.execute(insert(_DELIVERIES), row)
            return True
        return connection.execute(insert_, row).first() is not None

    def forget_before(self, moment: datetime) -> int:
        """Drop records of deliveries older than any repeat Telegram still sends; returns how many."""
        # an ORM DELETE returns a CursorResult, which has the row count; Session.execute is typed as Result
        result = cast("CursorResult[Any]", self.session.execute(delete(Delivery).where(Delivery.at < moment)))
        return result.rowcount


class Inbox:
    """Updates received and not yet handled (see InboxItem)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def put(self, channel: str, delivery_id: str, sequence: int, chat: str, payload: dict[str, Any]) -> None:
        """Keep an update; one received before (Telegram sends again what was not answered) is kept once."""
        row = {"channel": channel, "delivery_id": delivery_id, "sequence": sequence, "chat": chat,
               "payload": payload, "received_at": utcnow()}
        connection = self.session.connection()
        insert_ = _insert_new(connection.dialect.name, _INBOX)
        if insert_ is None:
            if not self.session.scalars(select(InboxItem.id).where(
                    InboxItem.channel == channel, InboxItem.delivery_id == delivery_id)).first():
                connection.execute(insert(_INBOX), row)
            return
        connection.execute(insert_, row)

    def first(self, channel: str, chat: str) -> dict[str, Any] | None:
        """The chat's earliest update not yet handled (its payload)."""
        payload: dict[str, Any] | None = self.session.connection().execute(
            _INBOX_FIRST, {"channel": channel, "chat": chat}).scalar()
        return payload

    def done(self, channel: str, delivery_id: str) -> None:
        self.session.connection().execute(_INBOX_DONE, {"channel": channel, "delivery_id": delivery_id})

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
        self.new: list[dict[str, Any]] = []

    def add(self, channel: str, chat: str, conversation_id: int | None, stage: str, kind: str,
            payload: dict[str, Any]) -> None:
        """Queue a message; the unit of work writes all of them, in order, in one statement on commit."""
        self.new.append({"channel": channel, "chat": chat, "conversation_id": conversation_id, "stage": stage,
                         "kind": kind, "payload": payload, "status": "pending", "reason": "", "attempts": 0,
                         "created_at": utcnow()})

    def write(self) -> None:
        if self.new:
            self.session.connection().execute(_OUTBOX_ADD, self.new)
            self.new = []

    def pending(self, channel: str, chat: str) -> list[tuple[int, str, dict[str, Any]]]:
        """The chat's messages not yet sent, in order: (id, kind, payload)."""
        self.write()
        rows = self.session.connection().execute(_OUTBOX_PENDING, {"channel": channel, "chat": chat})
        return [(row.id, row.kind, row.payload) for row in rows]

    def chats(self, channel: str) -> list[str]:
        """Chats with messages waiting, the one waiting longest first."""
        rows = self.session.execute(
            select(OutboxItem.chat).where(OutboxItem.channel == channel, OutboxItem.status == "pending")
            .group_by(OutboxItem.chat).order_by(func.min(OutboxItem.id)))
        return [chat for (chat,) in rows]

    def sent(self, item_id: int) -> None:
        """The channel took the message: mark it, and only now write it into the contact log."""
        item = self.session.connection().execute(_OUTBOX_SENT, {"item_id": item_id, "now": utcnow()}).first()
        if item is None:  # erased meanwhile, or marked by another worker
            return
        if item.conversation_id is not None and item.kind == "message":
            self.events.add_to(item.conversation_id, "outbound", item.stage, item.payload["text"],
                               {"buttons": [b[1] for b in item.payload["buttons"]]}
                               if item.payload.get("buttons") else {})

    def failed(self, item_id: int, reason: str, unreachable: bool = False) -> None:
        """Refused for good (the chat is gone, the bot was blocked): kept, with why, never sent.
        unreachable: the person cannot be written to at all; their contact is marked so."""
        item = self.session.connection().execute(_OUTBOX_FAILED,
                                                 {"item_id": item_id, "reason": reason[:200]}).first()
        if item is None:
            return
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
        self.session.flush()  # the rows the ORM keeps first: the log and the outbox may refer to them
        self.outbox.write()
        self.events.write()
        self.session.commit()
