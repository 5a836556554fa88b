"""The sale as one table: every stage declared once (options, words, flags, behaviour), then the
moves between them.

Read this file to see the whole sale. A simple stage is one `Stage(...)` line; a stage with more
to do is a small class right here. Guards and actions named in the table (`has_required_answers`,
`record_consent`...) are the methods of `TableCallbacks`, below it; the words are in scripts_library/.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transitions import EventData, Machine

from bot.flows import advice, listening
from bot.flows.calculator import VARIANTS
from bot.flows.messages import Inbound, Reply
from bot.flows.progress import Progress
from bot.flows.presenting import gap_chart, summary_lines
from bot.flows.stage import Stage
from bot.flows.understanding import faq_topic, needs_a_person, not_read, supposes
from bot.library import Objection as LibraryObjection
from bot.library import normalise

if TYPE_CHECKING:
    from bot.flows.conversation import Talk
    from bot.flows.questionnaire import Questionnaire
    from bot.flows.sale import Sale


class Approach(Stage):
    """Who is selling, what will happen, consent to use the answers."""

    def enter(self, sale: Sale, _event: EventData | None) -> None:
        sale.progress.greeted = True
        sale.talk.say("approach/greeting", customer_name=sale.customer_name, referrer=sale.referrer,
                      model_reader=sale.interpreter is not None, model_health=sale.share_health)
        self.prompt(sale)


class Needs(Stage):
    """The fact-finding questions: every message goes to the questionnaire."""

    def enter(self, sale: Sale, event: EventData | None) -> None:
        sale.progress.disclosed = False  # answers may change, so the terms must be shown again
        if event and event.transition and event.transition.source == "approach":
            sale.questionnaire.start(sale.typed)
        self.prompt(sale)

    def options(self, sale: Sale) -> list[str]:
        return sale.questionnaire.options()

    def label(self, sale: Sale, value: str) -> str:
        return sale.questionnaire.label(value)

    def prompt(self, sale: Sale) -> None:
        sale.questionnaire.prompt()

    def read(self, sale: Sale, inbound: Inbound, intent: str | None) -> None:
        typed = inbound.kind == "text" and intent is None
        if typed and (doubt := listening.early_objection(sale, inbound.text)):
            return listening.answer_early_objection(sale, doubt)
        unread = inbound.kind == "text" and intent is None and not self.reads_answers(sale, inbound.text)
        if unread and sale.progress.pending is None and (reading := listening.consult(sale, inbound.text)):
            return listening.act(sale, reading)
        if sale.questionnaire.answer(inbound, intent) and not sale.trigger("needs_complete"):
            sale.questionnaire.ask_missing()
        return None

    def why(self, sale: Sale) -> None:
        sale.questionnaire.why()
        self.prompt(sale)

    def reads_answers(self, sale: Sale, text: str) -> bool:
        return sale.questionnaire.understands(text)

    def answers_itself(self, sale: Sale, text: str) -> bool:
        """A common question ("can my kids be covered too?") or a complaint is answered unless the
        message also answers the question asked."""
        library = sale.talk.library
        if sale.asking and supposes(library, text):  # "if I had diabetes, could I still buy?"
            return False
        if (sale.asking and faq_topic(library, text, asking=True)) or needs_a_person(library, text):
            return sale.questionnaire.answers_current(text)
        return self.reads_answers(sale, text)

    def back(self, sale: Sale) -> bool:
        return sale.questionnaire.back() or sale.fire("back")


class Summary(Stage):
    """All answers shown back, to confirm or change one before anything is computed."""

    def enter(self, sale: Sale, _event: EventData | None) -> None:
        sale.progress.editing = False
        lines = summary_lines(sale.talk.library, sale.talk.locale, sale.answers)
        sale.talk.say("summary/summary", lines=lines)
        self.prompt(sale)

    def options(self, sale: Sale) -> list[str]:
        return [*self.menu, *(f"edit:{q.id}" for q in sale.questionnaire.questions)]

    def reads_answers(self, sale: Sale, text: str) -> bool:
        return super().reads_answers(sale, text) or bool(sale.questionnaire.corrections(text))

    def read(self, sale: Sale, inbound: Inbound, intent: str | None) -> None:
        """An answer corrected in words ("income is 25万, not 15万") is changed, and all shown again."""
        changes = sale.questionnaire.corrections(inbound.text) if inbound.kind == "text" else {}
        if intent is None and changes:
            sale.questionnaire.correct(changes)
            return self.enter(sale, None)
        return super().read(sale, inbound, intent)

    def label(self, sale: Sale, value: str) -> str:
        if value.startswith("edit:"):
            return sale.talk.text("buttons.edit", label=sale.talk.text(f"questions.{value[5:]}.label"))
        return super().label(sale, value)


class Proposal(Stage):
    """The plan, most important cover first, with other variants and doubts on offer; with no plan
    to stand behind (nothing fits the age or the budget), only an agent and the plans that exist."""

    def enter(self, sale: Sale, _event: EventData | None) -> None:
        advice.show_plan(sale, sale.progress.variant)
        self.prompt(sale)

    def options(self, sale: Sale) -> list[str]:
        plans = advice.analysis(sale).plans  # a variant is offered only when it holds another plan
        shown = plans[sale.progress.variant].covers
        variants = [f"variant:{v}" for v in VARIANTS if plans[v].total > 0 and plans[v].covers != shown]
        menu = [v for v in self.menu if v != "contact" or not sale.progress.contacted]
        *first, last = menu  # the variants and doubts come before the last option (decline)
        if not advice.has_plan(sale):  # nothing to accept or to doubt: an agent, or another plan
            return [*(v for v in first if v == "contact"), *variants, last]
        return [*first, *variants, *sale.objections, last]

    def choices(self, sale: Sale) -> list[str]:
        return super().choices(sale) if advice.has_plan(sale) else self.options(sale)

    def meaning(self, sale: Sale, intent: str) -> str | None:  # no doubts or "go ahead" about no plan
        meant = super().meaning(sale, intent)
        closing = meant in sale.objections or meant == "signal"
        return None if closing and not advice.has_plan(sale) else meant

    def stay(self, sale: Sale, action: str, argument: str) -> bool:
        if action == "variant":
            advice.show_plan(sale, argument)
        elif action == "contact":
            advice.refer_to_agent(sale, advice.why_contact(sale))
        elif action == "cover":
            advice.explain_covers(sale)
        return action in ("variant", "contact", "cover")


class Objection(Stage):
    """A doubt answered, then what is behind it (its follow-up options) and a fresh attempt to close."""

    def enter(self, sale: Sale, _event: EventData | None) -> None:
        plan = advice.plan(sale)
        sale.talk.say(f"objection/{sale.progress.objection}", **plan)
        if self.current(sale).share:
            chart = gap_chart(sale.talk.library, sale.talk.locale, advice.analysis(sale), sale.answers)
            sale.talk.send(Reply(sale.talk.text("objection/share", **plan), chart=chart))
        self.prompt(sale)

    def current(self, sale: Sale) -> LibraryObjection:
        return next(o for o in sale.talk.library.objections if o.id == sale.progress.objection)

    def options(self, sale: Sale) -> list[str]:
        return list(dict.fromkeys([*self.current(sale).follow_up, *self.menu]))

    def label(self, sale: Sale, value: str) -> str:
        if value in self.current(sale).follow_up:
            return sale.talk.text(f"buttons.follow_up.{value}")
        return super().label(sale, value)


class Closing(Stage):
    """Key terms disclosed, then the request to apply."""

    def enter(self, sale: Sale, _event: EventData | None) -> None:
        if not advice.has_plan(sale):  # nothing to apply for: say so plainly, never terms of an empty plan
            advice.show_plan(sale, sale.progress.variant)
            return self.prompt(sale)
        self.disclose(sale)
        return self.prompt(sale)

    def disclose(self, sale: Sale) -> None:
        deductible = sale.talk.library.parameters.needs.medical_deductible
        sale.talk.say("closing/disclosure", deductible=deductible, **advice.plan(sale))
        sale.progress.disclosed = True

    def options(self, sale: Sale) -> list[str]:
        return [value for value in self.menu if value != "accept" or advice.has_plan(sale)]

    def read(self, sale: Sale, inbound: Inbound, intent: str | None) -> None:
        """"I haven't read it, just sign me up" is no application: the key points again, a check question."""
        if inbound.kind == "text" and advice.has_plan(sale) and not_read(sale.talk.library, inbound.text):
            sale.talk.mark("not_read", "")
            sale.talk.say("closing/not_read")
            self.disclose(sale)
            sale.talk.say("closing/check")
            return self.prompt(sale)
        return super().read(sale, inbound, intent)


class Won(Stage):
    """Application: the agent takes it from here, qualified or not."""

    def enter(self, sale: Sale, event: EventData | None) -> None:
        if event is not None and event.event.name == "accept":  # applied just now, not a resume
            advice.send_lead(sale, "applied")
        super().enter(sale, event)


class Referral(Stage):
    """The client's own link, to pass on: a channel adds a picture to scan and a way to forward it."""

    def enter(self, sale: Sale, _event: EventData | None) -> None:
        text = sale.talk.text("referral/invite", link=sale.invite_link)
        sale.talk.send(Reply(text, share=sale.invite_link or None))
        self.prompt(sale)


