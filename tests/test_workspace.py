"""The agent's workspace (/leads, /lead, /note, /remind, /status, /assign, /reply) and the delivery of
follow-ups, on SQLite and on PostgreSQL: agents work their own leads, managers all of them, and
every wrong input gets a polite answer in the agent's language."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.flows.machine import STAGES
from bot.flows.stage import display_key
from bot.flows.messages import Inbound, Reply
from bot.library import LOCALES, Library
from bot.service import SalesService, Sender
from bot.workspace import COMMANDS, Workspace, parse_when
from storage.database import Database
from storage.models import Contact, ContactEvent, Conversation, FollowUp, Lead, LeadNote, Referral, Staff
from storage.unit_of_work import UnitOfWork
from storage.workspace import LeadBook

NOW = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
ANSWERS = {"age": 35, "occupation": "office", "health": False, "family": "married", "parents": 0,
           "annual_income": 300_000}


class Agency:
    """A database with staff and leads put in directly, and the workspace to drive."""

    def __init__(self, library: Library, database: Database) -> None:
        self.library, self.database = library, database
        self.workspace = Workspace(library)
        self.staff: dict[str, int] = {}

    def hire(self, key: str, role: str = "agent", name: str = "", locale: str | None = None,
             active: bool = True) -> int:
        """A staff member; with `locale`, also their own contact on the channel (their language)."""
        with self.database.unit_of_work() as uow:
            member = Staff(channel="telegram", external_id=f"staff-{key}", role=role, name=name or key,
                           active=active)
            uow.session.add(member)
            if locale:
                uow.session.add(Contact(channel="telegram", external_id=f"staff-{key}", name=name,
                                        locale=locale))
            uow.session.flush()
            self.staff[key] = member.id
            uow.commit()
        return self.staff[key]

    def customer(self, name: str, agent: str | None, state: str | None = "needs",
                 answers: dict[str, Any] | None = None, progress: dict[str, Any] | None = None,
                 locale: str = "en", status: str = "new") -> int:
        """A contact with a customer conversation at `state` (None: none) and their lead."""
        with self.database.unit_of_work() as uow:
            contact = Contact(channel="telegram", external_id=f"customer-{name}", name=name, locale=locale)
            uow.session.add(contact)
            uow.session.flush()
            if state is not None:
                uow.session.add(Conversation(contact_id=contact.id, mode="customer", state=state,
                                             data={"answers": answers or {}, "progress": progress or {}}))
            uow.session.add(Lead(contact_id=contact.id, agent_id=self.staff[agent] if agent else None,
                                 status=status))
            uow.commit()
            return contact.id

    def do(self, who: str, inbound: Inbound, locale: str = "en",
           now: datetime = NOW) -> list[tuple[str | None, Reply]]:
        with self.database.unit_of_work() as uow:
            me = uow.session.get(Staff, self.staff[who])
            assert me is not None
            out = self.workspace.handle(LeadBook(uow.session), me, inbound, locale, now)
            uow.commit()
        assert out, "every input is answered"
        return out

    def say(self, who: str, command: str, argument: str = "", locale: str = "en",
            now: datetime = NOW) -> Reply:
        """A command whose only answer goes to the agent's own chat."""
        out = self.do(who, Inbound("command", command, argument), locale, now)
        assert [target for target, _ in out] == [None]
        return out[0][1]

    def press(self, who: str, value: str, locale: str = "en", now: datetime = NOW) -> Reply:
        out = self.do(who, Inbound("choice", value), locale, now)
        assert [target for target, _ in out] == [None]
        return out[0][1]

    def due(self, now: datetime) -> list[tuple[str, str, Reply]]:
        with self.database.unit_of_work() as uow:
            out = self.workspace.due_follow_ups(LeadBook(uow.session), "telegram", now)
            uow.commit()
        return out

    def lead(self, contact_id: int) -> Lead:
        with self.database.unit_of_work() as uow:
            lead = uow.session.get(Lead, contact_id)
            assert lead is not None
            return lead

    def text(self, locale: str, key: str, **context: Any) -> str:
        return self.library.text(locale, f"workspace/{key}", **context)


