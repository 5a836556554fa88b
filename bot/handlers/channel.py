"""What every channel shares: the commands, how a reply becomes messages, the apology, the locale.

A channel (Telegram, the console, the web chat) does only two things of its own: it reads
what arrives into an `Inbound` value, and it sends each message (a `Reply` cut to the channel's
limits) its own way (a keyboard, numbered lines, HTML). Everything between — the sale, splitting
long texts, paging options that do not fit, the words of the 'more' option and of the apology — is here, in
`Channel`, so that a new channel is one new file plus its entry point.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.commands import AGENT, AGENTS, COMMAND_NAMES, COMMANDS, CUSTOMER, EVERYONE, MANAGER, Command, menu
from bot.flows.messages import Button, Inbound, Reply
from bot.library import DEFAULT_LOCALE, LOCALES, locale_for_tag
from bot.service import Pending, SalesService, Sender, Turn
from storage.models import contact_length

log = logging.getLogger(__name__)
__all__ = ["AGENT", "AGENTS", "COMMANDS", "COMMAND_NAMES", "CUSTOMER", "EVERYONE", "MANAGER", "Command",
           "menu"]

# -- commands (their table, with who may use each, is bot/commands.py) ---------------------------
# What people type after /lang for the locales' codes.
LANGUAGE_ALIASES = {"zh": "zh_CN", "cn": "zh_CN", "hant": "zh_Hant", "tw": "zh_Hant", "hk": "zh_Hant",
                    "繁體": "zh_Hant", "繁体": "zh_Hant", "简体": "zh_CN", "english": "en"}


def command(name: str, argument: str = "") -> Inbound:
    """A command as the sale reads it, however the channel received it."""
    argument = argument.strip()
    return Inbound("command", name, LANGUAGE_ALIASES.get(argument, argument) if name == "lang" else argument)


def pick_locale(language_code: str | None) -> str:
    """The product's locale nearest to a language tag such as 'en-GB' or 'zh-hans'."""
    return locale_for_tag(language_code or "") or (DEFAULT_LOCALE if not language_code else "en")


# -- what arrives ------------------------------------------------------------------------------
# Characters no database keeps in a text: NUL (PostgreSQL refuses it in every text column) and
# halves of a surrogate pair on their own (they have no UTF-8 form). Telegram never sends them,
# but anyone who can post to the webhook can, and one of them would fail every later message of
# that person; they are dropped where a message enters.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    return _UNSTORABLE.sub("", text)


NAME_LENGTH, PAYLOAD_LENGTH = contact_length("name"), contact_length("start_payload")


def storable_sender(sender: Sender) -> Sender:
    """The sender as the database can keep them: no unstorable characters, a name cut to what
    the contacts table holds, a start payload that does not fit dropped (a cut one would be
    another code)."""
    payload = storable(sender.start_payload) if sender.start_payload else None
    if payload and PAYLOAD_LENGTH and len(payload) > PAYLOAD_LENGTH:
        payload = None
    return replace(sender, name=storable(sender.name)[:NAME_LENGTH], start_payload=payload or None)


def storable_inbound(inbound: Inbound) -> Inbound:
    return replace(inbound, text=storable(inbound.text), argument=storable(inbound.argument))


# -- replies as messages -----------------------------------------------------------------------
MORE = "more:"  # the value of the 'more' option: "more:<offset of the next page>"


@dataclass(frozen=True)
class Limits:
    """What one message of a channel can hold; None: no limit."""

    text: int | None = None  # characters
    options: int | None = None  # options (buttons), the 'more' option included


# Where a long text may be cut, best first; a message ends where a match ends. After a paragraph;
# after a sentence (a Chinese full stop needs no space after it, a Latin one does, so that "1.5"
# and "e.g.x" stay whole; closing quotes and brackets stay with their sentence); after a line;
# between words.
_CLOSERS = "[”’\"')）」』]*"
_BREAKS = (
    re.compile(r"(?=\n[ \t]*\n)"),
    re.compile(rf"[。！？]{_CLOSERS}|[.!?]{_CLOSERS}(?=\s)"),
    re.compile(r"(?=\n)"),
    re.compile(r"(?=\s)"),
)


