"""What a stage of the sale is: its name, options, words, flags and behaviour in one object.

The base class is a menu stage: it says something on entry, offers options, and reads a pressed
or typed option as a move of the transition table. Stages with more to do (the questionnaire,
the proposal) subclass it in machine.py, next to their declaration.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from transitions import EventData

from bot.flows.messages import Button, Inbound
from bot.library import keyword_in, normalise

if TYPE_CHECKING:
    from bot.flows.sale import Sale


class Stage:
    def __init__(self, name: str, menu: tuple[str, ...] = (), *, says: str | None = None,
                 track: str | None = None, before_sale: bool = False, resumable: bool = False,
                 remind: bool = False) -> None:
        self.name = name
        self.menu = menu  # the options offered, in order
        self.says = says  # the library text said on entry, before the options
        self.track = track  # the talk track an agent gets with `/script <name>`
        self.before_sale = before_sale  # the customer can still decline
        self.resumable = resumable or before_sale  # /cancel pauses here, /start comes back here
        self.remind = remind  # a customer who stops here gets one reminder

    # -- entering --------------------------------------------------------------------------------
    def enter(self, sale: Sale, event: EventData | None) -> None:
        if self.says:
            sale.talk.say(self.says, referral_code=sale.reference)
        self.prompt(sale)

    # -- the options -----------------------------------------------------------------------------
    def options(self, sale: Sale) -> list[str]:
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
            intent = self.detect(sale, inbound.text)
        action, _, argument = (intent or "").partition(":")  # e.g. "edit:age", "variant:essential"
        if action in sale.objections:
            action, argument = "object", action
        if intent in self.options(sale) and self.stay(sale, action, argument):
            return self.prompt(sale)
        if action and sale.fire(action, *([argument] if argument else [])):
            return None
        sale.talk.say("errors.not_understood")
        self.prompt(sale)

    def stay(self, sale: Sale, action: str, argument: str) -> bool:
        """Handle an option that does not change the stage; False when the option is a move."""
        return False

    def detect(self, sale: Sale, text: str) -> str | None:
        """The option a typed message means: an objection, a button's label or one of its words."""
        text = normalise(text)
        options = self.options(sale)
        if "object" in sale.machine.get_triggers(self.name):
            options = list(sale.objections) + options
        for value in options:
            if text == normalise(self.label(sale, value)):
                return value
        keywords = sale.talk.library.keywords[sale.talk.locale]
        for value in options:
            words = sale.objections.get(value) or keywords.get(value, ())
            if any(keyword_in(word, text) for word in words):
                return value
        return None

    # -- commands that mean something different at each stage -----------------------------------
    def why(self, sale: Sale) -> None:
        sale.talk.say("why_general")
        self.prompt(sale)

    def back(self, sale: Sale) -> bool:
        return sale.fire("back")
