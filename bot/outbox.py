"""The outbox as the message path sees it: a message waiting to be sent, how a reply becomes a
channel's messages (`Cut`), and how it is put in the outbox, what it carries besides its text in parts
of its own."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.flows.messages import Button, Reply
from bot.library import Library
from storage.queues import Outbox
from storage.unit_of_work import UnitOfWork

# How a channel cuts a reply into its messages (its limits; the locale names its 'more' option).
Cut = Callable[[Reply, str], list[Reply]]


def whole(reply: Reply, _locale: str) -> list[Reply]:
    return [reply]


@dataclass(frozen=True)
class Pending:
    """A message of the outbox, waiting to be sent: `chart` rows carry only the chart."""

    id: int
    chat: str
    kind: str
    message: Reply


def unsent(outbox: Outbox, channel: str, chat: str) -> list[Pending]:
    return [Pending(item_id, chat, kind, Reply.from_json(payload))
            for item_id, kind, payload in outbox.pending(channel, chat)]


def post(uow: UnitOfWork, library: Library, channel: str, chat: str, conversation_id: int | None, stage: str,
         reply: Reply, cut: Cut, locale: str) -> None:
    """A reply into the outbox as the channel's messages; what a message carries besides its
    text (a chart, a link to pass on, a file) follows it as a part of its own."""
    for message in cut(reply, locale):
        text_only = replace(message, chart=None, share=None, attachment=None)
        uow.outbox.add(channel, chat, conversation_id, stage, "message", text_only.to_json())
        if message.chart:
            uow.outbox.add(channel, chat, conversation_id, stage, "chart",
                           Reply("", chart=message.chart).to_json())
        if message.share:
            words = library.text(locale, "agency.invite_share")
            button = Button(library.text(locale, "agency.buttons.forward"), "share")
            forward = Reply(words, (button,), share=message.share)
            uow.outbox.add(channel, chat, conversation_id, stage, "share", forward.to_json())
        if message.attachment:
            uow.outbox.add(channel, chat, conversation_id, stage, "file",
                           Reply("", attachment=message.attachment).to_json())
