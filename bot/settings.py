"""Every environment variable the bot reads, read once, in one place (README: Settings).

Nothing else reads the environment: `salesbot` (bot/cli.py) reads `Settings.from_env()` at start
and passes each value to what needs it.
"""
from __future__ import annotations

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
    # Where the console saves charts as PNG files.
    output: Path = DEFAULT_OUTPUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from the environment (or the mapping given); a variable set to an empty
        string counts as unset, as a shell's `VAR= make run` means."""
        env = os.environ if environ is None else environ

        def value(name: str) -> str | None:
            return env.get(name, "").strip() or None

        agent = value("TELEGRAM_AGENT_CHAT_ID")
        try:
            agent_chat_id = int(agent) if agent else None
        except ValueError:
            problem = f"TELEGRAM_AGENT_CHAT_ID must be a chat id (a whole number), not {agent!r}"
            raise SettingsError(problem) from None
        library, output = value("SALESBOT_LIBRARY"), value("SALESBOT_OUTPUT")
        return cls(
            telegram_bot_token=value("TELEGRAM_BOT_TOKEN"),
            telegram_webhook_secret=value("TELEGRAM_WEBHOOK_SECRET"),
            telegram_agent_chat_id=agent_chat_id,
            telegram_api_base_url=value("TELEGRAM_API_BASE_URL"),
            database_url=value("DATABASE_URL") or DEFAULT_DATABASE_URL,
            library=Path(library) if library else None,
            output=Path(output) if output else DEFAULT_OUTPUT,
        )