@pytest.fixture
def agency(library: Library, database: Database) -> Agency:
    return Agency(library, database)


def values(reply: Reply) -> list[str]:
    return [button.value for button in reply.buttons]


def log(uow: UnitOfWork, conversation_id: int, kind: str, text: str,
        detail: dict[str, str] | None = None) -> None:
    uow.session.add(ContactEvent(conversation_id=conversation_id, kind=kind, stage="needs", text=text,
                                 detail=detail or {}))


# -- /leads -----------------------------------------------------------------------------------------
def test_an_agent_lists_only_their_own_leads_by_stage_with_counts_and_a_manager_sees_all(
        agency: Agency) -> None:
    agency.hire("li", name="Li Ming")
    agency.hire("zhou", name="Zhou Hua")
    agency.hire("boss", role="manager", name="Boss")
    anna = agency.customer("Anna Lee", None, state="won")
    wang = agency.customer("Wang Fang", "li", state="needs")
    chen = agency.customer("Chen Jie", "li", state="needs", status="contacted")
    liu = agency.customer("Liu Yang", "li", state="proposal")
    new = agency.customer("Zhao Lei", "li", state=None)
    other = agency.customer("Sun Mei", "zhou", state="needs")
    with agency.database.unit_of_work() as uow:
        uow.session.add(Referral(code="abc", referrer_contact_id=anna, referred_contact_id=wang))
        uow.commit()

    mine = agency.say("li", "leads")
    assert "Your leads (4)" in mine.text
    assert "Needs questions — 2" in mine.text and "Proposal — 1" in mine.text
    assert "No conversation yet — 1" in mine.text
    where = [mine.text.index(stage) for stage in ("Needs questions", "Proposal", "No conversation")]
    assert where == sorted(where)
    assert "Sun Mei" not in mine.text and "Anna Lee" not in mine.text
    assert "#" + str(wang) + " Wang Fang · new · referred by Anna" in mine.text
    assert f"#{chen} Chen Jie · contacted" in mine.text
    assert sorted(values(mine)) == sorted(f"ws:lead:{n}" for n in (wang, chen, liu, new))
    assert all(value.startswith("ws:") for value in values(mine))

    everyone = agency.say("boss", "leads")
    assert "All leads (6)" in everyone.text
    assert "Needs questions — 3" in everyone.text and "Applied (won) — 1" in everyone.text
    assert f"#{other} Sun Mei · new · agent: Zhou Hua" in everyone.text
    assert f"#{anna} Anna Lee · new · not assigned" in everyone.text
    assert sorted(values(everyone)) == sorted(f"ws:lead:{n}" for n in (anna, wang, chen, liu, new, other))

    agency.hire("nobody")
    assert agency.say("nobody", "leads").text == agency.text("en", "no_leads", mine=True)
    chinese = agency.say("li", "leads", locale="zh_CN")
    assert "需求询问 —— 2 条" in chinese.text and "由Anna介绍" in chinese.text


def test_a_button_opens_a_lead_like_the_command(agency: Agency) -> None:
    agency.hire("li")
    wang = agency.customer("Wang Fang", "li", answers=ANSWERS)
    assert agency.press("li", f"ws:lead:{wang}").text == agency.say("li", "lead", str(wang)).text


