"""Agent rehearsal: the bot plays a prospect from the persona library, the agent sells, the bot
scores. The prospect's side of the sale is one table of stages and moves, like the customer flow;
what the agent did in each message comes from the act classifier read in context (reading.py),
how the prospect answers from prospect.py, the scorecard at the end from scorecard.py, and the
objection drill from drill.py. Every ending leaves the menu of ending.py.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from transitions import EventData, Machine

from bot.flows.acts import ActClassifier
from bot.flows.conversation import OnMachine, StoredAsJson, Talk
from bot.flows.drill import DRILLING, Drill, DrillData
from bot.flows.ending import ENDED, NEXT, over, what_next
from bot.flows.messages import Button, Inbound, Trail
from bot.flows.personas import Persona, line, persona_of, personas
from bot.flows.prospect import PLAYING, Prospect
from bot.flows.reading import read
from bot.flows.scorecard import scorecard
from bot.library import Library, normalise

# The model is never added to the machine, so transitions does not find on_enter_<stage> methods
# by their names: the stages that speak on entry name their callback here.
STATES: list[str | dict[str, str]] = [
    "persona",
    {"name": "difficulty", "on_enter": "on_enter_difficulty"},
    {"name": "opening", "on_enter": "on_enter_opening"},
    "needs",
    "presenting",
    {"name": "objection", "on_enter": "on_enter_objection"},
    {"name": "closing", "on_enter": "on_enter_closing"},
    {"name": "sold", "on_enter": "on_enter_sold"},
    {"name": "walked_out", "on_enter": "on_enter_walked_out"},
    {"name": "stopped", "on_enter": "on_enter_stopped"},
]
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "choose_persona", "source": "persona", "dest": "difficulty"},
    {"trigger": "choose_difficulty", "source": "difficulty", "dest": "opening"},
    {"trigger": "replay", "source": "persona", "dest": "opening"},  # "again": same prospect and difficulty
    {"trigger": "explore", "source": "opening", "dest": "needs"},
    {"trigger": "present", "source": ["opening", "needs"], "dest": "presenting"},
    {"trigger": "object", "source": ["presenting", "closing", "objection"], "dest": "objection"},
    {"trigger": "resolve", "source": "objection", "dest": "closing"},
    {"trigger": "buy", "source": "closing", "dest": "sold", "conditions": "convinced"},
    {"trigger": "walk_out", "source": PLAYING, "dest": "walked_out"},
    {"trigger": "stop", "source": PLAYING + ["persona", "difficulty"], "dest": "stopped"},
]
MACHINE = Machine(model=None, states=STATES, transitions=TRANSITIONS, initial="persona",
                  auto_transitions=False, send_event=True, before_state_change="record_step")
STATE_NAMES = tuple(s if isinstance(s, str) else s["name"] for s in STATES) + DRILLING
STOPS = ("stop", "cancel")  # commands that end a rehearsal
LEGACY_ACTS = {"ask_signature": "direct_close"}  # acts stored under an older name


@dataclass
class RehearsalData(StoredAsJson):
    """What a rehearsal remembers between messages, stored as JSON with the conversation."""

    persona: str = ""  # ids chosen at the start
    difficulty: str = ""
    drill: bool = False  # the persona is being chosen for an objection drill
    warmth: int = 0  # the prospect walks out at 0; the sale needs the difficulty's threshold
    revealed: list[str] = field(default_factory=list)  # hidden needs uncovered
    acts: list[str] = field(default_factory=list)  # what the agent did, message by message
    answered: list[str] = field(default_factory=list)  # objections answered
    ignored: list[str] = field(default_factory=list)  # objections talked past, each once
    breaches: list[str] = field(default_factory=list)  # objections "answered" by promising a return
    eased: list[str] = field(default_factory=list)  # objections acknowledged or clarified (warms once)
    missed_signals: list[str] = field(default_factory=list)  # objections whose closing signal was missed
    objections_left: list[str] = field(default_factory=list)  # still to raise, in order
    signals_given: int = 0
    signals_taken: int = 0
    pushy: int = 0  # price or closing talk before any question
    greeted: bool = False  # the first message greets or builds rapport, and does not sell
    rapport: bool = False
    summarised: bool = False
    benefit: bool = False
    asked: bool = False  # a real close after the needs were uncovered and the objections answered
    closed_with: str | None = None  # the act of that close
    early: int = 0  # closes before any need was uncovered or while an objection stood
    demanded: str | None = None  # the first bare demand ("just sign here"), as typed
    blocked: list[list[str]] = field(default_factory=list)  # [rule, sentence]: a compliance breach fails it
    objection: str | None = None  # the objection being raised
    signal_open: str | None = None  # the objection just answered: the agent's next move should close
    score: int | None = None  # once finished

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> RehearsalData:
        """As stored; "score" is there only when finished, as the progress chart expects."""
        data = super().from_json(raw)
        data.acts = [LEGACY_ACTS.get(act, act) for act in data.acts]
        return data


class Rehearsal(OnMachine):
    """The prospect of one rehearsal, for one message of the agent."""

    machine: ClassVar[Machine] = MACHINE
    state: str

    def __init__(self, talk: Talk, state: str = "persona", data: RehearsalData | None = None) -> None:
        self.talk, self.state = talk, state
        self.data = data if data is not None else RehearsalData()

    # -- the words ------------------------------------------------------------------------------
    def say(self, key: str, buttons: tuple[Button, ...] = (), **context: Any) -> None:
        self.talk.say(key, buttons, **self.context(), **context)

    def prospect(self, said: str) -> None:
        self.talk.say("rehearsal.says", name=self.persona()["name"][self.talk.locale], line=said)

    def line(self, key: str, **context: Any) -> None:
        self.prospect(line(self.talk, self.persona(), key, **context))

    def context(self) -> dict[str, Any]:
        if not self.data.persona:
            return {}
        persona, locale = self.persona(), self.talk.locale
        return {"name": persona["name"][locale], "about": persona["about"][locale]}

    def persona(self) -> Persona:
        return persona_of(self.talk.library, self.data.persona)

    def difficulty(self) -> dict[str, int]:
        difficulties: dict[str, dict[str, int]] = self.talk.library.rehearsal["personas"]["difficulties"]
        return difficulties[self.data.difficulty]

    def prompt(self) -> None:
        if self.state in ("persona", "difficulty"):
            menu = choices(self.talk.library, self.state)
            key = "rehearsal.ask_drill" if self.data.drill and self.state == "persona" else \
                f"rehearsal.ask_{self.state}"
            self.say(key, tuple(Button(self.label(v), v) for v in menu))
        elif self.state in ENDED:
            over(self.talk, self.data.score)

    def label(self, value: str) -> str:
        if value == "random":
            return self.talk.text("rehearsal.random")
        if self.state == "difficulty":
            return self.talk.text(f"rehearsal.difficulty.{value}")
        persona, locale = persona_of(self.talk.library, value), self.talk.locale
        return self.talk.text("rehearsal.persona_label", name=persona["name"][locale],
                              about=persona["about"][locale])

    # -- callbacks of the table -----------------------------------------------------------------
    def convinced(self, _event: EventData) -> bool:
        d = self.data
        return bool(d.revealed) and not d.objections_left and not d.objection and \
            d.warmth >= self.difficulty()["threshold"]

    def on_enter_difficulty(self, _event: EventData) -> None:
        self.prompt()

    def on_enter_opening(self, _event: EventData) -> None:
        persona, chosen = self.persona(), self.data
        self.data = RehearsalData(chosen.persona, chosen.difficulty, warmth=persona["warmth"],
                                  objections_left=[o["id"] for o in persona["objections"]])
        self.say("rehearsal.begin")
        self.line("greet")

    def on_enter_objection(self, _event: EventData) -> None:
        self.data.objection = self.data.objections_left.pop(0)
        self.talk.mark("objection", self.data.objection)
        self.line(f"objection_{self.data.objection}")

    def on_enter_closing(self, _event: EventData) -> None:
        signals = self.persona()["signals"][self.talk.locale]
        self.prospect(signals[min(self.data.signals_given, len(signals) - 1)])
        self.data.signals_given += 1
        self.data.signal_open, self.data.objection = self.data.objection, None  # the next move should close

    def on_enter_sold(self, _event: EventData) -> None:
        self.line("buys")
        self.finish()

    def on_enter_walked_out(self, _event: EventData) -> None:
        self.line("walks_out")
        self.finish()

    def on_enter_stopped(self, event: EventData) -> None:
        assert event.transition is not None
        if event.transition.source in PLAYING:
            self.finish()
        else:  # stopped while still choosing: nothing to score
            what_next(self.talk, "rehearsal.cancelled")

    def finish(self) -> None:
        card = scorecard(self.data, self.persona(), self.talk.library, self.talk.locale, self.state)
        self.data.score = card["total"]
        self.talk.mark("score", str(card["total"]))
        self.say("rehearsal/scorecard", **card)
        what_next(self.talk)

    # -- the agent's message --------------------------------------------------------------------
    def react(self, inbound: Inbound, classifier: ActClassifier) -> None:
        if self.state in ENDED:
            over(self.talk, self.data.score)
        elif inbound.kind == "command" and inbound.text in STOPS:
            self.trigger("stop")
        elif self.state in ("persona", "difficulty"):
            self.choose(inbound)
        elif inbound.kind != "text" or not normalise(inbound.text):
            self.say("rehearsal.type_text")
        else:
            objection = self.data.objection if self.state == "objection" else None
            rules = self.talk.library.rehearsal["personas"]["handling"].get(objection) if objection else None
            reading = read(inbound.text, classifier, self.talk.locale, rules)
            self.talk.mark("act", reading.act)
            Prospect(self).play(inbound.text, reading)

    def pick(self, inbound: Inbound) -> str | None:
        """A persona or a difficulty, pressed or typed; "random" picks one of the others."""
        menu = choices(self.talk.library, self.state)
        value = inbound.text if inbound.kind == "choice" else normalise(inbound.text)
        if value not in menu:
            return None
        return random.choice(menu[:-1]) if value == "random" else value

    def choose(self, inbound: Inbound) -> None:
        chosen = self.pick(inbound)
        if chosen is None:
            return self.prompt()
        if self.state == "persona":
            self.data.persona = chosen
        else:
            self.data.difficulty = chosen
        self.trigger(f"choose_{self.state}")
        return None


Session = Rehearsal | Drill  # what one message of the agent acts on; both end on the menu of ending.py


def choices(library: Library, state: str) -> list[str]:
    """The options of the two choosing stages, "random" last."""
    if state == "persona":
        return [p["id"] for p in personas(library)] + ["random"]
    if state == "difficulty":
        return list(library.rehearsal["personas"]["difficulties"]) + ["random"]
    return []


def rehearsal_options(library: Library) -> set[str]:
    """Every value a button of a rehearsal can carry (conversation transcripts are checked against them)."""
    return set(choices(library, "persona")) | set(choices(library, "difficulty")) | set(NEXT)


def load(state: str, raw: dict[str, Any]) -> RehearsalData | DrillData:
    """A stored rehearsal's data, as its kind (a drill or a role-play)."""
    return DrillData.from_json(raw) if state in DRILLING else RehearsalData.from_json(raw)


