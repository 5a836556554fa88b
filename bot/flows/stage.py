"""What a stage of the sale is: its name, options, words, flags and behaviour in one object.

The base class is a menu stage: it says something on entry, offers options, and reads a pressed
or typed option as a move of the transition table. Stages with more to do (the questionnaire,
the proposal) subclass it in machine.py, next to their declaration.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from transitions import EventData

from bot.flows import listening
from bot.flows.intents import read
from bot.flows.listening import DECISIONS
from bot.flows.messages import Button, Inbound
from bot.library import keyword_in, normalise

if TYPE_CHECKING:
    from bot.flows.sale import Sale


# Replies that answer a message without moving, at any menu stage: a customer intent (or an
# intent a stage maps to them, e.g. a closing signal) -> the library text said before the options.
SAYINGS = {"question": "common/question", "greeting": "common/greeting", "thanks": "common/thanks",
           "off_topic": "common/off_topic", "signal": "common/signal"}


def display_key(stage: str | None) -> str:
    """The library key of a stage's name as people read it; "none" for a contact without a sale."""
    return f"stages.{stage or 'none'}"


class Stage:
    def __init__(self, name: str, menu: tuple[str, ...] = (), *, says: str | None = None,
                 intents: Mapping[str, str] | None = None, track: str | None = None,
                 before_sale: bool = False, resumable: bool = False, remind: bool = False,
                 apart: bool = False, beside: str | None = None, plan_seen: bool = False,
                 client: bool = False, milestone: str | None = None, pressed: tuple[str, ...] = ()) -> None:
        self.name = name
        self.menu = menu  # the options offered, in order
        self.intents = intents or {}  # what a customer intent means here: intent -> option
        self.says = says  # the library text said on entry, before the options
        self.track = track  # the talk track an agent gets with `/script <name>`
        self.before_sale = before_sale  # the customer can still decline
        self.resumable = resumable or before_sale  # /cancel pauses here, /start comes back here
        self.remind = remind  # a customer who stops here gets one reminder
        self.apart = apart  # no step along the sale (paused, lost): counted as it is now
        self.beside = beside  # at the same step of the funnel as that stage
        self.plan_seen = plan_seen  # a customer here has been shown a plan
        self.client = client  # a customer here has applied: a client, who gets a referral link
        self.milestone = milestone  # what a referred friend reaching this stage is called for the referrer
        self.pressed = pressed  # options taken only from their button: a sentence is asked to press it

    @property
    def display_key(self) -> str:
        """The library key of the stage's name as people read it (dashboard, leads)."""
        return display_key(self.name)

    # -- entering --------------------------------------------------------------------------------
    def enter(self, sale: Sale, _event: EventData | None) -> None:
        if self.says:
            sale.talk.say(self.says, link=sale.invite_link, reachable=sale.agent_reachable)
        self.prompt(sale)

    # -- the options -----------------------------------------------------------------------------
    def options(self, _sale: Sale) -> list[str]:
        return list(self.menu)

    def label(self, sale: Sale, value: str) -> str:
        return sale.talk.text(f"buttons.{value}")

    def buttons(self, sale: Sale) -> tuple[Button, ...]:
        return tuple(Button(self.label(sale, value), value) for value in self.options(sale))

    def prompt(self, sale: Sale) -> None:
        """Ask again what this stage is waiting for."""
        sale.talk.say(f"{self.name}/ask", self.buttons(sale))

    # -- reading a message -----------------------------------------------------------------------
    def read(self, sale: Sale, inbound: Inbound, intent: str | None) -> None:
        """An option of the menu: a move in the table, or something that stays in the stage."""
        if intent is None and inbound.kind == "text":
            intent = self.understand(sale, inbound.text)
            if intent is None:
                return None  # understand() has asked what was meant
        action, _, argument = (intent or "").partition(":")  # e.g. "edit:age", "variant:essential"
        if action in sale.objections:
            action, argument = "object", action
        if action == "question":  # a common question, else one the agent answers, as asked
            return listening.answer_question(sale, inbound.text)
        if action in SAYINGS:
            sale.talk.say(SAYINGS[action])
            return self.prompt(sale)
        # a question or "no" never moves the sale on; "yes, tomorrow at 10 works" makes no application
        typed = inbound.kind == "text" and self.by_label(sale, normalise(inbound.text)) != action
        if typed and (sale.hedged and action in DECISIONS or action in self.pressed):
            return listening.confirm_decision(sale, action)
        offered = intent in self.options(sale) or intent in self.intents.values()
        if offered and self.stay(sale, action, argument):
            return self.prompt(sale)
        if action and sale.fire(action, *([argument] if argument else [])):
            return None
        sale.not_understood()
        return None

    def stay(self, _sale: Sale, _action: str, _argument: str) -> bool:
        """Handle an option that does not change the stage; False when the option is a move."""
        return False

    def choices(self, sale: Sale) -> list[str]:
        """What can be typed here: the options, and the objections where one can be raised."""
        objecting = "object" in sale.machine.get_triggers(self.name)
        return (list(sale.objections) if objecting else []) + self.options(sale)

    def by_label(self, sale: Sale, text: str) -> str | None:
        """The option whose button label was typed."""
        return next((v for v in self.choices(sale) if text == normalise(self.label(sale, v))), None)

    def by_keyword(self, sale: Sale, text: str) -> str | None:
        """The option whose words (scripts_library) the message contains; the longest words found win
        ("the cheaper plan" is the essential plan, "cheaper" alone the price objection)."""
        keywords = sale.talk.library.keywords[sale.talk.locale]
        best, longest = None, 0
        for value in self.choices(sale):
            words = sale.objections.get(value) or keywords.get(value, ())
            found = max((len(word) for word in words if keyword_in(word, text)), default=0)
            if found > longest:
                best, longest = value, found
        return best

    def meaning(self, sale: Sale, intent: str) -> str | None:
        """The option (or saying) a customer intent stands for at this stage; None if it has none."""
        meant = self.intents.get(intent, intent)
        options = self.options(sale)
        objecting = "object" in sale.machine.get_triggers(self.name) and meant in sale.objections
        declared = intent in self.intents  # e.g. a request this stage answers in place
        return meant if meant in SAYINGS or meant in options or objecting or declared else None

    def understand(self, sale: Sale, text: str) -> str | None:
        """What a typed message means here: a button's label; else the intent classifier's reading
        when it is sure; else a keyword; else one question with the likeliest meanings as options
        (None: that question was asked, or the message was not understood)."""
        typed = normalise(text)
        if labelled := self.by_label(sale, typed):
            return labelled
        reading = read(sale.talk.library, text)
        meanings = list(dict.fromkeys(m for m in (self.meaning(sale, i) for i in reading.likely) if m))
        clear = reading.intent and meanings and self.meaning(sale, reading.intent) == meanings[0]
        sure = meanings[0] if clear else None
        keyword = self.by_keyword(sale, typed)
        # a decision is read only when the message asks for no other option ("ok, show me the cheaper one")
        other = keyword is not None and keyword != sure and keyword in self.options(sale)
        if sure and sure not in SAYINGS and not (sure in DECISIONS and other):
            return sure
        # an option's own words outweigh a reading that would only be answered in passing
        if keyword:
            return keyword
        if sure:
            return sure
        offered = [m for m in meanings if m in self.options(sale) and not (sale.refusing and m in DECISIONS)]
        if not offered:
            sale.not_understood()
            return None
        if model_reading := listening.consult(sale, text):  # unsure: the model, if any, may place it
            listening.act(sale, model_reading)
            return None
        sale.talk.mark("unsure", ",".join(offered))  # what the person is asked to choose from
        sale.talk.say("errors.clarify", tuple(Button(self.label(sale, m), m) for m in offered))
        return None

    def answers_itself(self, sale: Sale, text: str) -> bool:
        """True when the message is this stage's own to answer, before any common question's answer."""
        return self.reads_answers(sale, text)

    def reads_answers(self, sale: Sale, text: str) -> bool:
        """True when `text` is an answer to this stage's question (then no intent is looked for)."""
        return self.by_label(sale, normalise(text)) is not None

    # -- commands that mean something different at each stage -----------------------------------
    def why(self, sale: Sale) -> None:
        sale.talk.say("why_general")
        self.prompt(sale)

    def back(self, sale: Sale) -> bool:
        return sale.fire("back")
