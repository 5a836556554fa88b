"""Typed messages read by the customer-intent classifier: global wishes at any stage, the stage's
own meanings, one clarifying question when unsure, and never the same "didn't catch that" twice."""
from __future__ import annotations

import pytest
from pytest_mock import MockerFixture

from bot.flows import intents
from bot.flows.messages import Inbound, Mark, Reply
from bot.flows.sale import Sale, handle
from bot.library import Library
from tests.helpers import sale_at

ANSWERS = {"age": 35, "occupation": "office", "health": False, "family": "married", "parents": 0,
           "annual_income": 300000, "spouse_income": 100000, "debts": 500000, "savings": 0,
           "existing_cover": "social_only", "car": False, "monthly_budget": 1000}


def said(sale: Sale, text: str) -> list[Reply]:
    return [item for item in handle(sale, Inbound("text", text)) if isinstance(item, Reply)]


@pytest.mark.parametrize("_locale,text,intent", [
    ("en", "why do you need to know that?", "why"),
    ("en", "can I talk to a real person please", "agent"),
    ("en", "where do I sign?", "buy"),
    ("en", "I'll wait until next year", "postpone"),
    ("zh_CN", "为什么要问我的收入？", "why"),
    ("zh_CN", "我想找个真人顾问聊聊", "agent"),
    ("zh_CN", "好的，就这个方案吧", "buy"),
    ("zh_CN", "等明年有钱了再买", "postpone"),
])
def test_clear_sentences_are_read_surely(library: Library, _locale: str, text: str, intent: str) -> None:
    reading = intents.read(library, text)
    assert reading.intent == intent, reading


def test_asking_for_a_person_mid_questions_is_not_an_answer(library: Library) -> None:
    sale = sale_at(library, "needs", {"age": 40}, question="occupation")
    trail = handle(sale, Inbound("text", "can I talk to a real person please"))
    assert Mark("handoff", "needs") in trail
    assert sale.state == "needs" and sale.progress.question == "occupation"


def test_switching_language_by_asking(library: Library) -> None:
    sale = sale_at(library, "proposal", ANSWERS, locale="zh_CN")
    handle(sale, Inbound("text", "can we speak English please"))
    assert sale.talk.locale == "en" and sale.state == "proposal"


def test_unsure_readings_become_one_question_with_the_likely_options(library: Library,
                                                                    mocker: MockerFixture) -> None:
    sale = sale_at(library, "closing", ANSWERS, disclosed=True)
    figures = library.parameters
    unsure = figures.model_copy(update={"intents": figures.intents.model_copy(update={"sure_above": 99})})
    mocker.patch.object(library, "parameters", unsure)  # nothing is sure
    intents.read.cache_clear()
    asked = said(sale, "ok let's go for it")[-1]
    intents.read.cache_clear()
    assert sale.state == "closing" and asked.text == library.text("en", "errors.clarify")
    assert "accept" in [b.value for b in asked.buttons]
    assert {b.value for b in asked.buttons} <= set(sale.stage.options(sale))  # each can be pressed
    handle(sale, Inbound("choice", "accept"))
    assert sale.state == "won"


def test_never_the_same_not_understood_twice_in_a_row(library: Library) -> None:
    sale = sale_at(library, "won", ANSWERS)
    first = said(sale, "qwzx vvbn")[0].text
    second = said(sale, "plmk qazw")[0].text
    assert first == library.text("en", "errors.not_understood")
    assert second == library.text("en", "errors.still_not_understood") != first
    said(sale, "policy service")
    assert said(sale, "qwzx vvbn")[0].text == first  # understood in between: the first words again


@pytest.mark.parametrize("text", ["i make 4500 a month", "ok let's do it", "太贵了吧", "", "zzz qqq 123"])
def test_the_fast_scores_are_the_models_own(library: Library, text: str) -> None:
    model = intents.classifier(library)
    fast, slow = model.ranked(text), model.model.decision_function([text])[0]
    by_label = dict(fast)
    labels = [str(label) for label in model.model.classes_]
    assert all(abs(by_label[label] - score) < 1e-9 for label, score in zip(labels, slow, strict=True))


def test_a_plain_answer_never_waits_for_the_classifier(library: Library, mocker: MockerFixture) -> None:
    """Training the classifier takes seconds: a number at a number question must not need it."""
    asked = mocker.patch("bot.flows.listening.read", side_effect=AssertionError("the classifier was asked"))
    sale = sale_at(library, "needs", {}, question="age")
    handle(sale, Inbound("text", "35"))
    assert sale.answers["age"] == 35 and not asked.called
