"""The agent's workspace: /leads by stage, /lead N in full, notes, reminders, status, reassignment
and a reply to the customer through the bot. Agents act on their own leads, managers on all.

Commands arrive as Inbound("command", name, argument); the workspace's buttons as
Inbound("choice", "ws:<command>:<arg>:<arg>...") and are read as the same command. Anything that
cannot be done gets a polite reply in the agent's language, never an exception. Every word is in
scripts_library/templates/<locale>/workspace/.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from bot.commands import WORKSPACE as WORKSPACE_PART
from bot.commands import commands_of
from bot.flows.machine import PLAN_SEEN, STATES
from bot.flows.messages import Button, Inbound, Reply
from bot.flows.presenting import summary_lines
from bot.flows.stage import display_key
from bot.library import DEFAULT_LOCALE, LOCALES, Library, LibraryError
from storage.models import Staff
from storage.workspace import LeadBook, LeadDetail, LeadSummary, LogLine, as_utc

COMMANDS = commands_of(WORKSPACE_PART)  # the agent's commands this part answers (bot/commands.py)
PREFIX = "ws:"  # the value of every workspace button begins with it
STATUSES = ("contacted", "meeting", "applied", "won", "lost")  # what /status sets (leads start "new")
REMIND_OPTIONS = {"tomorrow": timedelta(days=1), "3d": timedelta(days=3), "week": timedelta(days=7)}
SHOWN_PER_STAGE = 8  # leads listed (each with its button) per stage in /leads; the count is of all
LOG_LINES = 8
LINE_CHARS = 160  # a line of the contact log, cut to this in /lead
NOTE_CHARS = 300  # a note, cut to this in /lead
LONGEST_NOTE = 2000
DATE = "%Y-%m-%d %H:%M"  # times are shown and typed in UTC (the texts say so)
MORNING = time(9, 0)  # a date typed without a time


class Polite(Exception):
    """What cannot be done, answered with the text `workspace/<key>`."""

    def __init__(self, key: str, **context: Any) -> None:
        super().__init__(key)
        self.key, self.context = key, context


@dataclass(frozen=True)
class _Call:
    book: LeadBook
    me: Staff
    locale: str
    now: datetime

    @property
    def manager(self) -> bool:
        return self.me.role == "manager"


Out = list[tuple[str | None, Reply]]


class Cards:
    """What the workspace shows of a lead, in the agent's language."""

    def __init__(self, library: Library) -> None:
        self.library = library

    def text(self, locale: str, key: str, /, **context: Any) -> str:
        return self.library.text(locale, f"workspace/{key}", **context)

    def stage(self, locale: str, stage: str | None) -> str:
        return self.library.text(locale, display_key(stage))

    def status_name(self, locale: str, status: str) -> str:
        return self.text(locale, "status", status=status)

    def leads(self, locale: str, manager: bool, me: int, leads: list[LeadSummary],
              counts: dict[str | None, int]) -> Reply:
        """The leads by stage, in the sale's order, a few of each with a button to open it."""
        by_stage: dict[str | None, list[LeadSummary]] = {}
        for lead in leads:
            by_stage.setdefault(lead.stage, []).append(lead)
        order = [s for s in STATES if s in by_stage] + sorted(s for s in by_stage if s and s not in STATES)
        groups, buttons = [], []
        for stage in [*order, *([None] if None in by_stage else [])]:
            shown_leads = by_stage[stage][:SHOWN_PER_STAGE]
            count = counts.get(stage, len(by_stage[stage]))
            groups.append({"stage": self.stage(locale, stage), "count": count,
                           "more": max(count - len(shown_leads), 0),
                           "leads": [self.listed(locale, manager, me, lead) for lead in shown_leads]})
            buttons += [self.open_button(locale, lead.contact_id, lead.name) for lead in shown_leads]
        text = self.text(locale, "leads", mine=not manager, total=len(leads), groups=groups)
        return Reply(text, buttons=tuple(buttons))

    def open_button(self, locale: str, number: int, name: str) -> Button:
        return Button(self.text(locale, "lead_button", n=number, name=name), f"{PREFIX}lead:{number}")

    def listed(self, locale: str, manager: bool, me: int, lead: LeadSummary) -> dict[str, Any]:
        return {"n": lead.contact_id, "name": lead.name,
                "status": self.status_name(locale, lead.status), "referrer": first_name(lead.referrer),
                "agent": lead.agent_name if manager else None,
                "unassigned": manager and lead.agent_id is None,
                "mine": lead.agent_id == me}

    def card(self, locale: str, detail: LeadDetail) -> Reply:
        """One lead's card: who, where in the sale, the answers, the plan shown, the log, notes."""
        lead = detail.lead
        try:
            lines = summary_lines(self.library, locale, detail.answers, for_agent=True)
        except (LibraryError, KeyError, TypeError, ValueError):  # answers of an older questionnaire
            lines = [{"label": key, "value": str(value)} for key, value in detail.answers.items()]
        context = {
            "n": lead.contact_id, "name": lead.name, "stage": self.stage(locale, lead.stage),
            "status": self.status_name(locale, lead.status), "lost_reason": lead.lost_reason,
            "agent": detail.agent.name if detail.agent else None,
            "agent_id": detail.agent.id if detail.agent else None,
            "referrer": first_name(lead.referrer), "lines": lines, "reachable": lead.reachable,
            "proposal": self.proposal(locale, detail), "disclosed": bool(detail.progress.get("disclosed")),
            "log": [self.log_line(line) for line in detail.log],
            "notes": [{"at": shown(note.at), "author": note.author, "text": cut(note.text, NOTE_CHARS)}
                      for note in detail.notes],
            "follow_ups": [{"due": shown(f.due_at), "text": f.text} for f in detail.follow_ups],
        }
        buttons = [Button(self.text(locale, "button", button="remind"), f"{PREFIX}remind:{lead.contact_id}")]
        buttons += [Button(self.text(locale, "button", button="status", status=self.status_name(locale, s)),
                           f"{PREFIX}status:{lead.contact_id}:{s}")
                    for s in STATUSES if s not in (lead.status, "lost")]
        buttons.append(Button(self.text(locale, "button", button="leads"), f"{PREFIX}leads"))
        return Reply(self.text(locale, "lead", **context), buttons=tuple(buttons))

    def proposal(self, locale: str, detail: LeadDetail) -> dict[str, Any] | None:
        """The plan last shown (from the log's proposal marks, "standard 8000"); a sale that has
        passed the proposal without a mark in the log still counts as shown."""
        stage = detail.lead.stage
        paused_from = detail.progress.get("paused_from")
        if not detail.proposals and stage not in PLAN_SEEN and paused_from not in PLAN_SEEN:
            return None
        variant, total = (detail.proposals[-1].split() + ["", ""])[:2] if detail.proposals else ("", "")
        key = f"variants.{variant}"
        try:
            amount = self.library.money(locale, float(total)) if total else ""
        except ValueError:
            amount = ""
        named = bool(variant) and self.library.has(locale, key)
        return {"variant": self.library.text(locale, key) if named else "", "total": amount}

    @staticmethod
    def log_line(line: LogLine) -> dict[str, str]:
        text = line.text
        if line.kind == "inbound" and line.detail.get("kind") == "command":
            text = f"/{text} {line.detail.get('argument', '')}".strip()
        elif line.kind == "inbound" and line.detail.get("kind") == "choice":
            text = f"[{text}]"
        return {"who": "customer" if line.kind == "inbound" else "us", "at": shown(line.at),
                "text": cut(text, LINE_CHARS)}


