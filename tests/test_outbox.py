"""The inbox and the outbox, through the offline Bot API: an update is kept until handled, a
reply until the Bot API took it; in order per chat, none twice, and the log says what was sent."""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError

from bot.flows.messages import Inbound
from bot.handlers import updates as updates_module
from bot.handlers.webhook import serve_webhook
from bot.service import SalesService, Sender
from storage.database import Database
from storage.models import ContactEvent, OutboxItem
from tests.botapi import button_update, message_update
from tests.conftest import POSTGRES_URL
from tests.helpers import (
    CHAT,
    SECRET,
    Harness,
    current_conversation,
    existing_contact,
    free_port,
    postgres_schema,
)


@pytest.fixture
def tg(library: Any, database: Database) -> Harness:
    return Harness(SalesService(library, database))


def outbound_log(tg: Harness, chat: int = CHAT) -> list[str]:
    with tg.service.database.unit_of_work() as uow:
        record = current_conversation(uow, "telegram", str(chat))
        return [e.text for e in uow.events.of(record.id) if e.kind == "outbound"]


def texts(tg: Harness, chat: int = CHAT) -> list[str]:
    """What the person received: the sendMessage calls that did not fail."""
    return [params["text"] for params in tg.api.delivered(chat)]


def test_replies_wait_while_the_bot_api_is_unreachable_then_go_in_order_once(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        updates = h.app.bot_data["updates"]
        await h.feed(message_update(CHAT, "/start"))
        h.api.fail("sendMessage", *[NetworkError("connection refused")] * 40)  # down for a while
        press = h.api.on_current_message(button_update(CHAT, "agree"))
        await updates.accept(Update.de_json(press, h.app.bot))
        await updates.accept(Update.de_json(message_update(CHAT, "35"), h.app.bot))
        await updates.settled()
        assert h.service.pending("telegram", str(CHAT))  # decided and kept, not sent
        h.api.failures.clear()  # the Bot API is back
        await updates.look_for_work()
        await updates.settled()

    tg.run(scenario)
    with tg.service.database.unit_of_work() as uow:
        record = current_conversation(uow, "telegram", str(CHAT))
        assert record.data["answers"] == {"age": 35}
        assert uow.outbox.chats("telegram") == [] and uow.inbox.chats("telegram") == []
    received = texts(tg)
    assert len(received) == len(set(received)) >= 4  # none twice
    assert received == outbound_log(tg)  # the log is what was delivered, in order
    assert received[-1].endswith(tg.service.library.text("en", "questions.occupation.prompt"))


def test_a_429_storm_delays_replies_but_loses_none(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        updates = h.app.bot_data["updates"]
        h.api.fail("sendMessage", 1, 1, 1, 1)  # four 429s (retry_after 1): one more than the limiter tries
        await h.feed(message_update(CHAT, "/start"))
        assert len(h.service.pending("telegram", str(CHAT))) == 2  # the greeting and the consent question
        await updates.look_for_work()  # the periodic job, a moment later
        await updates.settled()
        await h.feed(button_update(CHAT, "agree"), message_update(CHAT, "35"))

    tg.run(scenario)
    received = texts(tg)
    assert len(received) == len(set(received)) and received == outbound_log(tg)
    assert tg.service.pending("telegram", str(CHAT)) == []


def test_a_blocked_bot_marks_the_message_failed_and_the_contact_unreachable(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/start"))
        h.api.fail("sendMessage", Forbidden("Forbidden: bot was blocked by the user"),
                   BadRequest("Bad Request: chat not found"))
        await h.feed(button_update(CHAT, "agree"))

    tg.run(scenario)
    with tg.service.database.unit_of_work() as uow:
        assert existing_contact(uow, "telegram", str(CHAT)).unreachable_since is not None
        rows = uow.session.execute(select(OutboxItem.status, OutboxItem.reason).order_by(OutboxItem.id)).all()
    statuses = [status for status, _ in rows]
    assert statuses.count("failed") == 2 and "blocked" in rows[statuses.index("failed")][1]
    assert tg.service.pending("telegram", str(CHAT)) == []  # the failed are never sent


def test_kept_updates_are_handled_at_start_in_order_and_once(library: Any, database: Database) -> None:
    first = Harness(SalesService(library, database))
    updates = [message_update(CHAT, "/start"), message_update(CHAT, "hello"), message_update(CHAT, "/help")]
    for data in updates:  # kept, then the process died before handling them
        update = Update.de_json(data, first.app.bot)
        first.service.receive("telegram", str(update.update_id), update.update_id, str(CHAT),
                              update.to_dict())
    first.service.receive("telegram", str(updates[1]["update_id"]), updates[1]["update_id"], str(CHAT),
                          updates[1])  # Telegram sent one again: kept once
    restarted = Harness(SalesService(library, database))

    async def scenario(h: Harness) -> None:
        await h.app.bot_data["updates"].look_for_work()
        await h.app.bot_data["updates"].settled()
        await h.app.bot_data["updates"].accept(Update.de_json(updates[2], h.app.bot))  # and once more
        await h.app.bot_data["updates"].settled()

    restarted.run(scenario)
    with database.unit_of_work() as uow:
        record = current_conversation(uow, "telegram", str(CHAT))
        inbound = [(e.text, e.detail.get("update_id")) for e in uow.events.of(record.id)
                   if e.kind == "inbound"]
        assert uow.inbox.chats("telegram") == []
    assert inbound == [("start", str(u["update_id"])) if i == 0 else
                       (("hello" if i == 1 else "help"), str(u["update_id"])) for i, u in enumerate(updates)]


def test_an_erased_contact_gets_the_confirmation_and_leaves_nothing_in_the_outbox(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/start"), message_update(CHAT, "/delete confirm"))

    tg.run(scenario)
    assert "deleted" in texts(tg)[-1].lower() or "删除" in texts(tg)[-1]
    with tg.service.database.unit_of_work() as uow:
        assert uow.session.query(ContactEvent).count() == 0
        assert uow.outbox.chats("telegram") == []


def test_many_chats_at_once_are_all_answered(tg: Harness) -> None:
    """More chats at once than the connection pool holds (each chat being drained holds one for its
    lock on PostgreSQL): none waits for a connection the others keep; every chat gets its answer."""
    chats = range(1, 91)

    async def scenario(h: Harness) -> None:
        updates = h.app.bot_data["updates"]
        for chat in chats:
            await updates.accept(Update.de_json(message_update(chat, "/start"), h.app.bot))
        await asyncio.wait_for(updates.settled(), 60)

    tg.run(scenario)
    assert all(len(tg.api.sent(chat)) == 2 for chat in chats)  # the greeting and the consent question


# -- what a killed process leaves ---------------------------------------------------------------------
def greeted_then_killed(service: SalesService, update: dict[str, Any], chat: int = CHAT) -> list[str]:
    """A turn handled and committed, its first message taken by the Bot API and marked sent, and then
    the process killed (SIGKILL) before the rest went: the rows stay 'pending'. Their texts, in order."""
    service.handle(Sender("telegram", str(chat), name="Wang Fang", locale="en"), Inbound("command", "start"),
                   str(update["update_id"]))
    pending = service.pending("telegram", str(chat))
    assert len(pending) == 2  # the greeting and the consent question
    service.sent(pending[0].id)
    return [item.message.text for item in pending]


def test_what_a_killed_process_left_is_sent_and_handled_at_start(library: Any, database: Database,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A new process takes up the unsent messages and kept updates the last one left as soon as it
    starts, not at its first periodic look (moved an hour away here: only the start may do it)."""
    killed = SalesService(library, database)
    texts = greeted_then_killed(killed, message_update(CHAT, "/start"))
    kept = message_update(CHAT + 1, "/start")  # taken (Telegram got its 200), not handled
    killed.receive("telegram", str(kept["update_id"]), kept["update_id"], str(CHAT + 1), kept)
    monkeypatch.setattr(updates_module, "RETRY_SECONDS", 3600)
    restarted = Harness(SalesService(library, database))
    api = restarted.api
    port = free_port()

    async def run() -> None:
        serving = asyncio.create_task(serve_webhook(restarted.app, "127.0.0.1", port,
                                                    f"http://127.0.0.1:{port}/telegram", SECRET))
        deadline = time.monotonic() + 20
        try:
            while not (len(api.delivered(CHAT)) >= 1 and len(api.delivered(CHAT + 1)) >= 2):
                assert not serving.done(), serving.exception()
                assert time.monotonic() < deadline, (
                    f"not taken up at start: {[m['text'][:30] for m in api.sent()]}")
                await asyncio.sleep(0.05)
            await restarted.app.bot_data["updates"].settled()
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving

    asyncio.run(run())
    assert [m["text"] for m in api.delivered(CHAT)] == texts[1:]  # the rest, once; not the greeting again
    assert len(api.delivered(CHAT + 1)) == 2
    assert killed.pending("telegram", str(CHAT)) == killed.pending("telegram", str(CHAT + 1)) == []
    with database.unit_of_work() as uow:
        assert uow.inbox.chats("telegram") == []


def test_an_update_sent_again_after_a_kill_sends_what_its_turn_left_unsent(tg: Harness) -> None:
    """Killed after the turn was committed and before Telegram got its 200: Telegram posts the update
    again, a duplicate (nothing is handled twice), and what the turn wrote goes out now, in order."""
    start = message_update(CHAT, "/start")
    texts = greeted_then_killed(tg.service, start)

    async def scenario(h: Harness) -> None:
        updates = h.app.bot_data["updates"]
        await updates.accept(Update.de_json(start, h.app.bot))  # the same update_id, again
        await updates.settled()

    tg.run(scenario)
    assert [m["text"] for m in tg.api.delivered(CHAT)] == texts[1:]
    assert outbound_log(tg) == texts  # each logged once, as it was sent
    assert tg.service.pending("telegram", str(CHAT)) == []


def test_a_look_for_work_while_the_chat_is_drained_goes_round_once_more(tg: Harness) -> None:
    """The periodic look finds unsent messages of a chat whose drain here is already past its sending
    (e.g. handling a duplicate): the chat is drained once more, not left for the next look."""
    texts = greeted_then_killed(tg.service, message_update(CHAT, "/start"))

    async def scenario(h: Harness) -> None:
        updates = h.app.bot_data["updates"]
        gate = asyncio.Event()
        drain, drains = updates.drain, []

        async def past_its_sending(chat: str) -> None:  # the first drain: it sends nothing more
            drains.append(chat)
            if len(drains) == 1:
                await gate.wait()
            else:
                await drain(chat)

        updates.drain = past_its_sending
        updates.drain_soon(str(CHAT))
        await updates.look_for_work()
        gate.set()
        await updates.settled()
        assert drains == [str(CHAT), str(CHAT)]

    tg.run(scenario)
    assert [m["text"] for m in tg.api.delivered(CHAT)] == texts[1:]


def test_chat_locks_of_bots_on_other_schemas_of_one_database_are_their_own(
        postgres_unavailable: str | None) -> None:
    """Advisory locks are one set per database: a bot (or a test run) on another schema of it, with
    chats of the same numbers, must not hold this one's chats."""
    if postgres_unavailable:
        pytest.skip(postgres_unavailable)
    with postgres_schema(POSTGRES_URL) as one_url, postgres_schema(POSTGRES_URL) as other_url:
        one, other = Database(one_url), Database(other_url)
        try:
            mine = one.try_lock("telegram:8048")
            assert mine is not None
            theirs = other.try_lock("telegram:8048")
            assert theirs is not None, "a bot on another schema holds this chat"
            again = Database(one_url)  # another worker on the same schema is kept out
            try:
                assert again.try_lock("telegram:8048") is None
                theirs.release()
                mine.release()
                taken = again.try_lock("telegram:8048")
                assert taken is not None
                taken.release()
            finally:
                again.close()
        finally:
            one.close()
            other.close()
