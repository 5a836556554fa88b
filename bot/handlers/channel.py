"""What every channel shares: the commands, how a reply becomes messages, the apology, the locale.

A channel (Telegram, the console, a web chat to come) does only two things of its own: it reads
what arrives into an `Inbound` value, and it sends each message (a `Reply` cut to the channel's
limits) its own way (a keyboard, numbered lines, HTML). Everything between — the sale, splitting
long texts, paging options that do not fit, the words of the 'more' option and of the apology — is here, in
`Channel`, so that a new channel is one new file plus its entry point.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bot.flows.messages import Button, Inbound, Reply
from bot.library import DEFAULT_LOCALE, LOCALES
from bot.service import SalesService, Sender, Turn

# -- commands ----------------------------------------------------------------------------------
CUSTOMER, AGENT = "customer", "agent"
EVERYONE = frozenset({CUSTOMER, AGENT})
AGENTS = frozenset({AGENT})


@dataclass(frozen=True)
class Command:
    """A command every channel understands. roles: who it is meant for (not enforced yet: today
    everyone may use every command). listed: shown in a channel's command menu, described by the
    locale's `commands.<name>` text; the others are typed only, as they are buttons or words too."""

    name: str
    roles: frozenset[str] = EVERYONE
    listed: bool = True


# In menu order.
COMMANDS = (
    Command("start"),
    Command("help"),
    Command("cancel"),
    Command("restart"),
    Command("lang"),
    Command("rehearse", AGENTS),
    Command("stop", AGENTS),
    Command("progress", AGENTS),
    Command("script", AGENTS),
    Command("delete"),
    Command("back", listed=False),
    Command("why", listed=False),
    Command("agent", listed=False),
)
COMMAND_NAMES = frozenset(c.name for c in COMMANDS)
# What people type after /lang for the locales' codes.
LANGUAGE_ALIASES = {"zh": "zh_CN", "cn": "zh_CN"}


def menu(role: str | None = None) -> list[Command]:
    """The listed commands, in order: those meant for `role`, or all of them."""
    return [c for c in COMMANDS if c.listed and (role is None or role in c.roles)]


def command(name: str, argument: str = "") -> Inbound:
    """A command as the sale reads it, however the channel received it."""
    argument = argument.strip()
    return Inbound("command", name, LANGUAGE_ALIASES.get(argument, argument) if name == "lang" else argument)


def pick_locale(language_code: str | None) -> str:
    """The product's locale nearest to a language tag such as 'en-GB' or 'zh-hans'."""
    code = (language_code or "").lower()
    return DEFAULT_LOCALE if code.startswith("zh") or not code else "en"


# -- replies as messages -----------------------------------------------------------------------
MORE = "more:"  # the value of the 'more' option: "more:<offset of the next page>"


@dataclass(frozen=True)
class Limits:
    """What one message of a channel can hold; None: no limit."""

    text: int | None = None  # characters
    options: int | None = None  # options (buttons), the 'more' option included


@dataclass(frozen=True)
class Outbox:
    """What one inbound message produced, ready for the channel to send."""

    turn: Turn
    messages: tuple[Reply, ...] = field(default_factory=tuple)


def split_text(text: str, limit: int | None) -> list[str]:
    if not limit:
        return [text]
    return [text[i:i + limit] for i in range(0, len(text), limit)] or [""]


def page(options: Sequence[Button], limit: int | None, offset: int, more_label: str) -> tuple[Button, ...]:
    """The options from `offset` that fit in `limit`, the last place taken by a 'more' option
    that leads to the next page when they do not all fit. After the last page comes the first
    again, so every option is reachable. An offset out of range (the options changed since the
    page was shown) gives the first page."""
    if limit is None or len(options) <= limit:
        return tuple(options)
    if limit < 2:
        raise ValueError("a page needs room for one option and 'more'")
    offset = offset if 0 <= offset < len(options) else 0
    shown = tuple(options[offset:offset + limit - 1])
    following = offset + len(shown)
    return (*shown, Button(more_label, f"{MORE}{following if following < len(options) else 0}"))


def more_offset(value: str) -> int | None:
    """The page a pressed 'more' option asks for; None when the value is an option of the sale."""
    if not value.startswith(MORE) or not value[len(MORE):].isdigit():
        return None
    return int(value[len(MORE):])


def outgoing(reply: Reply, limits: Limits, more_label: str = "…", offset: int = 0) -> list[Reply]:
    """A reply as the messages of a channel with these limits."""
    parts = split_text(reply.text, limits.text)
    # options and chart go with the last part of a long text
    last = replace(reply, text=parts[-1], buttons=page(reply.buttons, limits.options, offset, more_label))
    return [Reply(part, to_agent=reply.to_agent) for part in parts[:-1]] + [last]


class Channel:
    """One channel's way into the sale. Its methods do I/O (the database): an async channel
    calls them off its event loop."""

    def __init__(self, name: str, service: SalesService, limits: Limits = Limits()) -> None:
        self.name = name
        self.service = service
        self.limits = limits

    def handle(self, sender: Sender, inbound: Inbound, delivery_id: str | None = None) -> Outbox:
        """The sale's answer to one message, as this channel's messages."""
        turn = self.service.handle(sender, inbound, delivery_id)
        return Outbox(turn, tuple(m for reply in turn.replies for m in self.render(sender, reply)))

    def render(self, sender: Sender, reply: Reply, offset: int = 0) -> list[Reply]:
        paged = self.limits.options is not None and len(reply.buttons) > self.limits.options
        # The label's locale costs a database read, so it is looked up only when a page needs it.
        label = self.service.library.text(self.locale(sender), "buttons.more") if paged else ""
        return outgoing(reply, self.limits, label, offset)

    def more(self, sender: Sender, offset: int) -> Reply | None:
        """The current question again with the page of its options from `offset`; nothing changes.

        Paging is stateless: the 'more' option carries the offset of the next page, and the
        options come from asking the sale for the current question again (without saving
        anything), so no page is kept anywhere and a restarted bot pages on as before. None
        when there is no question to ask (a channel may then just drop the old options).
        """
        reply = self.service.options_for(sender)
        return self.render(sender, reply, offset)[-1] if reply else None

    def locale(self, sender: Sender) -> str:
        """The locale the conversation is in: the stored one, else what the channel knows of the
        person. The database may be what failed, so a failing read falls back too."""
        try:
            stored = self.service.locale_of(sender)
        except Exception:  # used to apologise when things fail; it must not fail itself
            stored = None
        if stored:
            return stored
        return sender.locale if sender.locale is not None and sender.locale in LOCALES else DEFAULT_LOCALE

    def apology(self, sender: Sender) -> str:
        """What a person is told when their message could not be handled (nothing was saved)."""
        return self.service.library.text(self.locale(sender), "errors.internal")
