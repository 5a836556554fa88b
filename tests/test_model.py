"""The optional language model behind the sale, against a fake OpenAI-compatible server on localhost:
it is asked only about what the offline reader cannot place, its answer is kept only within the
request's schema and the stage's moves, a decision it reads is only offered as a button, health
answers do not leave by default, and any failure or time-out leaves the sale as without a model."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.cli import _service
from bot.flows.conversation import Talk
from bot.flows.messages import Inbound, Mark, Reply
from bot.flows.progress import Progress
from bot.flows.sale import Sale, handle
from bot.library import Library
from bot.model_client import ModelClient
from bot.settings import Settings
from tests.fake_model import FakeModel

ANSWERS = {"age": 38, "occupation": "office", "health": False, "family": "married_children",
           "children_ages": [5, 9], "parents": 1, "annual_income": 300000, "spouse_income": 150000,
           "debts": 800000, "savings": 100000, "existing_cover": "social_only", "car": False,
           "monthly_budget": 1500, "worry": "illness"}
UNCLEAR = "well the usual for someone at my grade, you know how it is"


@pytest.fixture
def fake() -> Iterator[FakeModel]:
    model = FakeModel(lambda _asked: {"command": "none", "facts": {}})
    with model.running():
        yield model


def sale(library: Library, fake: FakeModel, state: str, answers: dict[str, Any], timeout: float = 5.0,
         **progress: Any) -> Sale:
    client = ModelClient(fake.url, "test-model", timeout=timeout)
    return Sale(Talk(library, "en"), state, dict(answers), Progress(greeted=True, consent=True, **progress),
                interpreter=client)


def said(trail: list[Any]) -> str:
    return "\n".join(item.text for item in trail if isinstance(item, Reply))


def test_a_fact_the_offline_reader_misses_is_taken_from_the_model(library: Library, fake: FakeModel) -> None:
    fake.answer = lambda _asked: {"command": "none", "facts": {"annual_income": 240000}}
    answers = {k: ANSWERS[k] for k in ("age", "occupation", "health", "family", "children_ages", "parents")}
    talk = sale(library, fake, "needs", answers, question="annual_income")
    trail = handle(talk, Inbound("text", UNCLEAR))
    assert talk.answers["annual_income"] == 240000 and talk.progress.question == "spouse_income"
    assert Mark("model", "annual_income") in trail
    [asked] = fake.requests
    assert asked["question"] == "annual_income" and asked["message"] == UNCLEAR
    assert asked["facts"]["annual_income"] == {"type": "number", "minimum": 0, "maximum": 100000000}


def test_a_message_the_offline_reader_understands_never_reaches_the_model(library: Library,
                                                                         fake: FakeModel) -> None:
    talk = sale(library, fake, "needs", {"age": 38}, question="occupation")
    handle(talk, Inbound("text", "I'm an accountant"))
    assert talk.answers["occupation"] == "office" and fake.requests == []


@pytest.mark.parametrize("answer", [
    {"command": "none", "facts": {"annual_income": "lots"}},  # a fact of the wrong type
    {"command": "none", "facts": {"annual_income": -5}},  # outside the question's range
    {"command": "none", "facts": {"dependants": 2}},  # no such question
    {"command": "buy_now"},  # no such command
    "I think their income is about 200k",  # no JSON at all
])
def test_an_answer_outside_the_schema_is_ignored(library: Library, fake: FakeModel, answer: Any) -> None:
    fake.answer = lambda _asked: answer
    single = {"age": 38, "occupation": "office", "health": False, "family": "single", "parents": 0}
    talk = sale(library, fake, "needs", single, question="annual_income")
    trail = handle(talk, Inbound("text", UNCLEAR))
    assert "annual_income" not in talk.answers and talk.progress.question == "annual_income"
    assert "Please send a number" in said(trail) and not any(isinstance(m, Mark) and m.kind == "model"
                                                             for m in trail)


def test_a_decision_the_model_reads_is_only_offered_as_its_button(library: Library, fake: FakeModel) -> None:
    fake.answer = lambda _asked: {"command": "accept"}
    talk = sale(library, fake, "closing", ANSWERS, disclosed=True)
    trail = handle(talk, Inbound("text", "right then, the thing, you know"))
    assert talk.state == "closing"  # not applied
    last = [item for item in trail if isinstance(item, Reply)][-1]
    assert [b.value for b in last.buttons] == ["accept"]
    handle(talk, Inbound("choice", "accept", asked=talk.progress.asked))
    assert talk.state == "won"  # the customer's own press applies


def test_a_common_question_the_model_places_is_answered(library: Library, fake: FakeModel) -> None:
    fake.answer = lambda _asked: {"command": "faq:cooling_off"}
    talk = sale(library, fake, "proposal", ANSWERS)
    trail = handle(talk, Inbound("text", "say I regret it the week after, what then?"))
    assert talk.state == "proposal" and Mark("faq", "cooling_off") in trail
    assert "cooling-off period" in said(trail)


def test_health_answers_are_not_sent_unless_the_agency_allows_it(library: Library, fake: FakeModel) -> None:
    talk = sale(library, fake, "needs", {"age": 38, "occupation": "office"}, question="health")
    handle(talk, Inbound("text", "well there was that thing with my sugar levels"))
    assert fake.requests == [] and "health" not in talk.answers
    allowed = Sale(Talk(library, "en"), "needs", {"age": 38, "occupation": "office"},
                   Progress(greeted=True, question="health"),
                   interpreter=ModelClient(fake.url, "m"), share_health=True)
    fake.answer = lambda _asked: {"command": "none", "facts": {"health": True}}
    handle(allowed, Inbound("text", "well there was that thing with my sugar levels"))
    assert allowed.answers["health"] is True and len(fake.requests) == 1


def test_a_model_that_does_not_answer_in_time_leaves_the_sale_as_without_it(library: Library,
                                                                              fake: FakeModel) -> None:
    fake.hold = True  # the server waits until the test ends: only the client's time-out returns
    single = {"age": 38, "occupation": "office", "health": False, "family": "single", "parents": 0}
    talk = sale(library, fake, "needs", single, timeout=0.2, question="annual_income")
    trail = handle(talk, Inbound("text", UNCLEAR))
    assert "Please send a number" in said(trail) and talk.progress.question == "annual_income"
    assert len(fake.requests) == 1


def test_the_settings_turn_the_model_on(fake: FakeModel, tmp_path: Any) -> None:
    settings = Settings.from_env({"SALESBOT_LLM_URL": fake.url, "SALESBOT_LLM_MODEL": "qwen",
                                  "SALESBOT_DEMO": "1", "SALESBOT_LLM_KEY": "secret",
                                  "SALESBOT_LLM_TIMEOUT": "1.5",
                                  "DATABASE_URL": f"sqlite:///{tmp_path / 'm.sqlite3'}"})
    assert "secret" not in repr(settings)
    service = _service(settings)
    assert isinstance(service.interpreter, ModelClient) and service.interpreter.timeout == 1.5
    plain = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'n.sqlite3'}", "SALESBOT_DEMO": "1"})
    assert _service(plain).interpreter is None
    with pytest.raises(Exception, match="SALESBOT_LLM_TIMEOUT"):
        Settings.from_env({"SALESBOT_LLM_TIMEOUT": "soon"})


def test_the_greeting_says_when_messages_may_go_to_a_model(library: Library, fake: FakeModel) -> None:
    with_model = Sale(Talk(library, "en"), interpreter=ModelClient(fake.url, "m"))
    assert "language-model service" in said(handle(with_model, Inbound("command", "start")))
    assert "never your answers about health" in said(handle(Sale(Talk(library, "en"), interpreter=ModelClient(
        fake.url, "m")), Inbound("command", "start")))
    assert "language-model" not in said(handle(Sale(Talk(library, "en")), Inbound("command", "start")))
