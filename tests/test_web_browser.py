"""The web app (`salesbot web`) as its own process, driven by a real headless browser: Debian's
chromium through Playwright (`make test` installs it; without it these tests skip).

A customer talks on /chat; a manager logs in with a one-time link and works the dashboard; an agent
sees only their own leads; a stranger gets 403. Screenshots go to test-artifacts/."""
from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from bot.library import Library
from storage.database import Database
from storage.models import (
    Contact,
    ContactEvent,
    Conversation,
    Lead,
    Referral,
    ReferralCode,
    Staff,
    utcnow,
)
from tests.answering import FAMILY_ANSWERS, Step, fill, question_of
from tests.helpers import ROOT, accepts, free_port, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = os.environ.get("SALESBOT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
try:
    from playwright.sync_api import sync_playwright
    MISSING = "" if Path(CHROMIUM).exists() else (
        f"no chromium at {CHROMIUM}: `make test` installs Debian's with apt-get when run as root "
        "(apt-get install chromium); SALESBOT_CHROMIUM names another")
except ImportError:
    MISSING = "playwright is not installed (it is in the test extra: pip install -e '.[test]')"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(MISSING), reason=MISSING)]
ARTIFACTS = ROOT / "test-artifacts"
SECRET = "test"
CSV_HEADER = ["lead", "name", "stage", "agent", "referrer", "status", "created"]
MANAGER, AGENT_A, AGENT_B, INACTIVE = "910001", "910002", "910003", "910004"


# -- the app's process and what it was given -----------------------------------------------------------
@dataclass
class Seeded:
    """The people and leads put in the database before the app starts, by name."""

    staff: dict[str, int]  # external id -> staff id
    contacts: dict[str, int]  # name -> contact id
    transitions: dict[str, int]  # name -> stage changes in the transcript
    said: dict[str, str]  # name -> a line the customer wrote


class WebApp:
    def __init__(self, database: Database, seeded: Seeded) -> None:
        self.database, self.seeded = database, seeded
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._output: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed in stop)
        env = {**os.environ, "DATABASE_URL": database.url, "SALESBOT_WEB_URL": self.url,
               "SALESBOT_WEB_SECRET": SECRET, "SALESBOT_MANAGERS": MANAGER,
               "SALESBOT_AGENTS": f"{AGENT_A},{AGENT_B}"}
        for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_AGENT_CHAT_ID"):
            env.pop(name, None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "web", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=self._output, stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: accepts(self.port) or self.process.poll() is not None, "the web app to listen", 30)
        assert self.process.poll() is None, f"`salesbot web` ended:\n{self.output()}"

    def output(self) -> str:
        self._output.flush()
        self._output.seek(0)
        return self._output.read()

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        output = self.output()
        self._output.close()
        return output

    # -- the database, as the checks read it --------------------------------------------------------
    def login_code(self, external_id: str, age: timedelta = timedelta(0), kind: str = "login") -> str:
        """A one-time dashboard link's code for a staff member, as `/dashboard` makes it in Telegram."""
        with self.database.unit_of_work() as uow:
            staff = uow.agency.staff("telegram", external_id) or uow.session.scalars(
                select(Staff).where(Staff.external_id == external_id)).one()
            code = uow.agency.new_code(kind, staff=staff)
            code.created_at = utcnow() - age
            uow.commit()
            return code.code

    def leads(self, agent: str | None = None) -> dict[int, dict[str, Any]]:
        """Every lead (or an agent's): its contact's name, the customer conversation's stage, the
        agent's name and the lead's status."""
        with self.database.unit_of_work() as uow:
            session = uow.session
            query = select(Lead, Contact).join(Contact, Contact.id == Lead.contact_id)
            if agent is not None:
                query = query.where(Lead.agent_id == self.seeded.staff[agent])
            names = {s.id: s.name for s in session.scalars(select(Staff))}
            found = {}
            for lead, contact in session.execute(query):
                stage = session.scalars(select(Conversation.state).where(
                    Conversation.contact_id == contact.id, Conversation.mode == "customer")
                    .order_by(Conversation.id.desc()).limit(1)).first()
                found[contact.id] = {"name": contact.name, "stage": stage, "status": lead.status,
                                     "agent": names.get(lead.agent_id or 0, "")}
            return found

    def stages(self) -> dict[str, int]:
        """How many customer conversations of leads are at each stage now (all began this month)."""
        with self.database.unit_of_work() as uow:
            rows = uow.session.execute(
                select(Conversation.state, func.count())
                .join(Lead, Lead.contact_id == Conversation.contact_id)
                .where(Conversation.mode == "customer").group_by(Conversation.state))
            return dict(rows.all())


