"""The one path every message takes, whatever channel it came from.

inbound value → load the conversation → the sale decides → save the conversation and every
contact event in one transaction → replies for the channel to send.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.flows.messages import Inbound, Mark, Reply, Step, Trail, replies_of
from bot.flows.sale import Sale, handle
from bot.library import DEFAULT_LOCALE, LOCALES, Library
from storage.database import Database
from storage.models import Conversation, utcnow
from storage.unit_of_work import UnitOfWork


REMIND_IN = ("needs", "summary")  # stages where a customer who stops is reminded once


@dataclass(frozen=True)
class Sender:
    """Who a message is from, as the channel knows them."""

    channel: str
    external_id: str
    name: str = ""
    locale: str | None = None
    start_payload: str | None = None


def pick_locale(language_code: str | None) -> str:
    """The product's locale nearest to a language tag such as 'en-GB' or 'zh-hans'."""
    code = (language_code or "").lower()
    return DEFAULT_LOCALE if code.startswith("zh") or not code else "en"


@dataclass(frozen=True)
class Turn:
    """What one message produced, for the channel to deliver."""

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False  # this delivery was handled before; send nothing
    stale: bool = False  # a button that is no longer on offer was pressed
    preparing: bool = False  # a proposal was prepared (a channel may show 'typing')


class SalesService:
    def __init__(self, library: Library, database: Database) -> None:
        self.library = library
        self.database = database

    def locale_of(self, sender: Sender) -> str | None:
        with self.database.unit_of_work() as uow:
            contact = uow.contacts.find(sender.channel, sender.external_id)
            return contact.locale if contact else None

    def handle(self, sender: Sender, inbound: Inbound, delivery_id: str | None = None) -> Turn:
        """Handle one message in one transaction. A delivery_id seen before is not handled again."""
        with self.database.unit_of_work() as uow:
            if delivery_id is not None and not uow.deliveries.claim(sender.channel, delivery_id):
                return Turn(duplicate=True)
            locale = sender.locale if sender.locale in LOCALES else DEFAULT_LOCALE
            contact, record = uow.conversations.open(sender.channel, sender.external_id, sender.name, locale,
                                                     sender.start_payload)
            sale = Sale(state=record.state, locale=contact.locale, answers=dict(record.data.get("answers", {})),
                        progress=dict(record.data.get("progress", {})), customer_name=contact.name,
                        reference=f"R{contact.id}")
            detail = {"kind": inbound.kind, "argument": inbound.argument} if inbound.argument else {"kind": inbound.kind}
            if sender.start_payload:
                detail["start_payload"] = sender.start_payload
            uow.events.add(record, "inbound", record.state, inbound.text, detail)
            trail = handle(sale, inbound, self.library)
            self._log(uow, record, trail)
            record.state = sale.state
            record.data = {"answers": sale.answers, "progress": sale.progress}
            record.remind_at = self._reminder_time(record, sale.state)
            contact.locale = sale.locale
            uow.commit()
        marks = [item for item in trail if isinstance(item, Mark)]
        return Turn(replies_of(trail), stale=Mark("refused", "errors.stale_button") in marks,
                    preparing=any(mark.kind == "proposal" for mark in marks))

    def _reminder_time(self, record: Conversation, state: str) -> datetime | None:
        """One reminder, a day after the customer stops in the middle of the questions; never a second."""
        if record.reminded or state not in REMIND_IN:
            return None
        return utcnow() + timedelta(hours=self.library.parameters["reminder_after_hours"])

    def due_reminders(self, channel: str, now: datetime | None = None) -> list[tuple[Sender, Reply]]:
        """Reminders now due on a channel, each marked sent and logged; the channel sends them."""
        due = []
        with self.database.unit_of_work() as uow:
            for contact, record in uow.conversations.due_reminders(channel, now or utcnow()):
                reply = Reply(self.library.text(contact.locale, "reminder"))
                record.reminded, record.remind_at = True, None
                uow.events.add(record, "reminder", record.state, reply.text)
                due.append((Sender(contact.channel, contact.external_id, contact.name, contact.locale), reply))
            uow.commit()
        return due

    @staticmethod
    def _log(uow: UnitOfWork, record: Conversation, trail: Trail) -> None:
        stage = record.state
        for item in trail:
            if isinstance(item, Step):
                uow.events.add(record, "transition", item.dest, item.trigger, {"from": item.source, "to": item.dest})
                stage = item.dest
            elif isinstance(item, Mark):
                uow.events.add(record, item.kind, stage, item.detail)
            else:
                uow.events.add(record, "outbound", stage, item.text,
                               {"buttons": [b.value for b in item.buttons]} if item.buttons else {})
