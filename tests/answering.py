"""Answering the needs questionnaire by question id, asking the sale which question is current, so
that a test survives a question added, removed or moved: what the test does not answer is skipped
when optional, and a required question the test does not answer fails with its name."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.library import Library

# One family's answers, by question id: the sale the channel tests walk through.
FAMILY_ANSWERS: dict[str, Any] = {
    "age": 35, "occupation": "office", "health": False, "family": "married_children",
    "children_ages": [3, 7], "parents": 0, "annual_income": 300000, "spouse_income": 100000,
    "debts": 0, "savings": 0, "existing_cover": "social_only", "car": False, "monthly_budget": 2000,
    "worry": "illness",
}

Step = tuple[str, str]  # ("press", value) | ("say", text)


def answer_step(library: Library, question_id: str, answers: dict[str, Any]) -> Step:
    """How a customer gives `answers[question_id]`: a choice or yes/no pressed, anything else typed;
    an optional question the test gives no answer to is skipped."""
    question = library.question(question_id)
    if question_id not in answers:
        assert not question.required, f"the test gives no answer to the required question {question_id!r}"
        return ("press", "skip")
    value = answers[question_id]
    if question.type == "yes_no":
        return ("press", "yes" if value else "no")
    if question.type == "choice":
        return ("press", str(value))
    if question.type == "numbers":
        return ("say", ", ".join(str(v) for v in value))
    return ("say", str(value))


def fill(library: Library, current: Callable[[], str | None], send: Callable[[Step], object],
         answers: dict[str, Any], until: str | None = None) -> None:
    """Answer each question the sale asks (`current()`: its id, None once the questions are over)
    from `answers` until the questions are over, or until `until` is the question asked."""
    for _ in range(3 * len(library.questions)):  # a question asked again is answered again
        question_id = current()
        if question_id is None or question_id == until:
            return
        send(answer_step(library, question_id, answers))
    raise AssertionError(f"the questionnaire did not end; still asking {current()!r}")


def question_of(state: str, data: dict[str, Any] | None) -> str | None:
    """The needs question a stored conversation is asking; None when it is not at the questions."""
    if state != "needs":
        return None
    question: str | None = ((data or {}).get("progress") or {}).get("question")
    return question
