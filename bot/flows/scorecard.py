"""The rehearsal's scorecard: per stage the points, what the agent did, and what they missed with
a model line to try. A pure function of the rehearsal's data, the persona and the library; every
figure is in the `scoring:` section of scripts_library/rehearsal/personas.yaml.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.flows.calculator import analyse
from bot.flows.conversation import Talk
from bot.flows.presenting import plan_context
from bot.library import Library

if TYPE_CHECKING:
    from bot.flows.rehearsal import RehearsalData

OUTCOMES = ("sold", "walked_out")  # how a rehearsal can end besides being stopped


@dataclass(frozen=True)
class Scoring:
    """The figures of the `scoring:` section; a key missing or misspelt there fails loudly here."""

    weights: dict[str, int]
    opening: int
    revealed: int
    open_questions: int
    open_questions_cap: int
    open_questions_enough: int
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
    """The stages being scored, in the order of the weights; each award adds points and a line."""

    talk: Talk
    weights: dict[str, int]
    stages: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.stages = {name: {"points": 0, "done": [], "missed": []} for name in self.weights}

    def text(self, key: str, **context: Any) -> str:
        return self.talk.text(f"rehearsal.{key}", **context)

    def model(self, key: str) -> str:
        return self.text(f"model.{key}")

    def award(self, stage: str, points: float, done: str | None = None,
              missed: tuple[str, str] | None = None) -> None:
        self.stages[stage]["points"] += points
        if done:
            self.stages[stage]["done"].append(done)
        if missed:
            self.stages[stage]["missed"].append({"what": missed[0], "model": missed[1]})

    def either(self, stage: str, points: int, did: bool, done: str | None, missed: str, model: str,
               **context: Any) -> None:
        """All the points when the agent did it, else none and the miss with its model line."""
        if did:
            self.award(stage, points, self.text(f"done.{done}") if done else None)
        else:
            self.award(stage, 0, missed=(self.text(f"missed.{missed}", **context), self.model(model)))

    def result(self, outcome: str) -> dict[str, Any]:
        for name, stage in self.stages.items():
            stage["points"] = round(stage["points"])  # rounded per stage, so the total adds up on screen
            stage["max"] = self.weights[name]
            stage["title"] = self.text(f"stages.{name}")
        return {"stages": list(self.stages.values()), "total": sum(s["points"] for s in self.stages.values()),
                "outcome": self.text(f"outcome.{outcome}")}


def scorecard(data: RehearsalData, persona: dict[str, Any], library: Library, locale: str,
              state: str) -> dict[str, Any]:
    """Per stage: points, what was done, what was missed with a model line from the library.
    `state` is where the rehearsal ended (sold, walked_out, or else it was stopped)."""
    scoring = Scoring.of(library)
    card = Card(Talk(library, locale), scoring.weights)
    card.either("opening", scoring.opening, data.acts[:1] == ["opening"], "opening", "opening", "opening")
    _needs(card, scoring, data, persona)
    card.either("presentation", scoring.benefit, data.benefit, "benefit", "benefit", "benefit")
    card.either("presentation", scoring.not_pushy, not data.pushy, None, "pushy", "pushy", n=data.pushy)
    _objections(card, scoring, data, persona)
    _closing(card, scoring, data)
    return card.result(state if state in OUTCOMES else "stopped")


def _needs(card: Card, scoring: Scoring, data: RehearsalData, persona: dict[str, Any]) -> None:
    needs, revealed = persona["hidden_needs"], data.revealed
    card.award("needs", scoring.revealed * len(revealed) / len(needs),
               card.text("done.revealed", n=len(revealed), total=len(needs)) if revealed else None)
    for need in needs:
        if need["id"] not in revealed:
            card.award("needs", 0, missed=(need["miss"][card.talk.locale], card.model("needs_question")))
    opens, cap = data.acts.count("open_question"), scoring.open_questions_cap
    few = None if opens >= scoring.open_questions_enough else \
        (card.text("missed.open_questions", n=opens), card.model("open_question"))
    card.award("needs", scoring.open_questions * min(opens, cap) / cap, missed=few)
    card.either("needs", scoring.summarised, data.summarised, "summarised", "summary", "summarise")


def _objections(card: Card, scoring: Scoring, data: RehearsalData, persona: dict[str, Any]) -> None:
    raised = data.answered + [o for o in data.ignored if o not in data.answered]
    if raised:
        card.award("objections", scoring.answered * len(data.answered) / len(raised),
                   card.text("done.answered", n=len(data.answered), total=len(raised)))
    # the model line for an ignored objection is the first line of its talk track, with the
    # figures of the plan the persona's answers lead to
    plan = persona_plan(persona, card.talk.library, card.talk.locale) if data.ignored else {}
    for objection in data.ignored:
        track = card.talk.text(f"objection/{objection}", **plan).split("\n")[0]
        what = card.text("missed.ignored", objection=card.talk.text(f"buttons.{objection}"))
        card.award("objections", 0, missed=(what, track))


def _closing(card: Card, scoring: Scoring, data: RehearsalData) -> None:
    card.award("closing", scoring.signals * data.signals_taken / max(data.signals_given, 1))
    for after in data.missed_signals:
        what = card.text("missed.signal", objection=card.talk.text(f"buttons.{after}"))
        card.award("closing", 0, missed=(what, card.model("trial_close")))
    card.either("closing", scoring.asked, data.asked, "asked", "ask", "ask_signature")


def persona_plan(persona: dict[str, Any], library: Library, locale: str) -> dict[str, Any]:
    """The plan the persona's own answers lead to, so talk tracks render with their figures."""
    return plan_context(library, locale, analyse(persona["answers"], library.parameters), "standard",
                        persona["answers"])