class AfterSales(Stage):
    """Policy service: each topic answered in place. `first`: topics whose words are its own before
    any common question's ("how do I claim" is the policy's claims, not the sale's FAQ); `to_agent`:
    topics that, typed in words, also reach a person (a complaint)."""

    def __init__(self, *args: Any, first: tuple[str, ...] = (), to_agent: tuple[str, ...] = (),
                 **declared: Any) -> None:
        super().__init__(*args, **declared)
        self.first, self.to_agent = first, to_agent

    def answers_itself(self, sale: Sale, text: str) -> bool:
        return self.by_keyword(sale, normalise(text)) in self.first or super().answers_itself(sale, text)

    def stay(self, sale: Sale, action: str, _argument: str) -> bool:
        if action in self.menu and sale.talk.has(f"after_sales/{action}"):
            sale.talk.mark("faq", action)
            sale.talk.say(f"after_sales/{action}")
            if action in self.to_agent and sale.typed:
                listening.pass_question(sale, sale.typed, prompt=False)
            return True
        return False


# What typed customer intents (scripts_library/intents/) mean at the stages that weigh a decision:
# a closing signal is the moment to ask for the decision (DOMAIN: closing signals).
SIGNALS = {f"signal_{kind}": "signal"
           for kind in ("details", "repeat", "silent", "agree", "service", "resolved")}
