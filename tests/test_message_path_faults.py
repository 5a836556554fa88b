"""The message path when something goes wrong: nothing waits for training inside a turn, a turn
that fails for a passing reason keeps its update, a cosmetic call never fails a committed turn,
and start-up rides out a Bot API that is briefly away."""
from __future__ import annotations

import argparse
import asyncio
from typing import Any

import pytest
from pytest_mock import MockerFixture
from sqlalchemy.exc import OperationalError
from telegram import Update
from telegram.error import InvalidToken, NetworkError

from bot.flows import acts, intents
from bot.handlers import app as app_module
from bot.handlers import updates as updates_module
from bot.handlers import webhook
from bot.service import SalesService
from storage.database import Database
from tests.answering import FAMILY_ANSWERS, answer_step, question_of
from tests.botapi import ServerError, button_update, message_update
from tests.conftest import frozen_library  # a new Library each call: no classifier trained for it yet
from tests.helpers import CHAT, Harness, current_conversation


def test_the_bot_trains_its_classifiers_before_it_accepts_any_update(
        mocker: MockerFixture, sqlite_database: Database) -> None:
    service = SalesService(frozen_library(), sqlite_database)
    trained_when_serving: list[bool] = []

    async def serve(*_args: Any, **_kwargs: Any) -> None:
        trained_when_serving.append(service.library in intents._by_library and "classifier" in vars(service))

    mocker.patch.object(app_module, "serve_polling", serve)
    args = argparse.Namespace(webhook_url=None, base_url=None, listen="127.0.0.1", port=0)
    assert app_module.run_telegram(service, "1:TOKEN", args) == 0
    assert trained_when_serving == [True]


def test_a_first_typed_message_does_not_wait_for_training(mocker: MockerFixture,
                                                          sqlite_database: Database) -> None:
    service = SalesService(frozen_library(), sqlite_database)
    service.prepare()  # what the runners do before accepting updates

    def no_training(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a classifier was trained inside a turn")

    mocker.patch.object(intents, "_trained", no_training)
    mocker.patch.object(acts.ActClassifier, "__init__", no_training)
    reading = mocker.spy(intents, "classifier")
    tg = Harness(service)

    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/start"))
        await h.feed(message_update(CHAT, "hmm ok then, why not"))

    tg.run(scenario)
    with service.database.unit_of_work() as uow:
        kinds = [e.kind for e in uow.events.of(current_conversation(uow, "telegram", str(CHAT)).id)]
    assert reading.call_count >= 1  # the message was read by the classifier
    assert kinds.count("inbound") == 2 and "error" not in kinds
    assert len(tg.api.delivered(CHAT)) >= 3  # the greeting, the consent question, the answer


async def press(h: Harness, value: str) -> None:
    last = h.api.sent(CHAT)[-1]
    keyboard = last["reply_markup"]["inline_keyboard"]
    await h.feed(button_update(CHAT, value, text=last["text"], keyboard=keyboard))


async def to_the_summary(h: Harness) -> None:
    await h.feed(message_update(CHAT, "/start"))
    await press(h, "agree")
    while (asked := question_of(h.record()[1].state, h.record()[1].data)) is not None:
        kind, value = answer_step(h.service.library, asked, FAMILY_ANSWERS)
        await (press(h, value) if kind == "press" else h.feed(message_update(CHAT, value)))


def test_a_429_storm_and_a_lost_database_after_the_turn_bring_no_apology(mocker: MockerFixture,
                                                                         database: Database) -> None:
    tg = Harness(SalesService(frozen_library(), database))
    apology = tg.service.library.text("en", "errors.internal")

    async def scenario(h: Harness) -> None:
        await to_the_summary(h)
        h.api.fail("sendChatAction", 0, 0, 0, 0)  # 'typing' refused (429) past the rate limiter's retries
        h.api.fail("sendMessage", 0, 0, 0, 0)  # and the proposal's first message too
        await press(h, "confirm")
        assert h.record()[1].state == "proposal"  # the turn was made
        gone = OperationalError("UPDATE", {}, Exception())
        marking = mocker.patch.object(h.service, "sent", side_effect=gone)
        await h.app.bot_data["updates"].look_for_work()
        await h.app.bot_data["updates"].settled()
        mocker.stop(marking)
        await h.app.bot_data["updates"].look_for_work()  # what was sent but not marked goes again
        await h.app.bot_data["updates"].settled()

    tg.run(scenario)
    texts = [m["text"] for m in tg.api.sent(CHAT)]
    assert apology not in texts
    assert tg.service.pending("telegram", str(CHAT)) == []


async def drained(h: Harness) -> None:
    """Every kept update handled or parked: tries put off by RETRY_WAITS (zero here) come round."""
    updates = h.app.bot_data["updates"]
    for _ in range(200):
        await updates.settled()
        await asyncio.sleep(0)  # a try put off (call_later) is due now
        if not updates.draining and not h.service.has_updates("telegram", str(CHAT)):
            return
    raise AssertionError("kept updates were never handled")


def failing(service: SalesService, text: str, times: int, error: Exception) -> Any:
    """service.handle failing `times` times on a message `text`, then handling it."""
    real = service.handle
    left = [times]

    def handle(sender: Any, inbound: Any, *args: Any, **kwargs: Any) -> Any:
        if inbound.text == text and left[0] > 0:
            left[0] -= 1
            raise error
        return real(sender, inbound, *args, **kwargs)
    return handle


def test_a_turn_that_fails_for_a_passing_reason_keeps_its_update_and_the_answers_behind_it(
        mocker: MockerFixture, database: Database) -> None:
    mocker.patch.object(updates_module, "RETRY_WAITS", (0, 0, 0, 0, 0))
    tg = Harness(SalesService(frozen_library(), database))
    dropped = OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))
    age = tg.service.library.questions[0].id

    async def scenario(h: Harness) -> None:
        accept = h.app.bot_data["updates"].accept
        await accept(Update.de_json(message_update(CHAT, "/start"), h.app.bot))
        await drained(h)
        await press_kept(h, "agree")
        mocker.patch.object(h.service, "handle", failing(h.service, "41", 3, dropped))
        # the age, then an answer typed ahead to the next question, before the first is handled
        for text in ("41", "office"):
            await accept(Update.de_json(message_update(CHAT, text), h.app.bot))
        await drained(h)

    tg.run(scenario)
    answers = tg.record()[1].data["answers"]
    assert answers[age] == 41 and answers.get("occupation") == "office"
    assert tg.service.library.text("en", "errors.internal") not in [m["text"] for m in tg.api.sent(CHAT)]
    assert tg.service.parked() == []


