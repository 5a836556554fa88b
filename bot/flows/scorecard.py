"""The rehearsal's scorecard: per stage the points, what the agent did, and every point lost with
its reason and a model line to try, in the persona's own figures. A pure function of the
rehearsal's data, the persona and the library; every figure is in the `scoring:` section of
scripts_library/rehearsal/personas.yaml, every model line in the `rehearsal.model` texts.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from bot.flows.conversation import Talk
from bot.flows.personas import Persona, figures
from bot.flows.reading import QUESTIONS
from bot.library import Library, keyword_in, normalise, word_pattern

if TYPE_CHECKING:
    from bot.flows.rehearsal import RehearsalData

OUTCOMES = ("sold", "walked_out")  # how a rehearsal can end besides being stopped


@dataclass(frozen=True)
class Scoring:
    """The figures of the `scoring:` section; a key missing or misspelt there fails loudly here."""

    weights: dict[str, int]
    opening: int
    rapport: int
    revealed: int
    open_questions: int
    open_questions_cap: int
    summarised: int
    benefit: int
    not_pushy: int
    answered: int
    signals: int
    asked: int
    warmth_cap: int

    @classmethod
    def of(cls, library: Library) -> Scoring:
        return cls(**library.rehearsal["personas"]["scoring"])


@dataclass
class Card:
    """The stages being scored, in the order of the weights. Each award earns a share of its
    points; whatever it does not earn is lost, and a loss without its reason is refused."""

    talk: Talk
    weights: dict[str, int]
    figures: dict[str, Any]  # the persona's figures, for the model lines
    stages: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.stages = {name: {"points": 0.0, "done": [], "missed": []} for name in self.weights}

    def text(self, key: str, **context: Any) -> str:
        return self.talk.text(f"rehearsal.{key}", **context)

    def model(self, key: str) -> str:
        return self.text(f"model.{key}", **self.figures)

    def award(self, stage: str, worth: float, share: float, done: str | None = None,
              missed: tuple[str, str] | None = None) -> None:
        """`share` (0 to 1) of `worth` points; the rest is lost, for the reason `missed` (what, model)."""
        self.stages[stage]["points"] += worth * share
        if done:
            self.stages[stage]["done"].append(done)
        lost = round(worth * (1 - share), 9)
        if lost > 0:
            assert missed is not None, f"{stage}: {lost} points lost without a reason"
            self.note(stage, missed, lost)

    def note(self, stage: str, missed: tuple[str, str], lost: float = 0) -> None:
        """A miss with its model line; one that costs nothing is still worth saying."""
        self.stages[stage]["missed"].append({"what": missed[0], "model": missed[1], "exact": lost})

    def result(self, outcome: str) -> dict[str, Any]:
        """Points rounded per stage (so the total adds up on screen) and each loss in whole points,
        shared out so that a stage's losses add up to what it lacks of its maximum."""
        for name, stage in self.stages.items():
            stage["max"] = self.weights[name]
            stage["points"] = round(stage["points"])
            losses = _share_out(stage["max"] - stage["points"], [m.pop("exact") for m in stage["missed"]])
            for miss, lost in zip(stage["missed"], losses, strict=True):
                miss["lost"] = lost
            stage["title"] = self.text(f"stages.{name}")
        return {"stages": list(self.stages.values()), "total": sum(s["points"] for s in self.stages.values()),
                "outcome": self.text(f"outcome.{outcome}")}


def _share_out(total: int, exact: list[float]) -> list[int]:
    """Whole numbers adding up to `total`, each near its exact share (largest remainder first)."""
    whole = [math.floor(x + 1e-9) for x in exact]
    left = total - sum(whole)
    for i in sorted(range(len(exact)), key=lambda i: whole[i] - exact[i])[:max(left, 0)]:
        whole[i] += 1
    return whole


def scorecard(data: RehearsalData, persona: Persona, library: Library, locale: str,
              state: str) -> dict[str, Any]:
    """Per stage: points, what was done, what was missed with a model line from the library.
    `state` is where the rehearsal ended (sold, walked_out, or else it was stopped)."""
    scoring = Scoring.of(library)
    card = Card(Talk(library, locale), scoring.weights, figures(persona, library, locale))
    _opening(card, scoring, data, persona)
    _needs(card, scoring, data, persona)
    card.award("presentation", scoring.benefit, data.benefit,
               card.text("done.benefit") if data.benefit else None,
               (card.text("missed.benefit"), card.model("benefit")))
    asked_first = not data.pushy and any(act in QUESTIONS for act in data.acts)
    card.award("presentation", scoring.not_pushy, asked_first, None,
               (card.text("missed.pushy", n=data.pushy), card.model("pushy")) if data.pushy else
               (card.text("missed.no_questions"), card.model("open_question")))
    _objections(card, scoring, data, persona)
    _signals(card, scoring, data)
    _close(card, scoring, data)
    result = card.result(state if state in OUTCOMES else "stopped")
    if data.blocked:  # a compliance breach fails the session whatever the points ("the code decides")
        result["blocked"] = [{"what": card.text(f"compliance.{rule}.what"), "said": said,
                              "model": card.text(f"compliance.{rule}.model")} for rule, said in data.blocked]
        result["earned"], result["total"] = result["total"], 0
    return result