def _cut(text: str, limit: int) -> int:
    """Where the first message of a text longer than `limit` ends: the last break of the best
    kind in the second half of the message (so that no message is needlessly short), else the
    last break of the best kind anywhere in it, else at the limit itself."""
    window = text[:limit + 1]  # one more character: is a full stop at the limit followed by a space?
    for earliest in (limit // 2, 1):
        for kind in _BREAKS:
            ends = [m.end() for m in kind.finditer(window) if earliest <= m.end() <= limit]
            if ends:
                return ends[-1]
    return limit


def split_text(text: str, limit: int | None) -> list[str]:
    """A text as messages of at most `limit` characters, cut at paragraph ends if it can, else at
    sentence ends, line ends, between words, and mid-word only when a word is longer than a
    message. Spaces and line breaks at a cut (and around the whole text) are dropped; no message is
    empty: each begins with what is not a space, and a cut comes after its first character."""
    if not limit or len(text) <= limit:
        return [text]
    parts = []
    rest = text.strip()
    while len(rest) > limit:
        end = _cut(rest, limit)
        parts.append(rest[:end].rstrip())
        rest = rest[end:].lstrip()
    return [*parts, rest] if rest else parts or [text[:limit]]


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

    @property
    def longest_text(self) -> int:
        """The most characters a message may have; a longer one is refused, not kept."""
        longest: int = self.service.library.parameters.inbound.longest_text
        return longest

    def handle(self, sender: Sender, inbound: Inbound, delivery_id: str | None = None) -> Turn:
        """The sale's answer to one message; its replies, cut into this channel's messages, wait in
        the outbox for the channel to send them (`pending`, then `sent`). Characters a database
        cannot keep are dropped. A message longer than any answer needs is not read: the sale
        hears only that one came (`errors.too_long` is its polite reply, and the question is asked
        again), so nothing of it is kept, and the contact log still shows what was sent."""
        sender = storable_sender(sender)
        length, longest = len(inbound.text) + len(inbound.argument), self.longest_text
        if length > longest:
            log.info("refused a %s message of %d characters (%d are read)", self.name, length, longest)
            inbound = Inbound("unsupported", "too_long")
        return self.service.handle(sender, storable_inbound(inbound), delivery_id, self.cut)

    def cut(self, reply: Reply, locale: str, offset: int = 0) -> list[Reply]:
        """A reply as this channel's messages (see `outgoing`), the 'more' option in `locale`."""
        paged = self.limits.options is not None and len(reply.buttons) > self.limits.options
        label = self.service.library.text(locale, "buttons.more") if paged else ""
        return outgoing(reply, self.limits, label, offset)

    def render(self, sender: Sender, reply: Reply, offset: int = 0) -> list[Reply]:
        # The locale costs a database read, so it is looked up only when a page needs it.
        paged = self.limits.options is not None and len(reply.buttons) > self.limits.options
        return self.cut(reply, self.locale(sender) if paged else DEFAULT_LOCALE, offset)

    def pending(self, chat: str) -> list[Pending]:
        """The messages waiting to be sent to a chat (AGENT_CHAT: to the agents), in order."""
        return self.service.pending(self.name, chat)

    def more(self, sender: Sender, offset: int) -> Reply | None:
        """The current question again with the page of its options from `offset`; nothing changes.

        Paging is stateless: the 'more' option carries the offset of the next page, and the
        options come from asking the sale for the current question again (without saving
        anything), so no page is kept anywhere and a restarted bot pages on as before. None
        when there is no question to ask (a channel may then just drop the old options).
        """
        reply = self.service.options_for(storable_sender(sender))
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