# -- /lead -------------------------------------------------------------------------------------------
def test_a_lead_shows_answers_proposal_notes_status_follow_ups_and_the_last_log_lines(agency: Agency) -> None:
    agency.hire("li", name="Li Ming")
    wang = agency.customer("Wang Fang", "li", state="objection", answers=ANSWERS,
                           progress={"disclosed": True})
    with agency.database.unit_of_work() as uow:
        conversation = uow.session.query(Conversation).filter_by(contact_id=wang).one()
        for number in range(1, 11):
            log(uow, conversation.id, "inbound" if number % 2 else "outbound", f"line {number:02}")
        log(uow, conversation.id, "transition", "confirm")
        log(uow, conversation.id, "inbound", "start", {"kind": "command"})
        log(uow, conversation.id, "proposal", "comprehensive 12345")
        log(uow, conversation.id, "outbound", "a long plan\nover lines " + "x" * 300)
        uow.commit()
    agency.say("li", "note", f"{wang} Prefers calls after 18:00.\nWife decides.")
    agency.say("li", "remind", f"{wang} 2026-12-01 15:00 call about the plan")
    agency.say("li", "status", f"{wang} meeting")

    card = agency.say("li", "lead", str(wang))
    text = card.text
    assert text.startswith(f"#{wang} Wang Fang")
    assert "Stage: Objections" in text and "Status: meeting arranged" in text
    assert f"Agent: Li Ming (staff {agency.staff['li']})" in text
    assert "• Age: 35" in text and "Customer's income: CNY 300,000" in text
    assert "Proposal: shown — the comprehensive plan, about CNY 12,345 a year; key terms read." in text
    shown = [line for line in ("line 01", "line 02", "line 03", "line 04", "line 05", "line 06", "line 07",
                               "line 08", "line 09", "line 10") if line in text]
    assert shown == ["line 05", "line 06", "line 07", "line 08", "line 09", "line 10"]  # 8 lines, newest last
    assert "Customer: /start" in text and "confirm" not in text
    assert text.index("line 10") < text.index("/start") < text.index("Us: a long plan over lines")
    assert "x" * 200 not in text  # a long line is cut
    assert "Li Ming: Prefers calls after 18:00. Wife decides." in text
    assert "2026-12-01 15:00 UTC: call about the plan" in text
    assert values(card) == [f"ws:remind:{wang}", f"ws:status:{wang}:contacted", f"ws:status:{wang}:applied",
                            f"ws:status:{wang}:won", "ws:leads"]
    chinese = agency.say("li", "lead", str(wang), locale="zh_CN").text
    assert "阶段：异议处理" in chinese and "状态：已约见" in chinese and "已展示——全面方案" in chinese
    assert "年龄" in chinese


def test_a_lead_of_a_real_conversation_shows_what_was_said(library: Library, database: Database,
                                                           agency: Agency) -> None:
    service = SalesService(library, database)
    customer = Sender("telegram", "customer-real", name="Real Person", locale="en")
    for inbound in (Inbound("command", "start"), Inbound("choice", "agree"), Inbound("text", "35")):
        service.handle(customer, inbound)
        for item in service.pending("telegram", "customer-real"):
            service.sent(item.id)
    agency.hire("li")
    with database.unit_of_work() as uow:
        contact = uow.contacts.find("telegram", "customer-real")
        assert contact is not None
        lead = uow.session.get(Lead, contact.id)  # made when the customer wrote, where that code exists
        if lead is None:
            uow.session.add(Lead(contact_id=contact.id, agent_id=agency.staff["li"]))
        else:
            lead.agent_id = agency.staff["li"]
        uow.commit()
        contact_id = contact.id
    text = agency.say("li", "lead", str(contact_id)).text
    assert "Stage: Needs questions" in text and "• Age: 35" in text
    assert "Customer: [agree]" in text and "Customer: 35" in text and "Proposal: not shown yet." in text
    assert "Notes:\n(none yet" in text


# -- /note, /status -------------------------------------------------------------------------------------
def test_a_note_is_kept_with_its_author_and_time(agency: Agency) -> None:
    agency.hire("li", name="Li Ming")
    wang = agency.customer("Wang Fang", "li")
    reply = agency.say("li", "note", f"#{wang}   Has a mortgage  ")
    assert reply.text == agency.text("en", "note_added", n=wang, name="Wang Fang")
    assert agency.say("li", "note", str(wang)).text == agency.text("en", "usage", command="note")
    with agency.database.unit_of_work() as uow:
        notes = uow.session.query(LeadNote).all()
        kept = [(n.contact_id, n.staff_id, n.text) for n in notes]
        assert kept == [(wang, agency.staff["li"], "Has a mortgage")]