def test_an_update_that_always_fails_is_parked_the_person_told_once_and_the_chat_goes_on(
        mocker: MockerFixture, database: Database) -> None:
    mocker.patch.object(updates_module, "RETRY_WAITS", (0, 0, 0, 0, 0))
    tg = Harness(SalesService(frozen_library(), database))
    apology = tg.service.library.text("en", "errors.internal")

    async def scenario(h: Harness) -> None:
        accept = h.app.bot_data["updates"].accept
        await accept(Update.de_json(message_update(CHAT, "/start"), h.app.bot))
        await drained(h)
        await press_kept(h, "agree")
        always = failing(h.service, "41", 99, OperationalError("x", {}, Exception()))
        mocker.patch.object(h.service, "handle", always)
        for text in ("41", "/help"):
            await accept(Update.de_json(message_update(CHAT, text), h.app.bot))
        await drained(h)

    tg.run(scenario)
    texts = [m["text"] for m in tg.api.sent(CHAT)]
    assert texts.count(apology) == 1
    parked = tg.service.parked()
    assert [(chat, why) for _, chat, _, _, why in parked] == [(str(CHAT), "OperationalError after 6 tries")]
    assert tg.record()[2][-1][0] == "outbound"  # /help behind it was handled and answered


def test_a_turn_that_fails_for_good_is_parked_at_once(mocker: MockerFixture,
                                                     sqlite_database: Database) -> None:
    tg = Harness(SalesService(frozen_library(), sqlite_database))

    async def scenario(h: Harness) -> None:
        accept = h.app.bot_data["updates"].accept
        await accept(Update.de_json(message_update(CHAT, "/start"), h.app.bot))
        await drained(h)
        mocker.patch.object(h.service, "handle", failing(h.service, "hello", 1, KeyError("a bug")))
        await accept(Update.de_json(message_update(CHAT, "hello"), h.app.bot))
        await drained(h)

    tg.run(scenario)
    assert [reason for *_, reason in tg.service.parked()] == ["KeyError after 1 tries"]