def seed(database: Database) -> Seeded:
    """Three staff (a manager, two agents) and one inactive agent; six customers at various stages
    with their transcripts, two of them referred; one finished rehearsal."""
    now = utcnow()
    with database.unit_of_work() as uow:
        s = uow.session
        people = [(MANAGER, "manager", "Mona Manager", True), (AGENT_A, "agent", "Alice Agent", True),
                  (AGENT_B, "agent", "Bob Agent", True), (INACTIVE, "agent", "Ivan Inactive", False)]
        staff = {}
        for external_id, role, name, active in people:
            row = Staff(channel="telegram", external_id=external_id, role=role, name=name, active=active,
                        joined_at=now - timedelta(days=30))
            s.add(row)
            s.flush()
            staff[external_id] = row.id
        customers = [  # name, stage, agent, lead status
            ("Chen Wei", "proposal", AGENT_A, "contacted"), ("Li Na", "needs", AGENT_A, "new"),
            ("Zhao Lei", "won", AGENT_B, "won"), ("Sun Yu", "proposal", AGENT_B, "meeting"),
            ("Zhou Jie", "approach", AGENT_A, "new"), ("Wu Hao", "lost", AGENT_B, "lost")]
        path = ["approach", "needs", "summary", "proposal", "closing", "won"]
        contacts, transitions, said = {}, {}, {}
        for number, (name, stage, agent, status) in enumerate(customers):
            contact = Contact(channel="telegram", external_id=str(920000 + number), name=name, locale="en",
                              created_at=now - timedelta(days=10 - number))
            s.add(contact)
            s.flush()
            contacts[name] = contact.id
            conversation = Conversation(contact_id=contact.id, mode="customer", state=stage,
                                        data={"answers": {"age": 30 + number}, "progress": {"greeted": True}})
            s.add(conversation)
            s.flush()
            reached = path[:path.index(stage) + 1] if stage in path else ["approach", "needs", stage]
            said[name] = f"my question number {number}, from {name}"
            events = [ContactEvent(conversation_id=conversation.id, kind="inbound", stage="approach",
                                   text="/start", detail={}),
                      ContactEvent(conversation_id=conversation.id, kind="outbound", stage="approach",
                                   text=f"Hello {name}", detail={})]
            for before, after in zip(reached, reached[1:], strict=False):
                events.append(ContactEvent(conversation_id=conversation.id, kind="transition", stage=after,
                                           text="next", detail={"from": before, "to": after}))
                events.append(ContactEvent(conversation_id=conversation.id, kind="outbound", stage=after,
                                           text=f"Now at {after}", detail={}))
            events.append(ContactEvent(conversation_id=conversation.id, kind="inbound", stage=stage,
                                       text=said[name], detail={}))
            s.add_all(events)
            transitions[name] = len(reached) - 1
            s.add(Lead(contact_id=contact.id, agent_id=staff[agent], status=status,
                       lost_reason="too dear" if status == "lost" else "", updated_at=now))
        # Zhao Lei (a client) brought Sun Yu; Alice's own link brought Zhou Jie
        client_code = ReferralCode(code="client-code-zhao-lei", kind="client",
                                   contact_id=contacts["Zhao Lei"], show_name=True, created_at=now)
        agent_code = ReferralCode(code="agent-code-alice", kind="agent", staff_id=staff[AGENT_A],
                                  created_at=now)
        s.add_all([client_code, agent_code])
        s.flush()
        s.add_all([Referral(code=client_code.code, referrer_contact_id=contacts["Zhao Lei"],
                            referred_contact_id=contacts["Sun Yu"], status="answered", at=now),
                   Referral(code=agent_code.code, referrer_staff_id=staff[AGENT_A],
                            referred_contact_id=contacts["Zhou Jie"], status="came", at=now)])
        # Alice rehearsed once (agents are contacts too, in their own chat)
        alice = Contact(channel="telegram", external_id=AGENT_A, name="Alice Agent", locale="en")
        s.add(alice)
        s.flush()
        s.add(Conversation(contact_id=alice.id, mode="rehearsal", state="bought",
                           data={"persona": "ready_family", "score": 72}))
        uow.commit()
    return Seeded(staff, contacts, transitions, said)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebApp]:
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('web') / 'web.sqlite3'}")
    seeded = seed(database)
    app = WebApp(database, seeded)
    try:
        yield app
    finally:
        output = app.stop()
        database.close()
        assert "Traceback" not in output, output


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(locale="en-US", accept_downloads=True, viewport={"width": 1280, "height": 900})
    made.set_default_timeout(15_000)
    try:
        yield made
    finally:
        made.close()


