"""Which chat hears about a customer: a channel with an agents' chat of its own uses it; any other
channel, a new one included, sends the word for agents to the agents' chat on Telegram, so that a
new channel's leads and hand-offs never wait unsent."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.agency import AGENT_CHAT
from bot.channels import AGENTS_CHANNEL, CHANNELS, ChannelInfo, agents_channel
from bot.cli import main
from bot.flows.messages import Inbound
from bot.library import Library
from bot.service import SalesService, Sender
from bot.settings import Settings
from storage.database import Database


def test_each_channel_knows_whose_agents_chat_it_uses() -> None:
    assert agents_channel("telegram") == "telegram" and agents_channel("console") == "console"
    assert agents_channel("web") == AGENTS_CHANNEL == "telegram"
    assert "jsonl" not in CHANNELS and agents_channel("jsonl") == "telegram"  # a new channel: safe default


def test_a_hand_off_from_a_new_channel_waits_in_the_agents_chat_on_telegram(library: Library,
                                                                           sqlite_database: Database) -> None:
    service = SalesService(library, sqlite_database)
    sender = Sender("jsonl", "line-7", locale="en")
    service.handle(sender, Inbound("command", "start"))
    service.handle(sender, Inbound("command", "agent"))
    to_agents = service.pending("telegram", AGENT_CHAT)
    assert len(to_agents) == 1 and to_agents[0].message.to_agent
    assert service.pending("jsonl", AGENT_CHAT) == []


SERVED: list[SalesService] = []


def serve_jsonl(service: SalesService, _settings: Settings) -> int:
    """A channel as a new one would be written: it reads what arrives and hands it to the service."""
    SERVED.append(service)
    service.handle(Sender("jsonl", "line-1", locale="en"), Inbound("command", "start"))
    return 0


def test_a_registered_channel_runs_from_the_command_line(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    monkeypatch.setitem(CHANNELS, "jsonl", ChannelInfo("jsonl", entry="tests.test_channels:serve_jsonl"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'served.db'}")
    assert main(["serve", "jsonl"]) == 0
    assert len(SERVED) == 1 and SERVED[0].pending("jsonl", "line-1")  # its greeting waits to be sent
