"""Facts a message gives for other questions than the one asked ("I'm 41, married with two kids"
at the age question): kept for later, said back in one line, and a fact that differs from an
earlier answer confirmed before it replaces it. Part of the questionnaire (questionnaire.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.flows.answers import Rejection, answer_text, implausible, typed_answer, yes_or_no
from bot.flows.slots import Facts, facts_in, mentions

if TYPE_CHECKING:
    from bot.flows.conversation import Talk
    from bot.flows.progress import Progress
    from bot.library import Question


def without_unasked(questions: tuple[Question, ...], answers: dict[str, Any]) -> dict[str, Any]:
    """Drop answers to questions that no longer apply, e.g. children's ages after 'single'."""
    kept: dict[str, Any] = {}
    for question in questions:  # in order, so a condition always sees the answers before it
        if question.id in answers and question.asked(kept):
            kept[question.id] = answers[question.id]
    return kept


class InPassing:
    """The questionnaire's reading of facts in passing; it holds the answers and the progress."""

    talk: Talk
    answers: dict[str, Any]
    progress: Progress
    noted: list[str]  # facts of the last message kept for later questions, as said back
    _read: dict[tuple[str, str | None, str], Facts]  # a turn reads its message once

    all: tuple[Question, ...]

    if TYPE_CHECKING:  # the questionnaire's own moves
        @property
        def current(self) -> Question: ...

        def go_to(self, question: Question) -> None: ...

        def take(self, question: Question, value: Any, changed: Any = None) -> bool: ...

        def prompt(self) -> None: ...

    def fill(self, facts: Facts, asked: Question | None, text: str | None) -> Any:
        """Keep the facts a message gave for questions not answered yet (said back in one line); a
        fact that differs from an earlier answer is returned, to be confirmed before it replaces the
        answer (its question becomes the one asked). With no `text` (the message was a plain answer
        to the question asked) nothing earlier is questioned; a choice is questioned only when the
        message does not also say the earlier one ("my wife earns 20万" is still married with children)."""
        self.noted = []
        changed = None
        corrections = text is not None
        for question_id, value in facts.values.items():
            question = self.talk.library.question(question_id)
            earlier = self.answers.get(question_id)
            if (asked and question_id == asked.id) or (earlier is not None and question.type == "choice" and (
                    text is None or question_id in facts.hinted or mentions(question, earlier, text))):
                continue
            if earlier is None and implausible(question, value):
                continue  # "can't afford one" is no budget of 1: asked in its turn
            if earlier is None:
                self.answers[question_id] = value
                value_text = answer_text(self.talk.library, self.talk.locale, question, value)
                self.noted.append(f"{self.talk.text(f'questions.{question_id}.label')}: {value_text}")
            elif corrections and earlier != value and changed is None and not implausible(question, value):
                self.go_to(question)
                changed = value
        if self.noted:
            self.talk.say("noted", facts="; ".join(self.noted))
        return changed

    def take_facts(self, facts: dict[str, Any], text: str) -> bool:
        """Facts read by the model: the asked question's answer taken (and True when the questions
        are over), the others kept or confirmed as a typed message's would be."""
        question = self.current
        changed = self.fill(Facts(values=dict(facts)), question, text)
        if question.id in facts:
            return self.take(question, facts[question.id], changed)
        self.progress.pending = changed
        self.prompt()
        return False

    def corrections(self, text: str) -> dict[str, Any]:
        """The answers a message at the summary gives anew (those that differ from what is kept)."""
        facts = self.facts(text, None)
        return {q: v for q, v in facts.values.items() if self.answers.get(q) != v}

    def correct(self, changes: dict[str, Any]) -> None:
        self.keep(changes)
        self.progress.disclosed = False  # the terms follow the answers


    def facts(self, text: str, asked: Question | None) -> Facts:
        """What the message says for the questions (bot/flows/slots.py), read once per turn for the
        same question asked and answers: several steps of a turn ask about the same message."""
        key = (text, asked.id if asked else None, repr(sorted(self.answers.items())))
        if key not in self._read:
            self._read[key] = facts_in(self.talk.library, text, asked, self.answers)
        return self._read[key]

    def answers_current(self, text: str) -> bool:
        """True when `text` answers the question asked (not only others)."""
        facts = self.facts(text, self.current)
        typed = typed_answer(self.talk, self.current, text)
        said = self.current.id in facts.values or self.current.id in facts.unsure
        return said or not isinstance(typed, Rejection)

    def understands(self, text: str) -> bool:
        """True when `text` reads as an answer to the current question (or to "did you mean…?")."""
        if self.progress.pending is not None and yes_or_no(self.talk, text) is not None:
            return True
        if not isinstance(typed_answer(self.talk, self.current, text), Rejection):
            return True
        facts = self.facts(text, self.current)
        return bool(facts.values or facts.unsure)

    def settle(self, text: str) -> bool | None:
        """The reply to "did you mean…?": yes takes the pending value, no asks the question again;
        None for anything else, which is then read as a new answer."""
        value, self.progress.pending = self.progress.pending, None
        meant = yes_or_no(self.talk, text)
        if meant is False:
            self.prompt()
        return meant and self.take(self.current, value)  # None (not yes or no), False, or taken

    def keep(self, changes: dict[str, Any]) -> None:
        """Answers changed, and those of questions that no longer apply dropped."""
        kept = without_unasked(self.all, {**self.answers, **changes})
        self.answers.clear()
        self.answers.update(kept)
