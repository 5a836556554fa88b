"""An optional language model behind the sale, asked only about a message the offline reader could
not place. The model turns the message into one command and facts (the pattern of Rasa CALM); the
sale decides. Pure: what is asked (the stage, the question, the commands and facts allowed here) and
how the answer is checked. The call itself belongs to the service (bot/model_client.py).

The model never decides a figure, a plan or a move: a fact is kept only if the question takes it
(type, choices, range), a command only if this stage allows it, and a decision it reads is offered
as its button for the customer to press.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.library import Question

if TYPE_CHECKING:
    from bot.flows.sale import Sale

# What the service gives the sale: a request in, the model's parsed JSON out (None on any failure).
Interpreter = Callable[[dict[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True)
class ModelReading:
    command: str | None = None  # an option of the stage, "faq:<topic>", "objection:<id>", "agent"
    facts: dict[str, Any] = field(default_factory=dict)


def commands(sale: Sale) -> list[str]:
    """What the model may answer with at this stage."""
    allowed = [*sale.stage.options(sale), "agent", "none"]
    allowed += [f"faq:{topic}" for topic in sale.talk.library.understanding["faq"]]
    if "object" in sale.machine.get_triggers(sale.state):
        allowed += [f"objection:{objection}" for objection in sale.objections]
    return list(dict.fromkeys(allowed))


def askable(sale: Sale, share_health: bool) -> list[Question]:
    """The questions whose facts may be read: at the questions, those that apply; health ones only
    where the agency allows sending health answers to the model."""
    if sale.state != "needs":
        return []
    return [q for q in sale.questionnaire.questions if q.id != "health" or share_health]


def request(sale: Sale, text: str, share_health: bool) -> dict[str, Any] | None:
    """The request for the model; None when the message must not leave (an answer about health)."""
    asked = sale.questionnaire.current.id if sale.state == "needs" else None
    if asked == "health" and not share_health:
        return None
    facts = {q.id: _schema(q) for q in askable(sale, share_health)}
    return {"stage": sale.state, "question": asked, "language": sale.talk.locale, "message": text,
            "commands": commands(sale), "facts": facts}


def _schema(question: Question) -> dict[str, Any]:
    if question.type == "choice":
        return {"type": "string", "enum": list(question.choices)}
    if question.type == "yes_no":
        return {"type": "boolean"}
    number = {"type": "number", **({"minimum": question.min} if question.min is not None else {}),
              **({"maximum": question.max} if question.max is not None else {})}
    return {"type": "array", "items": number} if question.type == "numbers" else number


def validate(sale: Sale, answer: Any, share_health: bool) -> ModelReading | None:
    """The model's answer if it keeps to the request's schema; None for anything else."""
    if not isinstance(answer, dict):
        return None
    command = answer.get("command")
    if command is not None and (not isinstance(command, str) or command not in commands(sale)):
        return None
    raw = answer.get("facts") or {}
    if not isinstance(raw, dict):
        return None
    questions = {q.id: q for q in askable(sale, share_health)}
    facts = {}
    for question_id, value in raw.items():
        question = questions.get(question_id)
        if question is None or not _fits(question, value):
            return None  # one fact outside the schema: the whole answer is not trusted
        facts[question_id] = value
    return ModelReading(None if command in (None, "none") else command, facts)


def _fits(question: Question, value: Any) -> bool:
    if question.type == "choice":
        return value in question.choices
    if question.type == "yes_no":
        return isinstance(value, bool)
    values = value if question.type == "numbers" else [value]
    if not isinstance(values, list) or (question.max_items and len(values) > question.max_items):
        return False
    low = question.min if question.min is not None else float("-inf")
    high = question.max if question.max is not None else float("inf")
    return all(isinstance(v, int | float) and not isinstance(v, bool) and low <= v <= high for v in values)
