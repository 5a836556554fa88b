"""The sale itself: one conversation, what it does with each message.

`handle(sale, inbound)` is the whole core API. The sale reacts on the shared machine of
machine.py and returns what happened in order: the replies to send and the stage changes to
log. No I/O happens here; the channel does it around this call.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from typing import Any, ClassVar

from transitions import EventData, Machine

from bot.flows import advice
from bot.flows.conversation import OnMachine, Talk
from bot.flows.intents import read
from bot.flows.machine import MACHINE, STAGES, TableCallbacks
from bot.flows.messages import Button, Inbound, Mark, Reply, Step, Trail
from bot.flows.progress import Progress
from bot.flows.questionnaire import Questionnaire
from bot.flows import listening
from bot.flows.model import Interpreter
from bot.flows.stage import Stage
from bot.flows.understanding import plain
from bot.library import LOCALES, normalise, source_locale

# Intents that must be the whole message when typed (so an answer that contains "back" stays an answer).
COMMANDS = ("back", "cancel", "why", "help", "agent", "skip", "resume", "restart")
# Customer intents (bot/flows/intents.py) that work at every stage, and the command each stands for.
GLOBAL_INTENTS = {"why": "why", "agent": "agent", "stop": "cancel", "language": "lang"}
STALE = "stale"


class Sale(TableCallbacks, OnMachine):
    """One customer's conversation: the stage, the answers and the progress are what is saved."""

    machine: ClassVar[Machine] = MACHINE

    def __init__(self, talk: Talk, state: str = "approach", answers: dict[str, Any] | None = None,
                 progress: Progress | None = None, customer_name: str = "", reference: str = "",
                 referrer: str = "", invite_link: str = "", interpreter: Interpreter | None = None,
                 share_health: bool = False, agent_reachable: Callable[[], bool] = lambda: True) -> None:
        self.talk, self.state = talk, state
        self.answers: dict[str, Any] = answers if answers is not None else {}
        self.progress = progress or Progress()
        self.customer_name, self.reference = customer_name, reference
        self.referrer = referrer  # the first name of the friend who sent them, when they may be named
        self.invite_link = invite_link  # a client's own link to pass on (none before they are a client)
        self.misread_before = False  # the message before this one was not understood
        self.interpreter, self.share_health = interpreter, share_health  # the optional model reader
        # whether anyone at the agency can take up this customer here (an agent, or the agents' chat):
        # asked only when contact would be promised, which is never promised when nobody can keep it
        self.agent_reachable = agent_reachable
        self.consulted = False  # the model was asked about this message already
        self.typed, self.asking = "", False  # the message being read, and whether it asks something
        self.written = ""  # the message as written (typed is it as read: Cantonese in Mandarin, Simplified)
        self.refusing = False  # it says no or takes back what it said: no decision is offered
        self.doubting = False  # it hedges ("I guess so"): a decision is offered as its button

    @property
    def hedged(self) -> bool:
        """The message asks, hedges or says no: no decision is read from it."""
        return self.asking or self.refusing or self.doubting

    @property
    def stage(self) -> Stage:
        return STAGES[self.state]

    @cached_property
    def questionnaire(self) -> Questionnaire:
        return Questionnaire(self.talk, self.answers, self.progress)

    @cached_property
    def objections(self) -> dict[str, tuple[str, ...]]:
        """Each objection of the library and its words in this locale."""
        locale = source_locale(self.talk.locale)
        return {o.id: o.keywords.get(locale, ()) for o in self.talk.library.objections}

    def buttons(self) -> tuple[Button, ...]:
        return self.stage.buttons(self)

    def prompt(self) -> None:
        self.stage.prompt(self)

    # -- the table's guard and action that take the whole sale (the others: TableCallbacks) -----------
    def has_plan(self, _event: EventData) -> bool:
        return advice.has_plan(self)

    def enter_stage(self, event: EventData) -> None:
        self.stage.enter(self, event)

    # -- what every stage does the same way ---------------------------------------------------------
    def ask_for_agent(self) -> None:
        """The agent is told, with what is known and why; the customer hears when and how."""
        self.talk.mark("handoff", self.state)
        stuck = self.state == "needs" and self.progress.failures >= self.questionnaire.way_out_after
        advice.refer_to_agent(self, "stuck" if stuck else "asked")
        self.prompt()

    def not_understood(self) -> None:
        """Say so, and never in the same words twice in a row: the second time, a way out. A
        question asked once the plan is known goes to the agent instead."""
        if self.typed and (reading := listening.consult(self, self.typed)):
            return listening.act(self, reading)
        if self.asking and self.stage.plan_seen:
            return listening.pass_question(self, self.typed)
        self.talk.say("errors.still_not_understood" if self.misread_before else "errors.not_understood")
        self.progress.misread = True
        self.prompt()
        return None

    def refuse(self, key: str) -> None:
        """Say politely why the message cannot be used, and ask again; nothing else changes."""
        self.talk.mark("refused", key)
        self.talk.say(key)
        self.prompt()

    # -- reading a message ---------------------------------------------------------------------------
    def intent_of(self, inbound: Inbound) -> str | None:
        if inbound.kind == "choice":  # only from the message that asked the current question
            current = inbound.asked is None or inbound.asked == self.progress.asked
            return inbound.text if current and inbound.text in self.stage.options(self) else STALE
        if inbound.kind == "command":
            return inbound.text
        text = normalise(inbound.text)
        return next((c for c in COMMANDS if text and text in self.talk.library.words_anywhere[c]), None)

    def global_intent(self, text: str) -> str | None:
        """A typed wish that works at every stage (why, an agent, stop, the other language)."""
        meant = read(self.talk.library, text).intent
        if meant == "stop" and self.stage.plan_seen and listening.objects(self, text):
            return None  # "wait till I have talked with my husband": a doubt to answer, not a stop
        return GLOBAL_INTENTS.get(meant) if meant else None

    def react(self, inbound: Inbound) -> None:
        self.misread_before, self.progress.misread = self.progress.misread, False
        if inbound.kind == "unsupported":
            specific = f"errors.{inbound.text}"  # e.g. errors.edited; else the general reply
            return self.refuse(specific if self.talk.has(specific) else "errors.unsupported")
        if inbound.kind == "command" and inbound.text == "start" or not self.progress.greeted:
            return start(self)
        if inbound.kind == "command" and inbound.text == "lang":
            return switch_language(self, inbound.argument)
        if inbound.kind == "text":
            self.written = inbound.text  # as the person wrote it: what an agent is shown
            inbound = replace(inbound, text=plain(self.talk.library, inbound.text))
            if listening.answered_in_place(self, inbound.text):
                return None
        intent = self.intent_of(inbound)
        if intent == STALE:
            return self.refuse("errors.stale_button")
        if intent is None and inbound.kind == "text" and not self.stage.reads_answers(self, inbound.text):
            intent = self.global_intent(inbound.text)
        if intent in EVERYWHERE:
            EVERYWHERE[intent](self)
        elif inbound.kind == "command":
            self.refuse("errors.unknown_command")
        else:
            self.stage.read(self, inbound, intent)
        return None

    def numbered(self, item: Reply | Step | Mark) -> Reply | Step | Mark:
        """A question gets the next number (`Progress.asked`): from now on only its buttons count,
        whichever stage or question made it, and every message that asked before is stale. The
        same question asked again (a message not understood, a common question answered) keeps its
        number: a press on an earlier copy of it is an answer, not a loop of "that was an earlier message"."""
        if not isinstance(item, Reply) or not item.asks:
            return item
        offered = "|".join([self.state, self.progress.question or "", *(b.value for b in item.buttons)])
        if offered != self.progress.offered:
            self.progress.asked, self.progress.offered = self.progress.asked + 1, offered
        return replace(item, asked=self.progress.asked)


