"""Objection drills: a short mode in which the prospect raises objections one after another and
each answer is scored against the handling steps of the method — acknowledge, clarify, answer,
check, close again — with what was missed and a model answer, in the persona's figures, after
each. `/rehearse drill [persona]`, or "drill" in the menu after a rehearsal."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from transitions import EventData, Machine

from bot.flows.acts import ActClassifier
from bot.flows.conversation import OnMachine, StoredAsJson, Talk
from bot.flows.ending import over, what_next
from bot.flows.messages import Inbound, Reply, Step
from bot.flows.personas import Persona, figures, handling, line, persona_of
from bot.flows.reading import STEPS, Reading, read
from bot.library import normalise

DRILLING = ("drilling", "drilled")
DRILL_MACHINE = Machine(model=None, states=["drilling", {"name": "drilled", "on_enter": "on_enter_drilled"}],
                        transitions=[{"trigger": "finish", "source": "drilling", "dest": "drilled"},
                                     {"trigger": "stop", "source": "drilling", "dest": "drilled"}],
                        initial="drilling", auto_transitions=False, send_event=True,
                        before_state_change="record_step")


@dataclass
class DrillData(StoredAsJson):
    """What a drill remembers between messages. Its score is kept as `drill_score`, apart from
    the role-plays' `score` that the progress chart draws."""

    persona: str = ""
    queue: list[str] = field(default_factory=list)  # objections still to raise, the current one first
    steps: list[str] = field(default_factory=list)  # handling steps taken on the current objection
    messages: int = 0  # the agent's messages on the current objection
    breach: bool = False  # a return was promised on the current objection
    results: list[dict[str, Any]] = field(default_factory=list)  # objection, credited steps, breach
    drill_score: int | None = None  # once finished

    @property
    def score(self) -> int | None:
        return self.drill_score


def credited(steps: list[str], breach: bool) -> list[str]:
    """The steps that count: checking and closing again only after an answer, and no answer that
    promised a return."""
    answer = steps.index("answer") if "answer" in steps and not breach else None
    return [s for s in STEPS if s in steps and (s in ("acknowledge", "clarify") or
            (answer is not None and (s == "answer" or steps.index(s) > answer)))]


