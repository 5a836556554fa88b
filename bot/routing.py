"""Who answers a message: the agency (roles, links, a customer's own data), an agent's workspace, an
agent's rehearsal and views, or the sale; and the switch between a customer's sale and an agent's
rehearsal. The service (bot/service.py) calls it inside the turn's transaction."""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

from bot.agency import Desk, Elsewhere
from bot.flows.acts import ActClassifier
from bot.flows.coaching import progress, talk_track
from bot.flows.messages import Inbound, Mark, Reply, Trail, replies_of
from bot.flows.progress import Progress, first_number
from bot.flows.rehearsal import begins, carried, handle_rehearsal, load
from bot.library import DEFAULT_LOCALE, LOCALES, Library, source_locale
from bot.commands import COACHING, REHEARSAL, WORKSPACE, allowed, handler_of
from bot.workspace import Workspace
from storage.database import Database
from storage.models import Contact, Conversation, Staff, utcnow
from storage.unit_of_work import UnitOfWork

LEAVE_REHEARSAL = ("start", "restart")  # in a rehearsal, these go back to the customer conversation


@dataclass(frozen=True)
class Sender:
    """Who a message is from, as the channel knows them."""

    channel: str
    external_id: str
    name: str = ""
    locale: str | None = None
    start_payload: str | None = None
    link_base: str = ""  # how the channel's start links begin; a start code completes them


class Routing:
    library: Library
    database: Database
    desk: Desk
    workspace: Workspace

    if TYPE_CHECKING:
        def _sell(self, contact: Contact, record: Conversation, inbound: Inbound, referrer: str = "",
                  link: str = "", uow: UnitOfWork | None = None) -> Trail: ...

    def _answer(self, uow: UnitOfWork, sender: Sender, contact: Contact, record: Conversation,
                inbound: Inbound) -> tuple[Trail, list[Elsewhere]]:
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
        handler = handler_of(inbound.kind, inbound.text)
        agency = self.desk.answer(uow, contact, staff, inbound, sender.link_base)
        if agency is not None:
            return agency, []
        if staff and (handler == WORKSPACE or inbound.kind == "choice" and inbound.text.startswith("ws:")):
            return self._work(uow, sender, contact, staff, inbound)
        if (besides := self._besides_the_sale(uow, contact, record, inbound, handler)) is not None:
            return besides
        link = self.desk.client_link(uow, contact, record.state, sender.link_base)
        trail = self._sell(contact, record, inbound, referrer, link, uow)
        self.desk.handed_off(uow, contact, trail)
        return trail, self.desk.after(uow, contact, trail)

    def _besides_the_sale(self, uow: UnitOfWork, contact: Contact, record: Conversation, inbound: Inbound,
                          handler: str | None) -> tuple[Trail, list[Elsewhere]] | None:
        """An agent's views and rehearsal, or a customer's message to the agent talking with them."""
        if handler == COACHING:
            return [self._view(uow, contact, inbound)], []
        if record.mode == "rehearsal":
            return self._in_rehearsal(uow, contact, record, inbound), []
        if handler == REHEARSAL and inbound.text == "stop":  # an agent's command, always answered
            return [Reply(self.library.text(contact.locale, "rehearsal.no_rehearsal"))], []
        if inbound.kind == "text":  # their agent is talking with them: a person answers, not the sale
            return self.desk.relay(uow, contact, inbound.text)
        return None

    def _in_rehearsal(self, uow: UnitOfWork, contact: Contact, record: Conversation,
                      inbound: Inbound) -> Trail:
        if inbound.kind == "choice" and inbound.text == "progress":  # the progress, then the menu again
            trail: Trail = [self._view(uow, contact, Inbound("command", "progress"))]
            return trail + self._rehearse(contact, record, Inbound("command", "help"))
        return self._rehearse(contact, record, inbound)

    def _work(self, uow: UnitOfWork, sender: Sender, contact: Contact, staff: Staff,
              inbound: Inbound) -> tuple[Trail, list[Elsewhere]]:
        """An agent's workspace: their replies here, and what they send a customer (`/reply`)."""
        trail: Trail = []
        elsewhere = []
        for target, reply in self.workspace.handle(uow.leads, staff, inbound, contact.locale, utcnow()):
            if target is None:
                trail.append(reply)
            else:
                elsewhere.append((sender.channel, target, reply))
        return trail, elsewhere

    def _switch(self, uow: UnitOfWork, contact: Contact, record: Conversation,
                inbound: Inbound) -> Conversation:
        """The mode changes: /rehearse (or a button of the menu after a rehearsal) begins a new
        rehearsal, its own conversation, for those who may rehearse (a customer's /rehearse is
        refused and leaves them in their sale); /start or /restart in a rehearsal goes back to the
        customer conversation. Anything else stays where it is, also after a rehearsal ended."""
        if begins(record.mode, record.state, inbound) and self._may_rehearse(uow, contact):
            previous = (record.state, record.data) if record.mode == "rehearsal" else ("", {})
            contact.active_mode = "rehearsal"
            record = uow.conversations.start(contact, "persona", "rehearsal")
            record.data = carried(*previous, inbound)
        elif record.mode == "rehearsal" and inbound.kind == "command" and inbound.text in LEAVE_REHEARSAL:
            contact.active_mode = "customer"
            record = uow.conversations.current(contact) or uow.conversations.start(contact, "approach")
        return record

    def _may_rehearse(self, uow: UnitOfWork, contact: Contact) -> bool:
        staff = self.desk.staff(uow, contact)
        return staff is not None and allowed("rehearse", staff.role)

    def _rehearse(self, contact: Contact, record: Conversation, inbound: Inbound) -> Trail:
        """The rehearsal's answer. Its buttons are numbered as the sale's are: a press counts only
        from the message that offered it (a rehearsal's first message, with no number yet, takes any)."""
        asked: int | None = record.data.get("numbered")  # the number of its last message with buttons
        if inbound.kind == "choice" and None not in (asked, inbound.asked) and inbound.asked != asked:
            return [Mark("refused", "errors.stale_button"),
                    Reply(self.library.text(contact.locale, "errors.stale_button"))]
        data = load(record.state, record.data)  # a copy: the database sees changes only when saved
        rehearsal, trail = handle_rehearsal(record.state, data, inbound, self.library, self.classifier,
                                            source_locale(contact.locale))  # personas are written ones
        number = first_number() if asked is None else asked
        numbered: Trail = []
        for item in trail:
            if isinstance(item, Reply) and item.buttons:
                number += 1
                numbered.append(replace(item, asked=number))
            else:
                numbered.append(item)
        record.state, record.data = rehearsal.state, {**rehearsal.data.to_json(), "numbered": number}
        return numbered

    def _view(self, uow: UnitOfWork, contact: Contact, inbound: Inbound) -> Reply:
        if inbound.text == "progress":
            return progress(self.library, contact.locale, uow.conversations.rehearsal_scores(contact))
        return talk_track(self.library, contact.locale, inbound.argument.split())

    @cached_property
    def classifier(self) -> ActClassifier:
        """Trained on first use, so that customers never wait for it."""
        return ActClassifier(self.library.rehearsal["examples"])

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