def test_status_changes_and_lost_needs_a_reason(agency: Agency) -> None:
    agency.hire("li")
    wang = agency.customer("Wang Fang", "li")
    assert "is now: meeting arranged" in agency.say("li", "status", f"{wang} Meeting").text
    assert agency.lead(wang).status == "meeting"

    refused = agency.say("li", "status", f"{wang} lost")
    assert refused.text == agency.text("en", "lost_needs_reason", n=wang)
    assert agency.lead(wang).status == "meeting"

    done = agency.say("li", "status", f"{wang} lost bought elsewhere")
    assert "is now: lost (bought elsewhere)" in done.text
    assert (agency.lead(wang).status, agency.lead(wang).lost_reason) == ("lost", "bought elsewhere")
    assert "Status: lost (bought elsewhere)" in agency.say("li", "lead", str(wang)).text

    assert agency.say("li", "status", f"{wang} maybe").text == agency.text("en", "usage", command="status")
    assert agency.say("li", "status", str(wang)).text == agency.text("en", "usage", command="status")
    pressed = agency.press("li", f"ws:status:{wang}:won")
    assert "is now: won" in pressed.text
    assert (agency.lead(wang).status, agency.lead(wang).lost_reason) == ("won", "")
    agency.say("li", "status", f"{wang} applied signed on paper")
    card = agency.say("li", "lead", str(wang)).text
    assert "Status: applied" in card and "signed on paper" in card


