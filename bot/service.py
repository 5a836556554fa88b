"""The one path every message takes, whatever channel it came from.

inbound value → load the conversation → the sale decides → save the conversation and every
contact event in one transaction → replies for the channel to send.
"""
from __future__ import annotations

__all__ = ["Cut", "Pending", "SalesService", "Sender", "Turn", "whole"]

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.agency import Desk
from bot.commands import PRIVACY, handler_of
from bot.erasure import erase
from bot.outbox import Cut, Pending, post, unsent, whole
from bot.queues import Queues
from bot.routing import Routing, Sender
from bot.schedules import Schedules
from bot.workspace import Workspace
from bot.flows import intents
from bot.flows.conversation import Talk
from bot.flows.machine import STAGES
from bot.flows.model import Interpreter
from bot.flows.messages import Inbound, Mark, Reply, Step, Trail, replies_of
from bot.flows.progress import Progress, first_number
from bot.flows.sale import Sale, handle
from bot.library import DEFAULT_LOCALE, LOCALES, Library
from storage.database import Database
from storage.models import Contact, Conversation, utcnow
from storage.workspace import as_utc
from storage.unit_of_work import UnitOfWork




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
    # other chats of the sender's channel the turn wrote to (an agent's, a referrer's): sent at once
    others: list[str] = field(default_factory=list)


class SalesService(Routing, Queues, Schedules):
    def __init__(self, library: Library, database: Database, staff: Mapping[str, str] | None = None,
                 web_url: str = "", interpreter: Interpreter | None = None,
                 share_health: bool = False, keep_sent: timedelta = timedelta(days=30),
                 agents_chats: frozenset[str] | None = None) -> None:
        """staff: the agency's agents and managers by their channel id (README: The agency);
        web_url: where the web app is reached, for dashboard login links; interpreter: the optional
        language model asked about messages the sale cannot place (share_health: health answers too)."""
        self.library = library
        self.database = database
        self.interpreter, self.share_health = interpreter, share_health
        self.keep_sent = keep_sent
        # the channels whose agents' shared chat is set (None: take it that someone always answers)
        self.agents_chats = agents_chats
        self.desk = Desk(library, staff, web_url)
        self.workspace = Workspace(library)

    def prepare(self) -> None:
        """Train what reading typed messages takes (the customers' intents, the rehearsal's acts:
        a second or two) before a channel accepts any message, so that no turn waits for it."""
        intents.classifier(self.library)
        _ = self.classifier

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
            if handler_of(inbound.kind, inbound.text) == PRIVACY:
                return Turn([erase(uow, self.library, sender, contact, inbound, cut)])
            record = self._switch(uow, contact, record, inbound)
            if self._retyped(uow, sender, record, inbound):  # logged as said, not read again
                retyped = {"kind": "text", "retyped": "1"}
                uow.events.add(record, "inbound", record.state, inbound.text, retyped)
                uow.commit()
                return Turn()
            detail: dict[str, str] = {"kind": inbound.kind}
            if inbound.argument:
                detail["argument"] = inbound.argument
            if sender.start_payload:
                detail["start_payload"] = sender.start_payload
            if delivery_id is not None:
                detail["update_id"] = delivery_id
            uow.events.add(record, "inbound", record.state, inbound.text, detail)
            trail, elsewhere = self._answer(uow, sender, contact, record, inbound)
            others = self._log(uow, sender, record, trail, lambda reply: cut(reply, contact.locale))
            for channel, chat, reply in elsewhere:  # thanks to a referrer, word to an agent, an agent's reply
                others.append((channel, chat))
                theirs = uow.conversations.of(channel, chat)
                post(uow, self.library, channel, chat, theirs.id if theirs else None,
                           theirs.state if theirs else "", reply, cut, contact.locale)
            # read back in the same transaction, so that the channel needs none to send them
            pending = unsent(uow.outbox, sender.channel, sender.external_id)
            uow.commit()
        marks = [item for item in trail if isinstance(item, Mark)]
        return Turn(replies_of(trail), stale=Mark("refused", "errors.stale_button") in marks,
                    preparing=any(mark.kind == "proposal" for mark in marks),
                    joined=any(mark.kind == "joined" for mark in marks), pending=pending,
                    others=sorted({chat for channel, chat in others if channel == sender.channel
                                   and chat != sender.external_id}))

    def _retyped(self, uow: UnitOfWork, sender: Sender, record: Conversation, inbound: Inbound) -> bool:
        """A typed message written before the current question reached the person, saying again what
        they said last: a retype (the bot was slow, or restarting), never the current question's
        answer. Buttons are bound to their question by number; typed words, by when they were written."""
        if inbound.kind != "text" or inbound.written_at is None or record.mode != "customer":
            return False
        asked = Progress.from_json(record.data.get("progress")).asked
        shown = uow.outbox.shown(sender.channel, sender.external_id, asked)
        if shown is None:  # asked before this was recorded: nothing to compare with
            return False
        sent, at = shown
        if sent and at is not None and inbound.written_at >= as_utc(at):  # Telegram's clock, to the second
            return False
        last = uow.events.last_said(record.id)
        return last is not None and last.strip().lower() == inbound.text.strip().lower()

    def _sell(self, contact: Contact, record: Conversation, inbound: Inbound, referrer: str = "",
              link: str = "", uow: UnitOfWork | None = None) -> Trail:
        """The sale's answer; with a unit of work, the conversation's new state saved in it."""
        saved = copy.deepcopy(record.data)  # a copy: a turn that fails halfway leaves the loaded data alone
        progress = Progress.from_json(saved.get("progress"))
        if "progress" not in saved:  # a new conversation: its questions are numbered from a random
            progress.asked = first_number()  # point (see bot/flows/progress.py)
        def reachable() -> bool:
            return uow is None or self.desk.reachable(uow, contact, self.agents_chats)

        sale = Sale(Talk(self.library, contact.locale), record.state, saved.get("answers", {}),
                    progress, contact.name, reference=str(contact.id),
                    referrer=referrer, invite_link=link, interpreter=self.interpreter,
                    share_health=self.share_health, agent_reachable=reachable)
        trail = handle(sale, inbound)
        if uow is not None:
            data = {"answers": sale.answers, "progress": sale.progress.to_json()}
            uow.conversations.save(record, sale.state, data, self._reminder_time(record, sale.state))
        if contact.locale != sale.talk.locale:
            contact.locale = sale.talk.locale
        return trail

    def _reminder_time(self, record: Conversation, state: str) -> datetime | None:
        """One reminder, a day after the customer stops in the middle of the questions; never a second."""
        if record.reminded or not STAGES[state].remind:
            return None
        return utcnow() + timedelta(hours=self.library.parameters.reminder_after_hours)

    def _log(self, uow: UnitOfWork, sender: Sender, record: Conversation, trail: Trail,
             cut: Callable[[Reply], list[Reply]]) -> list[tuple[str, str]]:
        """The trail into the contact log, and its replies into the outbox (logged once sent); a
        reply for the agent goes to the customer's agent. Returns where those went (channel, chat)."""
        to_agents: list[tuple[str, str]] = []
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
                post(uow, self.library, channel, chat, record.id, stage, item, lambda reply, _: cut(reply),
                           contact.locale)
                if item.to_agent:
                    to_agents.append((channel, chat))
        return to_agents

