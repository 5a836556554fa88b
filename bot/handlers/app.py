"""The Telegram application: handlers, delivery settings, and running it by polling or webhook."""
from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from telegram import BotCommand, Update
from telegram.ext import (Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler, MessageHandler,
                          filters)
from telegram.request import BaseRequest

from bot.handlers import telegram as handlers
from bot.handlers.delivery import PerChatOrder, RetryingRateLimiter
from bot.library import LOCALES
from bot.service import SalesService

log = logging.getLogger(__name__)
REMINDER_CHECK_SECONDS = 300


async def register_commands(app: Application) -> None:
    """The command menu in both languages (Telegram picks by the user's language)."""
    library = app.bot_data["service"].library
    for locale in LOCALES:
        commands = [BotCommand(name, library.text(locale, f"commands.{name}")) for name in handlers.COMMANDS]
        await app.bot.set_my_commands(commands, language_code=None if locale == "en" else locale.split("_")[0])


def build_application(service: SalesService, token: str, base_url: str | None = None,
                      request: BaseRequest | None = None, updates_request: BaseRequest | None = None,
                      rate_limiter: Any = None, agent_chat_id: int | None = None) -> Application:
    builder = (ApplicationBuilder().token(token).concurrent_updates(PerChatOrder())
               .rate_limiter(rate_limiter or RetryingRateLimiter()).post_init(register_commands))
    if base_url:
        builder = builder.base_url(base_url)
    if request:
        builder = builder.request(request).get_updates_request(updates_request or request)
    app = builder.build()
    app.bot_data["service"] = service
    app.bot_data["agent_chat_id"] = agent_chat_id  # where qualified leads go
    app.add_handler(MessageHandler(filters.UpdateType.EDITED, handlers.on_edited))  # before commands: edits too
    app.add_handler(CommandHandler("start", handlers.on_start))
    app.add_handler(CommandHandler([c for c in handlers.COMMANDS if c != "start"], handlers.on_command))
    app.add_handler(MessageHandler(filters.COMMAND, handlers.on_command))
    app.add_handler(MessageHandler(filters.TEXT, handlers.on_text))
    app.add_handler(CallbackQueryHandler(handlers.on_button))
    app.add_handler(MessageHandler(filters.ALL, handlers.on_unsupported))
    app.add_error_handler(handlers.on_error)
    if app.job_queue:  # reminders are stored with the conversation, so a restart loses none
        app.job_queue.run_repeating(handlers.send_reminders, interval=REMINDER_CHECK_SECONDS, first=10)
    return app


class RedactingFormatter(logging.Formatter):
    def __init__(self, secret: str) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secret = secret

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace(self.secret, "<token>")


def configure_logging(token: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(token))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request URL, token included


def run_telegram(service: SalesService, token: str, args: argparse.Namespace) -> None:
    configure_logging(token)
    agent = os.environ.get("TELEGRAM_AGENT_CHAT_ID")
    app = build_application(service, token, base_url=args.base_url, agent_chat_id=int(agent) if agent else None)
    if args.webhook_url:
        secret = os.environ.get("TELEGRAM_WEBHOOK_SECRET")
        if not secret:
            raise SystemExit("webhook mode needs TELEGRAM_WEBHOOK_SECRET (A-Z, a-z, 0-9, _ and -, up to 256 chars)")
        log.info("webhook mode: listening on %s:%s", args.listen, args.port)
        app.run_webhook(listen=args.listen, port=args.port, url_path="telegram", webhook_url=args.webhook_url,
                        secret_token=secret, allowed_updates=Update.ALL_TYPES)
    else:
        log.info("polling Telegram for updates")
        app.run_polling(allowed_updates=Update.ALL_TYPES)
