"""The referral loop, roles and the agent's workspace, through the offline Bot API: a client takes
a link, a friend starts with it, answers and buys; the client is thanked twice; the agent sees the
friend among their leads; forged and own codes credit nobody; customers never reach agents' tools."""
from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.library import Library
from bot.flows.messages import Inbound
from bot.service import SalesService, Sender
from storage.database import Database
from storage.models import ContactEvent, Lead, Referral, utcnow
from bot.handlers.app import register_commands
from tests.botapi import BOT, button_update, message_update
from tests.answering import FAMILY_ANSWERS, Step, answer_step, question_of
from tests.helpers import Harness, current_conversation, existing_contact

CLIENT, FRIEND, STRANGER, AGENT_1, AGENT_2, MANAGER = 6001, 6002, 6003, 9001, 9002, 9100
LINK = re.compile(rf"https://t\.me/{BOT['username']}\?start=([A-Za-z0-9_-]+)")


@pytest.fixture
def tg(library: Library, database: Database) -> Harness:
    staff = {str(AGENT_1): "agent", str(AGENT_2): "agent", str(MANAGER): "manager"}
    return Harness(SalesService(library, database, staff))


def texts(tg: Harness, chat: int) -> list[str]:
    return [m["text"] for m in tg.api.sent(chat)]


async def buy(h: Harness, chat: int, start: str = "/start") -> None:
    """The whole sale, typed and pressed as a customer would, up to the application."""
    async def send(step: Step) -> None:
        kind, value = step
        await h.feed(button_update(chat, value) if kind == "press" else message_update(chat, value))

    def current() -> str | None:
        with h.service.database.unit_of_work() as uow:
            record = current_conversation(uow, "telegram", str(chat))
            return question_of(record.state, record.data)

    await h.feed(message_update(chat, start))
    await send(("press", "agree"))
    for _ in h.service.library.questions:  # the questions, each answered by its id
        if (asked := current()) is None:
            break
        await send(answer_step(h.service.library, asked, FAMILY_ANSWERS))
    assert current() is None, "the questions did not end"
    for decision in ("confirm", "proceed", "accept"):
        await send(("press", decision))


