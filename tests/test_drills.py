"""Objection drills: the prospect raises objections one after another, each answer is scored
against the handling steps of the method, with a model answer after each."""
from __future__ import annotations

import pytest

from bot.flows.acts import ActClassifier
from bot.flows.conversation import Talk
from bot.flows.drill import Drill, DrillData, credited
from bot.flows.ending import NEXT
from bot.flows.messages import Inbound, Reply
from bot.flows.personas import figures, handling, persona_of
from bot.flows.reading import STEPS, read
from bot.flows.rehearsal import Rehearsal, Session, handle_rehearsal
from bot.library import Library
from bot.service import SalesService
from tests.helpers import agent_sender


@pytest.fixture(scope="module")
def classifier(library: Library) -> ActClassifier:
    return ActClassifier(library.rehearsal["examples"])


def model_answer(library: Library, locale: str, persona: str, objection: str) -> str:
    """The library's own model answer, every step in one message."""
    context = figures(persona_of(library, persona), library, locale)
    return " ".join(library.text(locale, f"rehearsal.handling.{objection}.{step}", **context).strip("\"“”")
                    for step in STEPS)


def drill(library: Library, classifier: ActClassifier, inbounds: list[Inbound],
          locale: str = "en") -> tuple[Session, list[Reply]]:
    session: Session = Rehearsal(Talk(library, locale))
    said: list[Reply] = []
    for inbound in inbounds:
        session, trail = handle_rehearsal(session.state, session.data, inbound, library, classifier, locale)
        said += [r for r in trail if isinstance(r, Reply)]
    return session, said


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_every_model_answer_takes_every_step(library: Library, classifier: ActClassifier,
                                             locale: str) -> None:
    for objection, rules in handling(library).items():
        reading = read(model_answer(library, locale, "aware_family", objection), classifier, locale, rules)
        assert credited(list(reading.steps), reading.breach) == list(STEPS), (locale, objection, reading)


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_a_full_drill(library: Library, classifier: ActClassifier, locale: str) -> None:
    start = Inbound("command", "rehearse", "drill aware_family")
    session, said = drill(library, classifier, [start], locale)
    assert isinstance(session.data, DrillData) and session.state == "drilling"
    queue = list(session.data.queue)
    assert queue[:2] == ["expensive", "think"]  # his own objections first
    assert len(queue) == library.rehearsal["personas"]["drill"]["rounds"]
    for objection in queue:  # the prospect raises each in turn; the model answer takes every step
        assert persona_of(library, "aware_family")["name"][locale] in said[-1].text  # the prospect raises it
        session, said = drill_on(library, classifier, session, model_answer(library, locale, "aware_family",
                                                                             objection), locale)
        label = library.text(locale, f"rehearsal.objections.{objection}")
        feedback = next(r.text for r in said if label in r.text)
        assert library.text(locale, "rehearsal.drill.result", objection_label=library.text(
            locale, f"rehearsal.objections.{objection}"), n=5, total=5) in feedback
        assert library.text(locale, "rehearsal.drill.model", line="").strip() in feedback  # the model answer
    assert session.state == "drilled" and isinstance(session.data, DrillData)
    assert session.data.drill_score == 100
    assert [b.value for b in said[-1].buttons] == list(NEXT)


def drill_on(library: Library, classifier: ActClassifier, session: Session, text: str,
             locale: str) -> tuple[Session, list[Reply]]:
    session, trail = handle_rehearsal(session.state, session.data, Inbound("text", text), library, classifier,
                                      locale)
    return session, [r for r in trail if isinstance(r, Reply)]


def test_each_answer_is_scored_step_by_step_with_a_model_line_per_missed_step(
        library: Library, classifier: ActClassifier) -> None:
    session, _ = drill(library, classifier, [Inbound("command", "rehearse", "drill aware_family")])
    session, said = drill_on(library, classifier, session,
                             "I understand, it's a lot of money. Shall we sign today?", "en")  # no answer
    feedback = said[0].text
    assert feedback.startswith("too expensive: 1 of 5 steps") and "✓ acknowledged the concern" in feedback
    assert feedback.count("Try:") == 4 and "Model answer:" in feedback and "a day" in feedback
    assert "think it over" in said[-1].text or "think about it" in said[-1].text  # the next objection


def test_the_prospect_keeps_talking_until_the_agent_closes_again(library: Library,
                                                                 classifier: ActClassifier) -> None:
    session, _ = drill(library, classifier, [Inbound("command", "rehearse", "drill aware_family")])
    session, said = drill_on(library, classifier, session, "I understand, that's a fair concern.", "en")
    assert "Right... so what do you say to that?" in said[-1].text
    session, said = drill_on(library, classifier, session, "Is it the yearly total that worries you?", "en")
    assert "every thousand counts" in said[-1].text  # what exactly the objection means, in his words
    session, said = drill_on(library, classifier, session,
                             "It is about eighty yuan a day; the essential plan keeps the key cover.",
                             "en")  # the third message ends the objection
    assert said[0].text.startswith("too expensive: 3 of 5 steps")
    assert isinstance(session.data, DrillData) and session.data.results[0]["steps"] == [
        "acknowledge", "clarify", "answer"]


def test_closing_before_answering_and_promising_returns_earn_nothing() -> None:
    assert credited(["close", "answer"], breach=False) == ["answer"]
    assert credited(["acknowledge", "answer", "check", "close"], breach=True) == ["acknowledge"]
    in_any_order = credited(["clarify", "answer", "close", "check"], breach=False)
    assert in_any_order == ["clarify", "answer", "check", "close"]


def test_a_promised_return_in_a_drill_is_named(library: Library, classifier: ActClassifier) -> None:
    session, _ = drill(library, classifier, [Inbound("command", "rehearse", "drill retiree_savings")])
    promise = "Yes, 5 % a year is guaranteed, don't worry."
    session, said = drill_on(library, classifier, session, promise, "en")
    assert "never promise returns" in said[0].text and isinstance(session.data, DrillData)
    assert session.data.results[0]["breach"] and "answer" not in session.data.results[0]["steps"]


def test_a_drill_without_a_persona_asks_for_one(library: Library, classifier: ActClassifier) -> None:
    session, said = drill(library, classifier, [Inbound("command", "rehearse", "drill")])
    assert session.state == "persona" and "Objection drill" in said[-1].text
    session, said = drill(library, classifier, [Inbound("command", "rehearse", "drill"),
                                                Inbound("choice", "car_dealership")])
    assert isinstance(session, Drill) and "Mr Huang" in said[-2].text


def test_drill_scores_stay_out_of_the_progress_chart(service: SalesService) -> None:
    agent = agent_sender(service, "agent-drill")
    service.handle(agent, Inbound("command", "rehearse", "drill novice_young"))
    for _ in range(5):
        service.handle(agent, Inbound("text", "Shall we sign today?"))
    replies = service.handle(agent, Inbound("text", "Hello?")).replies
    assert "over" in replies[-1].text and [b.value for b in replies[-1].buttons] == list(NEXT)
    assert "not finished a rehearsal" in service.handle(agent, Inbound("command", "progress")).replies[0].text