# -- /remind and the delivery of follow-ups -------------------------------------------------------------
def test_reminders_by_button_and_by_typed_time_are_delivered_at_their_time_exactly_once(
        agency: Agency) -> None:
    agency.hire("li", name="Li Ming", locale="en")
    agency.hire("zhou", name="Zhou Hua")  # no contact of their own: Chinese
    wang = agency.customer("Wang Fang", "li")
    sun = agency.customer("Sun Mei", "zhou")

    asked = agency.say("li", "remind", str(wang))
    assert values(asked) == [f"ws:remind:{wang}:tomorrow", f"ws:remind:{wang}:3d", f"ws:remind:{wang}:week"]
    assert [b.label for b in asked.buttons] == ["Tomorrow", "In 3 days", "In a week"]
    assert "2026-12-03 16:00 UTC" in agency.press("li", f"ws:remind:{wang}:3d").text
    typed = agency.say("li", "remind", f"{wang} 2026-12-01 15:00 call about the plan")
    assert typed.text == agency.text("en", "remind_set", n=wang, name="Wang Fang", due="2026-12-01 15:00",
                                     note="call about the plan")
    assert "2026-11-30 17:30 UTC" in agency.say("li", "remind", f"{wang} 17:30").text  # later today
    assert "2026-12-01 15:00 UTC: bring" in agency.say("li", "remind", f"{wang} 15:00 bring the form").text
    assert "2026-12-01 09:00" in agency.say("zhou", "remind", f"{sun} 2026-12-01 见面", locale="zh_CN").text

    assert agency.due(datetime(2026, 11, 30, 17, 29, tzinfo=UTC)) == []
    first = agency.due(datetime(2026, 11, 30, 17, 30, tzinfo=UTC))
    assert [(to, locale) for to, locale, _ in first] == [("staff-li", "en")]
    assert f"follow up #{wang} Wang Fang" in first[0][2].text and values(first[0][2]) == [f"ws:lead:{wang}"]
    assert agency.due(datetime(2026, 11, 30, 17, 30, tzinfo=UTC)) == []  # once only

    next_day = agency.due(datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    assert [(to, locale) for to, locale, _ in next_day] == [("staff-zhou", "zh_CN"), ("staff-li", "en"),
                                                             ("staff-li", "en")]
    assert "提醒" in next_day[0][2].text and "见面" in next_day[0][2].text
    assert "call about the plan" in next_day[1][2].text and "bring the form" in next_day[2][2].text
    later = agency.due(datetime(2026, 12, 9, tzinfo=UTC))
    expected = agency.text("en", "due", n=wang, name="Wang Fang", note="", due="2026-12-03 16:00")
    assert [reply.text for _, _, reply in later] == [expected]
    assert agency.due(datetime(2027, 1, 1, tzinfo=UTC)) == []
    with agency.database.unit_of_work() as uow:
        assert all(f.done_at is not None for f in uow.session.query(FollowUp))


def test_a_reminder_in_the_past_or_at_no_readable_time_is_refused(agency: Agency) -> None:
    agency.hire("li")
    wang = agency.customer("Wang Fang", "li")
    assert agency.say("li", "remind", f"{wang} 2026-01-01 10:00").text == agency.text(
        "en", "remind_past", due="2026-01-01 10:00")
    for when in ("someday", "25:00", "2026-02-30", "0d", "999d"):
        assert agency.say("li", "remind", f"{wang} {when} x").text == agency.text(
            "en", "remind_bad", n=wang, value=when)
    with agency.database.unit_of_work() as uow:
        assert uow.session.query(FollowUp).count() == 0


def test_reading_when() -> None:
    assert parse_when(["tomorrow"], NOW) == (NOW + timedelta(days=1), 1)
    assert parse_when(["WEEK", "x"], NOW) == (NOW + timedelta(days=7), 1)
    assert parse_when(["10d"], NOW) == (NOW + timedelta(days=10), 1)
    full_width = ["２０２６－１２－０１", "１５：００"]  # typed with a Chinese keyboard
    assert parse_when(full_width, NOW) == (datetime(2026, 12, 1, 15, tzinfo=UTC), 2)
    assert parse_when(["2026-12-01T08:05"], NOW) == (datetime(2026, 12, 1, 8, 5, tzinfo=UTC), 1)
    assert parse_when(["16:00"], NOW) == (datetime(2026, 12, 1, 16, tzinfo=UTC), 1)  # now: tomorrow
    assert parse_when(["16:01"], NOW) == (datetime(2026, 11, 30, 16, 1, tzinfo=UTC), 1)
    assert parse_when(["later"], NOW) is None


# -- /assign, /reply ------------------------------------------------------------------------------------
def test_a_manager_reassigns_and_an_agent_may_not(agency: Agency) -> None:
    agency.hire("li", name="Li Ming")
    zhou = agency.hire("zhou", name="Zhou Hua")
    agency.hire("boss", role="manager")
    gone = agency.hire("gone", active=False)
    wang = agency.customer("Wang Fang", "li")

    assert agency.say("li", "assign", f"{wang} {zhou}").text == agency.text("en", "assign_managers_only")
    assert agency.lead(wang).agent_id == agency.staff["li"]

    moved = agency.say("boss", "assign", f"{wang} {zhou}")
    assert moved.text == agency.text("en", "assigned", n=wang, name="Wang Fang", agent="Zhou Hua",
                                     agent_id=zhou, previous="Li Ming")
    assert agency.lead(wang).agent_id == zhou
    assert agency.say("li", "lead", str(wang)).text == agency.text("en", "not_yours", n=wang)
    assert "Wang Fang" in agency.say("zhou", "lead", str(wang)).text

    assert agency.say("boss", "assign", f"{wang} {zhou}").text.startswith(f"#{wang} Wang Fang is already")
    for bad in (str(gone), "4242"):
        assert agency.say("boss", "assign", f"{wang} {bad}").text == agency.text(
            "en", "assign_unknown_staff", value=int(bad))
    assert agency.say("boss", "assign", f"{wang} zhou").text == agency.text("en", "usage", command="assign")
    assert agency.lead(wang).agent_id == zhou


def test_a_reply_goes_to_the_customer_in_their_language(agency: Agency) -> None:
    agency.hire("li", name="Li Ming")
    wang = agency.customer("Wang Fang", "li", locale="zh_CN")
    message = "您好，我明天下午给您打电话。"
    out = agency.do("li", Inbound("command", "reply", f"{wang} {message}"))
    assert [target for target, _ in out] == ["customer-Wang Fang", None]
    assert out[0][1].text == agency.text("zh_CN", "to_customer", sender="Li Ming", message=message)
    assert out[1][1].text == agency.text("en", "reply_sent", n=wang, name="Wang Fang")
    assert agency.lead(wang).status == "contacted"
    assert agency.say("li", "reply", str(wang)).text == agency.text("en", "usage", command="reply")
    with agency.database.unit_of_work() as uow:
        contact = uow.session.get(Contact, wang)
        assert contact is not None
        contact.unreachable_since = NOW
        uow.commit()
    assert agency.say("li", "reply", f"{wang} hello").text == agency.text(
        "en", "reply_unreachable", n=wang, name="Wang Fang")


# -- refusals and bad input ------------------------------------------------------------------------------
def test_an_agent_cannot_open_or_change_someone_elses_lead(agency: Agency) -> None:
    agency.hire("li")
    agency.hire("zhou")
    sun = agency.customer("Sun Mei", "zhou")
    refused = agency.text("en", "not_yours", n=sun)
    for command, argument in (("lead", ""), ("note", " hi"), ("remind", " tomorrow"), ("status", " won"),
                              ("reply", " hello")):
        assert agency.say("li", command, f"{sun}{argument}").text == refused
    assert agency.press("li", f"ws:lead:{sun}").text == refused
    assert agency.press("li", f"ws:remind:{sun}:3d").text == refused
    assert agency.lead(sun).status == "new"
    with agency.database.unit_of_work() as uow:
        assert uow.session.query(LeadNote).count() == uow.session.query(FollowUp).count() == 0
    unassigned = agency.customer("Nobody's", None)
    assert agency.say("li", "lead", str(unassigned)).text == agency.text("en", "not_yours", n=unassigned)


@pytest.mark.parametrize("locale", LOCALES)
def test_bad_input_is_answered_politely_in_the_agents_language(agency: Agency, locale: str) -> None:
    agency.hire("li")
    agency.hire("boss", role="manager")
    agency.hire("gone", active=False)
    wang = agency.customer("Wang Fang", "li")

    def text(key: str, **context: Any) -> str:
        return agency.text(locale, key, **context)

    cases = [
        (Inbound("command", "lead"), text("usage", command="lead")),
        (Inbound("command", "note", "   "), text("usage", command="note")),
        (Inbound("command", "lead", "abc"), text("not_a_number", command="lead", value="abc")),
        (Inbound("command", "status", "-3 won"), text("not_a_number", command="status", value="-3")),
        (Inbound("command", "lead", "99999"), text("not_found", n=99999)),
        (Inbound("command", "lead", "0"), text("not_found", n=0)),
        (Inbound("command", "lead", "9999999999"), text("not_found", n=9999999999)),  # beyond an INTEGER
        (Inbound("command", "lead", "99999999999999999999"),
         text("not_a_number", command="lead", value="99999999999999999999")),
        (Inbound("choice", "ws:nonsense:1"), text("stale")),
        (Inbound("choice", "ws:lead:abc"), text("not_a_number", command="lead", value="abc")),
        (Inbound("text", "hello"), text("help", manager=False)),
    ]
    for inbound, expected in cases:
        assert agency.do("li", inbound, locale) == [(None, Reply(expected))], inbound
    if locale == "zh_CN":
        assert all(any("\u4e00" <= c <= "\u9fff" for c in expected) for _, expected in cases)
    assert agency.do("gone", Inbound("command", "leads"), locale) == [(None, Reply(text("inactive")))]
    assert "/assign" in agency.do("boss", Inbound("command", "help"), locale)[0][1].text
    assert "/assign" not in agency.do("li", Inbound("command", "help"), locale)[0][1].text
    assert agency.lead(wang).status == "new"


def test_every_command_and_text_exists_in_both_languages(library: Library) -> None:
    for locale in LOCALES:
        for name in ("help", "usage", "leads", "lead", "due", "to_customer", "status"):
            assert library.has(locale, f"workspace/{name}")
        for stage in [*STAGES, None]:
            assert library.has(locale, display_key(stage))
        for command in COMMANDS:
            usage = library.text(locale, "workspace/usage", command=command)
            assert command == "leads" or f"/{command} " in usage
