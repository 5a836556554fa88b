"""The Telegram application: handlers, delivery settings, and running it by polling or webhook."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import threading
from types import TracebackType
from typing import Any
from urllib.parse import quote

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)
from telegram.error import InvalidToken
from telegram.request import BaseRequest

from bot.handlers import telegram as handlers
from bot.handlers.channel import COMMANDS, CUSTOMER, Channel
from bot.handlers.delivery import RetryingRateLimiter
from bot.handlers.updates import install
from bot.handlers.webhook import serve_polling, serve_webhook
from bot.service import SalesService

log = logging.getLogger(__name__)
REMINDER_CHECK_SECONDS = 300
TelegramApp = Application[Any, Any, Any, Any, Any, Any]  # the default bot, context and data types


async def register_commands(app: TelegramApp) -> None:
    """The command menus: customers' for everyone, agents' and managers' for each of them (their
    chats are their user ids), so that no customer sees an agent's command."""
    await handlers.show_menu(app, None, CUSTOMER)
    for chat, role in await handlers.stored(app, app.bot_data["service"].staff, handlers.CHANNEL):
        if chat.lstrip("-").isdigit():
            await handlers.show_menu(app, int(chat), role)


def build_application(service: SalesService, token: str, base_url: str | None = None,
                      request: BaseRequest | None = None, updates_request: BaseRequest | None = None,
                      rate_limiter: Any = None, agent_chat_id: int | None = None) -> TelegramApp:
    # Updates are handled concurrently across chats; a chat's own are taken one at a time, in
    # order, by whoever holds its lock (updates.Updates.drain).
    builder = (ApplicationBuilder().token(token).concurrent_updates(256)
               .rate_limiter(rate_limiter or RetryingRateLimiter()).post_init(register_commands))
    if base_url:
        builder = builder.base_url(base_url)
    if request:
        builder = builder.request(request).get_updates_request(updates_request or request)
    app = builder.build()
    app.bot_data["service"] = service
    app.bot_data["channel"] = Channel(handlers.CHANNEL, service, handlers.LIMITS)
    app.bot_data["agent_chat_id"] = agent_chat_id  # where qualified leads go
    app.add_handlers(handlers.PRIVATE_ONLY, group=-1)  # before all others: private chats with people only
    # Edits first, as an edited command is an edit too.
    app.add_handler(MessageHandler(filters.UpdateType.EDITED, handlers.on_edited))
    app.add_handler(CommandHandler("start", handlers.on_start))
    app.add_handler(CommandHandler([c.name for c in COMMANDS if c.name != "start"], handlers.on_command))
    app.add_handler(MessageHandler(filters.COMMAND, handlers.on_command))
    app.add_handler(MessageHandler(filters.TEXT, handlers.on_text))
    app.add_handler(CallbackQueryHandler(handlers.on_button))
    app.add_handler(MessageHandler(filters.ALL, handlers.on_unsupported))
    app.add_error_handler(handlers.on_error)
    install(app, service)  # the inbox and the outbox
    if app.job_queue:  # reminders are stored with the conversation, so a restart loses none
        app.job_queue.run_repeating(handlers.send_reminders, interval=REMINDER_CHECK_SECONDS, first=10)
    return app


class RedactingFormatter(logging.Formatter):
    """Every line, tracebacks included, with the token (also as it appears in a URL) replaced."""

    def __init__(self, secret: str) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = sorted({secret, quote(secret, safe="")} - {""}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "<token>")
    return text


def configure_logging(token: str) -> None:
    """Everything printed from here on goes through a redacting formatter: the log, warnings, and
    the traceback of an exception nothing caught (at start-up, or in a thread)."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(token))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request URL, token included
    logging.getLogger("transitions").setLevel(logging.WARNING)  # a line per callback: most of the log
    logging.captureWarnings(True)

    def uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        log.critical("stopped by an error nothing caught", exc_info=(kind, error, trace))

    def uncaught_in_thread(hook: threading.ExceptHookArgs) -> None:
        if hook.exc_value is not None and not isinstance(hook.exc_value, SystemExit):
            uncaught(hook.exc_type, hook.exc_value, hook.exc_traceback)

    sys.excepthook = uncaught
    threading.excepthook = uncaught_in_thread


def run_telegram(service: SalesService, token: str, args: argparse.Namespace,
                 agent_chat_id: int | None = None, webhook_secret: str | None = None,
                 max_rate: float = 30) -> int:
    """Run until stopped: by webhook when args.webhook_url is given (Telegram's requests must carry
    webhook_secret), else by polling. The exit status: 0 when stopped, 1 when Telegram refused
    the token. Call configure_logging(token) first."""
    if args.webhook_url and not webhook_secret:
        raise SystemExit("webhook mode needs TELEGRAM_WEBHOOK_SECRET "
                         "(A-Z, a-z, 0-9, _ and -, up to 256 chars)")
    limiter = RetryingRateLimiter(overall_max_rate=max_rate, group_max_rate=min(max_rate, 20))
    app = build_application(service, token, base_url=args.base_url, agent_chat_id=agent_chat_id,
                            rate_limiter=limiter)
    if service.database.one_process_only:
        log.info("the database is SQLite: run one bot process on it (PostgreSQL takes several workers)")
    updates = app.bot_data["updates"]
    service.prepare()  # before any update is accepted: no turn waits for a classifier's training
    try:
        if args.webhook_url:
            assert webhook_secret  # checked above
            asyncio.run(serve_webhook(app, args.listen, args.port, args.webhook_url, webhook_secret,
                                      allowed_updates=Update.ALL_TYPES, accept=updates.accept))
        else:
            log.info("polling Telegram for updates")
            asyncio.run(serve_polling(app, updates.accept, allowed_updates=Update.ALL_TYPES))
    except InvalidToken:  # its message, and python-telegram-bot's, holds the token itself
        log.critical("Telegram refused the bot token (TELEGRAM_BOT_TOKEN). Check that it is the whole "
                     "token @BotFather gave (send /token to @BotFather for a new one) and, with a "
                     "self-hosted Bot API server, that --base-url points to it.")
        return 1
    return 0
