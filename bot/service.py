"""The one path every message takes, whatever channel it came from.

inbound value → load the conversation → the sale decides → save the conversation and every
contact event in one transaction → replies for the channel to send.
"""
from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from bot.agency import Desk
from bot.workspace import COMMANDS as WORKSPACE
from bot.workspace import Workspace
from bot.flows.acts import ActClassifier
from bot.flows.coaching import VIEWS, progress, talk_track
from bot.flows.conversation import Talk
from bot.flows.machine import STAGES
from bot.flows.model import Interpreter
from bot.flows.messages import Button, Inbound, Mark, Reply, Step, Trail, replies_of
from bot.flows.progress import Progress
from bot.flows.rehearsal import begins, carried, handle_rehearsal, load
from bot.flows.sale import Sale, handle
from bot.library import DEFAULT_LOCALE, LOCALES, Library, normalise, source_locale
from storage.database import Database
from storage.models import Contact, Conversation, Staff, utcnow
from storage.queues import Outbox
from storage.unit_of_work import UnitOfWork


# A new conversation numbers its questions (Reply.asked, carried by every button) from a random
# point: after `/delete confirm` a person starts a new record, and a button of a message sent
# before it must not match a question of the new one by coming round to the same number.
FIRST_NUMBERS, FIRST_NUMBERS_SPAN = 1000, 10**9
LEAVE_REHEARSAL = ("start", "restart")  # in a rehearsal, these go back to the customer conversation
# How a channel cuts a reply into its messages (its limits; the locale names its 'more' option).
Cut = Callable[[Reply, str], list[Reply]]


def whole(reply: Reply, _locale: str) -> list[Reply]:
    return [reply]


@dataclass(frozen=True)
class Pending:
    """A message of the outbox, waiting to be sent: `chart` rows carry only the chart."""

    id: int
    chat: str
    kind: str
    message: Reply


def unsent(outbox: Outbox, channel: str, chat: str) -> list[Pending]:
    return [Pending(item_id, chat, kind, Reply.from_json(payload))
            for item_id, kind, payload in outbox.pending(channel, chat)]


@dataclass(frozen=True)
class Sender:
    """Who a message is from, as the channel knows them."""

    channel: str
    external_id: str
    name: str = ""
    locale: str | None = None
    start_payload: str | None = None
    link_base: str = ""  # how the channel's start links begin; a start code completes them


@dataclass(frozen=True)
class Turn:
    """What one message produced, for the channel to deliver."""

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False  # this delivery was handled before; send nothing
    stale: bool = False  # a button that is no longer on offer was pressed
    preparing: bool = False  # a proposal was prepared (a channel may show 'typing')
    joined: bool = False  # the person joined the agency's staff by an invitation (their menu changes)
    # the sender's messages waiting to be sent, as the turn left them (None: not looked up)
    pending: list[Pending] | None = None