def test_a_friend_brought_by_a_client_is_credited_thanked_twice_and_seen_by_the_agent(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        await h.feed(message_update(AGENT_1, "/start"), message_update(AGENT_2, "/start"))
        await buy(h, CLIENT)  # the client: their lead goes to the first agent in turn
        await h.feed(message_update(CLIENT, "/invite"))
        await h.feed(button_update(CLIENT, "invite:named"))  # friends may see their first name
        code = LINK.findall(" ".join(texts(h, CLIENT)))[-1]
        await buy(h, FRIEND, f"/start {code}")
        await h.feed(message_update(AGENT_1, "/leads"), message_update(AGENT_2, "/leads"))
        await h.feed(message_update(CLIENT, "/referrals"))

    tg.run(scenario)
    client = texts(tg, CLIENT)
    [code] = set(LINK.findall(" ".join(client)))
    assert len(code) >= 16  # 96 random bits, not a counter
    qr = [c.params for c in tg.api.calls
          if c.method == "sendPhoto" and c.params.get("caption", "").endswith(code)]
    assert qr and "t.me/share/url" in str(qr[0]["reply_markup"])  # a picture to scan, a way to forward
    friend = texts(tg, FRIEND)
    assert "Wang suggested you talk to us" in friend[0]  # named, as the client agreed
    thanks = [t for t in client if t.startswith(("Good news", "A friend you invited"))]
    assert len(thanks) == 2  # when the friend finished the questions, and when they became a client
    assert not any("35" in t for t in thanks)  # nothing of the friend's answers
    assert "Of them, now our clients: 1" in client[-1]
    told = [t for t in texts(tg, AGENT_1) if t.startswith(("Referral", "转介绍"))]
    assert len(told) == 2
    with tg.service.database.unit_of_work() as uow:
        friend_contact = existing_contact(uow, "telegram", str(FRIEND))
        referral = uow.session.scalars(select(Referral)).one()
        assert (referral.referred_contact_id, referral.status) == (friend_contact.id, "client")
        agent = uow.agency.agent_of(uow.agency.lead_of(friend_contact))
        assert agent is not None and agent.external_id == str(AGENT_1)
    leads_1, leads_2 = texts(tg, AGENT_1)[-1], texts(tg, AGENT_2)[-1]
    assert "Wang" in leads_1 and str(friend_contact.id) in leads_1  # attributed to the referrer
    assert str(friend_contact.id) not in leads_2  # an agent sees only their own leads


def test_forged_unknown_and_own_codes_credit_nobody_and_start_plainly(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        await buy(h, CLIENT)
        await h.feed(message_update(CLIENT, "/invite"))
        code = LINK.findall(" ".join(texts(h, CLIENT)))[-1]
        await h.feed(message_update(CLIENT, f"/start {code}"))  # their own link
        await h.feed(message_update(STRANGER, "/start Xq3vZ9pL0aB7cD2eFORGED"))

    tg.run(scenario)
    assert "Hello" in texts(tg, STRANGER)[0]  # a plain greeting
    assert "suggested" not in texts(tg, STRANGER)[0]
    with tg.service.database.unit_of_work() as uow:
        assert uow.session.scalars(select(Referral)).all() == []
        refused = [e.text for e in uow.session.scalars(select(ContactEvent).where(
            ContactEvent.kind == "referral_refused"))]
    assert sorted(refused) == ["self", "unknown"]


@pytest.mark.parametrize("command", ["/leads", "/rehearse", "/lead 1", "/addagent"])
def test_a_customer_is_refused_agents_commands_politely(tg: Harness, command: str) -> None:
    tg.run(lambda h: h.feed(message_update(STRANGER, "/start"), message_update(STRANGER, command)))
    assert "that command is for the agency's agents" in texts(tg, STRANGER)[-1]
    with tg.service.database.unit_of_work() as uow:
        assert current_conversation(uow, "telegram", str(STRANGER)).mode == "customer"


def test_a_manager_invites_an_agent_once_and_their_menu_changes(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        await h.feed(message_update(MANAGER, "/addagent"))
        code = LINK.findall(texts(h, MANAGER)[-1])[-1]
        await h.feed(message_update(STRANGER, f"/start {code}"), message_update(STRANGER, "/leads"))
        await h.feed(message_update(CLIENT, f"/start {code}"))  # used: it works once

    tg.run(scenario)
    assert texts(tg, STRANGER)[0].startswith("Welcome to the team")
    assert "that command is for" not in texts(tg, STRANGER)[-1]  # /leads is theirs now
    scoped = [c.params for c in tg.api.calls if c.method == "setMyCommands" and "scope" in c.params]
    assert any(str(STRANGER) in str(c["scope"]) for c in scoped)
    assert "Hello" in texts(tg, CLIENT)[0]


def test_an_agents_follow_up_is_delivered_at_its_time_once(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        await h.feed(message_update(AGENT_1, "/start"))
        await h.feed(message_update(CLIENT, "/start"))
        with h.service.database.unit_of_work() as uow:
            lead = existing_contact(uow, "telegram", str(CLIENT)).id
        await h.feed(message_update(AGENT_1, f"/remind {lead} tomorrow call about the quote"))
        assert h.service.due_follow_ups("telegram", utcnow() + timedelta(hours=12)) == []
        assert h.service.due_follow_ups("telegram", utcnow() + timedelta(days=2)) == [str(AGENT_1)]
        assert h.service.due_follow_ups("telegram", utcnow() + timedelta(days=3)) == []
        await h.app.bot_data["updates"].look_for_work()
        await h.app.bot_data["updates"].settled()

    tg.run(scenario)
    delivered = texts(tg, AGENT_1)[-1]
    assert "call about the quote" in delivered


def test_my_data_and_erasure_keep_friends_records(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        await buy(h, CLIENT)
        await h.feed(message_update(CLIENT, "/invite"))
        code = LINK.findall(" ".join(texts(h, CLIENT)))[-1]
        await h.feed(message_update(FRIEND, f"/start {code}"), message_update(CLIENT, "/mydata"))
        await h.feed(message_update(CLIENT, "/delete confirm"), message_update(STRANGER, f"/start {code}"))

    tg.run(scenario)
    documents: list[Any] = [c.params for c in tg.api.calls if c.method == "sendDocument"]
    assert documents and int(documents[0]["chat_id"]) == CLIENT
    with tg.service.database.unit_of_work() as uow:
        assert uow.contacts.find("telegram", str(CLIENT)) is None
        friend = existing_contact(uow, "telegram", str(FRIEND))  # the friend's own record stays
        kept = uow.agency.referral_of(friend)
        assert kept is not None and kept.referrer_contact_id is None  # no trace of the erased client
        stranger = existing_contact(uow, "telegram", str(STRANGER))
        assert uow.agency.referral_of(stranger) is None  # the erased client's link is revoked


def test_a_campaigns_link_counts_its_people_and_gives_them_to_agents_in_turn(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        await register_commands(h.app)  # at start: the agents named in the settings are on the roster
        await h.feed(message_update(MANAGER, "/campaign spring fair"))
        code = LINK.findall(texts(h, MANAGER)[-1])[-1]
        await h.feed(message_update(FRIEND, f"/start {code}"), message_update(STRANGER, f"/start {code}"))

    tg.run(scenario)
    with tg.service.database.unit_of_work() as uow:
        came = uow.session.scalars(select(Referral).order_by(Referral.id)).all()
        assert [(r.referrer_contact_id, r.referrer_staff_id) for r in came] == [(None, None), (None, None)]
        assert len({r.code for r in came}) == 1
        leads = [uow.agency.lead_of(existing_contact(uow, "telegram", str(chat)))
                 for chat in (FRIEND, STRANGER)]
        agents = {agent.external_id for lead in leads if (agent := uow.agency.agent_of(lead))}
    assert agents == {str(AGENT_1), str(AGENT_2)}  # one each, in turn


@pytest.mark.parametrize("answer", ["Yes, tomorrow at 10 works", "好的，明天上午10点可以"])
def test_after_an_agents_reply_the_customers_answers_reach_the_agent_until_done(tg: Harness,
                                                                                answer: str) -> None:
    """The agent loop closes: after /reply the customer is told they talk with a person, what they type
    goes to their agent (in the agent's language) and not to the sale, and /done hands them back."""
    library = tg.service.library

    async def scenario(h: Harness) -> None:
        await h.feed(message_update(AGENT_1, "/start"), message_update(STRANGER, "/start"))
        await h.feed(button_update(STRANGER, "agree"), message_update(STRANGER, "agent"))  # a lead
        await h.feed(message_update(AGENT_1, f"/reply {customer_id(h)} Can I call you tomorrow?"))
        await h.feed(message_update(STRANGER, answer))
        await h.feed(message_update(AGENT_1, f"/done {customer_id(h)}"), message_update(STRANGER, "35"))

    tg.run(scenario)
    to_customer, to_agent = texts(tg, STRANGER), texts(tg, AGENT_1)
    told = next(i for i, t in enumerate(to_customer) if "Can I call you tomorrow?" in t)
    relayed = library.text("en", "common/relayed", sender="Wang Fang").strip()  # the agent who wrote
    assert to_customer[told + 1] == relayed  # the answer reached a person: nothing of the sale between
    wrote = library.text(library.agent_locale, "agent/customer_wrote", reference=customer_id(tg),
                         customer_name="Wang Fang", message=answer).strip()
    assert wrote in to_agent
    assert to_customer[told + 2] == library.text("en", "workspace/talk_ended", sender="Wang Fang").strip()
    with tg.service.database.unit_of_work() as uow:  # after /done the sale takes the answer again
        record = current_conversation(uow, "telegram", str(STRANGER))
        assert record.data["answers"].get("age") == 35


def customer_id(h: Harness) -> int:
    with h.service.database.unit_of_work() as uow:
        return existing_contact(uow, "telegram", str(STRANGER)).id


def test_the_exchange_with_the_agent_ends_by_itself_after_its_hours(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        await h.feed(message_update(AGENT_1, "/start"), message_update(STRANGER, "/start"))
        await h.feed(button_update(STRANGER, "agree"), message_update(STRANGER, "agent"))
        await h.feed(message_update(AGENT_1, f"/reply {customer_id(h)} Hello"))
        with h.service.database.unit_of_work() as uow:  # the hours of agent_talk_hours have passed
            lead = uow.session.get(Lead, customer_id(h))
            assert lead is not None and lead.talking_until is not None
            lead.talking_until = utcnow() - timedelta(minutes=1)
            uow.commit()
        await h.feed(message_update(STRANGER, "35"))

    tg.run(scenario)
    with tg.service.database.unit_of_work() as uow:
        assert current_conversation(uow, "telegram", str(STRANGER)).data["answers"].get("age") == 35


def test_a_manager_who_opens_their_own_invitation_stays_a_manager_and_a_login_code_is_no_referral(
        tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        await h.feed(message_update(MANAGER, "/addagent"))
        invitation = LINK.findall(texts(h, MANAGER)[-1])[-1]
        await h.feed(message_update(MANAGER, f"/start {invitation}"))
        with h.service.database.unit_of_work() as uow:
            manager = uow.agency.staff("telegram", str(MANAGER))
            assert manager is not None
            login = uow.agency.new_code("login", staff=manager).code
            uow.commit()
        await h.feed(message_update(STRANGER, f"/start {login}"))

    tg.run(scenario)
    with tg.service.database.unit_of_work() as uow:
        manager = uow.agency.staff("telegram", str(MANAGER))
        assert manager is not None and manager.role == "manager"
        assert uow.agency.staff("telegram", str(STRANGER)) is None
        assert uow.session.scalars(select(Referral)).all() == []
        stranger = existing_contact(uow, "telegram", str(STRANGER))
        refused = [e.text for e in uow.events.of(current_conversation(uow, "telegram", str(STRANGER)).id)
                   if e.kind == "referral_refused"]
        assert stranger is not None and refused == ["unknown"]


def test_ten_people_opening_one_invitation_at_once_make_one_agent(library: Library,
                                                                  database: Database) -> None:
    service = SalesService(library, database, {str(MANAGER): "manager"})
    service.staff("telegram")  # the manager on the roster
    with database.unit_of_work() as uow:
        manager = uow.agency.staff("telegram", str(MANAGER))
        code = uow.agency.new_code("staff_invite", staff=manager).code
        uow.commit()
    people = [str(7000 + n) for n in range(10)]
    for person in people:  # each has written before: a contact of their own
        service.handle(Sender("telegram", person, locale="en"), Inbound("command", "help"))
    start = threading.Barrier(len(people))

    def open_link(person: str) -> None:
        start.wait()
        with_code = Sender("telegram", person, locale="en", start_payload=code)
        service.handle(with_code, Inbound("command", "start"))

    with ThreadPoolExecutor(len(people)) as pool:
        list(pool.map(open_link, people))
    with database.unit_of_work() as uow:
        agents = [p for p in people if uow.agency.staff("telegram", p) is not None]
    assert len(agents) == 1


def test_workers_starting_together_put_the_configured_staff_on_the_roster_without_a_clash(
        library: Library, database: Database) -> None:
    staff = {str(9000 + n): "agent" for n in range(20)} | {str(MANAGER): "manager"}
    services = [SalesService(library, database, staff) for _ in range(4)]
    start = threading.Barrier(len(services))

    def roster(service: SalesService) -> int:
        start.wait()
        return len(service.staff("telegram"))

    with ThreadPoolExecutor(len(services)) as pool:
        assert list(pool.map(roster, services)) == [len(staff)] * len(services)


@pytest.mark.parametrize("agents", [{}, {str(AGENT_1): "agent"}])
def test_contact_is_promised_only_when_someone_can_keep_the_promise(
        library: Library, database: Database, agents: dict[str, str],
        caplog: pytest.LogCaptureFixture) -> None:
    """No agent and no agents' chat: the customer asking for a person is told to call the agency,
    not that someone will answer here, and the operator is warned; with an agent, the promise."""
    service = SalesService(library, database, agents, agents_chats=frozenset())
    service.staff("telegram")
    customer = Sender("telegram", str(STRANGER), locale="en")
    service.handle(customer, Inbound("command", "start"))
    told = "\n".join(r.text for r in service.handle(customer, Inbound("command", "agent")).replies)
    unreachable = library.text("en", "handoff_unreachable", company_name="", complaint_line="",
                               regulator_hotline="")[:40]
    if agents:
        assert unreachable not in told and "will contact you" in told
    else:
        assert unreachable in told and "will contact you" not in told
        assert any("nobody can be promised" in r.getMessage() for r in caplog.records)


def test_a_referrers_thanks_and_the_agents_word_go_out_in_the_turn_that_made_them(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        await h.feed(message_update(AGENT_1, "/start"))
        await buy(h, CLIENT)
        await h.feed(message_update(CLIENT, "/invite"))
        code = LINK.findall(" ".join(texts(h, CLIENT)))[-1]
        before = len(texts(h, CLIENT)), len(texts(h, AGENT_1))
        await buy(h, FRIEND, f"/start {code}")  # neither the client nor the agent writes meanwhile
        await h.app.bot_data["updates"].settled()
        client, agent = texts(h, CLIENT)[before[0]:], texts(h, AGENT_1)[before[1]:]
        assert len([t for t in client if t.startswith(("Good news", "A friend you invited"))]) == 2
        assert any(t.startswith(("Referral", "转介绍")) for t in agent)

    tg.run(scenario)
