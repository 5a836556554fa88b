"""The sale as one table: every stage declared once (options, words, flags, behaviour), then the
moves between them.

Read this file to see the whole sale. A simple stage is one `Stage(...)` line; a stage with more
to do is a small class right here. Guards and actions named in the table (`has_required_answers`,
`record_consent`...) are methods of the Sale in sale.py; the words are in scripts_library/.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transitions import EventData, Machine

from bot.flows import advice
from bot.flows.calculator import VARIANTS
from bot.flows.messages import Inbound
from bot.flows.presenting import summary_lines
from bot.flows.stage import Stage

if TYPE_CHECKING:
    from bot.flows.sale import Sale


class Approach(Stage):
    """Who is selling, what will happen, consent to use the answers."""

    def enter(self, sale: Sale, event: EventData | None) -> None:
        sale.progress.greeted = True
        sale.talk.say("approach/greeting", customer_name=sale.customer_name)
        self.prompt(sale)


class Needs(Stage):
    """The fact-finding questions: every message goes to the questionnaire."""

    def enter(self, sale: Sale, event: EventData | None) -> None:
        sale.progress.disclosed = False  # answers may change, so the terms must be shown again
        if event and event.transition and event.transition.source == "approach":
            sale.questionnaire.start()
        self.prompt(sale)

    def options(self, sale: Sale) -> list[str]:
        return sale.questionnaire.options()

    def label(self, sale: Sale, value: str) -> str:
        return sale.questionnaire.label(value)

    def prompt(self, sale: Sale) -> None:
        sale.questionnaire.prompt()

    def read(self, sale: Sale, inbound: Inbound, intent: str | None) -> None:
        if sale.questionnaire.answer(inbound, intent) and not sale.trigger("needs_complete"):
            sale.questionnaire.ask_missing()

    def why(self, sale: Sale) -> None:
        sale.questionnaire.why()
        self.prompt(sale)

    def back(self, sale: Sale) -> bool:
        return sale.questionnaire.back() or sale.fire("back")


class Summary(Stage):
    """All answers shown back, to confirm or change one before anything is computed."""

    def enter(self, sale: Sale, event: EventData | None) -> None:
        sale.progress.editing = False
        lines = summary_lines(sale.talk.library, sale.talk.locale, sale.answers)
        sale.talk.say("summary/summary", lines=lines)
        self.prompt(sale)

    def options(self, sale: Sale) -> list[str]:
        return [*self.menu, *(f"edit:{q.id}" for q in sale.questionnaire.questions)]

    def label(self, sale: Sale, value: str) -> str:
        if value.startswith("edit:"):
            return sale.talk.text("buttons.edit", label=sale.talk.text(f"questions.{value[5:]}.label"))
        return super().label(sale, value)


class Proposal(Stage):
    """The plan, most important cover first, with other variants and doubts on offer."""

    def enter(self, sale: Sale, event: EventData | None) -> None:
        advice.show_plan(sale, sale.progress.variant)
        self.prompt(sale)

    def options(self, sale: Sale) -> list[str]:
        variants = [f"variant:{v}" for v in VARIANTS if v != sale.progress.variant]
        proceed, contact, decline = self.menu
        contacts = [] if sale.progress.contacted else [contact]
        return [proceed, *contacts, *variants, *sale.objections, decline]

    def stay(self, sale: Sale, action: str, argument: str) -> bool:
        if action == "variant":
            advice.show_plan(sale, argument)
        elif action == "contact":
            advice.hand_off(sale, announce=True)
        return action in ("variant", "contact")


class Objection(Stage):
    """A doubt answered, then a fresh attempt to close."""

    def enter(self, sale: Sale, event: EventData | None) -> None:
        sale.talk.say(f"objection/{sale.progress.objection}", **advice.plan(sale))
        self.prompt(sale)


class Closing(Stage):
    """Key terms disclosed, then the request to apply."""

    def enter(self, sale: Sale, event: EventData | None) -> None:
        deductible = sale.talk.library.parameters["needs"]["medical_deductible"]
        sale.talk.say("closing/disclosure", deductible=deductible, **advice.plan(sale))
        sale.progress.disclosed = True
        self.prompt(sale)


class Won(Stage):
    """Application: the agent takes it from here, qualified or not."""

    def enter(self, sale: Sale, event: EventData | None) -> None:
        if not sale.progress.contacted:
            advice.hand_off(sale, announce=False)
        super().enter(sale, event)


class AfterSales(Stage):
    """Policy service: each topic answered in place."""

    def stay(self, sale: Sale, action: str, argument: str) -> bool:
        if action in self.menu and sale.talk.has(f"after_sales/{action}"):
            sale.talk.say(f"after_sales/{action}")
            return True
        return False


STAGES: dict[str, Stage] = {stage.name: stage for stage in (
    Approach("approach", ("agree", "decline"), track="approach/greeting", before_sale=True),
    Needs("needs", track="needs/intro", before_sale=True, remind=True),
    Summary("summary", ("confirm",), before_sale=True, remind=True),
    Proposal("proposal", ("proceed", "contact", "decline"), track="proposal/plan", before_sale=True),
    Objection("objection", ("proceed", "review", "decline"), before_sale=True),
    Closing("closing", ("accept", "review", "think", "family", "decline"), track="closing/disclosure",
            before_sale=True),
    Won("won", ("serve", "refer"), says="won/application", track="won/application", resumable=True),
    AfterSales("after_sales", ("policy", "claims", "renewal", "complaint", "refer"), resumable=True),
    Stage("referral", ("serve",), says="referral/invite", track="referral/invite", resumable=True),
    Stage("paused", ("resume", "restart"), says="paused/paused"),  # stopped; everything kept for later
    Stage("lost", ("restart",), says="lost/goodbye"),  # declined; a polite goodbye, can start again
)}
STATES = list(STAGES)
BEFORE_SALE = [stage.name for stage in STAGES.values() if stage.before_sale]
RESUMABLE = [stage.name for stage in STAGES.values() if stage.resumable]

# trigger, source(s), destination, and the guard or action that goes with it.
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "agree", "source": "approach", "dest": "needs", "before": "record_consent"},
    {"trigger": "needs_complete", "source": "needs", "dest": "summary", "conditions": "has_required_answers"},
    {"trigger": "confirm", "source": "summary", "dest": "proposal", "conditions": "has_required_answers"},
    {"trigger": "edit", "source": "summary", "dest": "needs", "before": "start_editing"},
    {"trigger": "proceed", "source": ["proposal", "objection"], "dest": "closing"},
    {"trigger": "object", "source": ["proposal", "closing", "objection"], "dest": "objection",
     "before": "note_objection"},
    {"trigger": "review", "source": ["objection", "closing"], "dest": "proposal"},
    {"trigger": "accept", "source": "closing", "dest": "won", "conditions": "disclosures_shown"},
    {"trigger": "serve", "source": ["won", "after_sales", "referral"], "dest": "after_sales"},
    {"trigger": "refer", "source": ["won", "after_sales"], "dest": "referral"},
    {"trigger": "back", "source": "needs", "dest": "approach"},
    {"trigger": "back", "source": "summary", "dest": "needs", "before": "go_to_last_question"},
    {"trigger": "back", "source": "proposal", "dest": "summary"},
    {"trigger": "back", "source": ["objection", "closing"], "dest": "proposal"},
    {"trigger": "back", "source": "referral", "dest": "after_sales"},
    {"trigger": "decline", "source": BEFORE_SALE, "dest": "lost"},
    {"trigger": "pause", "source": RESUMABLE, "dest": "paused", "before": "remember_stage"},
    *({"trigger": "resume", "source": "paused", "dest": stage, "conditions": "paused_in"}
      for stage in RESUMABLE),
    {"trigger": "restart", "source": "*", "dest": "approach", "before": "forget_everything"},
]

# One machine for every conversation; models are never attached to it (see conversation.py).
MACHINE = Machine(
    model=None,
    states=STATES,
    transitions=TRANSITIONS,
    initial="approach",
    auto_transitions=False,
    send_event=True,
    model_override=True,
    before_state_change="record_step",  # logged before the new stage speaks
    after_state_change="enter_stage",
)


# TEMPORARY until the rehearsal moves to OnMachine
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402


@contextmanager
def attached(machine: Machine, model: Any, library: Any) -> Iterator[Any]:
    plain = set(vars(model))
    model._library, model._trail = library, []
    machine.add_model(model, initial=model.state)
    try:
        yield model._trail
    finally:
        machine.remove_model(model)
        for name in set(vars(model)) - plain:
            delattr(model, name)
