"""Every environment variable the bot reads, read once, in one place (README: Settings).

Nothing else reads the environment: `salesbot` (bot/cli.py) reads `Settings.from_env()` at start
and passes each value to what needs it.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///salesbot.sqlite3"
DEFAULT_OUTPUT = Path("salesbot-output")


class SettingsError(ValueError):
    """An environment variable is set to something the bot cannot use."""


@dataclass(frozen=True)
class Settings:
    # Telegram's token from @BotFather; without it `salesbot` chats in the terminal. Secrets are
    # kept out of repr, so that logging the settings never logs them.
    telegram_bot_token: str | None = field(default=None, repr=False)
    # Webhook mode only: Telegram's requests must carry it in their secret-token header.
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    # The chat (an agent or an agents' group) that receives qualified leads; none: the contact log only.
    telegram_agent_chat_id: int | None = None
    # A self-hosted Bot API server, e.g. http://host:8081/bot (the token is appended); none: Telegram's.
    telegram_api_base_url: str | None = None
    # Where conversations and the contact log are kept: any SQLAlchemy URL.
    database_url: str = DEFAULT_DATABASE_URL
    # A script library folder other than the installed scripts_library/.
    library: Path | None = None
    # A figures file other than the library's parameters.yaml (a market's sums, rates and ages).
    parameters: Path | None = None
    # Where the console saves charts as PNG files.
    output: Path = DEFAULT_OUTPUT
    # The agency's agents and managers: Telegram user ids (or console user names), comma-separated.
    agents: frozenset[str] = frozenset()
    managers: frozenset[str] = frozenset()
    # Where the web app (`salesbot web`) is reached from outside, e.g. https://bot.example.com.
    web_url: str | None = None
    # Signs the web app's cookies and forms; unset: a random one per start (sessions end on restart).
    web_secret: str | None = field(default=None, repr=False)
    # The bot's Telegram username, for the links the console shows (Telegram itself says it).
    telegram_bot_username: str | None = None
    # The bot's own flood limit, messages a second (Telegram allows about 30); 0: none (a Bot API
    # server of one's own, or a bench). Each worker process keeps its own.
    telegram_max_rate: float = 30
    # An OpenAI-compatible chat endpoint (e.g. http://127.0.0.1:8000/v1) and model, asked about
    # messages the sale cannot place; unset: no model. The key is kept out of repr.
    llm_url: str | None = None
    llm_model: str | None = None
    llm_key: str | None = field(default=None, repr=False)
    llm_timeout: float = 3.0  # seconds; on a time-out the sale goes on as without a model
    llm_health: bool = False  # send answers to the health question too (sensitive data: off by default)
    # A demonstration: the example identity of agency.yaml may serve customers, and every greeting
    # says it is a demonstration. Off: Telegram, the web and other channels refuse the example identity.
    demo: bool = False
    # Database connections one process may hold (PostgreSQL): its transactions and its chats' locks.
    # The default lets 4 bot workers and the web app share a stock PostgreSQL (README: Performance).
    database_connections: int = 18
    # Days a sent message stays in the outbox (the web chat shows its history from there; the
    # contact log keeps every message whatever this says).
    keep_sent_days: float = 30

    @property
    def staff(self) -> dict[str, str]:
        """Who is agent or manager, by id; someone named in both is a manager."""
        return {**dict.fromkeys(self.agents, "agent"), **dict.fromkeys(self.managers, "manager")}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from the environment (or the mapping given); a variable set to an empty
        string counts as unset, as a shell's `VAR= make run` means."""
        read = _Reader(os.environ if environ is None else environ)
        value, ids, seconds = read.value, read.ids, read.seconds
        agent_chat_id = read.chat_id("TELEGRAM_AGENT_CHAT_ID")
        max_rate = read.rate("TELEGRAM_MAX_MESSAGES_PER_SECOND")
        library, output = value("SALESBOT_LIBRARY"), value("SALESBOT_OUTPUT")
        return cls(
            telegram_bot_token=value("TELEGRAM_BOT_TOKEN"),
            telegram_webhook_secret=value("TELEGRAM_WEBHOOK_SECRET"),
            telegram_agent_chat_id=agent_chat_id,
            telegram_api_base_url=value("TELEGRAM_API_BASE_URL"),
            database_url=value("DATABASE_URL") or DEFAULT_DATABASE_URL,
            library=Path(library) if library else None,
            parameters=Path(parameters) if (parameters := value("SALESBOT_PARAMETERS")) else None,
            output=Path(output) if output else DEFAULT_OUTPUT,
            agents=ids("SALESBOT_AGENTS"),
            managers=ids("SALESBOT_MANAGERS"),
            web_url=value("SALESBOT_WEB_URL"),
            web_secret=value("SALESBOT_WEB_SECRET"),
            telegram_bot_username=(value("TELEGRAM_BOT_USERNAME") or "").lstrip("@") or None,
            telegram_max_rate=max_rate,
            llm_url=value("SALESBOT_LLM_URL"), llm_model=value("SALESBOT_LLM_MODEL"),
            llm_key=value("SALESBOT_LLM_KEY"), llm_timeout=seconds("SALESBOT_LLM_TIMEOUT", 3.0),
            llm_health=(value("SALESBOT_LLM_HEALTH") or "").lower() in ("1", "true", "yes"),
            demo=(value("SALESBOT_DEMO") or "").lower() in ("1", "true", "yes"),
            database_connections=read.count("SALESBOT_DATABASE_CONNECTIONS", 18, least=4),
            keep_sent_days=seconds("SALESBOT_KEEP_SENT_DAYS", 30),
        )


@dataclass(frozen=True)
class _Reader:
    """Reads the settings' variables; a wrong value raises SettingsError naming the variable."""

    env: Mapping[str, str]

    def value(self, name: str) -> str | None:
        return self.env.get(name, "").strip() or None

    def ids(self, name: str) -> frozenset[str]:
        return frozenset(part.strip() for part in (self.value(name) or "").split(",") if part.strip())

    def seconds(self, name: str, default: float) -> float:
        raw = self.value(name)
        try:
            wait = float(raw) if raw else default
        except ValueError:
            raise SettingsError(f"{name} must be a number of seconds, not {raw!r}") from None
        if not (math.isfinite(wait) and wait > 0):
            raise SettingsError(f"{name} must be a number of seconds above 0, not {raw!r}")
        return wait

    def count(self, name: str, default: int, least: int = 1) -> int:
        raw = self.value(name)
        try:
            number = int(raw) if raw else default
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
        if number < least:
            raise SettingsError(f"{name} must be {least} or more, not {raw!r}")
        return number

    def chat_id(self, name: str) -> int | None:
        raw = self.value(name)
        try:
            return int(raw) if raw else None
        except ValueError:
            raise SettingsError(f"{name} must be a chat id (a whole number), not {raw!r}") from None

    def rate(self, name: str, default: str = "30") -> float:
        raw = self.value(name) or default
        try:
            rate = float(raw)
        except ValueError:
            rate = math.nan
        if not (math.isfinite(rate) and rate >= 0):
            raise SettingsError(f"{name} must be a number, 0 or more, not {raw!r}")
        return rate
