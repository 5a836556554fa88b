"""Needs questions: every kind of bad answer at every question type, the way out, why, back, skip."""
from __future__ import annotations

from typing import Any

import pytest

from bot.flows.messages import Inbound, Mark, Reply, Trail
from bot.flows.answers import parse_number
from bot.flows.questionnaire import asked
from bot.flows.sale import Sale, handle
from bot.library import Library
from tests.helpers import sale_at
from tests.conftest import frozen_library

BAD_ANSWERS = {
    "number": ["abc", "-1", "99999999999", "12abc", "1.2.3", "🙂"],
    "choice": ["maybe", "7", "something else"],
    "yes_no": ["maybe", "perhaps not sure", "42"],
    "text": ["🙂🙂🙂", "...", "x" * 200],
    "numbers": ["abc", "3, 70", "1 2 3 4 5 6 7 8 9", "🙂"],
}
ERROR_WORDS = {"number": "Please send a number", "choice": "Please pick one of the options",
               "yes_no": "yes or no", "text": "Please", "numbers": "Please send numbers"}
# Answers under which every question of the library is asked.
EVERYTHING_ASKED = {"age": 40, "family": "married_children", "existing_cover": "social_and_policies",
                    "car": True}


@pytest.mark.parametrize("text,value", [
    ("35", 35), ("３５", 35), ("35岁", 35), ("300,000", 300000), ("30万", 300000), ("1.5万", 15000),
    ("CNY 2000", 2000), ("2000元", 2000), ("20k", 20000), ("0", 0), ("abc", None), ("", None), ("1e5", None),
])
def test_numbers_are_read_as_people_write_them(text: str, value: float | None) -> None:
    assert parse_number(text) == value


def at_question(library: Library, question_id: str, answers: dict[str, Any] | None = None) -> Sale:
    return sale_at(library, "needs", answers or EVERYTHING_ASKED, question=question_id)


def texts(trail: Trail) -> str:
    return "\n".join(item.text for item in trail if isinstance(item, Reply))