class Workspace:
    def __init__(self, library: Library) -> None:
        self.library = library
        self.cards = Cards(library)
        self._commands: dict[str, Callable[[_Call, list[str], str], Out]] = {
            "leads": self._leads, "lead": self._lead, "note": self._note, "remind": self._remind,
            "status": self._status, "assign": self._assign, "reply": self._reply, "done": self._done}

    # -- the message path ----------------------------------------------------------------------
    @staticmethod
    def _command(call: _Call, inbound: Inbound) -> tuple[str, str]:
        """The workspace command a message is, and its argument; Polite when it is none."""
        if not call.me.active:
            raise Polite("inactive")
        name, argument = read_command(inbound)
        if name is None:
            raise Polite("stale" if inbound.kind == "choice" and inbound.text.startswith(PREFIX)
                         else "help", manager=call.manager)
        return name, argument

    def handle(self, book: LeadBook, me: Staff, inbound: Inbound, locale: str,
               now: datetime) -> list[tuple[str | None, Reply]]:
        """The replies to one command or button of the workspace, each with where it goes: None is
        the agent's own chat, otherwise a customer's external_id (for /reply)."""
        call = _Call(book, me, locale if locale in LOCALES else DEFAULT_LOCALE, as_utc(now))
        try:
            name, argument = self._command(call, inbound)
            words, rest = split_argument(argument)
            return self._commands[name](call, words, rest)
        except Polite as polite:
            return [(None, Reply(self.cards.text(call.locale, polite.key, **polite.context)))]

    def due_follow_ups(self, book: LeadBook, channel: str, now: datetime) -> list[tuple[str, str, Reply]]:
        """The follow-ups due by `now` on `channel`, marked done: (agent's external_id, the agent's
        locale, the reminder) each, delivered once."""
        out = []
        for due in book.due_follow_ups(channel, now):
            locale = book.locale_of(due.staff) or DEFAULT_LOCALE
            locale = locale if locale in LOCALES else DEFAULT_LOCALE
            text = self.cards.text(locale, "due", n=due.contact_id, name=due.name, note=due.text,
                             due=shown(due.due_at))
            button = self.cards.open_button(locale, due.contact_id, due.name)
            out.append((due.staff.external_id, locale, Reply(text, buttons=(button,))))
        return out

    # -- finding the lead ----------------------------------------------------------------------
    def _target(self, call: _Call, command: str, words: list[str]) -> LeadSummary:
        """The lead named by the first word, if it exists and the caller may work it."""
        if not words:
            raise Polite("usage", command=command)
        number = lead_number(words[0])
        if number is None:
            raise Polite("not_a_number", command=command, value=words[0][:40])
        lead = call.book.find(number)
        if lead is None:
            raise Polite("not_found", n=number)
        if not call.manager and lead.agent_id != call.me.id:
            raise Polite("not_yours", n=number)
        return lead

    # -- the commands --------------------------------------------------------------------------
    def _leads(self, call: _Call, _words: list[str], _rest: str) -> Out:
        agent_id = None if call.manager else call.me.id
        leads = call.book.leads(agent_id)
        if not leads:
            return [(None, Reply(self.cards.text(call.locale, "no_leads", mine=not call.manager)))]
        counts = call.book.stage_counts(agent_id)
        return [(None, self.cards.leads(call.locale, call.manager, call.me.id, leads, counts))]

    def _lead(self, call: _Call, words: list[str], _rest: str) -> Out:
        lead = self._target(call, "lead", words)
        return [(None, self.cards.card(call.locale, call.book.detail(lead, log_lines=LOG_LINES)))]

    def _note(self, call: _Call, words: list[str], rest: str) -> Out:
        lead = self._target(call, "note", words)
        if not rest:
            raise Polite("usage", command="note")
        call.book.add_note(lead.contact_id, call.me.id, rest[:LONGEST_NOTE], call.now)
        return self._said(call, "note_added", n=lead.contact_id, name=lead.name)

    def _remind(self, call: _Call, words: list[str], rest: str) -> Out:
        lead = self._target(call, "remind", words)
        if len(words) < 2:
            buttons = tuple(Button(self.cards.text(call.locale, "remind_option", option=option),
                                   f"{PREFIX}remind:{lead.contact_id}:{option}") for option in REMIND_OPTIONS)
            asked = self.cards.text(call.locale, "remind_ask", n=lead.contact_id, name=lead.name)
            return [(None, Reply(asked, buttons=buttons))]
        read = parse_when(words[1:], call.now)
        if read is None:
            raise Polite("remind_bad", n=lead.contact_id, value=words[1][:40])
        due, used = read
        if due <= call.now:
            raise Polite("remind_past", due=shown(due))
        note = rest_after(rest, used)[:LONGEST_NOTE]
        call.book.add_follow_up(lead.contact_id, call.me.id, due, note)
        return self._said(call, "remind_set", n=lead.contact_id, name=lead.name, due=shown(due), note=note)

    def _status(self, call: _Call, words: list[str], rest: str) -> Out:
        lead = self._target(call, "status", words)
        status = normal(words[1]) if len(words) > 1 else ""
        if status not in STATUSES:
            raise Polite("usage", command="status")
        reason = rest_after(rest, 1)
        if status == "lost" and not reason:
            raise Polite("lost_needs_reason", n=lead.contact_id)
        call.book.set_status(lead.contact_id, status, call.now, reason)
        noted = status != "lost" and bool(reason)
        if noted:  # words after another status are worth keeping: as a note
            call.book.add_note(lead.contact_id, call.me.id, reason[:LONGEST_NOTE], call.now)
        named = self.cards.status_name(call.locale, status)
        return self._said(call, "status_set", n=lead.contact_id, name=lead.name, status=named,
                          reason=reason[:200], noted=noted)

    def _assign(self, call: _Call, words: list[str], _rest: str) -> Out:
        if not call.manager:
            raise Polite("assign_managers_only")
        lead = self._target(call, "assign", words)
        staff_id = lead_number(words[1]) if len(words) > 1 else None
        if staff_id is None:
            raise Polite("usage", command="assign")
        staff = call.book.staff(staff_id)
        if staff is None or not staff.active:
            raise Polite("assign_unknown_staff", value=staff_id)
        if lead.agent_id == staff.id:
            raise Polite("assign_same", n=lead.contact_id, name=lead.name, agent=staff.name,
                         agent_id=staff.id)
        call.book.reassign(lead.contact_id, staff.id, call.now)
        return self._said(call, "assigned", n=lead.contact_id, name=lead.name, agent=staff.name,
                          agent_id=staff.id, previous=lead.agent_name or "")

    def _reply(self, call: _Call, words: list[str], rest: str) -> Out:
        lead = self._target(call, "reply", words)
        if not rest:
            raise Polite("usage", command="reply")
        if not lead.reachable or lead.channel != call.me.channel:
            raise Polite("reply_unreachable", n=lead.contact_id, name=lead.name)
        message = self._to_customer(call, lead, "to_customer", message=rest)
        if lead.status == "new":  # the agent has now contacted them
            call.book.set_status(lead.contact_id, "contacted", call.now)
        hours = self.library.parameters.agent_talk_hours
        call.book.talk(lead.contact_id, call.now + timedelta(hours=hours))  # their answers come to you
        return [(lead.external_id, message),
                *self._said(call, "reply_sent", n=lead.contact_id, name=lead.name, hours=hours)]

    def _done(self, call: _Call, words: list[str], _rest: str) -> Out:
        """The agent ends the exchange: the customer's messages go to the sale again, and they are told."""
        lead = self._target(call, "done", words)
        call.book.talk(lead.contact_id, None)
        told = self._to_customer(call, lead, "talk_ended")
        reached = lead.reachable and lead.channel == call.me.channel
        return [*([(lead.external_id, told)] if reached else []),
                *self._said(call, "talk_done", n=lead.contact_id, name=lead.name)]

    # -- what is shown -------------------------------------------------------------------------
    def _to_customer(self, call: _Call, lead: LeadSummary, key: str, /, **context: Any) -> Reply:
        """A message from this agent to the customer, in the customer's language, signed with the
        agent's name."""
        locale = lead.locale if lead.locale in LOCALES else DEFAULT_LOCALE
        sender = call.me.name or self.library.agency_context(locale)["agent_name"]
        return Reply(self.cards.text(locale, key, sender=sender, **context))

    def _said(self, call: _Call, key: str, /, **context: Any) -> Out:
        return [(None, Reply(self.cards.text(call.locale, key, **context)))]




