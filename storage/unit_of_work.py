"""Repositories over the tables, and a unit of work that commits them as one transaction."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Contact, ContactEvent, Conversation, Delivery


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


class Conversations:
    def __init__(self, session: Session) -> None:
        self.session = session

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

    def count(self) -> int:
        return self.session.query(Conversation).count()


class Events:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, conversation: Conversation, kind: str, stage: str, text: str = "",
            detail: dict[str, Any] | None = None) -> None:
        self.session.add(ContactEvent(conversation_id=conversation.id, kind=kind, stage=stage, text=text,
                                      detail=detail or {}))

    def of(self, conversation_id: int) -> list[ContactEvent]:
        return list(self.session.scalars(
            select(ContactEvent).where(ContactEvent.conversation_id == conversation_id).order_by(ContactEvent.id)
        ))


class Deliveries:
    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(self, channel: str, delivery_id: str) -> bool:
        """Record a delivery; False when it was recorded before (a duplicate)."""
        if self.session.get(Delivery, (channel, delivery_id)) is not None:
            return False
        self.session.add(Delivery(channel=channel, delivery_id=delivery_id))
        return True


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
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.close()  # rolls back whatever was not committed; loaded objects stay readable

    def commit(self) -> None:
        self.session.commit()
