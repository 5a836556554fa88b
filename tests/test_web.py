"""The web app (bot/web/) in process, through Starlette's TestClient, on SQLite and PostgreSQL: a
customer's whole sale on /chat (the same message path as Telegram's), and the dashboard's figures
checked against a database seeded with known counts."""
from __future__ import annotations

import csv
import html
import io
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.cli import main as cli
from bot.flows.machine import STAGES
from bot.library import Library
from bot.service import SalesService
from bot.web.app import create_app
from bot.web.funnel import furthest, percent
from bot.web.pages import accepted_locale
from storage.database import Database
from storage.models import Contact, ContactEvent, Conversation, Lead, Referral, ReferralCode, Staff, utcnow
from storage.reports import SORTS, StageGroup
from tests.answering import FAMILY_ANSWERS, Step, fill, question_of

with warnings.catch_warnings():  # Starlette would rather have httpx2; python-telegram-bot brings httpx
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

BASE = "http://testserver"
MANAGER, AGENT_A, AGENT_B, INACTIVE = "810001", "810002", "810003", "810004"


# -- the page, as a browser reads it -----------------------------------------------------------------
@dataclass
class ChatPage:
    text: str

    @property
    def messages(self) -> list[tuple[str, str]]:
        """(bot | you, text) of each message, in order."""
        found = re.findall(r'<div class="message (bot|you)[^"]*"[^>]*>(.*?)</div>', self.text, re.S)
        return [(who, html.unescape(re.sub(r"<[^>]+>", "", body)).strip()) for who, body in found]

    def said(self, who: str = "bot") -> list[str]:
        return [text for speaker, text in self.messages if speaker == who]

    @property
    def options(self) -> list[str]:
        values = re.findall(r'name="choice" value="([^"]*)" class="option"', self.text)
        return [html.unescape(value) for value in values]

    @property
    def csrf(self) -> str:
        return str(re.findall(r'name="csrf" value="([^"]+)"', self.text)[0])

    @property
    def asked(self) -> str | None:
        found = re.search(r'name="asked" value="(\d+)"', self.text)
        return found.group(1) if found else None

    def pictures(self, kind: str) -> list[str]:
        return re.findall(rf'<img class="{kind}" src="([^"]+)"', self.text)

    @property
    def files(self) -> list[str]:
        return re.findall(r'<a class="file" href="([^"]+)"', self.text)


class Visitor:
    """A browser on /chat: its cookies, the last page it got."""

    def __init__(self, client: TestClient, language: str = "en-US,en;q=0.9") -> None:
        self.client = client
        self.client.headers["accept-language"] = language
        self.page = ChatPage("")

    def open(self, path: str = "/chat") -> ChatPage:
        answer = self.client.get(path)
        assert answer.status_code == 200, answer.text[:300]
        self.page = ChatPage(answer.text)
        return self.page

    def press(self, value: str) -> ChatPage:
        assert value in self.page.options, (value, self.page.options, self.page.said()[-2:])
        return self._post({"csrf": self.page.csrf, "choice": value, "asked": self.page.asked or ""})

    def say(self, text: str) -> ChatPage:
        return self._post({"csrf": self.page.csrf, "text": text})

    def _post(self, form: dict[str, str]) -> ChatPage:
        answer = self.client.post("/chat", data=form, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/chat", answer.status_code
        return self.open()


@pytest.fixture
def service(library: Library, database: Database) -> SalesService:
    return SalesService(library, database, {MANAGER: "manager", AGENT_A: "agent", AGENT_B: "agent"}, BASE)


@pytest.fixture
def app(service: SalesService) -> Any:
    return create_app(service, "test-secret", BASE)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE) as made:
        yield made


def customer_conversation(database: Database) -> list[Conversation]:
    with database.unit_of_work() as uow:
        return list(uow.session.scalars(select(Conversation).join(Contact).where(
            Contact.channel == "web", Conversation.mode == "customer")))