def breach(library: Library, text: str) -> str | None:
    """The compliance rule a sentence of the agent's breaks (scripts_library/rehearsal/compliance.yaml);
    said with a negation just before it ("I can't promise a guaranteed return") it is kept, not broken."""
    lowered = normalise(text)
    blockers: dict[str, list[str]] = library.rehearsal["compliance"]["blockers"]
    negations = tuple(library.understanding["negations"]["latin"])
    broken = (rule for rule, words in blockers.items()
              if any(_said_as_is(w, lowered, negations) for w in words))
    return next(broken, None)


@lru_cache(maxsize=4)
def _denied(negations: tuple[str, ...]) -> re.Pattern[str]:
    """A negation of the library (understanding.yaml) within the two words before a phrase:
    "can't promise a guaranteed return"."""
    words = "|".join(re.escape(w) for w in negations if w[0].isalnum())
    return re.compile(rf"(?<![\w'])(?:{words})(?![\w'])(?:\W+[\w']+){{0,2}}\W*$")


def _said_as_is(phrase: str, text: str, negations: tuple[str, ...]) -> bool:
    """The phrase is in the text (Chinese negation as keyword_in reads it), and in Latin script not
    right after a negation."""
    if not keyword_in(phrase, text):
        return False
    _, whole_word = word_pattern(phrase)
    if whole_word is None:
        return True
    denied = _denied(negations)
    return any(not denied.search(text[:found.start()]) for found in whole_word.finditer(text))


def _opening(card: Card, scoring: Scoring, data: RehearsalData, persona: Persona) -> None:
    opened = data.greeted or data.acts[:1] in (["opening"], ["rapport"])
    card.award("opening", scoring.opening, opened, card.text("done.opening") if opened else None,
               (card.text("missed.opening" if data.acts else "missed.silent"), card.model("opening")))
    card.award("opening", scoring.rapport, data.rapport, card.text("done.rapport") if data.rapport else None,
               (card.text("missed.rapport"), persona["rapport_model"][card.talk.locale]))


def _needs(card: Card, scoring: Scoring, data: RehearsalData, persona: Persona) -> None:
    needs, revealed, locale = persona["hidden_needs"], data.revealed, card.talk.locale
    if revealed:
        card.award("needs", 0, 1, card.text("done.revealed", n=len(revealed), total=len(needs)))
    for need in needs:  # each need its own share, its own reason and its own model line
        found = need["id"] in revealed
        card.award("needs", scoring.revealed / len(needs), found, None,
                   None if found else (need["miss"][locale], card.model(f"need.{need['kind']}")))
    opens = sum(act in ("open_question", "need_question") for act in data.acts)
    cap = scoring.open_questions_cap
    card.award("needs", scoring.open_questions, min(opens, cap) / cap,
               card.text("done.open_questions", n=opens) if opens >= cap else None,
               (card.text("missed.open_questions", n=opens, total=cap), card.model("open_question")))
    card.award("needs", scoring.summarised, data.summarised,
               card.text("done.summarised") if data.summarised else None,
               (card.text("missed.summary"), card.model("summarise")))


def _objections(card: Card, scoring: Scoring, data: RehearsalData, persona: Persona) -> None:
    """Each of the persona's objections its share: earned when answered without a broken rule."""
    ids = [o["id"] for o in persona["objections"]]
    answered = [o for o in ids if o in data.answered and o not in data.breaches]
    if answered:
        card.award("objections", 0, 1, card.text("done.answered", n=len(answered), total=len(ids)))
    for objection in ids:
        if objection in answered:
            card.award("objections", scoring.answered / len(ids), 1)
            continue
        why = "breach" if objection in data.breaches else "ignored" if objection in data.ignored else \
            "unanswered" if objection == data.objection else "not_raised"
        what = card.text(f"missed.{why}", objection=card.text(f"objections.{objection}"))
        model = card.talk.text(f"rehearsal.handling.{objection}.answer", **card.figures)
        card.award("objections", scoring.answered / len(ids), 0, None, (what, model))


def _signals(card: Card, scoring: Scoring, data: RehearsalData) -> None:
    """Each closing signal its share: taken up with a close, or missed (also by the end coming first)."""
    missed = data.missed_signals + ([data.signal_open] if data.signal_open else [])
    given = data.signals_taken + len(missed)
    if not given:
        card.award("closing", scoring.signals, 0, None,
                   (card.text("missed.no_signal"), card.model("answer_first")))
        return
    if data.signals_taken:
        card.award("closing", scoring.signals * data.signals_taken / given, 1,
                   card.text("done.signals", n=data.signals_taken, total=given))
    for after in missed:
        what = card.text("missed.signal", objection=card.text(f"objections.{after}"))
        card.award("closing", scoring.signals / given, 0, None, (what, card.model("trial_close")))


def _close(card: Card, scoring: Scoring, data: RehearsalData) -> None:
    """The ask earns its points only as a real close after the needs and the objections; a bare
    demand is named as one, also when a real close came too (then it costs nothing more)."""
    demand = (card.text("missed.demand", line=data.demanded), card.model("direct_close")) \
        if data.demanded else None
    if data.asked:
        card.award("closing", scoring.asked, 1, card.text(f"done.{data.closed_with or 'direct_close'}"))
        if demand:
            card.note("closing", demand)
    elif demand:
        card.award("closing", scoring.asked, 0, None, demand)
    elif data.early:
        card.award("closing", scoring.asked, 0, None, (card.text("missed.early"), card.model("direct_close")))
    else:
        card.award("closing", scoring.asked, 0, None, (card.text("missed.ask"), card.model("direct_close")))
