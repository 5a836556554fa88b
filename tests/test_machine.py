"""Every transition of the table and every guard, on the one shared machine."""
from __future__ import annotations

from typing import Any

import pytest
import transitions
from pytest_mock import MockerFixture

from bot.flows.machine import MACHINE, RESUMABLE, STATES, TRANSITIONS
from bot.flows.conversation import Talk
from bot.flows.messages import Inbound, Reply, Step, Trail
from bot.flows.sale import Sale, handle
from bot.library import Library
from tests.helpers import sale_at

COMPLETE = {"age": 35, "occupation": "office", "health": False, "family": "married_children",
            "children_ages": [4], "parents": 0, "annual_income": 300000, "spouse_income": 0, "debts": 0,
            "savings": 0, "existing_cover": "social_only", "car": False, "monthly_budget": None,
            "worry": None}


def ready_sale(library: Library, state: str, dest: str) -> Sale:
    """A conversation in `state` for which every guard on the way to `dest` holds."""
    skipped = {q.id: q.default for q in library.questions if not q.required}  # any added since
    return sale_at(library, state, {**skipped, **COMPLETE}, disclosed=True, objection="expensive",
                   paused_from=dest, question="age")


def fire(sale: Sale, trigger: str, *args: Any) -> tuple[bool, Trail]:
    sale.talk.trail = []
    moved = sale.trigger(trigger, *args)
    return moved, sale.talk.trail


def table_rows() -> list[tuple[str, str, str]]:
    rows = []
    for row in TRANSITIONS:
        sources = STATES if row["source"] == "*" else row["source"]
        for source in [sources] if isinstance(sources, str) else sources:
            rows.append((row["trigger"], source, row["dest"]))
    return rows


@pytest.mark.parametrize("trigger,source,dest", table_rows(), ids=str)
def test_every_transition_of_the_table(library: Library, trigger: str, source: str, dest: str) -> None:
    sale = ready_sale(library, source, dest)
    args = {"object": ("expensive",), "edit": ("annual_income",)}.get(trigger, ())
    moved, trail = fire(sale, trigger, *args)
    assert moved and sale.state == dest
    assert Step(trigger, source, dest) in trail  # every change of stage is reported for the log
    assert any(getattr(item, "text", "") for item in trail), "the new stage says something"


def test_proposal_needs_every_required_answer(library: Library) -> None:
    for missing in [q.id for q in library.questions if q.required]:
        sale = ready_sale(library, "needs", "proposal")
        del sale.answers[missing]
        moved, _ = fire(sale, "needs_complete")
        assert not moved and sale.state == "needs", missing


def test_optional_answers_are_not_needed_for_a_proposal(library: Library) -> None:
    sale = ready_sale(library, "needs", "proposal")
    for question in library.questions:
        if not question.required:
            sale.answers.pop(question.id, None)
    assert fire(sale, "needs_complete")[0]


def test_closing_is_not_accepted_before_the_terms_are_shown(library: Library) -> None:
    sale = ready_sale(library, "closing", "won")
    sale.progress.disclosed = False
    moved, _ = fire(sale, "accept")
    assert not moved and sale.state == "closing"


def test_entering_closing_shows_the_terms_and_then_accept_works(library: Library) -> None:
    sale = ready_sale(library, "proposal", "closing")
    sale.progress.disclosed = False
    moved, trail = fire(sale, "proceed")
    assert moved and sale.progress.disclosed is True
    terms = trail[1]
    assert isinstance(terms, Reply)
    assert "Cooling-off period" in terms.text and "Exclusions" in terms.text
    assert fire(sale, "accept")[0] and sale.state == "won"


def test_going_back_to_the_needs_questions_asks_for_the_terms_again(library: Library) -> None:
    sale = ready_sale(library, "summary", "needs")
    fire(sale, "back")
    assert sale.state == "needs" and sale.progress.disclosed is False
    assert sale.progress.question == library.questions[-1].id


def test_editing_an_answer_from_the_summary_returns_to_the_summary(library: Library) -> None:
    sale = ready_sale(library, "summary", "needs")
    fire(sale, "edit", "family")
    assert sale.state == "needs" and sale.progress.question == "family"
    handle(sale, Inbound("choice", "single"))
    assert sale.state == "summary" and "children_ages" not in sale.answers  # no longer applies
    handle(sale, Inbound("choice", "edit:family"))
    handle(sale, Inbound("choice", "married_children"))
    while sale.progress.question != "children_ages":  # newly needed: optional ones may come first
        assert sale.state == "needs" and not library.question(sale.progress.question).required
        handle(sale, Inbound("choice", "skip"))
    handle(sale, Inbound("text", "2, 5"))
    assert sale.progress.question == "spouse_income"  # dropped with 'single', needed again
    handle(sale, Inbound("text", "0"))
    assert sale.state == "summary" and sale.answers["children_ages"] == [2, 5]


def test_back_from_needs_reaches_approach_only_from_the_first_question(library: Library) -> None:
    sale = ready_sale(library, "needs", "approach")
    sale.progress.question = "family"
    handle(sale, Inbound("command", "back"))
    order = [q.id for q in sale.questionnaire.questions]  # whatever questions come between
    assert sale.state == "needs" and sale.progress.question == order[order.index("family") - 1]
    sale.progress.question = "age"
    handle(sale, Inbound("command", "back"))
    assert sale.state == "approach"


@pytest.mark.parametrize("stage", RESUMABLE)
def test_pause_and_resume_return_to_the_same_stage(library: Library, stage: str) -> None:
    sale = ready_sale(library, stage, "paused")
    assert fire(sale, "pause")[0] and sale.state == "paused"
    assert sale.progress.paused_from == stage
    assert fire(sale, "resume")[0] and sale.state == stage


def test_restart_forgets_the_answers(library: Library) -> None:
    sale = ready_sale(library, "proposal", "approach")
    fire(sale, "restart")
    assert sale.state == "approach" and sale.answers == {}


def test_triggers_not_in_the_table_are_refused(library: Library) -> None:
    sale = ready_sale(library, "approach", "won")
    with pytest.raises(transitions.MachineError):
        fire(sale, "accept")
    assert sale.state == "approach"


def test_one_shared_machine_and_no_leftovers(library: Library, mocker: MockerFixture) -> None:
    built = mocker.spy(transitions.Machine, "__init__")
    sale = Sale(Talk(library, "en"))
    for text in ["hi", "yes", "35", "office work"]:
        handle(sale, Inbound("text", text))
    assert built.call_count == 0  # no machine per message or per user
    assert MACHINE.models == []  # no conversation is ever attached to it
    assert not {"to_needs", "is_needs", "agree"} & set(vars(sale))  # nothing bound onto the model
    assert sale.state == "needs" and sale.answers["age"] == 35
