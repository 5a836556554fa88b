"""Repositories over the tables, and a unit of work that commits them as one transaction."""
from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, delete, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from storage import queues
from storage.agency import Agency
from storage.workspace import LeadBook
from storage.models import (PENDING, Contact, ContactEvent, Conversation, Delivery, EvidenceEntry, InboxItem,
                            OutboxItem, utcnow)


_FIND = select(Contact).where(Contact.channel == bindparam("channel"),
                              Contact.external_id == bindparam("external_id"))
# A contact and their current conversation in the mode they are in (built once: see storage/queues.py).
_OPEN = (select(Contact, Conversation)
         .outerjoin(Conversation,
                    (Conversation.contact_id == Contact.id) & (Conversation.mode == Contact.active_mode))
         .where(Contact.channel == bindparam("channel"), Contact.external_id == bindparam("external_id"))
         .order_by(Conversation.id.desc())
         .limit(1))


class Contacts:
    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, channel: str, external_id: str) -> Contact | None:
        return self.session.scalars(_FIND, {"channel": channel, "external_id": external_id}).one_or_none()

    def erase(self, contact: Contact) -> None:
        """Delete a person and everything recorded about them (their request, by law)."""
        ids = select(Conversation.id).where(Conversation.contact_id == contact.id)
        self.session.execute(delete(ContactEvent).where(ContactEvent.conversation_id.in_(ids)))
        # the evidence goes with the record: the person is told everything was erased
        self.session.execute(delete(EvidenceEntry).where(EvidenceEntry.conversation_id.in_(ids)))
        self.session.execute(delete(OutboxItem).where(OutboxItem.conversation_id.in_(ids)))
        self.session.execute(delete(Conversation).where(Conversation.contact_id == contact.id))
        self.session.delete(contact)


class Conversations:
    def __init__(self, session: Session, cursor: SessionCursor) -> None:
        self.session = session
        self.cursor = cursor

    def open(self, channel: str, external_id: str, name: str, locale: str,
             start_payload: str | None = None) -> tuple[Contact, Conversation]:
        """The contact and their current conversation in the mode they are in (a sale or a
        rehearsal), created when new; one query when both exist."""
        row = self.session.execute(_OPEN, {"channel": channel, "external_id": external_id}).one_or_none()
        if row is None:  # someone new: both rows written in one flush
            contact = Contact(channel=channel, external_id=external_id, name=name, locale=locale,
                              start_payload=start_payload)
            conversation = Conversation(contact=contact, mode="customer", state="approach", data={})
            self.session.add_all([contact, conversation])
            self.session.flush()
            return contact, conversation
        contact, conversation = row
        if contact.unreachable_since is not None:  # they wrote: they can be written to
            contact.unreachable_since = None
        if start_payload and not contact.start_payload:
            contact.start_payload = start_payload
        return contact, conversation or self.start(contact, "approach", contact.active_mode)

    def save(self, conversation: Conversation, state: str, data: dict[str, Any],
             remind_at: datetime | None) -> None:
        """A turn's outcome, written at once by a prepared statement, and set on the loaded object as
        its saved state (so the ORM's flush has nothing left to compare and write for it)."""
        values = {"state": state, "data": data, "remind_at": remind_at, "updated_at": utcnow()}
        self.cursor.execute(self.cursor.sql.conversation_save, {"conversation_id": conversation.id, **values})
        for key, value in values.items():
            set_committed_value(conversation, key, value)

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


class Events(queues.Events):
    def add(self, conversation: Conversation, kind: str, stage: str, text: str = "",
            detail: dict[str, Any] | None = None) -> None:
        """Queue a line of the log; the unit of work writes all of them in one statement on commit."""
        self.add_to(conversation.id, kind, stage, text, detail)

    def last_said(self, conversation_id: int) -> str | None:
        """What the person last typed in this conversation (None: nothing yet)."""
        return self.cursor.session.scalars(
            select(ContactEvent.text).where(ContactEvent.conversation_id == conversation_id,
                                            ContactEvent.kind == "inbound")
            .order_by(ContactEvent.id.desc()).limit(1)).first()

    def of(self, conversation_id: int) -> list[ContactEvent]:
        return list(self.cursor.session.scalars(
            select(ContactEvent)
            .where(ContactEvent.conversation_id == conversation_id)
            .order_by(ContactEvent.id)
        ))

    cursor: SessionCursor


class Deliveries(queues.Deliveries):
    cursor: SessionCursor

    def forget_before(self, moment: datetime) -> int:
        """Drop records of deliveries older than any repeat Telegram still sends; returns how many."""
        # an ORM DELETE returns a CursorResult, which has the row count; Session.execute is typed as Result
        result = cast("CursorResult[Any]",
                      self.cursor.session.execute(delete(Delivery).where(Delivery.at < moment)))
        return result.rowcount


class Inbox(queues.Inbox):
    cursor: SessionCursor

    def chats(self, channel: str) -> list[str]:
        """Chats with updates waiting, the one waiting longest first."""
        rows = self.cursor.session.execute(
            select(InboxItem.chat).where(InboxItem.channel == channel, InboxItem.parked_at.is_(None))
            .group_by(InboxItem.chat).order_by(func.min(InboxItem.sequence)))
        return [chat for (chat,) in rows]

    def parked(self) -> list[InboxItem]:
        """Updates left aside because their turn kept failing, the earliest first."""
        return list(self.cursor.session.scalars(
            select(InboxItem).where(InboxItem.parked_at.is_not(None)).order_by(InboxItem.parked_at)))


class Outbox(queues.Outbox):
    cursor: SessionCursor

    def forget_before(self, moment: datetime) -> int:
        """Drop messages sent or refused before `moment` (pending ones stay whatever their age)."""
        result = cast("CursorResult[Any]", self.cursor.session.execute(
            delete(OutboxItem).where(OutboxItem.status != "pending", OutboxItem.created_at < moment)))
        return result.rowcount

    def chats(self, channel: str) -> list[str]:
        """Chats with messages waiting, the one waiting longest first."""
        # Read from the pending rows' own index: 'pending' written into the statement as the index's
        # condition is, and no GROUP BY (SQLite would take the chats' index for it, which holds every
        # message ever sent: the look would grow with history; bench/look_for_work.py).
        rows = self.cursor.session.execute(
            select(OutboxItem.chat).where(OutboxItem.channel == channel, PENDING).order_by(OutboxItem.id))
        return list(dict.fromkeys(chat for (chat,) in rows))


class SessionCursor(queues.Cursor):
    """The message path's statements on the session's own connection, in its transaction."""

    def __init__(self, session: Session) -> None:
        super().__init__(lambda: session.connection().connection.dbapi_connection, session.get_bind().dialect)
        self.session = session


class UnitOfWork:
    """One transaction: `with db.unit_of_work() as uow: ...; uow.commit()`; anything else rolls back."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.contacts = Contacts(self.session)
        cursor = SessionCursor(self.session)
        self.conversations = Conversations(self.session, cursor)
        self.events = Events(cursor)
        self.deliveries = Deliveries(cursor)
        self.inbox = Inbox(cursor)
        self.outbox = Outbox(cursor, self.events)
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
