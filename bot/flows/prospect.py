"""How the prospect of a rehearsal answers one move of the agent, by the move read in context
(reading.py) and the stage of the sale: one table of moves, MOVES, outside an objection; the
handling steps of the method while an objection is raised."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.flows.personas import told
from bot.flows.reading import CLOSES, QUESTIONS, Reading
from bot.flows.scorecard import Scoring, breach
from bot.library import normalise

if TYPE_CHECKING:
    from bot.flows.rehearsal import Rehearsal, RehearsalData

PLAYING = ["opening", "needs", "presenting", "objection", "closing"]
PUSHY = ("product_talk", "bare_demand", *CLOSES)  # before any needs question, these push
REAL_CLOSES = ("assumptive_close", "direct_close")  # they ask for the decision; a trial close tests it


class Prospect:
    """The prospect's answer to one message of the agent."""

    def __init__(self, rehearsal: Rehearsal) -> None:
        self.rehearsal = rehearsal
        self.line, self.trigger = rehearsal.line, rehearsal.trigger

    @property
    def data(self) -> RehearsalData:
        return self.rehearsal.data

    def play(self, text: str, reading: Reading) -> None:
        act = reading.act
        self.note(text, reading)
        if self.rehearsal.state == "objection":
            self.handle_objection(reading)
        elif act in PUSHY and not any(a in QUESTIONS for a in self.data.acts):
            self.data.pushy += 1
            self.cool("pushy")
        else:
            MOVES.get(act, Prospect.puzzled)(self, act, text)
        if self.rehearsal.state in PLAYING and self.data.warmth <= 0:
            self.trigger("walk_out")

    def note(self, text: str, reading: Reading) -> None:
        """What the scorecard keeps of the move, whatever the prospect answers."""
        d, act = self.data, reading.act
        d.acts.append(act)
        if len(d.acts) == 1:
            d.greeted = act not in PUSHY and any(a in ("opening", "rapport") for a in reading.acts)
        d.rapport = d.rapport or ("rapport" in reading.acts and self.rehearsal.state in ("opening", "needs"))
        if reading.demand and d.demanded is None:
            d.demanded = text
        if rule := breach(self.rehearsal.talk.library, text):
            d.blocked.append([rule, text])
        if act in REAL_CLOSES:
            fair = bool(d.revealed) and not d.objection and set(d.ignored + d.breaches) <= set(d.answered)
            d.asked, d.early = d.asked or fair, d.early + (not fair)
            d.closed_with = d.closed_with or (act if fair else None)
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

    def handle_objection(self, reading: Reading) -> None:
        """The steps of the method: an answer resolves the objection; acknowledging it or asking
        what exactly it means keeps the prospect talking; anything else talks past it."""
        objection, steps, d = self.data.objection, reading.steps, self.data
        assert objection is not None  # the objection stage is entered with one
        if reading.breach:
            d.breaches.append(objection)
            self.cool("breach")
        elif "answer" in steps:
            d.answered.append(objection)
            self.warm()
            self.trigger("resolve")
        elif "clarify" in steps or "acknowledge" in steps or "check" in steps:
            if objection not in d.eased:
                d.eased.append(objection)
                self.warm()
            self.line(f"clarify_{objection}" if "clarify" in steps else "acknowledged")
        else:
            if objection not in d.ignored:
                d.ignored.append(objection)
            self.cool("demand" if reading.demand else "ignored")

    # -- the moves of MOVES: (act, text) --------------------------------------------------------
    def answer_question(self, act: str, text: str) -> None:
        persona, locale = self.rehearsal.persona(), self.rehearsal.talk.locale
        needs = [n for n in persona["hidden_needs"] if n["id"] not in self.data.revealed]
        asked = normalise(text)
        found = told(locale, needs, asked)
        fact = told(locale, persona.get("facts", []), asked)
        if found:
            self.data.revealed.append(found["id"])
            self.rehearsal.prospect(found["reveal"][locale])
        elif fact:
            self.rehearsal.prospect(fact["say"][locale])
        else:
            self.line("answer_closed" if act == "closed_question" else "answer_open")
        if act != "closed_question":
            self.warm()
        if self.rehearsal.state == "opening":
            self.trigger("explore")

    def summarise(self, _act: str, _text: str) -> None:
        self.data.summarised = self.data.summarised or bool(self.data.revealed)
        self.line("summary_yes" if self.data.revealed else "summary_no")

    def present(self, act: str, _text: str) -> None:
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

    def ask(self, act: str, _text: str) -> None:
        if self.next_objection_at("close") and self.rehearsal.state in ("presenting", "closing"):
            self.trigger("object")
        elif act == "trial_close":
            self.line("trial_yes" if self.data.revealed else "trial_hmm")
        elif not self.data.revealed:
            self.cool("no_need")
        elif self.rehearsal.state == "closing" and self.trigger("buy"):
            return
        else:
            self.cool("not_convinced")
        return

    def demand(self, _act: str, _text: str) -> None:
        self.cool("demand")

    def small_talk(self, act: str, _text: str) -> None:
        """A greeting, or interest in the prospect's life: it warms once; more of it wastes time."""
        talk = [a for a in self.data.acts if a in ("opening", "rapport")]
        if len(talk) == 1:
            self.warm()
        key = "rapport" if act == "rapport" else "small_talk"
        self.line(key if len(talk) <= 2 else "enough_small_talk")

    def understood(self, _act: str, _text: str) -> None:
        self.line("understood" if self.data.revealed else "summary_no")

    def meeting(self, _act: str, _text: str) -> None:
        self.line("meeting")

    def puzzled(self, _act: str, _text: str) -> None:
        self.line("puzzled")


# The prospect's answer to each act of the agent outside an objection; any other act puzzles.
MOVES: dict[str, Callable[[Prospect, str, str], None]] = {
    "open_question": Prospect.answer_question, "need_question": Prospect.answer_question,
    "closed_question": Prospect.answer_question, "summarise": Prospect.summarise,
    "benefit": Prospect.present, "product_talk": Prospect.present, "answer_objection": Prospect.present,
    "trial_close": Prospect.ask, "assumptive_close": Prospect.ask, "direct_close": Prospect.ask,
    "bare_demand": Prospect.demand, "opening": Prospect.small_talk, "rapport": Prospect.small_talk,
    "check_understanding": Prospect.understood, "propose_meeting": Prospect.meeting,
}
