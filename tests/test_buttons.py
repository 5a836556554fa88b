"""Buttons bound to their message: a press counts only from the message that asked the current
question, and it is handled whatever becomes of its answer (answerCallbackQuery)."""
from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import pytest
from telegram.error import BadRequest, NetworkError

from bot.flows.machine import STAGES
from bot.flows.messages import Button, Inbound, replies_of
from bot.flows.sale import handle
from bot.handlers import telegram
from bot.handlers.console import chat
from bot.handlers.telegram import UNNUMBERED, pressed
from bot.library import Library
from bot.service import SalesService, Sender
from tests.answering import question_of
from tests.botapi import button_update, message_update
from tests.helpers import (CHAT, Harness, asks_next, current_conversation, keyboard_data, keyboard_values,
                           sale_at)

# The answers after "35" that lead from the health question to the car question (both yes/no).
# Typed answers, by question id, up to the car question.
TO_THE_CAR = {"family": "married_children", "children_ages": "3, 7", "parents": "0",
              "annual_income": "300000", "spouse_income": "100000", "debts": "800000", "savings": "100000",
              "existing_cover": "social_only"}


@pytest.fixture
def tg(service: SalesService) -> Harness:
    return Harness(service)


def stored(tg: Harness) -> tuple[str, dict[str, Any], dict[str, Any]]:
    _, record, _ = tg.record()
    return record.state, record.data["answers"], record.data["progress"]


def test_an_old_messages_no_cannot_answer_a_later_yes_no_question(tg: Harness) -> None:
    seen: dict[str, dict[str, Any]] = {}
    kept: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {}

    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/start"), button_update(CHAT, "agree"))
        await h.feed(message_update(CHAT, "35"), message_update(CHAT, "office"))
        seen["health"] = health = h.api.sent(CHAT)[-1]
        await h.feed(button_update(CHAT, "no", message_id=31, text=health["text"],
                                   keyboard=health["reply_markup"]["inline_keyboard"]))
        while (asked := question_of(h.record()[1].state, h.record()[1].data)) != "car":
            assert asked is not None
            await h.feed(message_update(CHAT, TO_THE_CAR[asked]) if asked in TO_THE_CAR
                         else button_update(CHAT, "skip"))
        seen["car"] = h.api.sent(CHAT)[-1]
        kept["before"] = stored(h)
        h.api.clear()
        # days later, the "No" of the health question is pressed: "no" is an answer to the car too
        await h.feed(button_update(CHAT, "no", message_id=31, text=health["text"],
                                   keyboard=health["reply_markup"]["inline_keyboard"]))
        seen["refused"] = h.api.sent(CHAT)[0]
        kept["after"] = stored(h)
        seen["asked again"] = again = h.api.sent(CHAT)[-1]
        await h.feed(button_update(CHAT, "no", message_id=32, text=again["text"],
                                   keyboard=again["reply_markup"]["inline_keyboard"]))

    tg.run(scenario)
    health, car = seen["health"], seen["car"]
    (state_before, answers_before, progress_before), (state_after, answers_after, progress_after) = (
        kept["before"], kept["after"])
    assert keyboard_values(health)[:2] == keyboard_values(car)[:2] == ["yes", "no"]  # the same values
    assert keyboard_data(health) != keyboard_data(car)  # from different questions
    assert progress_before["question"] == "car" and "car" not in answers_before
    assert "earlier message" in seen["refused"]["text"]
    assert state_after == state_before and answers_after == answers_before  # nothing changed
    assert progress_after["question"] == "car"
    assert seen["asked again"]["text"] == car["text"]  # where we are now
    edit = next(c.params for c in tg.api.calls if c.method == "editMessageReplyMarkup")
    assert edit["message_id"] == 31 and "reply_markup" not in edit  # the old buttons are removed
    state, answers, _ = stored(tg)  # the current message's "No" is the answer
    assert answers["car"] is False and answers["health"] is False and state == "needs"


