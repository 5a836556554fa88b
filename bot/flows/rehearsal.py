"""Agent rehearsal: the bot plays a prospect from the persona library, the agent sells, the bot
scores. The prospect's side of the sale is one table of stages and moves, like the customer flow;
what the agent did in each message comes from the act classifier (acts.py), and the scorecard at
the end from scorecard.py.
"""
from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from transitions import EventData, Machine

from bot.flows.acts import ActClassifier
from bot.flows.conversation import OnMachine, Talk
from bot.flows.messages import Button, Inbound, Trail
from bot.flows.scorecard import Scoring, scorecard
from bot.flows.scorecard import persona_plan as persona_plan  # coaching.py reads it from here
from bot.library import Library, keyword_in, normalise

PLAYING = ["opening", "needs", "presenting", "objection", "closing"]
ENDED = ("sold", "walked_out", "stopped")
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
    {"trigger": "explore", "source": "opening", "dest": "needs"},
    {"trigger": "present", "source": ["opening", "needs"], "dest": "presenting"},
    {"trigger": "object", "source": ["presenting", "closing", "objection"], "dest": "objection"},
    {"trigger": "resolve", "source": "objection", "dest": "closing"},
    {"trigger": "buy", "source": "closing", "dest": "sold", "conditions": "convinced"},
    {"trigger": "walk_out", "source": PLAYING, "dest": "walked_out"},
    {"trigger": "stop", "source": PLAYING + ["persona", "difficulty"], "dest": "stopped"},
]
MACHINE = Machine(model=None, states=STATES, transitions=TRANSITIONS, initial="persona",
                  auto_transitions=False, send_event=True, before_state_change="record_step",
                  model_override=True)
QUESTIONS = ("open_question", "closed_question")
CLOSES = ("trial_close", "ask_signature")
PUSHY = ("product_talk", *CLOSES)  # before any needs question, these push