def artefact(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def status_of(page: Page, url: str) -> int:
    response = page.goto(url)
    assert response is not None, url
    return response.status


def submit(page: Page, action: Any) -> None:
    """Do what submits a form (a click, requestSubmit) and wait for the page it leads to."""
    with page.expect_navigation() as navigation:
        action()
    response = navigation.value
    assert response is not None and response.status == 200, (response and response.status, page.url)


def log_in(page: Page, web: WebApp, external_id: str) -> None:
    response = page.goto(f"{web.url}/login/{web.login_code(external_id)}")
    assert response is not None and response.status == 200, response and response.status
    assert page.url.split("?")[0].rstrip("/").endswith("/dashboard"), page.url
    assert any(c["name"] == "salesbot_session" for c in page.context.cookies()), page.context.cookies()


def shown_leads(page: Page) -> list[int]:
    return [int(str(row.get_attribute("data-lead"))) for row in page.locator("#leads tr[data-lead]").all()]


def csv_rows(body: str) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(body.lstrip("\ufeff")))
    header = next(reader)
    assert header == CSV_HEADER, header
    return [dict(zip(header, row, strict=True)) for row in reader]


def filter_leads(page: Page, **values: str) -> None:
    """Fill the lead filters (a select or an input, whichever the form has) and submit the form."""
    form = page.locator("form#lead-filters")
    assert form.get_attribute("method") in ("get", "GET")
    for name, value in values.items():
        field = form.locator(f"[name={name}]")
        if field.evaluate("e => e.tagName") == "SELECT":  # an option by its value, else by its label
            options = field.locator("option").all()
            chosen = [o.get_attribute("value") for o in options if o.get_attribute("value") == value] or \
                [o.get_attribute("value") for o in options if value and value in o.inner_text()]
            assert chosen, (name, value, [o.inner_text() for o in options])
            field.select_option(str(chosen[0]))
        else:
            field.fill(value)
    submit(page, lambda: form.evaluate("f => f.requestSubmit()"))


