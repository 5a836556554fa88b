"""The needs questions as a flow of their own: which question is asked, moving on and back,
why it is asked, changing one answer from the summary. The sale's "needs" stage hands every
message to it and hears back only when the questions are done."""
from __future__ import annotations

from typing import Any

from bot.flows.answers import Rejection, read_answer
from bot.flows.conversation import Talk
from bot.flows.messages import Button, Inbound, Reply
from bot.flows.progress import Progress
from bot.library import Question


def asked(questions: tuple[Question, ...], answers: dict[str, Any]) -> list[Question]:
    """The questions that apply, given the answers so far (children's ages only with children...)."""
    return [q for q in questions if q.asked(answers)]


def without_unasked(questions: tuple[Question, ...], answers: dict[str, Any]) -> dict[str, Any]:
    """Drop answers to questions that no longer apply, e.g. children's ages after 'single'."""
    kept: dict[str, Any] = {}
    for question in questions:  # in order, so a condition always sees the answers before it
        if question.id in answers and question.asked(kept):
            kept[question.id] = answers[question.id]
    return kept


class Questionnaire:
    """One customer's way through the questions; `answers` and `progress` are changed in place."""

    def __init__(self, talk: Talk, answers: dict[str, Any], progress: Progress) -> None:
        self.talk, self.answers, self.progress = talk, answers, progress
        self.all = talk.library.questions
        self.way_out_after: int = talk.library.parameters["questionnaire"]["failures_before_way_out"]

    # -- where we are ----------------------------------------------------------------------------
    @property
    def questions(self) -> list[Question]:
        return asked(self.all, self.answers)

    @property
    def current(self) -> Question:
        questions = self.questions
        return next((q for q in questions if q.id == self.progress.question), questions[0])

    @property
    def number(self) -> int:
        return self.questions.index(self.current) + 1

    @property
    def complete(self) -> bool:
        return all(self.answers.get(q.id) is not None for q in self.questions if q.required)

    def go_to(self, question: Question) -> None:
        self.progress.question, self.progress.failures = question.id, 0

    # -- what is on offer ------------------------------------------------------------------------
    def options(self) -> list[str]:
        question = self.current
        values = list(question.choices) + (["yes", "no"] if question.type == "yes_no" else [])
        values += [] if question.required else ["skip"]
        return values + (["agent"] if self.progress.failures >= self.way_out_after else [])

    def label(self, value: str) -> str:
        if value in self.current.choices:
            return self.talk.text(f"choices.{self.current.id}.{value}")
        return self.talk.text(f"buttons.{value}")

    def prompt(self) -> None:
        question = self.current
        buttons = tuple(Button(self.label(value), value) for value in self.options())
        progress = self.talk.text("progress", n=self.number, total=len(self.questions))
        prompt = self.talk.text(f"questions.{question.id}.prompt")
        typed = question.type in ("number", "numbers", "text")
        self.talk.send(Reply(f"{progress}\n{prompt}", buttons, free_input=typed))

    # -- moves -----------------------------------------------------------------------------------
    def start(self) -> None:
        self.go_to(self.questions[0])
        self.talk.say("needs/intro", total=len(self.questions))

    def answer(self, inbound: Inbound, intent: str | None) -> bool:
        """Take an answer (or a skip) and ask the next question; True when none is left."""
        question = self.current
        if intent == "skip" and question.required:
            self.talk.say("errors.required")
        elif intent == "skip":
            self.answers[question.id] = question.default
            self.talk.say("skipped")
            return self.next()
        else:
            words = self.talk.library.keywords[self.talk.locale]
            value = read_answer(question, inbound.text, words["yes"], words["no"],
                                {c: self.label(c) for c in question.choices})
            if not isinstance(value, Rejection):
                kept = without_unasked(self.all, {**self.answers, question.id: value})
                self.answers.clear()
                self.answers.update(kept)
                return self.next()
            self.refuse(question, value)
        self.prompt()
        return False

    def refuse(self, question: Question, rejection: Rejection) -> None:
        self.progress.failures += 1
        limits = {name: self.shown(question, value) for name, value in rejection.context.items()}
        self.talk.say(rejection.key, **limits)
        if self.progress.failures >= self.way_out_after:
            self.talk.say("errors.third_failure", optional=not question.required)

    def shown(self, question: Question, value: Any) -> Any:
        """A limit as the customer reads it: money in the locale's way, other numbers plainly."""
        if isinstance(value, float | int) and question.unit == "money":
            return self.talk.library.money(self.talk.locale, value)
        return int(value) if isinstance(value, float) and value == int(value) else value

    def next(self) -> bool:
        """The next question that applies; when editing, the next one not answered yet (an edit
        can bring in a new question, e.g. children's ages). True when there is none."""
        questions = self.questions
        if self.progress.editing:
            following = [q for q in questions if q.id not in self.answers]
        else:
            following = questions[questions.index(self.current) + 1:]
        if not following:
            return True
        self.go_to(following[0])
        self.prompt()
        return False

    def ask_missing(self) -> None:
        """The questions ran out but a required answer is missing: go back to it."""
        self.go_to(next(q for q in self.questions if q.required and self.answers.get(q.id) is None))
        self.talk.say("errors.required")
        self.prompt()

    def back(self) -> bool:
        """One question back; False at the first question (the stage before takes over)."""
        if self.number == 1:
            return False
        self.go_to(self.questions[self.number - 2])
        self.prompt()
        return True

    def why(self) -> None:
        self.talk.say(f"questions.{self.current.id}.why")

    def edit(self, question_id: str) -> None:
        self.go_to(self.talk.library.question(question_id))
        self.progress.editing = True

    def go_to_last(self) -> None:
        self.go_to(self.questions[-1])
