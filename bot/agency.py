"""The agency around the sale: who is an agent or a manager, the links that bring people in and
the thanks that go back, which agent a lead belongs to, and what a customer may see of their own
record. The service asks it before and after the sale; the sale itself knows none of it.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.channels import agents_channel
from bot.commands import AGENT, CUSTOMER, allowed
from bot.flows.machine import CLIENT, MILESTONES, NEAR_CLIENT
from bot.flows.messages import Button, Inbound, Mark, Reply, Step, Trail
from bot.library import Library
from storage.agency import Attribution
from storage.models import Contact, Conversation, Staff, utcnow
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

Elsewhere = tuple[str, str, Reply]  # a message for another chat: (channel, chat, reply)

LOGIN_MINUTES = 15  # how long a dashboard login link works (once)
AGENT_CHAT = "@agent"  # the outbox's name for the agents' shared chat (TELEGRAM_AGENT_CHAT_ID)


@dataclass(frozen=True)
class _Call:
    """One agency command: where it came from, its argument (cut to what a label holds)."""

    uow: UnitOfWork
    contact: Contact
    argument: str
    link_base: str

    @property
    def locale(self) -> str:
        return self.contact.locale


class Desk:
    def __init__(self, library: Library, configured: Mapping[str, str] | None = None,
                 web_url: str = "") -> None:
        self.library = library
        self.configured = dict(configured or {})  # external id -> role, from the settings
        self.web_url = web_url.rstrip("/")  # the web app's address (SALESBOT_WEB_URL); none: no dashboard

    # -- roles ---------------------------------------------------------------------------------
    def staff(self, uow: UnitOfWork, contact: Contact) -> Staff | None:
        """The person's staff row: named in the settings (kept up to date), or joined by invitation."""
        role = self.configured.get(contact.external_id)
        if role:
            return uow.agency.ensure_staff(contact.channel, contact.external_id, role, contact.name)
        return uow.agency.staff(contact.channel, contact.external_id)

    def refusal(self, staff: Staff | None, inbound: Inbound, locale: str) -> Reply | None:
        """An agents' command from someone else (or a managers' one from an agent), refused politely."""
        role = staff.role if staff else CUSTOMER
        if inbound.kind != "command" or allowed(inbound.text, role):
            return None
        key = "agency.managers_only" if role == AGENT else "agency.agents_only"
        return Reply(self.library.text(locale, key))

    # -- what the agency answers itself ---------------------------------------------------------
    def answer(self, uow: UnitOfWork, contact: Contact, staff: Staff | None, inbound: Inbound,
               link_base: str) -> Trail | None:
        """The reply to an agency command or button, or None: the sale's to answer. Who may use a
        command is checked before (`refusal`, from bot/commands.py); staff commands need a staff row."""
        if inbound.kind == "choice" and inbound.text in ("invite:named", "invite:anonymous"):
            code = uow.agency.code_of("client", contact=contact)
            code.show_name = inbound.text == "invite:named"
            said = "agency.named" if code.show_name else "agency.anonymous"
            return [Reply(self.library.text(contact.locale, said))]
        call = _Call(uow, contact, inbound.argument[:100], link_base)
        if inbound.kind == "command" and (answer := _FOR_EVERYONE.get(inbound.text)):
            return [answer(self, call)]
        if inbound.kind == "command" and staff and (staff_answer := _FOR_STAFF.get(inbound.text)):
            return [staff_answer(self, call, staff)]
        return None

    def _referrals(self, call: _Call) -> Reply:
        counts = call.uow.agency.referrals_by(call.contact)
        came, clients = sum(counts.values()), counts.get("client", 0)
        return Reply(self.library.text(call.locale, "agency.referrals", came=came, clients=clients))

    def _link(self, call: _Call, staff: Staff) -> Reply:
        link = call.link_base + call.uow.agency.code_of("agent", staff=staff).code
        return Reply(self.library.text(call.locale, "agency.agent_link", link=link), share=link)

    def _dashboard(self, call: _Call, staff: Staff) -> Reply:
        if not self.web_url:
            return Reply(self.library.text(call.locale, "agency.no_dashboard"))
        link = f"{self.web_url}/login/{call.uow.agency.new_code('login', staff=staff).code}"
        return Reply(self.library.text(call.locale, "agency.dashboard", link=link, minutes=LOGIN_MINUTES))

    def _campaign(self, call: _Call, _staff: Staff) -> Reply:
        link = call.link_base + call.uow.agency.new_code("campaign", staff=None, label=call.argument).code
        said = self.library.text(call.locale, "agency.campaign", link=link, label=call.argument)
        return Reply(said, share=link)

    def _add_agent(self, call: _Call, staff: Staff) -> Reply:
        link = call.link_base + call.uow.agency.new_code("staff_invite", staff=staff).code
        return Reply(self.library.text(call.locale, "agency.agent_invite", link=link))

    def invite(self, uow: UnitOfWork, contact: Contact, link_base: str) -> Reply:
        """A client's own link, as text, a picture to scan and a message to forward."""
        if uow.agency.stage_of(contact) not in CLIENT:
            return Reply(self.library.text(contact.locale, "agency.not_client"))
        code = uow.agency.code_of("client", contact=contact)
        link = link_base + code.code
        other = "anonymous" if code.show_name else "named"
        toggle = Button(self.library.text(contact.locale, f"agency.buttons.{other}"), f"invite:{other}")
        return Reply(self.library.text(contact.locale, "agency.invite", link=link, named=code.show_name),
                     (toggle,), share=link)

    def client_link(self, uow: UnitOfWork, contact: Contact, state: str, link_base: str) -> str:
        """The link the sale shows a client (won, after-sales, referral); none before."""
        if state not in NEAR_CLIENT:
            return ""
        return link_base + uow.agency.code_of("client", contact=contact).code

    def mydata(self, uow: UnitOfWork, contact: Contact) -> Reply:
        """Everything kept about the person: readable, and the same as a JSON file."""
        record = uow.conversations.current(contact)
        answers = record.data.get("answers", {}) if record else {}
        events = uow.events.of(record.id) if record else []
        referral = uow.agency.referral_of(contact)
        data: dict[str, Any] = {
            "name": contact.name, "language": contact.locale, "since": contact.created_at.isoformat(),
            "stage": record.state if record else None, "answers": answers,
            "messages": [{"at": e.at.isoformat(), "kind": e.kind, "text": e.text}
                         for e in events if e.kind in ("inbound", "outbound")],
            "came_by_referral": referral is not None,
            "friends_referred": uow.agency.referrals_by(contact),
        }
        text = self.library.text(contact.locale, "agency.mydata", data=data,
                                 answers=json.dumps(answers, ensure_ascii=False), count=len(data["messages"]))
        return Reply(text, attachment=("mydata.json", json.dumps(data, ensure_ascii=False, indent=2)))

    # -- the start, the milestones and the hand-off ---------------------------------------------
    def start(self, uow: UnitOfWork, contact: Contact, staff: Staff | None, record: Conversation,
              payload: str | None) -> Attribution:
        """A /start: whose code it came with (logged either way), and the customer's lead."""
        result = Attribution()
        if payload:
            first = record.state == "approach" and not record.data
            result = uow.agency.attribute(contact, payload, first)
            if result.refused:
                uow.events.add(record, "referral_refused", record.state, result.refused)
            elif result.referral:
                uow.events.add(record, "referred", record.state)
        if not result.joined_as and staff is None:
            uow.agency.lead_of(contact, result.referral)
        return result

    def after(self, uow: UnitOfWork, contact: Contact, trail: Trail) -> list[Elsewhere]:
        """Thanks to the friend who brought this customer, and word to their agent, when the customer
        finishes the questions and when they become a client (nothing of their answers is told)."""
        reached = [MILESTONES[s.dest] for s in trail if isinstance(s, Step) and s.dest in MILESTONES]
        referral = uow.agency.referral_of(contact) if reached else None  # looked up only when it matters
        if referral is None:
            return []
        messages = []
        for milestone in reached:
            if referral.status == milestone or (referral.status, milestone) == ("client", "answered"):
                continue
            referral.status = milestone
            referrer = uow.agency.contact(referral.referrer_contact_id or 0)
            if referrer is not None:
                thanks = Reply(self.library.text(referrer.locale, f"agency.thanks.{milestone}"))
                messages.append((referrer.channel, referrer.external_id, thanks))
            locale = self.library.agent_locale
            told = self.library.text(locale, "agency.agent_told", lead=contact.id, name=contact.name,
                                     referrer=referrer.name if referrer else "",
                                     milestone=self.library.text(locale, f"agency.milestone.{milestone}"))
            messages.append((*self.agent_chat(uow, referrer or contact), Reply(told, to_agent=True)))
        return messages

    def relay(self, uow: UnitOfWork, contact: Contact, text: str) -> tuple[Trail, list[Elsewhere]] | None:
        """A customer's typed message while their agent talks with them (after /reply, until /done or
        the hours of `agent_talk_hours`): it goes to the agent, in the agent's language; None otherwise."""
        lead = uow.agency.talking_with_agent(contact, utcnow())
        if lead is None:
            return None
        agent = uow.agency.agent_of(lead)
        wrote = self.library.text(self.library.agent_locale, "agent/customer_wrote", reference=contact.id,
                                  customer_name=contact.name, message=text)
        named = agent.name if agent else ""  # the one who wrote to them, as /reply signed it
        relayed = self.library.text(contact.locale, "common/relayed", **({"sender": named} if named else {}))
        trail: Trail = [Mark("relayed", ""), Reply(relayed)]
        return trail, [(*self.agent_chat(uow, contact), Reply(wrote, to_agent=True))]

    def agent_chat(self, uow: UnitOfWork, contact: Contact) -> tuple[str, str]:
        """Where word about a customer goes (channel, chat): their agent's own chat, on the channel
        the agent uses; else the agents' shared chat — on the customer's channel, or Telegram's for
        a channel that has none (the web)."""
        agent = uow.agency.agent_of(uow.agency.lead_of(contact))
        if agent is not None:
            return agent.channel, agent.external_id
        return agents_channel(contact.channel), AGENT_CHAT

    def reachable(self, uow: UnitOfWork, contact: Contact, agents_chats: frozenset[str] | None) -> bool:
        """Whether someone can take up the customer: their agent, or the agents' shared chat of the
        channel it would go to (agents_chats: the channels that have one; None: take it there is one).
        Nobody: the operator is told (a warning), and the customer is never promised contact."""
        if agents_chats is None or agents_channel(contact.channel) in agents_chats:
            return True
        if uow.agency.agent_of(uow.agency.lead_of(contact)) is not None:
            return True
        log.warning("no agent and no agents' chat (TELEGRAM_AGENT_CHAT_ID) for a %s customer: nobody can "
                    "be promised to answer", contact.channel)
        return False

    def handed_off(self, uow: UnitOfWork, contact: Contact, trail: Trail) -> None:
        if any(isinstance(item, Mark) and item.kind == "handoff" for item in trail):
            uow.agency.lead_of(contact).handed_off_at = utcnow()


# The agency's commands (who may use each: bot/commands.py), each with its answer.
_FOR_EVERYONE: dict[str, Callable[[Desk, _Call], Reply]] = {
    "invite": lambda desk, call: desk.invite(call.uow, call.contact, call.link_base),
    "referrals": Desk._referrals,
    "mydata": lambda desk, call: desk.mydata(call.uow, call.contact),
}
_FOR_STAFF: dict[str, Callable[[Desk, _Call, Staff], Reply]] = {
    "link": Desk._link, "dashboard": Desk._dashboard, "campaign": Desk._campaign, "addagent": Desk._add_agent,
}