async def press_kept(h: Harness, value: str) -> None:
    last = h.api.sent(CHAT)[-1]
    update = button_update(CHAT, value, text=last["text"], keyboard=last["reply_markup"]["inline_keyboard"])
    await h.app.bot_data["updates"].accept(Update.de_json(h.api.on_current_message(update), h.app.bot))
    await drained(h)


def test_a_bot_api_briefly_away_at_start_is_asked_again(mocker: MockerFixture,
                                                       sqlite_database: Database) -> None:
    mocker.patch.object(webhook, "START_WAITS", (0, 0, 0, 0, 0, 0))
    tg = Harness(SalesService(frozen_library(), sqlite_database))
    # more failures than the sending layer's own retries (3): the start itself must ask again
    tg.api.fail("getMe", *[ServerError(502, "Bad Gateway")] * 4, ConnectionResetError("gone"))
    tg.api.fail("setMyCommands", *[ServerError(503, "Service Unavailable")] * 4)

    async def main() -> None:
        async with webhook.started(tg.app):
            assert tg.app.running

    asyncio.run(main())
    methods = tg.api.methods()
    assert methods.count("getMe") == 6 and methods.count("setMyCommands") > 4


def test_a_refused_token_at_start_is_not_asked_again(mocker: MockerFixture,
                                                    sqlite_database: Database) -> None:
    mocker.patch.object(webhook, "START_WAITS", (0, 0, 0, 0, 0, 0))
    tg = Harness(SalesService(frozen_library(), sqlite_database))
    tg.api.fail("getMe", ServerError(401, "Unauthorized"))

    async def main() -> None:
        async with webhook.started(tg.app):
            raise AssertionError("started with a refused token")

    with pytest.raises(InvalidToken):
        asyncio.run(main())
    assert tg.api.methods().count("getMe") == 1


async def to_the_question(h: Harness, question: str, answers: dict[str, Any]) -> None:
    await h.feed(message_update(CHAT, "/start"))
    await press(h, "agree")
    while (asked := question_of(h.record()[1].state, h.record()[1].data)) != question:
        assert asked is not None, f"{question} was never asked"
        kind, value = answer_step(h.service.library, asked, answers)
        await (press(h, value) if kind == "press" else h.feed(message_update(CHAT, value)))


def test_an_answer_typed_again_before_the_next_question_arrived_never_answers_it(database: Database) -> None:
    """The bot was slow (a restart, a backlog): the person typed their answer again before the next
    question reached them. The retype is logged, and no later question takes it."""
    tg = Harness(SalesService(frozen_library(), database))
    answers = {**FAMILY_ANSWERS, "debts": 50000, "savings": 20000}

    async def scenario(h: Harness) -> None:
        await to_the_question(h, "debts", answers)
        h.api.fail("sendMessage", *[NetworkError("down")] * 8)  # the next question waits in the outbox
        await h.feed(message_update(CHAT, "50000"))
        assert question_of(h.record()[1].state, h.record()[1].data) == "savings"
        await h.feed(message_update(CHAT, "50000"))  # typed again: nothing came back
        await h.app.bot_data["updates"].look_for_work()  # the Bot API is back: the question goes out
        await h.app.bot_data["updates"].settled()
        await h.feed(message_update(CHAT, "20000"))  # the answer to the question now shown

    tg.run(scenario)
    saved = tg.record()[1].data["answers"]
    assert (saved["debts"], saved["savings"]) == (50000, 20000)
    said = [text for kind, text in tg.record()[2] if kind == "inbound"]
    assert said[-3:] == ["50000", "50000", "20000"]  # the retype is in the log


def test_the_same_answer_to_the_next_question_once_it_is_shown_is_its_answer(database: Database) -> None:
    tg = Harness(SalesService(frozen_library(), database))
    answers = {**FAMILY_ANSWERS, "debts": 50000, "savings": 50000}

    async def scenario(h: Harness) -> None:
        await to_the_question(h, "debts", answers)
        await h.feed(message_update(CHAT, "50000"), message_update(CHAT, "50000"))

    tg.run(scenario)
    saved = tg.record()[1].data["answers"]
    assert (saved["debts"], saved["savings"]) == (50000, 50000)