# -- reading what the agent typed ------------------------------------------------------------------
def read_command(inbound: Inbound) -> tuple[str | None, str]:
    """(the workspace command, its argument), or (None, "") for anything else. A button's value
    "ws:remind:12:3d" reads as `/remind 12 3d`."""
    if inbound.kind == "command" and inbound.text in COMMANDS:
        return inbound.text, inbound.argument
    if inbound.kind == "choice" and inbound.text.startswith(PREFIX):
        name, *parts = inbound.text[len(PREFIX):].split(":")
        if name in COMMANDS:
            return name, " ".join(parts)
    return None, ""


def normal(text: str) -> str:
    """Full-width digits and colons (typed with a Chinese keyboard) as ASCII, lower case."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def split_argument(argument: str) -> tuple[list[str], str]:
    """The words of the argument, and the text after the first word (the lead's number) as typed."""
    argument = argument.strip()
    words = argument.split()
    rest = argument[len(words[0]):].strip() if words else ""
    return words, rest


def rest_after(text: str, words: int) -> str:
    """`text` without its first `words` words, spacing and line breaks of the rest kept."""
    for _ in range(words):
        parts = text.strip().split(None, 1)
        text = parts[1] if len(parts) > 1 else ""
    return text.strip()


def lead_number(word: str) -> int | None:
    """A lead's (or a staff member's) number as typed: "12", "#12", "１２"."""
    word = normal(word).lstrip("#")
    return int(word) if word.isascii() and word.isdigit() and len(word) <= 10 else None


def parse_when(words: list[str], now: datetime) -> tuple[datetime, int] | None:
    """When a reminder is due, from the first words: tomorrow | 3d (any number of days up to a
    year) | week | 2026-12-01 [15:00] | 15:00 (today, or tomorrow when that time has passed).
    Returns the moment (UTC) and how many words it took; None when they name no time."""
    first = normal(words[0])
    if first in REMIND_OPTIONS:
        return now + REMIND_OPTIONS[first], 1
    days = re.fullmatch(r"(\d{1,3})d", first)
    if days:
        return (now + timedelta(days=int(days.group(1))), 1) if 0 < int(days.group(1)) <= 366 else None
    clock = _clock(first)
    if clock is not None:
        today = datetime.combine(now.date(), clock, tzinfo=now.tzinfo)
        return (today if today > now else today + timedelta(days=1)), 1
    date, _, at = first.partition("t")
    try:
        day = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=now.tzinfo).date()
    except ValueError:
        return None
    if at:  # 2026-12-01T15:00
        clock = _clock(at)
        return (datetime.combine(day, clock, tzinfo=now.tzinfo), 1) if clock else None
    clock = _clock(normal(words[1])) if len(words) > 1 else None
    if clock is not None:
        return datetime.combine(day, clock, tzinfo=now.tzinfo), 2
    return datetime.combine(day, MORNING, tzinfo=now.tzinfo), 1


def _clock(word: str) -> time | None:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", word)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return time(int(match.group(1)), int(match.group(2)))


def cut(text: str, most: int) -> str:
    """On one line, at most `most` characters."""
    text = " ".join(text.split())
    return text if len(text) <= most else text[:most - 1] + "…"


def shown(moment: datetime) -> str:
    return as_utc(moment).strftime(DATE)


def first_name(name: str | None) -> str | None:
    """The first word of a name as the channel gives it ("Anna Lee" → "Anna"); a Chinese name
    written without spaces is kept whole."""
    words = (name or "").split()
    return words[0] if words else None
