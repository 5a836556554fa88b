"""The needs questions as a flow of their own: which question is asked, moving on and back,
why it is asked, changing one answer from the summary. The sale's "needs" stage hands every
message to it and hears back only when the questions are done."""
from __future__ import annotations

from typing import Any

from bot.flows.answers import Rejection, answer_text, implausible, typed_answer
from bot.flows.conversation import Talk
from bot.flows.messages import Button, Inbound, Reply
from bot.flows.progress import Progress
from bot.flows.in_passing import InPassing
from bot.flows.slots import Facts
from bot.flows.understanding import contains
from bot.library import Question, normalise


def asked(questions: tuple[Question, ...], answers: dict[str, Any]) -> list[Question]:
    """The questions that apply, given the answers so far (children's ages only with children...)."""
    return [q for q in questions if q.asked(answers)]


def shown(talk: Talk, question: Question, value: Any, per: str | None = None) -> Any:
    """An answer as the customer reads it: yes or no in words, money in the locale's way, other
    numbers plainly; with `per`, its period too ("CNY 1 a year")."""
    if question.type == "yes_no":
        return answer_text(talk.library, talk.locale, question, value)
    if isinstance(value, float | int) and question.unit == "money":
        value = talk.library.money(talk.locale, value)
    elif isinstance(value, float) and value == int(value):
        value = int(value)
    return talk.text(f"confirm_value.{per}", label=value) if per else value


class Questionnaire(InPassing):
    """One customer's way through the questions; `answers` and `progress` are changed in place."""

    def __init__(self, talk: Talk, answers: dict[str, Any], progress: Progress) -> None:
        self.talk, self.answers, self.progress = talk, answers, progress
        self.noted: list[str] = []  # facts of the last message kept for later questions, as said back
        self._read: dict[tuple[str, str | None, str], Facts] = {}  # a turn reads its message once
        self.all = talk.library.questions
        self.way_out_after: int = talk.library.parameters.questionnaire.failures_before_way_out

    # -- where we are ----------------------------------------------------------------------------
    @property
    def questions(self) -> list[Question]:
        return asked(self.all, self.answers)

    @property
    def current(self) -> Question:
        questions = self.questions
        question = next((q for q in questions if q.id == self.progress.question), questions[0])
        return question.offered(self.answers)

    @property
    def number(self) -> int:
        return [q.id for q in self.questions].index(self.current.id) + 1

    @property
    def complete(self) -> bool:
        return all(self.answers.get(q.id) is not None for q in self.questions if q.required)

    def go_to(self, question: Question) -> None:
        self.progress.question, self.progress.failures, self.progress.pending = question.id, 0, None

    # -- what is on offer ------------------------------------------------------------------------
    def options(self, question: Question | None = None) -> list[str]:
        if self.progress.pending is not None:  # "did you mean…?"
            return ["yes", "no"]
        question = question or self.current
        values = list(question.choices) + (["yes", "no"] if question.type == "yes_no" else [])
        values += [] if question.required else ["skip"]
        return values + (["agent"] if self.progress.failures >= self.way_out_after else [])

    def label(self, value: str, question: Question | None = None) -> str:
        question = question or self.current
        if value in question.choices:
            return self.talk.text(f"choices.{question.id}.{value}")
        return self.talk.text(f"buttons.{value}")

    def prompt(self) -> None:
        question = self.current  # worked out once: it depends on every answer so far
        buttons = tuple(Button(self.label(value, question), value) for value in self.options(question))
        if self.progress.pending is not None:  # anything typed is read as a new answer
            meant = shown(self.talk, question, self.progress.pending, per=question.per)
            self.talk.send(Reply(self.talk.text("confirm_value.ask", label=meant), buttons, True))
            return
        questions = self.questions
        number = [q.id for q in questions].index(question.id) + 1
        progress = self.talk.text("progress", n=number, total=len(questions))
        prompt = self.talk.text(f"questions.{question.id}.prompt")
        typed = question.type in ("number", "numbers", "text")
        self.talk.send(Reply(f"{progress}\n{prompt}", buttons, free_input=typed))

    # -- moves -----------------------------------------------------------------------------------
    def start(self, text: str = "") -> None:
        """The first question; facts of the message that gave consent ("ok, I'm 52") are kept first."""
        self.talk.say("needs/intro", total=len(self.questions))
        self.fill(self.facts(text, None), None, None)
        self.go_to(next((q for q in self.questions if q.id not in self.answers), self.questions[0]))

    def answer(self, inbound: Inbound, intent: str | None) -> bool:
        """Take an answer (or a skip) and ask the next question; True when none is left. An unlikely
        number (outside the question's plausible range) is kept pending until it is confirmed."""
        question = self.current
        if self.progress.pending is not None and (settled := self.settle(inbound.text)) is not None:
            return settled
        if intent == "skip" and question.required:
            self.talk.say("errors.required")
        elif intent == "skip":
            self.answers[question.id] = question.default
            self.talk.say("skipped")
            return self.next()
        else:
            facts = self.facts(inbound.text, question)
            pressed = inbound.kind == "choice" and inbound.text in question.choices
            value = inbound.text if pressed else typed_answer(self.talk, question, inbound.text)
            whole = not isinstance(value, Rejection)  # the message is a plain answer: nothing to correct
            read = facts.values.get(question.id)
            likelier = whole and implausible(question, value) and not implausible(question, read)
            if read is not None and (not whole or likelier):
                value = read  # "年薪大概四十个" is 40万, not 40
            changed = self.fill(facts, question, inbound.text if not whole else None)
            if question.id in facts.unsure and (isinstance(value, Rejection) or question.type == "yes_no"):
                self.progress.pending = facts.unsure[question.id]  # "about 20-30万": the middle, to confirm
            elif isinstance(value, Rejection):
                self.progress.pending = changed
                if not changed and not self.noted:
                    self.refuse(question, value)
            elif implausible(question, value) or (question.type == "number" and self.unsure(inbound.text)):
                self.progress.pending = value  # "50万吧，记不太清了": said back to be confirmed
            else:
                return self.take(question, value, changed)
        self.prompt()
        return False

    def take(self, question: Question, value: Any, changed: Any = None) -> bool:
        self.keep({question.id: value})
        if changed is not None:  # a fact of the same message differs from an earlier answer: confirm it
            self.progress.pending = changed
            self.prompt()
            return False
        return self.next()

    def unsure(self, text: str) -> bool:
        """The message doubts its own number ("not sure, 200k maybe?")."""
        return bool(contains(self.talk.library.understanding["answers"]["unsure_numbers"], normalise(text)))

    def refuse(self, question: Question, rejection: Rejection) -> None:
        self.progress.failures += 1
        limits = {name: shown(self.talk, question, value) for name, value in rejection.context.items()}
        self.talk.say(rejection.key, **limits)
        if self.progress.failures >= self.way_out_after:
            self.talk.say("errors.third_failure", optional=not question.required)

    def next(self) -> bool:
        """The next question that applies; when editing, the next one not answered yet (an edit
        can bring in a new question, e.g. children's ages). True when there is none."""
        questions = self.questions
        if self.progress.editing:
            following = [q for q in questions if q.id not in self.answers]
        else:  # a question already answered in passing ("I'm 41, married") is not asked again
            following = [q for q in questions[self.number:] if q.id not in self.answers]
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