# -- commands that work at every stage --------------------------------------------------------------
def start(sale: Sale) -> None:
    """/start: the greeting the first time; else the sale goes on (or again, once lost or paused)."""
    if not sale.progress.greeted:
        return STAGES["approach"].enter(sale, None)
    if sale.state == "paused":
        sale.fire("resume") or sale.trigger("restart")
    elif sale.state == "lost":
        sale.trigger("restart")
    else:
        sale.talk.say("common/welcome_back")
        sale.prompt()
    return None


def switch_language(sale: Sale, wanted: str) -> None:
    others = [loc for loc in LOCALES if loc != sale.talk.locale]
    sale.talk.locale = wanted if wanted in LOCALES else others[0]
    sale.__dict__.pop("objections", None)  # their words are per locale
    sale.talk.say("lang_switched")
    sale.prompt()


def go_back(sale: Sale) -> None:
    if not sale.stage.back(sale):
        sale.talk.say("errors.nothing_to_go_back_to")
        sale.prompt()


def cancel(sale: Sale) -> None:
    if not (sale.stage.resumable and sale.fire("pause")):
        sale.prompt()


def help_(sale: Sale) -> None:
    sale.talk.say("common/help")
    sale.prompt()


EVERYWHERE: dict[str, Callable[[Sale], Any]] = {
    "lang": lambda sale: switch_language(sale, ""),
    "back": go_back, "cancel": cancel, "help": help_, "agent": Sale.ask_for_agent,
    "why": lambda sale: sale.stage.why(sale), "restart": lambda sale: sale.trigger("restart"),
}


def handle(sale: Sale, inbound: Inbound) -> Trail:
    """React to one message. Returns, in order, the replies to send and the steps to log."""
    sale.talk.trail = []
    sale.react(inbound)
    return [sale.numbered(item) for item in sale.talk.trail]