@dataclass
class RehearsalData:
    """What a rehearsal remembers between messages, stored as JSON with the conversation."""

    persona: str = ""  # ids chosen at the start
    difficulty: str = ""
    warmth: int = 0  # the prospect walks out at 0; the sale needs the difficulty's threshold
    revealed: list[str] = field(default_factory=list)  # hidden needs uncovered
    acts: list[str] = field(default_factory=list)  # what the agent did, message by message
    answered: list[str] = field(default_factory=list)  # objections answered
    ignored: list[str] = field(default_factory=list)  # objections talked past, each once
    missed_signals: list[str] = field(default_factory=list)  # objections whose closing signal was missed
    objections_left: list[str] = field(default_factory=list)  # still to raise, in order
    signals_given: int = 0
    signals_taken: int = 0
    pushy: int = 0  # price or closing talk before any question
    summarised: bool = False
    benefit: bool = False
    asked: bool = False  # for the signature
    objection: str | None = None  # the objection being raised
    signal_open: str | None = None  # the objection just answered: the agent's next move should close
    score: int | None = None  # once finished

    def to_json(self) -> dict[str, Any]:
        """Unset values are left out: "score" is there only when finished, as the progress chart expects."""
        return {name: value for name, value in asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RehearsalData:
        """Unknown keys are ignored; a copy, so the stored original only changes when saved again."""
        known = {f.name for f in fields(cls)}
        return cls(**{name: copy.deepcopy(value) for name, value in raw.items() if name in known})


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

    def prospect(self, line: str) -> None:
        self.talk.say("rehearsal.says", name=self.persona()["name"][self.talk.locale], line=line)

    def line(self, key: str, **context: Any) -> None:
        self.prospect(self.talk.text(f"rehearsal.prospect.{key}", **context))

    def context(self) -> dict[str, Any]:
        if not self.data.persona:
            return {}
        persona, locale = self.persona(), self.talk.locale
        return {"name": persona["name"][locale], "about": persona["about"][locale]}

    def persona(self) -> dict[str, Any]:
        persona: dict[str, Any] = next(p for p in personas(self.talk.library) if p["id"] == self.data.persona)
        return persona

    def difficulty(self) -> dict[str, int]:
        difficulties: dict[str, dict[str, int]] = self.talk.library.rehearsal["personas"]["difficulties"]
        return difficulties[self.data.difficulty]

    def prompt(self) -> None:
        if self.state in ("persona", "difficulty"):
            menu = choices(self.talk.library, self.state)
            self.say(f"rehearsal.ask_{self.state}", tuple(Button(self.label(v), v) for v in menu))

    def label(self, value: str) -> str:
        if value == "random":
            return self.talk.text("rehearsal.random")
        if self.state == "difficulty":
            return self.talk.text(f"rehearsal.difficulty.{value}")
        persona, locale = next(p for p in personas(self.talk.library) if p["id"] == value), self.talk.locale
        return self.talk.text("rehearsal.persona_label", name=persona["name"][locale],
                              about=persona["about"][locale])

    # -- callbacks of the table -----------------------------------------------------------------
    def convinced(self, event: EventData) -> bool:
        d = self.data
        return bool(d.revealed) and not d.objections_left and not d.objection and \
            d.warmth >= self.difficulty()["threshold"]

    def on_enter_difficulty(self, event: EventData) -> None:
        self.prompt()

    def on_enter_opening(self, event: EventData) -> None:
        persona, chosen = self.persona(), self.data
        self.data = RehearsalData(chosen.persona, chosen.difficulty, warmth=persona["warmth"],
                                  objections_left=[o["id"] for o in persona["objections"]])
        self.say("rehearsal.begin")
        self.line(f"greet_{persona['awareness']}")

    def on_enter_objection(self, event: EventData) -> None:
        self.data.objection = self.data.objections_left.pop(0)
        self.talk.mark("objection", self.data.objection)
        self.line(f"objection_{self.data.objection}")

    def on_enter_closing(self, event: EventData) -> None:
        signals = self.persona()["signals"][self.talk.locale]
        self.prospect(signals[min(self.data.signals_given, len(signals) - 1)])
        self.data.signals_given += 1
        self.data.signal_open, self.data.objection = self.data.objection, None  # the next move should close

    def on_enter_sold(self, event: EventData) -> None:
        self.line("buys")
        self.finish()

    def on_enter_walked_out(self, event: EventData) -> None:
        self.line("walks_out")
        self.finish()

    def on_enter_stopped(self, event: EventData) -> None:
        assert event.transition is not None
        if event.transition.source in PLAYING:  # stopped while still choosing: nothing to score
            self.finish()

    def finish(self) -> None:
        card = scorecard(self.data, self.persona(), self.talk.library, self.talk.locale, self.state)
        self.data.score = card["total"]
        self.talk.mark("score", str(card["total"]))
        self.say("rehearsal/scorecard", **card)

    # -- the agent's message --------------------------------------------------------------------
    def react(self, inbound: Inbound, classifier: ActClassifier) -> None:
        if inbound.kind == "command" and inbound.text == "stop":
            self.trigger("stop")
        elif self.state in ("persona", "difficulty"):
            self.choose(inbound)
        elif inbound.kind != "text" or not normalise(inbound.text):
            self.say("rehearsal.type_text")
        else:
            act = classifier.classify(inbound.text)
            self.talk.mark("act", act)
            Prospect(self).play(inbound.text, act)

    def choose(self, inbound: Inbound) -> None:
        """A persona or a difficulty, pressed or typed; "random" picks one of the others."""
        menu = choices(self.talk.library, self.state)
        value = inbound.text if inbound.kind == "choice" else normalise(inbound.text)
        if value not in menu:
            return self.prompt()
        chosen = random.choice(menu[:-1]) if value == "random" else value
        if self.state == "persona":
            self.data.persona = chosen
        else:
            self.data.difficulty = chosen
        self.trigger(f"choose_{self.state}")
        return None


class Prospect:
    """How the prospect answers one move of the agent, by the act and the stage of the sale."""

    def __init__(self, rehearsal: Rehearsal) -> None:
        self.rehearsal = rehearsal
        self.line, self.trigger = rehearsal.line, rehearsal.trigger

    @property
    def data(self) -> RehearsalData:
        return self.rehearsal.data

    def play(self, text: str, act: str) -> None:
        self.note(act)
        if act in PUSHY and not any(a in QUESTIONS for a in self.data.acts):
            self.data.pushy += 1
            self.cool("pushy")
        elif self.rehearsal.state == "objection":
            self.handle_objection(act)
        else:
            MOVES.get(act, Prospect.puzzled)(self, act, text)
        if self.rehearsal.state in PLAYING and self.data.warmth <= 0:
            self.trigger("walk_out")

    def note(self, act: str) -> None:
        """What the scorecard keeps of the move, whatever the prospect answers."""
        d = self.data
        d.acts.append(act)
        d.asked = d.asked or act == "ask_signature"
        after, d.signal_open = d.signal_open, None
        if after and act in CLOSES:
            d.signals_taken += 1
        elif after:
            d.missed_signals.append(after)

    def cool(self, reason: str) -> None:
        self.data.warmth -= self.rehearsal.difficulty()["penalty"]
        self.line(reason)

    def warm(self) -> None:
        self.data.warmth = min(Scoring.of(self.rehearsal.talk.library).warmth_cap, self.data.warmth + 1)

    def next_objection_at(self, moment: str) -> bool:
        left = self.data.objections_left
        at = {o["id"]: o["at"] for o in self.rehearsal.persona()["objections"]}
        return bool(left) and at[left[0]] == moment

    def handle_objection(self, act: str) -> None:
        objection = self.data.objection
        assert objection is not None  # the objection stage is entered with one
        if act == "acknowledge":
            self.warm()
            self.line("acknowledged")
        elif act == "answer_objection":
            self.data.answered.append(objection)
            self.warm()
            self.trigger("resolve")
        else:
            if objection not in self.data.ignored:
                self.data.ignored.append(objection)
            self.cool("ignored")

    # -- the moves of MOVES: (act, text) --------------------------------------------------------
    def answer_question(self, act: str, text: str) -> None:
        persona, locale = self.rehearsal.persona(), self.rehearsal.talk.locale
        needs = [n for n in persona["hidden_needs"] if n["id"] not in self.data.revealed]
        asked = normalise(text)
        found = next((n for n in needs if any(keyword_in(w, asked) for w in n["topics"][locale])), None)
        if found:
            self.data.revealed.append(found["id"])
            self.rehearsal.prospect(found["reveal"][locale])
        else:
            self.line("answer_open" if act == "open_question" else "answer_closed")
        if act == "open_question":
            self.warm()
        if self.rehearsal.state == "opening":
            self.trigger("explore")

    def summarise(self, act: str, text: str) -> None:
        self.data.summarised = self.data.summarised or bool(self.data.revealed)
        self.line("summary_yes" if self.data.revealed else "summary_no")

    def present(self, act: str, text: str) -> None:
        if not self.data.revealed:
            return self.cool("no_need_yet") if act == "product_talk" else self.line("benefit_without_need")
        self.data.benefit = self.data.benefit or act == "benefit"
        if self.rehearsal.state != "presenting":
            self.rehearsal.fire("present")  # from closing the prospect just listens
        if self.next_objection_at("presentation"):
            self.trigger("object")
        else:
            self.line("interested")
        return None

    def ask(self, act: str, text: str) -> None:
        if self.data.objection:
            return None
        if self.next_objection_at("close") and self.rehearsal.state in ("presenting", "closing"):
            self.trigger("object")
        elif act == "trial_close":
            self.line("trial_yes" if self.data.revealed else "trial_hmm")
        elif not self.data.revealed:
            self.cool("no_need")
        elif self.rehearsal.state == "closing" and self.trigger("buy"):
            return None
        else:
            self.cool("not_convinced")
        return None

    def small_talk(self, act: str, text: str) -> None:
        if self.data.acts.count("opening") == 1:  # rapport warms once; more small talk wastes time
            self.warm()
        self.line("small_talk")

    def puzzled(self, act: str, text: str) -> None:
        self.line("puzzled")


# The prospect's answer to each act of the agent outside an objection; any other act puzzles.
MOVES: dict[str, Callable[[Prospect, str, str], None]] = {
    "open_question": Prospect.answer_question, "closed_question": Prospect.answer_question,
    "summarise": Prospect.summarise, "benefit": Prospect.present, "product_talk": Prospect.present,
    "trial_close": Prospect.ask, "ask_signature": Prospect.ask, "opening": Prospect.small_talk,
}


def personas(library: Library) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = library.rehearsal["personas"]["personas"]
    return found


def choices(library: Library, state: str) -> list[str]:
    """The options of the two choosing stages, "random" last."""
    if state == "persona":
        return [p["id"] for p in personas(library)] + ["random"]
    if state == "difficulty":
        return list(library.rehearsal["personas"]["difficulties"]) + ["random"]
    return []


def handle_rehearsal(state: str, data: RehearsalData, inbound: Inbound, library: Library,
                     classifier: ActClassifier, locale: str) -> tuple[Rehearsal, Trail]:
    """One message of the agent in a rehearsal: the rehearsal after it (its state and data to
    save) and the trail, with the prospect's answer and, at the end, the scorecard."""
    rehearsal = Rehearsal(Talk(library, locale), state, data)
    if inbound.kind == "command" and inbound.text == "rehearse":
        rehearsal.prompt()
    else:
        rehearsal.react(inbound, classifier)
    return rehearsal, rehearsal.talk.trail