# -- the customer ------------------------------------------------------------------------------------
def test_a_customer_completes_the_sale_on_the_chat_page(client: TestClient, database: Database,
                                                        app: Any, library: Library) -> None:
    visitor = Visitor(client)
    page = visitor.open()
    assert "licence no." in page.said()[0]
    assert page.options == ["agree", "decline"] and page.asked is not None
    cookie = client.cookies.get("salesbot_visitor")
    assert cookie
    sent = 0

    def send(step: Step) -> None:
        nonlocal page, sent
        kind, value = step
        page = visitor.press(value) if kind == "press" else visitor.say(value)
        assert kind == "press" or page.said("you")[-1] == value
        sent += 1

    def current() -> str | None:
        [record] = customer_conversation(database)
        return question_of(record.state, record.data)

    send(("press", "agree"))
    fill(library, current, send, FAMILY_ANSWERS)
    for decision in ("confirm", "proceed", "accept"):
        send(("press", decision))
    bot = "\n".join(page.said())
    assert "Your standard plan" in bot and "Next steps" in bot
    [conversation] = customer_conversation(database)
    answers = conversation.data["answers"]
    assert (conversation.state, answers["age"], answers["children_ages"]) == ("won", 35, [3, 7])
    # the coverage chart: a PNG for this visitor only
    [chart] = page.pictures("chart")
    picture = client.get(chart)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    assert picture.content.startswith(b"\x89PNG")
    with TestClient(app, base_url=BASE) as stranger:
        assert stranger.get(chart).status_code == 404
    # a pressed option shows its label; the contact log has the whole conversation
    assert "Yes, let's start" in page.said("you")
    with database.unit_of_work() as uow:
        kinds = [event.kind for event in uow.events.of(conversation.id)]
    assert kinds.count("inbound") == sent + 1 and "outbound" in kinds and "transition" in kinds

    # a client passes on their link: the picture to scan, and a file of their own data
    page = visitor.press("refer")
    [qr] = page.pictures("qr")
    assert client.get(qr).headers["content-type"] == "image/png"
    assert f"{BASE}/chat?start=" in page.text
    page = visitor.say("/mydata")
    [data] = page.files
    answer = client.get(data)
    assert answer.status_code == 200 and '"answers"' in answer.text and "attachment" in \
        answer.headers["content-disposition"]


def test_a_return_visit_resumes_and_an_old_button_is_refused(client: TestClient, app: Any) -> None:
    visitor = Visitor(client)
    visitor.open()
    first = visitor.page
    visitor.press("agree")
    question = visitor.say("35").said()[-1]
    # the same browser later (the cookie): the same chat, at the same question, nothing sent twice
    cookies = {"salesbot_visitor": client.cookies["salesbot_visitor"]}
    with TestClient(app, base_url=BASE, cookies=cookies) as later:
        again = Visitor(later)
        page = again.open()
        assert page.said()[-1] == question and page.messages == visitor.page.messages
        # the first page's "decline" button: stale, refused, the question asked again
        old = {"csrf": page.csrf, "choice": "decline", "asked": first.asked or ""}
        answer = later.post("/chat", data=old)
        assert answer.status_code == 200
        said = ChatPage(answer.text).said()
        assert "earlier message" in said[-2] and said[-1] == question
    # another browser starts its own chat
    with TestClient(app, base_url=BASE) as other:
        page = Visitor(other).open()
        assert "licence no." in page.said()[0] and page.said("you") == []
        assert page.options == ["agree", "decline"]


def test_commands_are_typed_and_the_language_follows_the_browser(client: TestClient, app: Any) -> None:
    visitor = Visitor(client, "zh-CN,zh;q=0.9,en;q=0.8")
    page = visitor.open()
    assert "执业证号" in page.said()[0] and '<html lang="zh-CN">' in page.text
    page = visitor.say("/lang en")
    assert '<html lang="en">' in page.text and any("in English" in said for said in page.said()[-3:])
    page = visitor.say("/restart")
    assert page.said("you")[-1] == "/restart" and page.options == ["agree", "decline"]
    with TestClient(app, base_url=BASE) as english:
        assert "licence no." in Visitor(english, "en-GB").open().said()[0]
    assert [accepted_locale(h) for h in ("zh-TW", "en-US,zh;q=0.5", "fr, zh;q=0.8", "fr", "", "de;q=0, en")] \
        == ["zh_Hant", "en", "zh_CN", "en", "en", "en"]