def cases(library: Library) -> list[tuple[str, str]]:
    return [(q.id, bad) for q in library.questions for bad in BAD_ANSWERS[q.type]
            if not (q.type == "number" and bad == "-1" and (q.min or 0) < 0)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "question_id" in metafunc.fixturenames and "bad" in metafunc.fixturenames:
        metafunc.parametrize("question_id,bad", cases(frozen_library()))


def test_a_bad_answer_is_reprompted_and_nothing_is_lost(library: Library, question_id: str, bad: str) -> None:
    question = library.question(question_id)
    sale = at_question(library, question_id)
    before = dict(sale.answers)
    trail = handle(sale, Inbound("text", bad))
    assert sale.state == "needs" and sale.progress.question == question_id
    assert sale.answers == before
    said = texts(trail)
    assert ERROR_WORDS[question.type] in said
    assert library.text("en", f"questions.{question_id}.prompt") in said  # the same question again
    if question.type == "number":
        assert question.min is not None  # every number question has a lower bound
        assert str(int(question.min)) in said or library.money("en", question.min) in said  # names the range


@pytest.mark.parametrize("question_type", ["number", "numbers", "choice", "yes_no"])
def test_third_failure_offers_a_way_out(library: Library, question_type: str) -> None:
    for question in [q for q in library.questions if q.type == question_type]:
        sale = at_question(library, question.id)
        for _attempt in range(3):
            trail = handle(sale, Inbound("text", BAD_ANSWERS[question_type][0]))
        last = [item for item in trail if isinstance(item, Reply)][-1]
        values = [b.value for b in last.buttons]
        assert "agent" in values
        assert ("skip" in values) == (not question.required)
        assert "still isn't an answer" in texts(trail)
        assert Mark("handoff", "needs") in handle(sale, Inbound("choice", "agent"))
        assert sale.state == "needs"


def test_why_gives_the_reason_and_asks_the_same_question(library: Library) -> None:
    for question in library.questions:
        sale = at_question(library, question.id)
        said = texts(handle(sale, Inbound("text", "why do you ask?")))
        assert library.text("en", f"questions.{question.id}.why") in said
        assert library.text("en", f"questions.{question.id}.prompt") in said
        assert sale.progress.question == question.id


def test_back_returns_to_the_previous_question_and_keeps_its_answer(library: Library) -> None:
    sale = at_question(library, "parents",
                       {"age": 40, "occupation": "office", "health": False, "family": "single"})
    handle(sale, Inbound("text", "back"))
    assert sale.progress.question == "family" and sale.answers["family"] == "single"
    handle(sale, Inbound("command", "back"))
    order = [q.id for q in asked(library.questions, sale.answers)]  # whatever questions come between
    assert sale.progress.question == order[order.index("family") - 1]


def test_cancel_keeps_the_answers_and_resume_asks_the_same_question(library: Library) -> None:
    answers = {"age": 40, "occupation": "office", "health": False, "family": "single", "parents": 1}
    sale = at_question(library, "annual_income", answers)
    handle(sale, Inbound("text", "cancel"))
    assert sale.state == "paused" and sale.answers["parents"] == 1
    said = texts(handle(sale, Inbound("choice", "resume")))
    applying = asked(library.questions, answers)  # single: no partner or children questions
    number = [q.id for q in applying].index("annual_income") + 1
    assert sale.state == "needs" and library.text("en", "progress", n=number, total=len(applying)) in said


def test_a_required_question_cannot_be_skipped_an_optional_one_can(library: Library) -> None:
    sale = at_question(library, "age")
    assert "cannot be skipped" in texts(handle(sale, Inbound("text", "skip")))
    assert sale.progress.question == "age"
    sale = at_question(library, "parents")
    handle(sale, Inbound("choice", "skip"))
    order = [q.id for q in asked(library.questions, sale.answers)]
    assert sale.progress.question == order[order.index("parents") + 1]
    assert sale.answers["parents"] == library.question("parents").default


def test_answers_typed_as_labels_or_in_the_other_language_words(library: Library) -> None:
    sale = at_question(library, "family")
    handle(sale, Inbound("text", "married with children"))
    assert sale.answers["family"] == "married_children"
    sale = sale_at(library, "needs", {}, locale="zh_CN", question="health")
    handle(sale, Inbound("text", "没有"))
    assert sale.answers["health"] is False


def test_typed_amounts_and_adult_children_are_taken(library: Library) -> None:
    sale = at_question(library, "annual_income")
    handle(sale, Inbound("text", "月薪两万"))
    assert sale.answers["annual_income"] == 240_000 and sale.progress.question != "annual_income"
    sale = at_question(library, "children_ages", {**EVERYTHING_ASKED, "age": 58})
    handle(sale, Inbound("text", "30, 27"))
    assert sale.answers["children_ages"] == [30, 27]
    sale = at_question(library, "occupation")
    handle(sale, Inbound("text", "I work in an office"))
    assert sale.answers["occupation"] == "office"


def confirmation(trail: Trail) -> Reply:
    last = [item for item in trail if isinstance(item, Reply)][-1]
    assert [b.value for b in last.buttons] == ["yes", "no"] and last.free_input
    return last


def test_an_unlikely_amount_is_confirmed_no_asks_again_yes_takes_it(library: Library) -> None:
    sale = at_question(library, "annual_income")
    before = dict(sale.answers)
    assert confirmation(handle(sale, Inbound("text", "1"))).text == "Did you mean CNY 1 a year?"
    assert sale.answers == before and sale.progress.pending == 1
    said = texts(handle(sale, Inbound("choice", "no")))
    assert library.text("en", "questions.annual_income.prompt") in said
    assert sale.progress.pending is None and "annual_income" not in sale.answers
    confirmation(handle(sale, Inbound("text", "1")))
    handle(sale, Inbound("text", "yes"))
    assert sale.answers["annual_income"] == 1 and sale.progress.question == "spouse_income"


def test_anything_else_typed_at_the_confirmation_is_a_new_answer(library: Library) -> None:
    sale = sale_at(library, "needs", EVERYTHING_ASKED, locale="zh_CN", question="monthly_budget")
    assert confirmation(handle(sale, Inbound("text", "5"))).text == "您是说每月 5 元吗？"
    confirmation(handle(sale, Inbound("text", "十万")))  # still unlikely: asked again, about the new one
    assert sale.progress.pending == 100_000
    handle(sale, Inbound("text", "每年6000"))
    assert sale.answers["monthly_budget"] == 500 and sale.progress.pending is None


def test_likely_answers_and_zero_are_taken_without_a_question(library: Library) -> None:
    for question_id, text in [("spouse_income", "0"), ("annual_income", "300000"), ("age", "80")]:
        sale = at_question(library, question_id)
        handle(sale, Inbound("text", text))
        assert question_id in sale.answers and sale.progress.pending is None


def test_an_unlikely_age_is_confirmed_and_going_back_forgets_it(library: Library) -> None:
    sale = at_question(library, "age")
    assert confirmation(handle(sale, Inbound("text", "85"))).text == "Did you mean 85?"
    handle(sale, Inbound("command", "cancel"))
    handle(sale, Inbound("choice", "resume"))
    assert sale.progress.pending == 85  # kept while paused
    handle(sale, Inbound("text", "yeah"))  # one of the library's yes words
    assert sale.answers["age"] == 85
    sale = at_question(library, "parents", {**EVERYTHING_ASKED})
    sale.progress.pending = 3
    handle(sale, Inbound("text", "back"))
    assert sale.progress.pending is None and sale.progress.question == "children_ages"


def test_education_is_a_worry_only_for_parents(library: Library) -> None:
    couple = {**EVERYTHING_ASKED, "family": "married"}
    sale = at_question(library, "worry", couple)
    assert "education" not in sale.stage.options(sale)
    handle(sale, Inbound("choice", "education"))  # an old button, or typed
    assert "worry" not in sale.answers or sale.answers["worry"] != "education"
    parents = at_question(library, "worry", EVERYTHING_ASKED)
    assert "education" in parents.stage.options(parents)
