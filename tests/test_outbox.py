"""The inbox and the outbox, through the offline Bot API: an update is kept until handled, a
reply until the Bot API took it; in order per chat, none twice, and the log says what was sent."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError

from bot.service import SalesService
from storage.database import Database
from storage.models import ContactEvent, OutboxItem
from tests.botapi import button_update, message_update
from tests.helpers import CHAT, Harness, current_conversation, existing_contact


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