DECIDING = {**SIGNALS, "postpone": "later", "reason_price": "expensive", "reason_timing": "later"}

# The funnel follows the order of this table; `beside` puts a stage at the same step as another (a
# client may go to after-sales or straight to passing on their link); `apart` stages are no step.
# Each stage's name as people read it is `stages.<name>` in the locale files.
STAGES: dict[str, Stage] = {stage.name: stage for stage in (
    Approach("approach", ("agree", "decline"), intents={"yes": "agree", "buy": "agree", "no": "decline"},
             track="approach/greeting", before_sale=True),
    Needs("needs", track="needs/intro", before_sale=True, remind=True),
    Summary("summary", ("confirm",), intents={"yes": "confirm", "buy": "confirm", "signal_agree": "confirm"},
            before_sale=True, remind=True, milestone="answered"),
    Proposal("proposal", ("proceed", "contact", "decline"), track="proposal/plan", before_sale=True,
             intents={**DECIDING, "yes": "proceed", "buy": "proceed", "ask_cover": "cover"}, plan_seen=True),
    Objection("objection", ("proceed", "review", "decline"), before_sale=True,
              intents={**DECIDING, "yes": "proceed", "buy": "proceed", "signal_resolved": "proceed",
                       "signal_agree": "proceed", "reason_fit": "review"}, plan_seen=True),
    Closing("closing", ("accept", "review", "think", "family", "decline"), track="closing/disclosure",
            before_sale=True, intents={**DECIDING, "yes": "accept", "buy": "accept", "signal_agree": "accept",
                                       "signal_resolved": "accept"}, plan_seen=True,
            pressed=("accept",)),  # applying: its button, never a sentence alone
    Won("won", ("serve", "refer"), says="won/application", track="won/application", resumable=True,
        intents={"signal_service": "serve"}, plan_seen=True, client=True, milestone="client"),
    AfterSales("after_sales", ("policy", "claims", "renewal", "complaint", "refer"), resumable=True,
               intents={"signal_service": "claims"}, plan_seen=True, client=True,
               first=("claims", "complaint"), to_agent=("complaint",)),
    Referral("referral", ("serve",), track="referral/invite", resumable=True, beside="after_sales",
             plan_seen=True, client=True),
    # stopped; everything kept for later
    Stage("paused", ("resume", "restart"), says="paused/paused", intents={"yes": "resume", "buy": "resume"},
          apart=True),
    Stage("lost", ("restart",), says="lost/goodbye", intents={"yes": "restart"}, apart=True),  # declined
)}
STATES = list(STAGES)
BEFORE_SALE = [stage.name for stage in STAGES.values() if stage.before_sale]
RESUMABLE = [stage.name for stage in STAGES.values() if stage.resumable]
APART = [stage.name for stage in STAGES.values() if stage.apart]  # not a step along the sale
FUNNEL: dict[str, int] = {}  # how far along the sale each stage is
for _stage in (stage for stage in STAGES.values() if not stage.apart):
    FUNNEL[_stage.name] = FUNNEL[_stage.beside] if _stage.beside else len(set(FUNNEL.values()))