class Drill(OnMachine):
    machine: ClassVar[Machine] = DRILL_MACHINE
    state: str

    def __init__(self, talk: Talk, state: str = "drilling", data: DrillData | None = None) -> None:
        self.talk, self.state = talk, state
        self.data = data if data is not None else DrillData()

    @classmethod
    def begin(cls, talk: Talk, persona_id: str) -> Drill:
        """A drill with this prospect: their own objections first, then the others of the library."""
        settings = talk.library.rehearsal["personas"]["drill"]
        own = [o["id"] for o in persona_of(talk.library, persona_id)["objections"]]
        queue = (own + [o for o in handling(talk.library) if o not in own])[:settings["rounds"]]
        drill = cls(talk, "drilling", DrillData(persona_id, queue))
        talk.trail.append(Step("drill", "persona", "drilling"))
        persona = drill.persona()
        talk.say("rehearsal.drill.begin", name=persona["name"][talk.locale],
                 about=persona["about"][talk.locale], n=len(queue))
        drill.raise_next()
        return drill

    def persona(self) -> Persona:
        return persona_of(self.talk.library, self.data.persona)

    def say_as_prospect(self, key: str) -> None:
        name = self.persona()["name"][self.talk.locale]
        self.talk.say("rehearsal.says", name=name, line=line(self.talk, self.persona(), key))

    def raise_next(self) -> None:
        objection = self.data.queue[0]
        self.talk.mark("objection", objection)
        self.say_as_prospect(f"objection_{objection}")

    def react(self, inbound: Inbound, classifier: ActClassifier) -> None:
        if self.state == "drilled":
            over(self.talk, self.data.drill_score)
        elif inbound.kind == "command" and inbound.text in ("stop", "cancel"):
            self.trigger("stop")
        elif inbound.kind != "text" or not normalise(inbound.text):
            self.talk.say("rehearsal.type_text")
        else:
            self.answer(inbound.text, classifier)

    def answer(self, text: str, classifier: ActClassifier) -> None:
        """One message on the current objection: its steps count; closing again (or promising a
        return, or the last message allowed) ends the objection with its feedback."""
        d, objection = self.data, self.data.queue[0]
        reading = read(text, classifier, self.talk.locale, handling(self.talk.library)[objection])
        self.talk.mark("act", reading.act)
        d.steps += [s for s in reading.steps if s not in d.steps]
        d.breach, d.messages = d.breach or reading.breach, d.messages + 1
        limit = self.talk.library.rehearsal["personas"]["drill"]["messages"]
        if "close" in reading.steps or reading.breach or d.messages >= limit:
            self.score_round()
        else:
            self.respond(reading, objection)

    def respond(self, reading: Reading, objection: str) -> None:
        """The prospect keeps talking, so that the agent can take the next step."""
        steps = reading.steps
        key = "drill_softer" if "answer" in steps else f"clarify_{objection}" if "clarify" in steps else \
            "acknowledged" if steps else "demand" if reading.demand else "ignored"
        self.say_as_prospect(key)

    def score_round(self) -> None:
        d = self.data
        result = {"objection": d.queue.pop(0), "steps": credited(d.steps, d.breach), "breach": d.breach}
        d.results.append(result)
        d.steps, d.messages, d.breach = [], 0, False
        self.talk.send(Reply(self.feedback(result)))
        if d.queue:
            self.raise_next()
        else:
            self.trigger("finish")

    def model(self, objection: str, step: str) -> str:
        return self.talk.text(f"rehearsal.handling.{objection}.{step}",
                              **figures(self.persona(), self.talk.library, self.talk.locale))

    def feedback(self, result: dict[str, Any]) -> str:
        """What one objection earned, step by step, with a model line per missed step and the whole
        model answer."""
        text, objection = self.talk.text, result["objection"]
        lines = [text("rehearsal.drill.result", objection_label=text(f"rehearsal.objections.{objection}"),
                      n=len(result["steps"]), total=len(STEPS))]
        for step in STEPS:
            if step in result["steps"]:
                lines.append(f"  ✓ {text(f'rehearsal.drill.done.{step}')}")
            else:
                lines.append(f"  ✗ {text(f'rehearsal.drill.missed.{step}')}")
                lines.append(f"    {text('rehearsal.drill.try', line=self.model(objection, step))}")
        if result["breach"]:
            lines.append(f"  ✗ {text('rehearsal.drill.breach')}")
        whole = " ".join(self.model(objection, step) for step in STEPS)
        lines.append(text("rehearsal.drill.model", line=whole))
        return "\n".join(lines)

    def on_enter_drilled(self, event: EventData) -> None:
        card = drill_card(self, event.event.name == "stop")
        self.data.drill_score = card["total"]
        self.talk.mark("drill_score", str(card["total"]))
        self.talk.say("rehearsal/drill_card", **card)
        what_next(self.talk)


def drill_card(drill: Drill, stopped: bool) -> dict[str, Any]:
    """Per objection: points per step taken, every step missed with its model line; objections
    not reached (the drill was stopped) lose theirs with the model answer."""
    d, text = drill.data, drill.talk.text
    points = drill.talk.library.rehearsal["personas"]["drill"]["step_points"]
    stages = []
    for result in d.results:
        objection, steps = result["objection"], result["steps"]
        missed = [{"what": text(f"rehearsal.drill.missed.{s}"), "model": drill.model(objection, s),
                   "lost": points} for s in STEPS if s not in steps]
        if result["breach"]:
            missed.append({"what": text("rehearsal.drill.breach"), "model": drill.model(objection, "answer"),
                           "lost": 0})
        stages.append({"title": text(f"rehearsal.objections.{objection}"), "points": points * len(steps),
                       "max": points * len(STEPS), "missed": missed,
                       "done": [text(f"rehearsal.drill.done.{s}") for s in steps]})
    for objection in d.queue:
        model = " ".join(drill.model(objection, s) for s in STEPS)
        stages.append({"title": text(f"rehearsal.objections.{objection}"), "points": 0,
                       "max": points * len(STEPS), "done": [],
                       "missed": [{"what": text("rehearsal.drill.not_reached"), "model": model,
                                   "lost": points * len(STEPS)}]})
    earned, most = sum(s["points"] for s in stages), max(sum(s["max"] for s in stages), 1)
    return {"stages": stages, "total": round(100 * earned / most),
            "outcome": text("rehearsal.outcome.drill_stopped" if stopped else "rehearsal.outcome.drilled")}