class SalesService:
    def __init__(self, library: Library, database: Database, staff: Mapping[str, str] | None = None,
                 web_url: str = "", interpreter: Interpreter | None = None,
                 share_health: bool = False) -> None:
        """staff: the agency's agents and managers by their channel id (README: The agency);
        web_url: where the web app is reached, for dashboard login links; interpreter: the optional
        language model asked about messages the sale cannot place (share_health: health answers too)."""
        self.library = library
        self.database = database
        self.interpreter, self.share_health = interpreter, share_health
        self.desk = Desk(library, staff, web_url)
        self.workspace = Workspace(library)

    def locale_of(self, sender: Sender) -> str | None:
        with self.database.unit_of_work() as uow:
            contact = uow.contacts.find(sender.channel, sender.external_id)
            return contact.locale if contact else None

    def handle(self, sender: Sender, inbound: Inbound, delivery_id: str | None = None,
               cut: Cut = whole) -> Turn:
        """Handle one message in one transaction: the new state, the contact log and the replies to
        send (cut into the channel's messages, into the outbox) are kept together or not at all.
        A delivery_id seen before is not handled again; once handled it leaves the inbox."""
        with self.database.unit_of_work() as uow:
            if delivery_id is not None:
                uow.inbox.done(sender.channel, delivery_id)
                if not uow.deliveries.claim(sender.channel, delivery_id):
                    uow.commit()
                    return Turn(duplicate=True)
            locale = sender.locale if sender.locale in LOCALES else DEFAULT_LOCALE
            contact, record = uow.conversations.open(sender.channel, sender.external_id, sender.name, locale,
                                                     sender.start_payload)
            if inbound.kind == "command" and inbound.text == "delete":
                return self._erase(uow, sender, contact, inbound, cut)
            record = self._switch(uow, contact, record, inbound)
            detail: dict[str, str] = {"kind": inbound.kind}
            if inbound.argument:
                detail["argument"] = inbound.argument
            if sender.start_payload:
                detail["start_payload"] = sender.start_payload
            if delivery_id is not None:
                detail["update_id"] = delivery_id
            uow.events.add(record, "inbound", record.state, inbound.text, detail)
            trail, elsewhere = self._answer(uow, sender, contact, record, inbound)
            self._log(uow, sender, record, trail, lambda reply: cut(reply, contact.locale))
            for channel, chat, reply in elsewhere:  # thanks to a referrer, word to an agent, an agent's reply
                theirs = uow.conversations.of(channel, chat)
                self._post(uow, channel, chat, theirs.id if theirs else None,
                           theirs.state if theirs else "", reply, cut, contact.locale)
            # read back in the same transaction, so that the channel needs none to send them
            pending = unsent(uow.outbox, sender.channel, sender.external_id)
            uow.commit()
        marks = [item for item in trail if isinstance(item, Mark)]
        return Turn(replies_of(trail), stale=Mark("refused", "errors.stale_button") in marks,
                    preparing=any(mark.kind == "proposal" for mark in marks),
                    joined=any(mark.kind == "joined" for mark in marks), pending=pending)

    def _answer(self, uow: UnitOfWork, sender: Sender, contact: Contact, record: Conversation,
                inbound: Inbound) -> tuple[Trail, list[tuple[str, str, Reply]]]:
        """What answers the message — the agency (roles, links, the agent's workspace), an agent's
        view or rehearsal, or the sale — and what goes to other chats because of it."""
        # A role matters only for commands and the workspace's buttons: the rest is the customer's.
        staff = (self.desk.staff(uow, contact)
                 if inbound.kind == "command" or inbound.text.startswith("ws:") else None)
        refusal = self.desk.refusal(staff, inbound, contact.locale)
        if refusal:
            return [refusal], []
        referrer = ""
        if inbound.kind == "command" and inbound.text == "start" and record.mode == "customer":
            attribution = self.desk.start(uow, contact, staff, record, sender.start_payload)
            if attribution.joined_as:
                return [Mark("joined", attribution.joined_as),
                        Reply(self.library.text(contact.locale, "agency.welcome_agent"))], []
            referrer = attribution.referrer_name
        agency = self.desk.answer(uow, contact, staff, inbound, sender.link_base)
        if agency is not None:
            return agency, []
        if staff and (inbound.kind == "command" and inbound.text in WORKSPACE
                      or inbound.kind == "choice" and inbound.text.startswith("ws:")):
            return self._work(uow, sender, contact, staff, inbound)
        if inbound.kind == "command" and inbound.text in VIEWS:
            return [self._view(uow, contact, inbound)], []
        if record.mode == "rehearsal" and inbound.kind == "choice" and inbound.text == "progress":
            trail: Trail = [self._view(uow, contact, Inbound("command", "progress"))]
            return trail + self._rehearse(contact, record, Inbound("command", "help")), []  # the menu again
        if record.mode == "rehearsal":
            return self._rehearse(contact, record, inbound), []
        if inbound.kind == "command" and inbound.text == "stop":  # an agent's command, always answered
            return [Reply(self.library.text(contact.locale, "rehearsal.no_rehearsal"))], []
        link = self.desk.client_link(uow, contact, record.state, sender.link_base)
        trail = self._sell(contact, record, inbound, referrer, link, uow)
        self.desk.handed_off(uow, contact, trail)
        return trail, self.desk.after(uow, contact, trail)

    def _work(self, uow: UnitOfWork, sender: Sender, contact: Contact, staff: Staff,
              inbound: Inbound) -> tuple[Trail, list[tuple[str, str, Reply]]]:
        """An agent's workspace: their replies here, and what they send a customer (`/reply`)."""
        trail: Trail = []
        elsewhere = []
        for target, reply in self.workspace.handle(uow.leads, staff, inbound, contact.locale, utcnow()):
            if target is None:
                trail.append(reply)
            else:
                elsewhere.append((sender.channel, target, reply))
        return trail, elsewhere

    def options_for(self, sender: Sender) -> Reply | None:
        """The current stage's question again, state unchanged: for a channel that shows options a
        page at a time. It is the sale's own answer to `help`, computed in a transaction that is
        never committed, so nothing is saved or logged: the question keeps its number (a page of
        its options counts as the message that asked it)."""
        with self.database.unit_of_work() as uow:
            locale = sender.locale if sender.locale in LOCALES else DEFAULT_LOCALE
            contact, record = uow.conversations.open(sender.channel, sender.external_id, sender.name, locale)
            help_ = Inbound("command", "help")
            if record.mode == "rehearsal":
                trail, asked = self._rehearse(contact, record, help_), None
            else:
                asked = Progress.from_json(record.data.get("progress")).asked
                trail = self._sell(contact, record, help_)
        replies = replies_of(trail)
        return replace(replies[-1], asked=asked if replies[-1].asks else None) if replies else None

    def _erase(self, uow: UnitOfWork, sender: Sender, contact: Contact, inbound: Inbound, cut: Cut) -> Turn:
        """`/delete` explains; `/delete confirm` erases the contact and their whole record (the
        answer is sent all the same, but logged nowhere: there is no record left to log it in)."""
        key = "privacy.erased"
        if normalise(inbound.argument) not in self.library.words_anywhere["confirm"]:
            key = "privacy.explain"  # nothing else is written but the delivery claim
        else:
            uow.agency.forget(contact)
            uow.contacts.erase(contact)
        reply = Reply(self.library.text(contact.locale, key))
        self._post(uow, sender.channel, sender.external_id, None, "", reply, cut, contact.locale)
        uow.commit()
        return Turn([reply])

    def _sell(self, contact: Contact, record: Conversation, inbound: Inbound, referrer: str = "",
              link: str = "", uow: UnitOfWork | None = None) -> Trail:
        """The sale's answer; with a unit of work, the conversation's new state saved in it."""
        saved = copy.deepcopy(record.data)  # a copy: a turn that fails halfway leaves the loaded data alone
        progress = Progress.from_json(saved.get("progress"))
        if "progress" not in saved:  # a new conversation: its questions are numbered from a random
            progress.asked = FIRST_NUMBERS + secrets.randbelow(FIRST_NUMBERS_SPAN)  # point (see below)
        sale = Sale(Talk(self.library, contact.locale), record.state, saved.get("answers", {}),
                    progress, contact.name, reference=str(contact.id),
                    referrer=referrer, invite_link=link, interpreter=self.interpreter,
                    share_health=self.share_health)
        trail = handle(sale, inbound)
        if uow is not None:
            data = {"answers": sale.answers, "progress": sale.progress.to_json()}
            uow.conversations.save(record, sale.state, data, self._reminder_time(record, sale.state))
        if contact.locale != sale.talk.locale:
            contact.locale = sale.talk.locale
        return trail

    @staticmethod
    def _switch(uow: UnitOfWork, contact: Contact, record: Conversation, inbound: Inbound) -> Conversation:
        """The mode changes: /rehearse (or a button of the menu after a rehearsal) begins a new
        rehearsal, its own conversation; /start or /restart in a rehearsal goes back to the
        customer conversation. Anything else stays where it is, also after a rehearsal ended."""
        if begins(record.mode, record.state, inbound):
            previous = (record.state, record.data) if record.mode == "rehearsal" else ("", {})
            contact.active_mode = "rehearsal"
            record = uow.conversations.start(contact, "persona", "rehearsal")
            record.data = carried(*previous, inbound)
        elif record.mode == "rehearsal" and inbound.kind == "command" and inbound.text in LEAVE_REHEARSAL:
            contact.active_mode = "customer"
            record = uow.conversations.current(contact) or uow.conversations.start(contact, "approach")
        return record

    def _rehearse(self, contact: Contact, record: Conversation, inbound: Inbound) -> Trail:
        data = load(record.state, record.data)  # a copy: the database sees changes only when saved
        rehearsal, trail = handle_rehearsal(record.state, data, inbound, self.library, self.classifier,
                                            source_locale(contact.locale))  # personas are written ones
        record.state, record.data = rehearsal.state, rehearsal.data.to_json()
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
        if record.reminded or not STAGES[state].remind:
            return None
        return utcnow() + timedelta(hours=self.library.parameters["reminder_after_hours"])

    def forget_old_deliveries(self, older_than: timedelta = timedelta(days=2)) -> int:
        """Keep the duplicate guard small: Telegram redelivers an update for at most a day."""
        with self.database.unit_of_work() as uow:
            removed = uow.deliveries.forget_before(utcnow() - older_than)
            uow.commit()
        return removed

    def due_follow_ups(self, channel: str, now: datetime | None = None) -> list[str]:
        """Agents' follow-up reminders now due, each put in the outbox once; the chats to drain."""
        with self.database.unit_of_work() as uow:
            due = self.workspace.due_follow_ups(uow.leads, channel, now or utcnow())
            for chat, locale, reply in due:
                self._post(uow, channel, chat, None, "", reply, whole, locale)
            uow.commit()
        return [chat for chat, _, _ in due]

    def due_reminders(self, channel: str, now: datetime | None = None) -> list[str]:
        """Reminders now due on a channel, each put in the outbox (the contact log records it when
        sent) and never due again; returns the chats to send them to."""
        chats = []
        with self.database.unit_of_work() as uow:
            for contact, record in uow.conversations.due_reminders(channel, now or utcnow()):
                reply = Reply(self.library.text(contact.locale, "reminder"))
                record.reminded, record.remind_at = True, None
                uow.events.add(record, "reminder", record.state)
                self._post(uow, channel, contact.external_id, record.id, record.state, reply, whole,
                           contact.locale)
                chats.append(contact.external_id)
            uow.commit()
        return chats

    def staff(self, channel: str) -> list[tuple[str, str]]:
        """The agency's agents and managers on a channel: those the settings name (put on the
        roster now, so that leads go to them before they first write) and those who joined."""
        with self.database.unit_of_work() as uow:
            for external_id, role in self.desk.configured.items():
                uow.agency.ensure_staff(channel, external_id, role, "")
            roster = [(s.external_id, s.role) for s in uow.agency.all_staff(channel)]
            uow.commit()
        return roster

    # -- the inbox: what a channel received ------------------------------------------------------
    def receive(self, channel: str, delivery_id: str, sequence: int, chat: str,
                payload: dict[str, Any]) -> None:
        """Keep an update until it is handled (`handle` with its delivery_id, or `received`)."""
        with self.database.queues(atomic=False) as queues:  # one statement
            queues.inbox.put(channel, delivery_id, sequence, chat, payload)

    def next_update(self, channel: str, chat: str, done: str | None = None) -> dict[str, Any] | None:
        """The chat's earliest kept update, after the one `done` is removed, whatever became of it
        (usually `handle` removed it already)."""
        with self.database.queues(atomic=False) as queues:  # a handled update goes, alone if need be
            if done is not None:
                queues.inbox.done(channel, done)
            return queues.inbox.first(channel, chat)

    def claim(self, channel: str, delivery_id: str) -> bool:
        """Mark an update handled that changes nothing kept (a page of options); False: it was before."""
        with self.database.queues() as queues:
            queues.inbox.done(channel, delivery_id)
            return queues.deliveries.claim(channel, delivery_id)

    def has_updates(self, channel: str, chat: str) -> bool:
        with self.database.queues(atomic=False) as queues:
            return queues.inbox.first(channel, chat) is not None

    # -- the outbox: what a channel sends -------------------------------------------------------
    def pending(self, channel: str, chat: str) -> list[Pending]:
        """The chat's messages not yet sent, in order."""
        with self.database.queues(atomic=False) as queues:
            return unsent(queues.outbox, channel, chat)

    def waiting(self, channel: str) -> tuple[list[str], list[str]]:
        """The chats with updates not yet handled, and those with messages not yet sent."""
        with self.database.unit_of_work() as uow:
            return uow.inbox.chats(channel), uow.outbox.chats(channel)

    def sent(self, item_id: int) -> None:
        with self.database.queues() as queues:
            queues.outbox.sent(item_id)

    def failed(self, item_id: int, reason: str, unreachable: bool = False) -> None:
        with self.database.queues() as queues:
            queues.outbox.failed(item_id, reason, unreachable)

    def _log(self, uow: UnitOfWork, sender: Sender, record: Conversation, trail: Trail,
             cut: Callable[[Reply], list[Reply]]) -> None:
        """The trail into the contact log, and its replies into the outbox (logged once sent); a
        reply for the agent goes to the customer's agent."""
        stage = record.state
        contact = record.contact
        for item in trail:
            if isinstance(item, Step):
                moved = {"from": item.source, "to": item.dest}
                uow.events.add(record, "transition", item.dest, item.trigger, moved)
                stage = item.dest
            elif isinstance(item, Mark):
                uow.events.add(record, item.kind, stage, item.detail)
            else:
                channel, chat = (self.desk.agent_chat(uow, contact) if item.to_agent
                                 else (sender.channel, sender.external_id))
                self._post(uow, channel, chat, record.id, stage, item, lambda reply, _: cut(reply),
                           contact.locale)

    def _post(self, uow: UnitOfWork, channel: str, chat: str, conversation_id: int | None, stage: str,
              reply: Reply, cut: Cut, locale: str) -> None:
        """A reply into the outbox as the channel's messages; what a message carries besides its
        text (a chart, a link to pass on, a file) follows it as a part of its own."""
        for message in cut(reply, locale):
            text_only = replace(message, chart=None, share=None, attachment=None)
            uow.outbox.add(channel, chat, conversation_id, stage, "message", text_only.to_json())
            if message.chart:
                uow.outbox.add(channel, chat, conversation_id, stage, "chart",
                               Reply("", chart=message.chart).to_json())
            if message.share:
                words = self.library.text(locale, "agency.invite_share")
                button = Button(self.library.text(locale, "agency.buttons.forward"), "share")
                forward = Reply(words, (button,), share=message.share)
                uow.outbox.add(channel, chat, conversation_id, stage, "share", forward.to_json())
            if message.attachment:
                uow.outbox.add(channel, chat, conversation_id, stage, "file",
                               Reply("", attachment=message.attachment).to_json())