PLAN_SEEN = [stage.name for stage in STAGES.values() if stage.plan_seen]
CLIENT = [stage.name for stage in STAGES.values() if stage.client]
MILESTONES = {stage.name: stage.milestone for stage in STAGES.values() if stage.milestone}

# trigger, source(s), destination, and the guard or action that goes with it.
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "agree", "source": "approach", "dest": "needs", "before": "record_consent"},
    {"trigger": "needs_complete", "source": "needs", "dest": "summary", "conditions": "has_required_answers"},
    {"trigger": "confirm", "source": "summary", "dest": "proposal", "conditions": "has_required_answers"},
    {"trigger": "edit", "source": "summary", "dest": "needs", "before": "start_editing"},
    {"trigger": "proceed", "source": ["proposal", "objection"], "dest": "closing", "conditions": "has_plan"},
    {"trigger": "object", "source": ["proposal", "closing", "objection"], "dest": "objection",
     "conditions": "has_plan", "before": "note_objection"},
    {"trigger": "review", "source": ["objection", "closing"], "dest": "proposal"},
    {"trigger": "accept", "source": "closing", "dest": "won",
     "conditions": ["disclosures_shown", "has_plan"]},
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

# Stages whose next reply may already be a client's (their link shown): clients, and the stages that
# move straight to a client stage (closing → won).
NEAR_CLIENT = list(dict.fromkeys([*CLIENT, *(source for row in TRANSITIONS if row["dest"] in CLIENT
                                             for source in ([row["source"]] if isinstance(row["source"], str)
                                                            else row["source"]) if source in STAGES)]))

class TableCallbacks:
    """The guards and actions named in TRANSITIONS, as methods of each conversation (the Sale;
    `has_plan` and `enter_stage` are the Sale's own, as they hand it on whole)."""

    if TYPE_CHECKING:  # what the Sale holds
        talk: Talk
        answers: dict[str, Any]
        progress: Progress

        @property
        def questionnaire(self) -> Questionnaire: ...

    def has_required_answers(self, _event: EventData) -> bool:
        return self.questionnaire.complete

    def disclosures_shown(self, _event: EventData) -> bool:
        return self.progress.disclosed

    def paused_in(self, event: EventData) -> bool:
        return event.transition is not None and event.transition.dest == self.progress.paused_from

    def record_consent(self, _event: EventData) -> None:
        self.progress.consent = True
        self.talk.mark("consent")

    def note_objection(self, event: EventData) -> None:
        self.progress.objection = str(next(iter(event.args)))
        self.talk.mark("objection", self.progress.objection)

    def go_to_last_question(self, _event: EventData) -> None:
        self.questionnaire.go_to_last()

    def start_editing(self, event: EventData) -> None:
        self.questionnaire.edit(str(next(iter(event.args))))

    def remember_stage(self, event: EventData) -> None:
        self.progress.paused_from = event.transition.source if event.transition else None

    def forget_everything(self, _event: EventData) -> None:
        self.answers.clear()
        # the count of questions asked goes on, so that no button from before is current again
        self.progress = Progress(greeted=True, asked=self.progress.asked)
        self.__dict__.pop("questionnaire", None)  # it held the old progress


# One machine for every conversation; models are never attached to it (see conversation.py).
MACHINE = Machine(
    model=None,
    states=STATES,
    transitions=TRANSITIONS,
    initial="approach",
    auto_transitions=False,
    send_event=True,
    before_state_change="record_step",  # logged before the new stage speaks
    after_state_change="enter_stage",
)
