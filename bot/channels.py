"""The channels the bot speaks on, by the name their contacts and outbox rows carry, and what the
rest of the bot must know of each without importing it (bot/handlers/ and bot/web/ hold their code).

A new channel is its file in bot/handlers/ plus one line here: its name, whether it reaches an
agents' chat itself, and `entry`, the function that runs it (`salesbot serve <name>`; it is called
with the service and the settings, and returns the exit status). The default is safe: a channel with
no agents' chat of its own sends the word for agents (leads, hand-offs) to the agents' chat on
`AGENTS_CHANNEL`, so nothing meant for an agent waits unsent.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelInfo:
    name: str
    agents_chat: bool = False  # it can deliver to the agents' shared chat itself
    entry: str | None = None  # "module:function" that runs it: function(service, settings) -> exit status


AGENTS_CHANNEL = "telegram"  # where the agents' shared chat is (TELEGRAM_AGENT_CHAT_ID)

CHANNELS: dict[str, ChannelInfo] = {info.name: info for info in (
    ChannelInfo("telegram", agents_chat=True),
    ChannelInfo("console", agents_chat=True, entry="bot.handlers.console:serve"),  # agents read it too
    ChannelInfo("web"),
)}


def agents_channel(channel: str) -> str:
    """The channel whose agents' chat hears about a customer of `channel`."""
    info = CHANNELS.get(channel)
    return channel if info is not None and info.agents_chat else AGENTS_CHANNEL