def test_a_link_with_a_start_code_credits_the_referrer(client: TestClient, database: Database) -> None:
    with database.unit_of_work() as uow:
        friend = Contact(channel="telegram", external_id="77001", name="Zhao Lei", locale="en")
        uow.session.add(friend)
        uow.session.flush()
        uow.session.add(Conversation(contact_id=friend.id, mode="customer", state="won", data={}))
        code = uow.agency.code_of("client", contact=friend)
        code.show_name = True
        code_text, friend_id = code.code, friend.id
        uow.commit()
    answer = client.get(f"/chat?start={code_text}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/chat"  # the code leaves the address
    page = Visitor(client).open()
    assert "Zhao" in page.said()[0]
    with database.unit_of_work() as uow:
        [referral] = uow.session.scalars(select(Referral)).all()
        referred = uow.session.get(Contact, referral.referred_contact_id)
        assert referred is not None
        assert (referral.referrer_contact_id, referred.channel) == (friend_id, "web")
    # the link once more credits nobody new, and an unknown code is only a /start
    client.get(f"/chat?start={code_text}")
    client.get("/chat?start=no-such-code")
    with database.unit_of_work() as uow:
        assert len(uow.session.scalars(select(Referral)).all()) == 1


def test_forms_without_their_token_are_refused(client: TestClient, app: Any, database: Database) -> None:
    visitor = Visitor(client)
    page = visitor.open()
    for form in ({"choice": "agree", "asked": page.asked or ""}, {"text": "35", "csrf": "forged"}):
        answer = client.post("/chat", data=form, follow_redirects=False)
        assert answer.status_code == 403
    with TestClient(app, base_url=BASE) as other:  # someone else's token is not this visitor's
        other.get("/chat")
        assert other.post("/chat", data={"csrf": page.csrf, "text": "hi"}).status_code == 403
    assert client.post("/chat", data={"csrf": page.csrf, "text": "x" * 70_000}).status_code == 413
    assert {c.state for c in customer_conversation(database)} == {"approach"}  # nothing was handled
    # the cookies: signed, HttpOnly, SameSite=Lax; the pages: no scripts, never framed
    cookie = client.get("/chat").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    headers = client.get("/chat").headers
    assert "default-src 'none'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"


# -- the dashboard -----------------------------------------------------------------------------------
@dataclass
class Seeded:
    staff: dict[str, int]
    contacts: dict[str, int]


# name, stage, agent, lead status, progress, days ago created
CUSTOMERS: list[tuple[str, str, str, str, dict[str, Any], int]] = [
    ("C1 Approach", "approach", AGENT_A, "new", {}, 2),
    ("C2 Needs", "needs", AGENT_A, "new", {"consent": True, "question": "age"}, 2),
    ("C3 Needs", "needs", AGENT_B, "new", {"consent": True, "question": "family"}, 3),
    ("C4 Summary", "summary", AGENT_B, "new", {"consent": True}, 3),
    ("C5 Proposal", "proposal", AGENT_B, "contacted", {"consent": True}, 4),
    ("C6 Objection", "objection", AGENT_A, "contacted", {"consent": True, "objection": "expensive"}, 4),
    ("C7 Closing", "closing", AGENT_B, "meeting", {"consent": True, "disclosed": True}, 5),
    ("Zhao Lei", "won", AGENT_A, "won", {"consent": True, "disclosed": True}, 5),
    ("C9 After", "after_sales", AGENT_B, "won", {"consent": True}, 6),
    ("C10 Referral", "referral", AGENT_A, "won", {"consent": True}, 6),
    ("C11 Paused", "paused", AGENT_B, "new", {"consent": True, "paused_from": "proposal"}, 7),
    ("C12 Lost", "lost", AGENT_A, "lost", {"consent": True, "objection": "expensive"}, 7),
    ("C13 Lost", "lost", AGENT_B, "lost", {}, 8),
    ("C14 Old", "won", AGENT_A, "won", {"consent": True}, 60),  # before the funnel's default 30 days
]
# Got at least this far, of the 13 started in the last 30 days: read from each stage now (C11 paused in
# the proposal, C12 declined after a doubt, C13 before anything).
FUNNEL = {"approach": 13, "needs": 11, "summary": 9, "proposal": 8, "objection": 6, "closing": 4, "won": 3,
          "after_sales": 2, "referral": 2, "paused": 1, "lost": 2}
PATH = ["approach", "needs", "summary", "proposal", "closing", "won"]


def seed(database: Database) -> Seeded:
    now = utcnow()
    with database.unit_of_work() as uow:
        s = uow.session
        staff = {}
        for external_id, role, name, active in [(MANAGER, "manager", "Mona Manager", True),
                                                (AGENT_A, "agent", "Alice Agent", True),
                                                (AGENT_B, "agent", "Bob Agent", True),
                                                (INACTIVE, "agent", "Ivan Inactive", False)]:
            row = Staff(channel="telegram", external_id=external_id, role=role, name=name, active=active)
            s.add(row)
            s.flush()
            staff[external_id] = row.id
        contacts = {}
        for number, (name, stage, agent, status, progress, days) in enumerate(CUSTOMERS):
            created = now - timedelta(days=days)
            contact = Contact(channel="telegram", external_id=str(830000 + number), name=name, locale="en",
                              created_at=created)
            s.add(contact)
            s.flush()
            contacts[name] = contact.id
            data = {"answers": {"age": 30 + number}, "progress": {"greeted": True, **progress}}
            talk = Conversation(contact_id=contact.id, mode="customer", state=stage, created_at=created,
                                data=data)
            s.add(talk)
            s.flush()
            reached = PATH[:PATH.index(stage) + 1] if stage in PATH else ["approach", "needs", stage]
            lines = [("inbound", "approach", "start", {"kind": "command"}),
                     ("outbound", "approach", f"Hello {name}", {})]
            for before, after in zip(reached, reached[1:], strict=False):
                lines += [("transition", after, "next", {"from": before, "to": after}),
                          ("outbound", after, f"Now {after}", {})]
            events = [ContactEvent(conversation_id=talk.id, kind=kind, stage=where, text=text, detail=detail,
                                   at=created) for kind, where, text, detail in lines]
            s.add_all(events)
            s.add(Lead(contact_id=contact.id, agent_id=staff[agent], status=status, updated_at=created))
        # Zhao Lei brought C5 (who brought C2) and C6; Alice's link brought C1
        codes = [ReferralCode(code="zhao-code", kind="client", contact_id=contacts["Zhao Lei"],
                              show_name=True),
                 ReferralCode(code="c5-code", kind="client", contact_id=contacts["C5 Proposal"]),
                 ReferralCode(code="alice-code", kind="agent", staff_id=staff[AGENT_A])]
        s.add_all(codes)
        s.flush()
        s.add_all([
            Referral(code="zhao-code", referrer_contact_id=contacts["Zhao Lei"],
                     referred_contact_id=contacts["C5 Proposal"], status="answered"),
            Referral(code="zhao-code", referrer_contact_id=contacts["Zhao Lei"],
                     referred_contact_id=contacts["C6 Objection"], status="client"),
            Referral(code="c5-code", referrer_contact_id=contacts["C5 Proposal"],
                     referred_contact_id=contacts["C2 Needs"], status="came"),
            Referral(code="alice-code", referrer_staff_id=staff[AGENT_A],
                     referred_contact_id=contacts["C1 Approach"], status="came")])
        # the agents rehearse in their own chats (a customer conversation of their own is no lead)
        rehearsed = [(AGENT_A, "Alice Agent", [61, 72]), (AGENT_B, "Bob Agent", [55, 0])]
        for external_id, name, scores in rehearsed:
            me = Contact(channel="telegram", external_id=external_id, name=name, locale="en")
            s.add(me)
            s.flush()
            s.add(Conversation(contact_id=me.id, mode="customer", state="needs", data={}))
            for attempt, score in enumerate(scores):
                if not score:
                    continue
                s.add(Conversation(contact_id=me.id, mode="rehearsal", state="bought",
                                   updated_at=now - timedelta(days=3 - attempt, hours=external_id == AGENT_B),
                                   data={"persona": "ready_family", "difficulty": "normal", "score": score}))
        uow.commit()
    return Seeded(staff, contacts)


def log_in(client: TestClient, database: Database, external_id: str) -> str:
    """A staff member's one-time link, made as the bot's /dashboard makes it, opened."""
    code = login_code(database, external_id)
    answer = client.get(f"/login/{code}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard", answer.status_code
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("salesbot_session=") and "httponly" in cookie and "samesite=lax" in cookie
    return code


def login_code(database: Database, external_id: str, age: timedelta = timedelta(0)) -> str:
    with database.unit_of_work() as uow:
        staff = uow.session.scalars(select(Staff).where(Staff.external_id == external_id)).one()
        code = uow.agency.new_code("login", staff=staff)
        code.created_at = utcnow() - age
        uow.commit()
        return code.code


def rows_of(page: str, table: str) -> dict[str, dict[str, str]]:
    """A table's rows by their data-* key, each cell's text by its class."""
    body = re.search(rf'<table id="{table}">(.*?)</table>', page, re.S)
    assert body, table
    found = {}
    for key, row in re.findall(r'<tr data-[a-z]+="([^"]*)">(.*?)</tr>', body.group(1), re.S):
        cells = re.findall(r'<td class="([a-z]+)"[^>]*>(.*?)</td>', row, re.S)
        found[html.unescape(key)] = {name: html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
                                     for name, text in cells}
    return found


def leads_in(database: Database, agent: int | None = None) -> dict[int, tuple[str, str | None, str, str]]:
    """Each lead as the database has it: name, stage now, agent's name, status."""
    with database.unit_of_work() as uow:
        names = {s.id: s.name for s in uow.session.scalars(select(Staff))}
        found = {}
        query = select(Lead, Contact).join(Contact, Contact.id == Lead.contact_id)
        for lead, contact in uow.session.execute(query):
            if agent is not None and lead.agent_id != agent:
                continue
            stage = uow.session.scalars(select(Conversation.state).where(
                Conversation.contact_id == contact.id, Conversation.mode == "customer")
                .order_by(Conversation.id.desc()).limit(1)).first()
            found[contact.id] = (contact.name, stage, names.get(lead.agent_id or 0, ""), lead.status)
        return found


def csv_rows(body: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(body.lstrip("\ufeff")))
    assert reader.fieldnames == ["lead", "name", "stage", "agent", "referrer", "status", "created"]
    return list(reader)


def test_the_funnel_counts_a_known_database(client: TestClient, database: Database) -> None:
    seeded = seed(database)
    log_in(client, database, MANAGER)
    page = client.get("/dashboard").text
    for nav in ("nav-funnel", "nav-leads", "nav-referrals", "nav-rehearsals", "nav-diagram"):
        assert f'id="{nav}"' in page
    funnel = rows_of(page, "funnel")
    assert list(funnel) == list(STAGES)
    assert {stage: int(funnel[stage]["count"]) for stage in FUNNEL} == FUNNEL  # the stages known here
    assert funnel["approach"]["conversion"] == "100%" and funnel["needs"]["conversion"] == percent(11 / 13)
    assert funnel["won"]["conversion"] == "23.1%" and funnel["won"]["now"] == "1"
    assert '<svg id="funnel-chart"' in page
    # where the questions stop: the two waiting in the needs questions, of the 11 who got there
    dropoff = rows_of(page, "dropoff")
    assert {key: (row["count"], row["share"]) for key, row in dropoff.items()} == {
        "age": ("1", "9.1%"), "family": ("1", "9.1%")}
    # a wider range takes in the old client too; an agent's funnel has only their own leads
    since = (utcnow() - timedelta(days=90)).date().isoformat()
    wide = rows_of(client.get(f"/dashboard?from={since}").text, "funnel")
    assert (wide["approach"]["count"], wide["won"]["count"]) == ("14", "4")
    empty = rows_of(client.get("/dashboard?from=2001-01-01&to=2001-01-31").text, "funnel")
    assert {row["count"] for row in empty.values()} == {"0"}
    with TestClient(client.app, base_url=BASE) as agent:
        log_in(agent, database, AGENT_A)
        theirs = rows_of(agent.get("/dashboard").text, "funnel")
        mine = [c for c in CUSTOMERS if c[2] == AGENT_A and c[5] < 30]
        assert int(theirs["approach"]["count"]) == len(mine) == 6
        assert int(theirs["lost"]["count"]) == 1
    assert seeded.contacts  # (used by the tests below)


def test_the_funnel_reads_how_far_paused_and_lost_conversations_went() -> None:
    assert furthest(StageGroup("paused", 1, "closing")) == furthest(StageGroup("closing", 1))
    assert furthest(StageGroup("lost", 1, "consent")) == furthest(StageGroup("needs", 1))
    assert furthest(StageGroup("lost", 1, "objection")) == furthest(StageGroup("objection", 1))
    assert furthest(StageGroup("lost", 1)) == 0 == furthest(StageGroup("no_such_stage", 1))
    assert furthest(StageGroup("referral", 1)) == furthest(StageGroup("after_sales", 1))


def test_leads_filters_and_the_csv_match_the_database(client: TestClient, database: Database) -> None:
    seeded = seed(database)
    log_in(client, database, MANAGER)
    expected = leads_in(database)
    page = client.get("/dashboard/leads").text
    assert '<form id="lead-filters" method="get"' in page
    rows = rows_of(page, "leads")
    assert {int(k): (v["name"], v["agent"]) for k, v in rows.items()} == {
        k: (name, agent) for k, (name, _, agent, _) in expected.items()}
    assert rows[str(seeded.contacts["C5 Proposal"])]["referrer"] == "Zhao Lei"
    assert rows[str(seeded.contacts["C1 Approach"])]["referrer"] == "Alice Agent"
    assert rows[str(seeded.contacts["C7 Closing"])]["status"] == "meeting arranged"
    assert list(rows) == sorted(rows, key=int, reverse=True)  # the newest lead first
    csv_link = html.unescape(re.search(r'<a id="csv" href="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    assert csv_link == "/dashboard/leads.csv?"
    exported = csv_rows(client.get(csv_link).text)
    assert {int(r["lead"]): (r["name"], r["stage"] or None, r["agent"], r["status"])
            for r in exported} == expected
    with database.unit_of_work() as uow:
        created = {c.id: c.created_at.date().isoformat() for c in uow.session.scalars(select(Contact))}
    assert all(r["created"] == created[int(r["lead"])] for r in exported)
    assert {r["referrer"] for r in exported if r["name"] == "C2 Needs"} == {"C5 Proposal"}

    def shown(query: str) -> list[int]:
        answer = client.get(f"/dashboard/leads?{query}")
        assert answer.status_code == 200
        listed = [int(k) for k in rows_of(answer.text, "leads")]
        link = html.unescape(re.search(r'<a id="csv" href="([^"]+)"', answer.text).group(1))  # type: ignore[union-attr]
        exported = csv_rows(client.get(link).text)
        assert sorted(int(r["lead"]) for r in exported) == sorted(listed)  # the same filters
        return listed

    bob = seeded.staff[AGENT_B]
    assert sorted(shown("stage=proposal")) == [k for k, v in sorted(expected.items()) if v[1] == "proposal"]
    assert sorted(shown(f"agent={bob}")) == sorted(k for k, v in expected.items() if v[2] == "Bob Agent")
    assert shown("stage=needs&agent=Bob+Agent") == [seeded.contacts["C3 Needs"]]
    assert sorted(shown("referrer=Zhao+Lei")) == sorted([seeded.contacts["C5 Proposal"],
                                                        seeded.contacts["C6 Objection"]])
    assert shown(f"referrer=%23{seeded.contacts['C5 Proposal']}") == [seeded.contacts["C2 Needs"]]
    since = (utcnow() - timedelta(days=30)).date().isoformat()
    assert seeded.contacts["C14 Old"] not in shown(f"from={since}")
    assert shown(f"to={(utcnow() - timedelta(days=30)).date().isoformat()}") == [seeded.contacts["C14 Old"]]
    oldest = shown("sort=oldest")
    assert oldest[0] == seeded.contacts["C14 Old"] and len(oldest) == len(expected)
    by_stage = shown("sort=stage")
    assert [expected[k][1] for k in by_stage] == sorted(expected[k][1] or "" for k in by_stage)
    assert shown("stage=none") == [] and shown("agent=none") == []

    # a transcript: every line of the contact log, the changes of stage marked
    chen = seeded.contacts["C5 Proposal"]
    page = client.get(f"/dashboard/conversation/{chen}").text
    transcript = re.search(r'<div id="transcript">(.*)</div>', page, re.S).group(1)  # type: ignore[union-attr]
    assert transcript.count('class="line') == 2 + 2 * 3 and transcript.count("stage-change") == 3
    assert "/start" in transcript and "Now proposal" in transcript
    assert client.get("/dashboard/conversation/999999").status_code == 404


def test_leads_are_paged(client: TestClient, database: Database) -> None:
    seed(database)
    with database.unit_of_work() as uow:
        agent = uow.session.scalars(select(Staff).where(Staff.external_id == AGENT_A)).one()
        for number in range(110):
            contact = Contact(channel="web", external_id=f"wpage{number:03d}", name=f"Page {number}",
                              locale="en")
            uow.session.add(contact)
            uow.session.flush()
            uow.session.add(Lead(contact_id=contact.id, agent_id=agent.id, status="new"))
        uow.commit()
    log_in(client, database, MANAGER)
    pages = [client.get(f"/dashboard/leads?page={n}").text for n in (1, 2, 3)]
    counts = [len(rows_of(page, "leads")) for page in pages]
    assert counts == [50, 50, 124 - 100]
    assert 'id="next"' in pages[0] and 'id="previous"' not in pages[0] and 'id="next"' not in pages[2]
    listed = [k for page in pages for k in rows_of(page, "leads")]
    assert len(set(listed)) == 124
    assert next(iter(rows_of(pages[0], "leads").values()))["stage"] == "No conversation yet"


def test_an_agent_sees_only_their_own_leads(client: TestClient, database: Database) -> None:
    seeded = seed(database)
    log_in(client, database, AGENT_B)
    bob = seeded.staff[AGENT_B]
    own = leads_in(database, bob)
    assert sorted(int(k) for k in rows_of(client.get("/dashboard/leads").text, "leads")) == sorted(own)
    # asking for another agent's leads shows their own still
    alice = seeded.staff[AGENT_A]
    asked_for = rows_of(client.get(f"/dashboard/leads?agent={alice}").text, "leads")
    assert {int(k) for k in asked_for} <= set(own)
    assert sorted(int(r["lead"]) for r in csv_rows(client.get("/dashboard/leads.csv").text)) == sorted(own)
    assert client.get(f"/dashboard/conversation/{seeded.contacts['C1 Approach']}").status_code == 403
    assert client.get(f"/dashboard/conversation/{seeded.contacts['C3 Needs']}").status_code == 200
    # the referral tree: only the people who are their leads
    tree = client.get("/dashboard/referrals").text
    assert "C5 Proposal" in tree and "C6 Objection" not in tree and "C1 Approach" not in tree
    rehearsals = client.get("/dashboard/rehearsals").text
    assert "Bob Agent" in rehearsals and "Alice Agent" not in rehearsals


def test_the_referral_tree_and_the_rehearsals(client: TestClient, database: Database) -> None:
    seed(database)
    log_in(client, database, MANAGER)
    page = client.get("/dashboard/referrals").text
    tree = re.search(r'<ul id="referral-tree" class="tree">(.*)</ul>', page, re.S).group(1)  # type: ignore[union-attr]
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", tree)))
    # Alice's link (1 person), then Zhao Lei (2, one a client: 50%), whose C5 brought C2
    places = [text.index(name) for name in ("Alice Agent", "Zhao Lei", "C5 Proposal", "C2 Needs")]
    assert places == sorted(places)
    assert "brought 2 · became clients 1 (50%)" in text and "brought 1 · became clients 0 (0%)" in text
    assert "finished the questions" in text and "became a client" in text
    page = client.get("/dashboard/rehearsals").text
    scores = [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r'<td class="score">(.*?)</td>', page)]
    assert scores == ["72", "61", "55"]  # newest first
    assert "Alice Agent" in page and "Bob Agent" in page


def test_strangers_and_used_links_get_403(client: TestClient, database: Database, app: Any) -> None:
    seeded = seed(database)
    paths = ["/dashboard", "/dashboard/leads", "/dashboard/leads.csv", "/dashboard/referrals",
             "/dashboard/rehearsals", "/dashboard/diagram", "/dashboard/diagram.svg",
             f"/dashboard/conversation/{seeded.contacts['C5 Proposal']}"]
    for path in paths:
        assert client.get(path).status_code == 403, path
    client.cookies.set("salesbot_session", "forged.value")
    assert client.get("/dashboard").status_code == 403
    Visitor(client).open()  # a customer's own cookie opens nothing either
    assert client.get("/dashboard").status_code == 403
    # a login link works once; stale, unknown, an inactive agent's: 403
    code = login_code(database, AGENT_A)
    with TestClient(app, base_url=BASE) as first, TestClient(app, base_url=BASE) as second:
        assert first.get(f"/login/{code}", follow_redirects=False).status_code == 303
        assert second.get(f"/login/{code}").status_code == 403
        assert second.get("/dashboard").status_code == 403
        assert first.get("/dashboard").status_code == 200
        for refused in (login_code(database, AGENT_A, timedelta(minutes=20)), login_code(database, INACTIVE),
                        "no-such-code", "x" * 300):
            assert second.get(f"/login/{refused}").status_code == 403, refused
        # logging out needs the page's token
        assert first.post("/logout", data={}).status_code == 403
        token = re.search(r'name="csrf" value="([^"]+)"', first.get("/dashboard").text).group(1)  # type: ignore[union-attr]
        assert first.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
        assert first.get("/dashboard").status_code == 403


def test_pages_speak_the_staff_members_language(client: TestClient, database: Database) -> None:
    seed(database)
    log_in(client, database, MANAGER)
    assert "Sales funnel" in client.get("/dashboard").text
    chinese = client.get("/dashboard/leads?lang=zh_CN").text
    assert "客户线索" in chinese and '<html lang="zh-CN">' in chinese
    for path in ("/dashboard", "/dashboard/referrals", "/dashboard/rehearsals", "/dashboard/diagram",
                 "/dashboard/conversation/1"):
        answer = client.get(path)
        assert answer.status_code == 200 and '<html lang="zh-CN">' in answer.text, path  # kept by a cookie
    assert "Sales funnel" in client.get("/dashboard?lang=en").text


def test_every_word_of_the_pages_is_in_both_languages(library: Library) -> None:
    templates = Path(__file__).parents[1] / "bot" / "web" / "templates"
    keys = set()
    for template in templates.glob("*.html"):
        keys |= set(re.findall(r'\bt\("([a-z_.]+)"\)', template.read_text(encoding="utf-8")))
    keys |= {f"leads.sort_{sort}" for sort in SORTS}
    keys |= {f"referrals.{status}" for status in ("came", "answered", "client")}
    keys |= {f"refused.{why}" for why in ("staff_only", "login", "form", "not_yours", "not_found",
                                          "too_large")}
    keys |= {"chat.busy", "funnel.before_questions"}
    assert len(keys) > 60
    for locale in ("en", "zh_CN"):
        assert [key for key in sorted(keys) if not library.has(locale, f"web.{key}")] == [], locale


def test_the_diagram_shows_every_stage(client: TestClient, database: Database, tmp_path: Path) -> None:
    seed(database)
    log_in(client, database, MANAGER)
    page = client.get("/dashboard/diagram").text
    svg = client.get("/dashboard/diagram.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    for stage in STAGES:
        assert f">{stage}</text>" in svg.text and f">{stage}</text>" in page, stage
    for trigger in ("agree", "decline", "pause", "resume", "restart", "accept"):
        assert trigger in svg.text
    output = tmp_path / "sale.svg"
    assert cli(["diagram", "--output", str(output)]) == 0
    drawn = output.read_text(encoding="utf-8")
    assert drawn.startswith("<svg") and all(f">{stage}</text>" in drawn for stage in STAGES)


def test_rehearsal_averages_count_every_rehearsal_and_far_dates_are_no_error(client: TestClient,
                                                                              database: Database) -> None:
    """An agent with 600 rehearsals: the averages are over all of them, not the 500 rows shown;
    a page asked for the edges of the calendar answers, it does not fail."""
    seed(database)
    with database.unit_of_work() as uow:
        me = uow.session.scalars(select(Contact).where(Contact.external_id == AGENT_A)).one()
        now = utcnow()
        for attempt in range(600):  # the oldest 100 scored 10, the newest 500 scored 90
            uow.session.add(Conversation(contact_id=me.id, mode="rehearsal", state="bought",
                                         updated_at=now - timedelta(minutes=600 - attempt),
                                         data={"persona": "ready_family", "difficulty": "normal",
                                               "score": 10 if attempt < 100 else 90}))
        uow.commit()
    log_in(client, database, MANAGER)
    page = client.get("/dashboard/rehearsals").text
    row = re.search(r'<tr><th scope="row">Alice Agent</th>(.*?)</tr>', page)
    assert row is not None
    alice = dict(re.findall(r'<td class="([a-z]+)">([^<]*)</td>', row.group(1)))
    total = 61 + 72 + 100 * 10 + 500 * 90
    assert (alice["attempts"], alice["average"], alice["latest"]) == ("602", str(round(total / 602)), "90")
    for query in ("to=9999-12-31", "from=0001-01-01", "from=9999-12-31&to=0001-01-01"):
        for path in ("/dashboard", "/dashboard/leads", "/dashboard/rehearsals"):
            assert client.get(f"{path}?{query}").status_code == 200, (path, query)
