"""How one message of the agent reads in context.

The classifier (acts.py) names what each sentence does. In context: the message's act is the
weightiest of its sentences (a close outweighs a greeting), and while the prospect is raising an
objection each sentence is also a step of the method (acknowledge, clarify, answer, check, close
again), judged against that objection's rules in the `handling:` section of personas.yaml. So
"Would it help if I explained the plan to both of you together this weekend?" answers "I must ask
my family", and "I can't promise a return; only the guaranteed part is certain" answers "Can you
guarantee 5 %?" while "Yes, 5 % guaranteed" breaks the rules of the sale.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.flows.acts import ActClassifier
from bot.library import keyword_in, normalise

STEPS = ("acknowledge", "clarify", "answer", "check", "close")
QUESTIONS = ("open_question", "need_question", "closed_question")
CLOSES = ("trial_close", "assumptive_close", "direct_close")  # a bare demand is no close
# A message of several sentences is named by the act that matters most.
WEIGHT = ("bare_demand", "direct_close", "assumptive_close", "trial_close", "propose_meeting",
          "answer_objection", "benefit", "summarise", "need_question", "open_question", "closed_question",
          "check_understanding", "product_talk", "acknowledge", "rapport", "opening")
# Acts whose sentence answers an objection when it has the objection's words (not a question:
# asking about the price clarifies the objection, it does not answer it).
ANSWERING = ("answer_objection", "benefit", "product_talk", "propose_meeting", "summarise", *CLOSES)
ASKING = ("propose_meeting", *CLOSES)  # after an answer, a question of these closes again


@dataclass(frozen=True)
class Reading:
    act: str  # the message's act, in context
    acts: tuple[str, ...]  # each sentence's act, in order
    steps: tuple[str, ...] = ()  # handling steps taken, in order (while an objection is raised)
    breach: bool = False  # promised what the rules forbid (a return)

    @property
    def demand(self) -> bool:
        return "bare_demand" in self.acts


def sentences(text: str) -> list[str]:
    parts = [p for p in re.split(r"(?<=[!?。！？；;])\s*|(?<=\.)\s+", text.strip()) if normalise(p)]
    return parts or [text]


@dataclass(frozen=True)
class Rules:
    """How one objection is answered in one locale."""

    acts: tuple[str, ...]
    words: tuple[str, ...]
    must: tuple[str, ...]
    never: tuple[str, ...]

    @classmethod
    def of(cls, handling: dict[str, Any], locale: str) -> Rules:
        def words(part: str) -> tuple[str, ...]:
            return tuple(map(str, handling.get(part, {}).get(locale, ())))
        return cls(tuple(handling.get("acts", ["answer_objection"])), words("words"), words("must"),
                   words("never"))

    def has(self, words: tuple[str, ...], text: str) -> bool:
        return any(keyword_in(word, text) for word in words)

    def step(self, act: str, sentence: str, message: str) -> str | None:
        """The handling step one sentence takes (`sentence` and `message` normalised)."""
        if act == "check_understanding":
            return "check"
        if self.must:  # only a refusal to promise answers
            answers = self.has(self.must, sentence) or (act in self.acts and self.has(self.must, message))
        else:
            answers = act in self.acts or (act in ANSWERING and self.has(self.words, sentence))
        if answers:
            return "answer"
        if act in QUESTIONS:
            return "clarify"
        # a meeting that answers nothing still asks for a next step
        steps = {"acknowledge": "acknowledge", "summarise": "clarify", "propose_meeting": "close"}
        return steps.get(act, "close" if act in CLOSES else None)

    def breaks(self, message: str) -> bool:
        return self.has(self.never, message) and not self.has(self.must, message)


def read(text: str, classifier: ActClassifier, locale: str,
         handling: dict[str, Any] | None = None) -> Reading:
    """The message's reading; `handling`: the rules of the objection being raised, if one is."""
    parts = sentences(text)
    acts = tuple(classifier.classify(part) for part in parts)
    act = min(acts, key=WEIGHT.index)
    if handling is None:
        return Reading(act, acts)
    rules, message = Rules.of(handling, locale), normalise(text)
    steps: list[str] = []
    for part, part_act in zip(parts, acts, strict=True):
        step = rules.step(part_act, normalise(part), message)
        asks = part_act in ASKING and part.rstrip().endswith(("?", "？"))
        if step == "answer" and "answer" in steps and asks:
            step = "close"  # "shall we start with the essential plan?" after the answer closes again
        if step and step not in steps:
            steps.append(step)
    act = "answer_objection" if "answer" in steps else act
    return Reading(act, acts, tuple(steps), rules.breaks(message))