def test_each_question_gets_a_number_and_its_buttons_carry_it(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/start"))
        first = h.api.sent(CHAT)[-1]
        number = stored(h)[2]["asked"]  # a new conversation counts from a random point
        assert keyboard_data(first) == [f"agree|{number}", f"decline|{number}"]
        await h.feed(message_update(CHAT, "/help"))  # the same question asked again keeps its number
        again = h.api.sent(CHAT)[-1]
        assert keyboard_data(again) == keyboard_data(first) and stored(h)[2]["asked"] == number
        await h.feed(button_update(CHAT, "agree", keyboard=first["reply_markup"]["inline_keyboard"]))
        assert stored(h)[0] == "needs"  # the first copy's button answered it
        age = h.api.sent(CHAT)[-1]
        assert stored(h)[2]["asked"] == number + 1  # another question: the next number
        h.api.clear()
        await h.feed(button_update(CHAT, "agree", keyboard=first["reply_markup"]["inline_keyboard"]))
        assert "earlier message" in h.api.sent(CHAT)[0]["text"] and stored(h)[0] == "needs"
        assert age["text"] in [m["text"] for m in h.api.sent(CHAT)]  # the question now, asked again

    tg.run(scenario)


@pytest.mark.parametrize("data", ["agree", "agree|x", "agree|", "agree|-1", "agree|99", "|1"])
def test_a_button_without_the_current_number_is_stale(tg: Harness, data: str) -> None:
    """Old (sent before buttons were numbered), forged or mangled: refused, nothing changes."""
    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/start"))
        h.api.clear()
        await h.feed(button_update(CHAT, data, keyboard=[[{"text": "Yes", "callback_data": data}]]))

    tg.run(scenario)
    assert "earlier message" in tg.api.sent(CHAT)[0]["text"]
    assert stored(tg)[0] == "approach" and not stored(tg)[2]["consent"]


def test_callback_data_reads_back_its_value_and_number() -> None:
    assert pressed("no|7") == ("no", 7)
    assert pressed("more:7|3") == ("more:7", 3)  # the 'more' option is numbered like the others
    assert pressed("agree") == ("agree", UNNUMBERED)
    assert pressed("no|x") == ("no|x", UNNUMBERED)
    assert pressed("no|٣") == ("no|٣", UNNUMBERED)  # digits, but not ASCII ones


def test_every_option_of_the_sale_fits_telegrams_64_bytes_with_its_number(library: Library) -> None:
    values = {value for stage in STAGES.values() for value in stage.menu}
    values |= {f"edit:{q.id}" for q in library.questions} | {c for q in library.questions for c in q.choices}
    values |= {o.id for o in library.objections} | {f for o in library.objections for f in o.follow_up}
    values |= {f"variant:{v}" for v in ("essential", "standard", "comprehensive")} | {"more:9999"}
    longest = max(values, key=lambda v: len(v.encode()))
    button = Button("label", longest)
    assert len(telegram.callback_data(button, 10**9).encode()) <= 64, longest


# -- the answer to a press ---------------------------------------------------------------------
TOO_OLD = BadRequest("Query is too old and response timeout expired or query id is invalid")


@pytest.mark.parametrize("failure", [TOO_OLD, NetworkError("connection reset")], ids=["too old", "network"])
def test_a_press_whose_answer_fails_is_applied_all_the_same(tg: Harness, failure: Exception,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    tg.api.fail("answerCallbackQuery", *[failure] * 4)  # a network error is retried: fail every try

    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/start"))
        await h.feed(button_update(CHAT, "agree"))
        await asyncio.gather(*telegram.answering)  # the answer's own task has given up

    with caplog.at_level(logging.WARNING):
        tg.run(scenario)
    assert "answerCallbackQuery" in tg.api.methods()
    assert stored(tg)[0] == "needs" and stored(tg)[2]["consent"]  # the press was applied
    texts = [m["text"] for m in tg.api.sent(CHAT)]
    assert not any("went wrong" in text for text in texts)  # and answered, not apologised for
    assert "could not answer button press" in caplog.text


def test_the_answer_never_holds_up_the_press(tg: Harness) -> None:
    """The answer is slow to go through: the press is handled and replied to meanwhile."""
    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/start"))
        h.api.clear()
        slow = h.request.hold("answerCallbackQuery")
        await asyncio.wait_for(h.feed(button_update(CHAT, "agree")), timeout=30)  # never waits for the answer
        assert stored(h)[0] == "needs" and "sendMessage" in h.api.methods()  # handled and replied to
        assert "answerCallbackQuery" not in h.api.methods()  # while the answer is still on its way
        slow.set()
        await asyncio.gather(*telegram.answering)
        assert h.api.methods()[-1] == "answerCallbackQuery"

    tg.run(scenario)


# -- the sale and the console ------------------------------------------------------------------
def test_the_sale_takes_a_choice_only_with_the_current_number(library: Library) -> None:
    sale = sale_at(library, "needs", {"age": 35, "occupation": "office"}, question="health", asked=7)
    stale = handle(sale, Inbound("choice", "no", asked=6))
    assert "health" not in sale.answers and "earlier message" in replies_of(stale)[0].text
    current = sale.progress.asked  # the question asked again has the next number
    assert current == 8 and replies_of(stale)[-1].asked == 8
    handle(sale, Inbound("choice", "no", asked=current))
    assert sale.answers["health"] is False
    # code that calls the sale directly cannot tell the message: only the value is checked
    sale.progress.question = "family"  # (optional questions added after health are not this test's)
    handle(sale, Inbound("choice", "married", asked=None))
    assert sale.answers["family"] == "married"


def test_a_restart_goes_on_counting_so_no_earlier_button_is_current_again(library: Library) -> None:
    sale = sale_at(library, "needs", {"age": 35}, question="occupation", asked=5)
    handle(sale, Inbound("command", "restart"))
    assert sale.progress.asked > 5 and sale.answers == {}


def test_the_console_picks_from_the_last_question(service: SalesService) -> None:
    typed = io.StringIO("1\n35\n3\n2\n")  # agree, the age, the third occupation, health: no
    chat(service, "en", typed, io.StringIO(), user="numbers")
    with service.database.unit_of_work() as uow:
        record = current_conversation(uow, "console", "numbers")
        assert record.data["answers"]["health"] is False and record.data["answers"]["age"] == 35
        asked = record.data["progress"]["question"]
        assert asks_next(service.library, asked, "family", record.data["answers"]), asked
    log = service.handle(Sender("console", "numbers", locale="en"), Inbound("choice", "no", asked=1))
    assert log.stale  # the first question's number is long gone


def test_an_earlier_copy_of_the_question_asked_again_still_answers_it(tg: Harness) -> None:
    """A message not understood asks the same question again: the buttons of the first copy are
    those of the current question, not an 'earlier message' that asks it yet again."""
    seen: dict[str, Any] = {}

    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/start"), button_update(CHAT, "agree"))
        while stored(h)[2].get("question") != "health":
            await h.feed(message_update(CHAT, "35") if stored(h)[2].get("question") == "age"
                         else button_update(CHAT, "office"))
        first = seen["first"] = h.api.sent(CHAT)[-1]
        await h.feed(message_update(CHAT, "🙃"))  # not understood: the question again
        seen["again"] = h.api.sent(CHAT)[-1]
        await h.feed(button_update(CHAT, "no", message_id=41, text=first["text"],
                                   keyboard=first["reply_markup"]["inline_keyboard"]))

    tg.run(scenario)
    assert keyboard_data(seen["first"]) == keyboard_data(seen["again"])  # one question, one number
    state, answers, progress = stored(tg)
    assert answers["health"] is False and progress["question"] != "health"
    assert not any("earlier message" in m["text"] for m in tg.api.sent(CHAT))