def begins(mode: str, state: str, inbound: Inbound) -> bool:
    """Whether the message begins a new rehearsal or drill, each its own conversation so that each
    is scored on its own: /rehearse anywhere, or a button of the menu after one ended."""
    if inbound.kind == "command":
        return inbound.text == "rehearse"
    return mode == "rehearsal" and state in ENDED and inbound.kind == "choice" and inbound.text in NEXT[:3]


def carried(state: str, raw: dict[str, Any], inbound: Inbound) -> dict[str, Any]:
    """What a new rehearsal keeps of the one that ended: the prospect (and difficulty) for
    "again" and "drill"; nothing for "another" or /rehearse."""
    if inbound.kind != "choice" or inbound.text not in ("again", "drill") or not raw.get("persona"):
        return {}
    if inbound.text == "drill" or state == "drilled":
        return {"persona": raw["persona"], "drill": True}
    return {"persona": raw["persona"], "difficulty": raw.get("difficulty", "")}


def handle_rehearsal(state: str, data: RehearsalData | DrillData, inbound: Inbound, library: Library,
                     classifier: ActClassifier, locale: str) -> tuple[Session, Trail]:
    """One message of the agent in a rehearsal: the rehearsal (or drill) after it, whose state and
    data to save, and the trail, with the prospect's answer and, at the end, the scorecard."""
    talk = Talk(library, locale)
    if isinstance(data, DrillData):
        drill = Drill(talk, state, data)
        drill.react(inbound, classifier)
        return drill, talk.trail
    rehearsal = Rehearsal(talk, state, data)
    pressed = inbound.kind == "choice" and state == "persona" and inbound.text in NEXT[:3]
    if pressed or (inbound.kind == "command" and inbound.text == "rehearse"):
        return start(rehearsal, inbound), talk.trail
    chosen = rehearsal.pick(inbound) if state == "persona" and data.drill else None
    if chosen:  # the prospect of an objection drill
        return Drill.begin(talk, chosen), talk.trail
    rehearsal.react(inbound, classifier)
    return rehearsal, talk.trail


def start(rehearsal: Rehearsal, inbound: Inbound) -> Session:
    """A new rehearsal from `/rehearse [drill [persona]]` or a button of the menu after the last
    one ("again" and "drill" find the prospect of the last one in the data, see `carried`)."""
    data, words = rehearsal.data, inbound.argument.split() if inbound.kind == "command" else []
    if data.drill or words[:1] == ["drill"] or inbound.text == "drill":
        named = [w for w in words[1:] if w in choices(rehearsal.talk.library, "persona")[:-1]]
        persona = named[0] if named else data.persona
        if persona:
            return Drill.begin(rehearsal.talk, persona)
        data.drill, data.persona = True, ""
    elif inbound.text == "again" and data.persona and data.difficulty:
        rehearsal.trigger("replay")
        return rehearsal
    else:
        data.persona = data.difficulty = ""
    rehearsal.prompt()
    return rehearsal