# -- the customer ------------------------------------------------------------------------------------
def test_a_customer_answers_the_questions_in_the_browser_and_sees_the_proposal(
        web: WebApp, context: BrowserContext, library: Library) -> None:
    page = context.new_page()
    assert status_of(page, f"{web.url}/chat") == 200
    assert "licence no." in page.locator("div.message.bot").first.inner_text()

    def send(step: Step) -> None:
        kind, value = step
        if kind == "press":
            option = page.locator(f'button.option[value="{value}"], button.option[value^="{value}|"]').last
            submit(page, option.click)
        else:
            page.locator("input[name=text]").fill(value)
            submit(page, page.locator("button.send").click)
        assert value in page.locator("div.message.you").last.inner_text() or kind == "press", value

    def current() -> str | None:  # the one conversation not seeded
        with web.database.unit_of_work() as uow:
            [record] = uow.session.scalars(select(Conversation).where(
                Conversation.mode == "customer",
                Conversation.contact_id.not_in(list(web.seeded.contacts.values())))).all()
            return question_of(record.state, record.data)

    send(("press", "agree"))
    fill(library, current, send, FAMILY_ANSWERS)
    send(("press", "confirm"))
    assert "Your standard plan" in "\n".join(page.locator("div.message.bot").all_inner_texts())
    charts = page.locator("img.chart")
    assert charts.count() >= 1
    page.wait_for_function("() => [...document.querySelectorAll('img.chart')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    artefact(page, "chat.png")
    # the conversation is stored: the one conversation not seeded, at the proposal, with the answers
    with web.database.unit_of_work() as uow:
        rows = uow.session.scalars(select(Conversation).where(
            Conversation.mode == "customer",
            Conversation.contact_id.not_in(list(web.seeded.contacts.values())))).all()
        assert [(r.state, r.data["answers"]["age"], r.data["answers"]["children_ages"]) for r in rows] \
            == [("proposal", 35, [3, 7])]
    # the cookie resumes: a new tab shows the same proposal; another visitor starts at the greeting
    again = context.new_page()
    again.goto(f"{web.url}/chat")
    assert "Your standard plan" in again.content()
    assert any(c["name"] == "salesbot_visitor" for c in context.cookies())


# -- the manager -------------------------------------------------------------------------------------
def test_a_manager_logs_in_and_works_the_dashboard(web: WebApp, context: BrowserContext) -> None:
    page = context.new_page()
    log_in(page, web, MANAGER)
    for nav in ("nav-funnel", "nav-leads", "nav-referrals", "nav-rehearsals", "nav-diagram"):
        assert page.locator(f"#{nav}").count() == 1, nav
    # the funnel: a row per stage, each at least the customers there now, all of them counted
    rows = page.locator("#funnel tr[data-stage]").all()
    counts = {str(row.get_attribute("data-stage")): int(row.locator("td.count").inner_text()) for row in rows}
    now = {str(row.get_attribute("data-stage")): int(row.locator("td.now").inner_text()) for row in rows}
    at = web.stages()
    assert {stage: n for stage, n in now.items() if n} == at, (now, at)
    assert all(counts[stage] >= n for stage, n in now.items()), (counts, now)
    assert int(page.locator("#started").inner_text()) == sum(at.values())
    assert page.locator("#funnel-chart").is_visible()
    assert page.locator("table#dropoff").count() == 1
    artefact(page, "funnel.png")

    submit(page, page.locator("#nav-leads").click)
    expected = web.leads()
    assert sorted(shown_leads(page)) == sorted(expected)
    chen = web.seeded.contacts["Chen Wei"]
    row = page.locator(f'#leads tr[data-lead="{chen}"]')
    assert row.locator(".agent").inner_text().strip() == "Alice Agent"
    assert "contacted" in row.locator(".status").inner_text().lower()
    sun = page.locator(f'#leads tr[data-lead="{web.seeded.contacts["Sun Yu"]}"]')
    assert "Zhao" in sun.locator(".referrer").inner_text()

    # the CSV export: every lead, as the database has it
    assert "/dashboard/leads.csv" in str(page.locator("a#csv").get_attribute("href"))
    with page.expect_download() as download:
        page.locator("a#csv").click()
    exported = csv_rows(Path(download.value.path()).read_text(encoding="utf-8"))
    assert {int(r["lead"]): (r["name"], r["stage"], r["agent"], r["status"]) for r in exported} == {
        lead: (v["name"], v["stage"], v["agent"], v["status"]) for lead, v in expected.items()}
    sun_yu = web.seeded.contacts["Sun Yu"]
    assert [r["referrer"] for r in exported if int(r["lead"]) == sun_yu] == ["Zhao Lei"]

    # filters: by stage; by stage and agent; by referrer; by the day the lead came
    filter_leads(page, stage="proposal")
    assert sorted(shown_leads(page)) == sorted(k for k, v in expected.items() if v["stage"] == "proposal")
    filter_leads(page, stage="proposal", agent="Bob Agent")
    assert shown_leads(page) == [web.seeded.contacts["Sun Yu"]]
    filter_leads(page, stage="", agent="", referrer="Zhao Lei")
    assert shown_leads(page) == [web.seeded.contacts["Sun Yu"]]
    day = (utcnow() - timedelta(days=7)).date().isoformat()  # Sun Yu came seven days ago
    filter_leads(page, referrer="", **{"from": day, "to": day})
    assert shown_leads(page) == [web.seeded.contacts["Sun Yu"]]

    # a transcript: every line, the stage changes marked
    page.goto(f"{web.url}/dashboard/leads")
    link = page.locator(f'#leads tr[data-lead="{chen}"] a').first
    submit(page, link.click)
    assert page.url.endswith(f"/dashboard/conversation/{chen}"), page.url
    transcript = page.locator("#transcript")
    assert web.seeded.said["Chen Wei"] in transcript.inner_text()
    assert transcript.locator(".line").count() >= 3 + web.seeded.transitions["Chen Wei"]
    assert transcript.locator(".stage-change").count() == web.seeded.transitions["Chen Wei"]

    submit(page, page.locator("#nav-referrals").click)
    tree = page.locator("#referral-tree").inner_text()
    assert "Zhao Lei" in tree and "Sun Yu" in tree, tree
    submit(page, page.locator("#nav-rehearsals").click)
    assert "72" in page.locator("#rehearsals").inner_text()
    submit(page, page.locator("#nav-diagram").click)
    assert page.locator("svg").count() >= 1


# -- an agent, a stranger, and the links ---------------------------------------------------------------
def test_an_agent_sees_only_their_own_leads(web: WebApp, context: BrowserContext) -> None:
    page = context.new_page()
    log_in(page, web, AGENT_B)
    page.goto(f"{web.url}/dashboard/leads")
    own = web.leads(AGENT_B)
    assert own and sorted(shown_leads(page)) == sorted(own)
    csv_answer = page.request.get(f"{web.url}/dashboard/leads.csv")
    assert csv_answer.status == 200
    assert sorted(int(r["lead"]) for r in csv_rows(csv_answer.text())) == sorted(own)
    theirs = web.seeded.contacts["Chen Wei"]  # Alice's
    assert status_of(page, f"{web.url}/dashboard/conversation/{theirs}") in (403, 404)
    assert status_of(page, f"{web.url}/dashboard/leads?agent={web.seeded.staff[AGENT_A]}") == 200
    assert set(shown_leads(page)) <= set(own)
    assert status_of(page, f"{web.url}/dashboard/conversation/{web.seeded.contacts['Sun Yu']}") == 200


def test_a_stranger_gets_403(web: WebApp, context: BrowserContext) -> None:
    page = context.new_page()
    lead = web.seeded.contacts["Chen Wei"]
    for path in ("/dashboard", "/dashboard/leads", "/dashboard/leads.csv", f"/dashboard/conversation/{lead}",
                 "/dashboard/referrals", "/dashboard/rehearsals", "/dashboard/diagram"):
        assert page.request.get(f"{web.url}{path}").status == 403, path
    assert status_of(page, f"{web.url}/dashboard") == 403
    # a made-up session cookie, or a customer's own chat cookie, opens nothing either
    context.add_cookies([{"name": "salesbot_session", "value": "forged.value", "url": web.url}])
    assert status_of(page, f"{web.url}/dashboard/leads") == 403
    page.goto(f"{web.url}/chat")
    assert status_of(page, f"{web.url}/dashboard") == 403


def test_a_login_link_works_once_fresh_and_for_active_staff_only(web: WebApp, browser: Browser) -> None:
    code = web.login_code(AGENT_A)
    first, second = browser.new_context(), browser.new_context()
    try:
        page = first.new_page()
        assert status_of(page, f"{web.url}/login/{code}") == 200
        assert page.url.rstrip("/").endswith("/dashboard")
        other = second.new_page()
        assert status_of(other, f"{web.url}/login/{code}") == 403  # used
        assert status_of(other, f"{web.url}/dashboard") == 403
        assert status_of(page, f"{web.url}/dashboard") == 200  # the first session goes on
        for refused in (web.login_code(AGENT_A, age=timedelta(minutes=20)),  # stale
                        web.login_code(AGENT_A, kind="agent"),  # a customer's link code, not a login
                        web.login_code(INACTIVE), "no-such-code"):
            assert status_of(other, f"{web.url}/login/{refused}") == 403, refused
    finally:
        first.close()
        second.close()
