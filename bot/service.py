"""The one path every message takes, whatever channel it came from.

inbound value → load the conversation → the sale decides → save the conversation and every
contact event in one transaction → replies for the channel to send.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timedelta

from bot.flows.acts import ActClassifier
from bot.flows.coaching import progress, talk_track
from bot.flows.messages import Inbound, Mark, Reply, Step, Trail, replies_of
from bot.flows.rehearsal import ENDED, Rehearsal, handle_rehearsal
from bot.flows.sale import Sale, handle
from bot.library import DEFAULT_LOCALE, LOCALES, Library, normalise
from storage.database import Database
from storage.models import Contact, Conversation, utcnow
from storage.unit_of_work import UnitOfWork


REMIND_IN = ("needs", "summary")  # stages where a customer who stops is reminded once
VIEWS = ("progress", "script")  # commands that only show something, in any mode


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
            if inbound.kind == "command" and inbound.text == "delete":
                return self._erase(uow, contact, inbound)
            if inbound.kind == "command" and inbound.text == "rehearse":  # an agent starts a rehearsal
                contact.active_mode = "rehearsal"
                record = uow.conversations.start(contact, "persona", "rehearsal")
            detail = {"kind": inbound.kind, "argument": inbound.argument} if inbound.argument else {"kind": inbound.kind}
            if sender.start_payload:
                detail["start_payload"] = sender.start_payload
            uow.events.add(record, "inbound", record.state, inbound.text, detail)
            if inbound.kind == "command" and inbound.text in VIEWS:
                trail: Trail = [self._view(uow, contact, inbound)]
            elif record.mode == "rehearsal":
                trail = self._rehearse(contact, record, inbound)
            else:
                trail = self._sell(contact, record, inbound)
            self._log(uow, record, trail)
            uow.commit()
        marks = [item for item in trail if isinstance(item, Mark)]
        return Turn(replies_of(trail), stale=Mark("refused", "errors.stale_button") in marks,
                    preparing=any(mark.kind == "proposal" for mark in marks))

    def _erase(self, uow: UnitOfWork, contact: Contact, inbound: Inbound) -> Turn:
        """`/delete` explains; `/delete confirm` erases the contact and their whole record."""
        if normalise(inbound.argument) not in self.library.words_anywhere["confirm"]:
            uow.commit()  # keeps the delivery claim; nothing else was written
            return Turn([Reply(self.library.text(contact.locale, "privacy.explain"))])
        locale = contact.locale
        uow.contacts.erase(contact)
        uow.commit()
        return Turn([Reply(self.library.text(locale, "privacy.erased"))])

    def _sell(self, contact: Contact, record: Conversation, inbound: Inbound) -> Trail:
        saved = copy.deepcopy(record.data)  # a copy: the database sees a change only against the original
        sale = Sale(state=record.state, locale=contact.locale, answers=saved.get("answers", {}),
                    progress=saved.get("progress", {}), customer_name=contact.name, reference=f"R{contact.id}")
        trail = handle(sale, inbound, self.library)
        record.state = sale.state
        record.data = {"answers": sale.answers, "progress": sale.progress}
        record.remind_at = self._reminder_time(record, sale.state)
        contact.locale = sale.locale
        return trail

    def _rehearse(self, contact: Contact, record: Conversation, inbound: Inbound) -> Trail:
        rehearsal = Rehearsal(state=record.state, locale=contact.locale, data=copy.deepcopy(record.data))
        trail = handle_rehearsal(rehearsal, inbound, self.library, self.classifier)
        record.state, record.data = rehearsal.state, rehearsal.data
        if rehearsal.state in ENDED:
            contact.active_mode = "customer"  # back to where the contact was before the rehearsal
        return trail

    def _view(self, uow: UnitOfWork, contact: Contact, inbound: Inbound) -> Reply:
        if inbound.text == "progress":
            return progress(self.library, contact.locale, uow.conversations.rehearsal_scores(contact))
        return talk_track(self.library, contact.locale, inbound.argument.split())

    @cached_property
    def classifier(self) -> ActClassifier:
        """Trained on first use, so that customers never wait for it."""
        return ActClassifier(self.library.rehearsal["examples"])

    def _reminder_time(self, record: Conversation, state: str) -> datetime | None:
        """One reminder, a day after the customer stops in the middle of the questions; never a second."""
        if record.reminded or state not in REMIND_IN:
            return None
        return utcnow() + timedelta(hours=self.library.parameters["reminder_after_hours"])

    def forget_old_deliveries(self, older_than: timedelta = timedelta(days=2)) -> int:
        """Keep the duplicate guard small: Telegram redelivers an update for at most a day."""
        with self.database.unit_of_work() as uow:
            removed = uow.deliveries.forget_before(utcnow() - older_than)
            uow.commit()
        return removed

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
