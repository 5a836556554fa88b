"""The sale itself: one conversation, what it does with each message, and what it says.

`handle(sale, inbound, library)` is the whole core API. It restores the conversation on the
shared machine of machine.py, lets it react, and returns what happened in order: the replies to
send and the stage changes to log. No I/O happens here; the channel does it around this call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transitions import EventData

from bot.flows.calculator import VARIANTS, Analysis, analyse
from bot.flows.machine import ENTRY_TALK, MACHINE, MENUS, RESUMABLE, attached
from bot.flows.messages import Button, Inbound, Mark, Reply, Step, Trail
from bot.flows.presenting import gap_chart, plan_context, summary_lines
from bot.flows.qualification import qualify
from bot.flows.questionnaire import Rejection, asked, read_answer, without_unasked
from bot.library import DEFAULT_LOCALE, LOCALES, Library, Question, keyword_in, normalise

# Intents that must be the whole message when typed (so an answer that contains "back" stays an answer).
COMMANDS = ("back", "cancel", "why", "help", "agent", "skip", "resume", "restart")
FAILURES_BEFORE_WAY_OUT = 3
STALE = "stale"


@dataclass(eq=False)
class Sale:
    """One customer's conversation: everything here is saved and restored between messages."""

    state: str = "approach"
    locale: str = DEFAULT_LOCALE
    answers: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, Any] = field(default_factory=dict)
    customer_name: str = ""
    reference: str = ""

    # -- the words -----------------------------------------------------------------------------
    def _text(self, key: str, **context: Any) -> str:
        return self._library.text(self.locale, key, **context)

    def say(self, key: str, buttons: tuple[Button, ...] = (), **context: Any) -> None:
        self._trail.append(Reply(self._text(key, **context), buttons))

    def mark(self, kind: str, detail: str = "") -> None:
        self._trail.append(Mark(kind, detail))

    def label(self, value: str) -> str:
        question = self.current_question() if self.state == "needs" else None
        if question and value in question.choices:
            return self._text(f"choices.{question.id}.{value}")
        if value.startswith("edit:"):
            return self._text("buttons.edit", label=self._text(f"questions.{value[5:]}.label"))
        return self._text(f"buttons.{value}")

    def menu(self) -> list[str]:
        """The values of the options offered right now."""
        if self.state == "needs":
            question = self.current_question()
            values = list(question.choices) + (["yes", "no"] if question.type == "yes_no" else [])
            values += [] if question.required else ["skip"]
            return values + (["agent"] if self.progress.get("failures", 0) >= FAILURES_BEFORE_WAY_OUT else [])
        expand = {
            "objections": lambda: [o.id for o in self._library.objections],
            "edits": lambda: [f"edit:{q.id}" for q in self.questions()],
            "variants": lambda: [f"variant:{v}" for v in VARIANTS if v != self.variant],
            "contact": lambda: [] if self.progress.get("contacted") else ["contact"],
        }
        values: list[str] = []
        for item in MENUS[self.state]:
            values += expand[item]() if item in expand else [item]
        return values

    def prompt(self) -> None:
        """Ask again what the current stage is waiting for."""
        buttons = tuple(Button(self.label(value), value) for value in self.menu())
        if self.state == "needs":
            question = self.current_question()
            progress = self._text("progress", n=self.question_number(), total=len(self.questions()))
            prompt = self._text(f"questions.{question.id}.prompt")
            typed = question.type in ("number", "numbers", "text")
            self._trail.append(Reply(f"{progress}\n{prompt}", buttons, free_input=typed))
        else:
            self.say(f"{self.state}/ask", buttons)

    # -- needs questions -----------------------------------------------------------------------
    def questions(self) -> list[Question]:
        """The questions that apply to this customer, given the answers so far."""
        return asked(self._library.questions, self.answers)

    def current_question(self) -> Question:
        wanted = self.progress.get("question")
        questions = self.questions()
        return next((q for q in questions if q.id == wanted), questions[0])

    def question_number(self) -> int:
        return self.questions().index(self.current_question()) + 1

    def go_to_question(self, question: Question) -> None:
        self.progress["question"] = question.id
        self.progress["failures"] = 0

    def answer(self, inbound: Inbound, intent: str | None) -> None:
        question = self.current_question()
        if intent == "skip":
            if question.required:
                self.say("errors.required")
                return self.prompt()
            self.answers[question.id] = question.default
            self.say("skipped")
            return self.next_question()
        labels = {c: self._text(f"choices.{question.id}.{c}") for c in question.choices}
        words = self._library.keywords[self.locale]
        value = read_answer(question, inbound.text, words["yes"], words["no"], labels)
        if isinstance(value, Rejection):
            self.progress["failures"] = self.progress.get("failures", 0) + 1
            self.say(value.key, **{name: self.shown(question, v) for name, v in value.context.items()})
            if self.progress["failures"] >= FAILURES_BEFORE_WAY_OUT:
                self.say("errors.third_failure", optional=not question.required)
            return self.prompt()
        self.answers = without_unasked(self._library.questions, {**self.answers, question.id: value})
        self.next_question()

    def shown(self, question: Question, value: Any) -> Any:
        """A limit as the customer reads it: money in the locale's way, other numbers plainly."""
        if isinstance(value, float | int) and question.unit == "money":
            return self._library.money(self.locale, value)
        return int(value) if isinstance(value, float) and value == int(value) else value

    def next_question(self) -> None:
        """The next question that applies; when editing, the next one not answered yet (an edit
        can bring in a new question, e.g. children's ages); then the summary."""
        questions = self.questions()
        if self.progress.get("editing"):
            following = [q for q in questions if q.id not in self.answers]
        else:
            following = questions[questions.index(self.current_question()) + 1:]
        if following:
            self.go_to_question(following[0])
            return self.prompt()
        if not self.trigger("needs_complete"):
            missing = next(q for q in questions if q.required and self.answers.get(q.id) is None)
            self.go_to_question(missing)
            self.say("errors.required")
            self.prompt()

    # -- guards and actions named in the transition table ------------------------------------
    def has_required_answers(self, event: EventData) -> bool:
        return all(self.answers.get(q.id) is not None for q in self.questions() if q.required)

    def disclosures_shown(self, event: EventData) -> bool:
        return bool(self.progress.get("disclosed"))

    def at_first_question(self, event: EventData) -> bool:
        return self.question_number() == 1

    def paused_in(self, event: EventData) -> bool:
        return event.transition.dest == self.progress.get("paused_from")

    def record_consent(self, event: EventData) -> None:
        self.progress["consent"] = True
        self.mark("consent")

    def note_objection(self, event: EventData) -> None:
        self.progress["objection"] = event.args[0]
        self.mark("objection", event.args[0])

    def go_to_last_question(self, event: EventData) -> None:
        self.go_to_question(self.questions()[-1])

    def start_editing(self, event: EventData) -> None:
        self.go_to_question(self._library.question(event.args[0]))
        self.progress["editing"] = True

    def remember_stage(self, event: EventData) -> None:
        self.progress["paused_from"] = event.transition.source

    def forget_everything(self, event: EventData) -> None:
        self.answers, self.progress = {}, {"greeted": True}

    def record_step(self, event: EventData) -> None:
        self._trail.append(Step(event.event.name, event.transition.source, event.transition.dest))

    # -- what each stage says on entry --------------------------------------------------------
    @property
    def variant(self) -> str:
        return self.progress.get("variant", "standard")

    def analysis(self) -> Analysis:
        return analyse(self.answers, self._library.parameters)

    def plan(self, analysis: Analysis | None = None) -> dict[str, Any]:
        return plan_context(self._library, self.locale, analysis or self.analysis(), self.variant, self.answers)

    def show_plan(self, variant: str) -> None:
        self.progress["variant"] = variant
        analysis = self.analysis()
        plan = self.plan(analysis)
        self.mark("proposal", f"{variant} {plan['total']}")
        self._trail.append(Reply(self._text("proposal/plan", **plan),
                                 chart=gap_chart(self._library, self.locale, analysis, self.answers)))

    def hand_off(self, announce: bool) -> None:
        """Qualified leads go to the agent with a summary; the customer hears who calls and when."""
        self.progress["contacted"] = True
        analysis = self.analysis()
        verdict = qualify(self.answers, analysis, self._library.parameters, consent=True)
        if verdict.qualified or not announce:
            lead = self._library.text(
                self._library.agent_locale, "agent/lead", reference=self.reference, customer_name=self.customer_name,
                lines=summary_lines(self._library, self._library.agent_locale, self.answers),
                **plan_context(self._library, self._library.agent_locale, analysis, self.variant, self.answers))
            self._trail.append(Reply(lead, to_agent=True))
            self.mark("lead", ",".join(verdict.reasons) or "qualified")
        if announce and verdict.qualified:
            self.say("handoff_customer")
        elif announce:
            reasons = " ".join(self._text(f"qualification.{key}") for key in verdict.reasons)
            self.say("unqualified", reasons=reasons)

    def on_enter_approach(self, event: EventData) -> None:
        self.progress["greeted"] = True
        self.say("approach/greeting", customer_name=self.customer_name)
        self.prompt()

    def on_enter_needs(self, event: EventData) -> None:
        self.progress["disclosed"] = False  # answers may change, so the terms must be shown again
        if event.transition.source == "approach":
            self.go_to_question(self.questions()[0])
            self.say("needs/intro", total=len(self.questions()))
        self.prompt()

    def on_enter_summary(self, event: EventData) -> None:
        self.progress["editing"] = False
        self.say("summary/summary", lines=summary_lines(self._library, self.locale, self.answers))
        self.prompt()

    def on_enter_proposal(self, event: EventData) -> None:
        self.show_plan(self.variant)
        self.prompt()

    def on_enter_objection(self, event: EventData) -> None:
        self.say(f"objection/{self.progress['objection']}", **self.plan())
        self.prompt()

    def on_enter_closing(self, event: EventData) -> None:
        deductible = self._library.parameters["needs"]["medical_deductible"]
        self.say("closing/disclosure", deductible=deductible, **self.plan())
        self.progress["disclosed"] = True
        self.prompt()

    def on_enter_won(self, event: EventData) -> None:
        if not self.progress.get("contacted"):
            self.hand_off(announce=False)  # applying: the agent takes it from here, qualified or not

    def speak_on_entry(self, event: EventData) -> None:
        if self.state in ENTRY_TALK:
            if ENTRY_TALK[self.state]:
                self.say(ENTRY_TALK[self.state], referral_code=self.reference)
            self.prompt()

    # -- reading a message -------------------------------------------------------------------
    def fire(self, trigger: str, *args: Any) -> bool:
        """Run a trigger if the current stage has it; False when it has not or a guard says no."""
        if trigger not in MACHINE.get_triggers(self.state):
            return False
        return self.trigger(trigger, *args)

    def intent_of(self, inbound: Inbound) -> str | None:
        if inbound.kind == "choice":
            return inbound.text if inbound.text in self.menu() else STALE
        if inbound.kind == "command":
            return inbound.text
        text = normalise(inbound.text)
        return next((c for c in COMMANDS if text and text in self._library.words_anywhere[c]), None)

    def detect(self, text: str) -> str | None:
        """The option a typed message means at a menu stage: an objection, a keyword or a label."""
        text = normalise(text)
        options = self.menu()
        if "object" in MACHINE.get_triggers(self.state):
            options = [o.id for o in self._library.objections] + options
        for value in options:
            if text == normalise(self.label(value)):
                return value
        keywords = self._library.keywords[self.locale]
        objection_words = {o.id: o.keywords.get(self.locale, ()) for o in self._library.objections}
        for value in options:
            words = objection_words.get(value) or keywords.get(value, ())
            if any(keyword_in(word, text) for word in words):
                return value
        return None

    def choose(self, inbound: Inbound, intent: str | None) -> None:
        """An option of the current menu: a move in the table, or something that stays in the stage."""
        if intent is None and inbound.kind == "text":
            intent = self.detect(inbound.text)
        action, _, argument = (intent or "").partition(":")  # e.g. "edit:age", "variant:essential"
        if action in {o.id for o in self._library.objections}:
            action, argument = "object", action
        staying = {"variant": lambda: self.show_plan(argument), "contact": lambda: self.hand_off(announce=True),
                   "topic": lambda: self.say(f"after_sales/{argument}")}
        if self.state == "after_sales" and self._library.has(self.locale, f"after_sales/{action}"):
            action, argument = "topic", action
        if intent in self.menu() and action in staying:
            staying[action]()
            return self.prompt()
        if action and self.fire(action, *([argument] if argument else [])):
            return
        self.say("errors.not_understood")
        self.prompt()

    # -- commands that work at every stage ------------------------------------------------------
    def start(self) -> None:
        if not self.progress.get("greeted"):
            return self.on_enter_approach(None)  # type: ignore[arg-type]
        if self.state == "paused":
            self.fire("resume") or self.trigger("restart")
            return None
        if self.state == "lost":
            self.trigger("restart")
            return None
        self.say("common/welcome_back")
        self.prompt()

    def switch_language(self, wanted: str) -> None:
        others = [loc for loc in LOCALES if loc != self.locale]
        self.locale = wanted if wanted in LOCALES else others[0]
        self.say("lang_switched")
        self.prompt()

    def why(self) -> None:
        if self.state == "needs":
            self.say(f"questions.{self.current_question().id}.why")
        else:
            self.say("why_general")
        self.prompt()

    def go_back(self) -> None:
        if self.state == "needs" and self.question_number() > 1:
            self.go_to_question(self.questions()[self.question_number() - 2])
            return self.prompt()
        if not self.fire("back"):
            self.say("errors.nothing_to_go_back_to")
            self.prompt()

    def cancel(self) -> None:
        if not (self.state in RESUMABLE and self.fire("pause")):
            self.prompt()

    def ask_for_agent(self) -> None:
        self.progress["agent_requested"] = True
        self.mark("handoff", self.state)
        self.say("handoff")
        self.prompt()

    def help(self) -> None:
        self.say("common/help")
        self.prompt()

    def refuse(self, key: str) -> None:
        """Say politely why the message cannot be used, and ask again; nothing else changes."""
        self.mark("refused", key)
        self.say(key)
        self.prompt()

    def react(self, inbound: Inbound) -> None:
        if inbound.kind == "unsupported":
            specific = f"errors.{inbound.text}"  # e.g. errors.edited; else the general reply
            return self.refuse(specific if self._library.has(self.locale, specific) else "errors.unsupported")
        if inbound.kind == "command" and inbound.text == "start" or not self.progress.get("greeted"):
            return self.start()
        if inbound.kind == "command" and inbound.text == "lang":
            return self.switch_language(inbound.argument)
        intent = self.intent_of(inbound)
        if intent == STALE:
            return self.refuse("errors.stale_button")
        everywhere = {"back": self.go_back, "cancel": self.cancel, "why": self.why, "help": self.help,
                      "agent": self.ask_for_agent, "restart": lambda: self.trigger("restart")}
        if intent in everywhere:
            return everywhere[intent]()
        if inbound.kind == "command":
            return self.refuse("errors.unknown_command")
        if self.state == "needs":
            return self.answer(inbound, intent)
        self.choose(inbound, intent)


def on_machine(sale: Sale, library: Library):  # type: ignore[no-untyped-def]
    """Put a conversation on the sale's shared machine for one message."""
    return attached(MACHINE, sale, library)


def handle(sale: Sale, inbound: Inbound, library: Library) -> Trail:
    """React to one message. Returns, in order, the replies to send and the steps to log."""
    with on_machine(sale, library) as trail:
        sale.react(inbound)
    return trail
