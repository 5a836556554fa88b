"""The Telegram application: handlers, delivery settings, and running it by polling or webhook."""
from __future__ import annotations

import argparse
import logging
from typing import Any

from telegram import BotCommand, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.handlers import telegram as handlers
from bot.handlers.channel import COMMANDS, Channel, menu
from bot.handlers.delivery import PerChatOrder, RetryingRateLimiter
from bot.library import LOCALES
from bot.service import SalesService

log = logging.getLogger(__name__)
REMINDER_CHECK_SECONDS = 300
TelegramApp = Application[Any, Any, Any, Any, Any, Any]  # the default bot, context and data types


async def register_commands(app: TelegramApp) -> None:
    """The command menu in both languages (Telegram picks by the user's language). Everyone gets
    every listed command for now; per-role menus (BotCommandScopeChat) come with role checks."""
    library = app.bot_data["service"].library
    for locale in LOCALES:
        commands = [BotCommand(c.name, library.text(locale, f"commands.{c.name}")) for c in menu()]
        language = None if locale == "en" else locale.split("_")[0]  # English for every other language
        await app.bot.set_my_commands(commands, language_code=language)


def build_application(service: SalesService, token: str, base_url: str | None = None,
                      request: BaseRequest | None = None, updates_request: BaseRequest | None = None,
                      rate_limiter: Any = None, agent_chat_id: int | None = None) -> TelegramApp:
    builder = (ApplicationBuilder().token(token).concurrent_updates(PerChatOrder())
               .rate_limiter(rate_limiter or RetryingRateLimiter()).post_init(register_commands))
    if base_url:
        builder = builder.base_url(base_url)
    if request:
        builder = builder.request(request).get_updates_request(updates_request or request)
    app = builder.build()
    app.bot_data["service"] = service
    app.bot_data["channel"] = Channel(handlers.CHANNEL, service, handlers.LIMITS)
    app.bot_data["agent_chat_id"] = agent_chat_id  # where qualified leads go
    # Edits first, as an edited command is an edit too.
    app.add_handler(MessageHandler(filters.UpdateType.EDITED, handlers.on_edited))
    app.add_handler(CommandHandler("start", handlers.on_start))
    app.add_handler(CommandHandler([c.name for c in COMMANDS if c.name != "start"], handlers.on_command))
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


def run_telegram(service: SalesService, token: str, args: argparse.Namespace,
                 agent_chat_id: int | None = None, webhook_secret: str | None = None) -> None:
    """Run until stopped: by webhook when args.webhook_url is given (Telegram's requests must carry
    webhook_secret), else by polling."""
    configure_logging(token)
    app = build_application(service, token, base_url=args.base_url, agent_chat_id=agent_chat_id)
    if args.webhook_url:
        if not webhook_secret:
            raise SystemExit("webhook mode needs TELEGRAM_WEBHOOK_SECRET "
                             "(A-Z, a-z, 0-9, _ and -, up to 256 chars)")
        log.info("webhook mode: listening on %s:%s", args.listen, args.port)
        app.run_webhook(listen=args.listen, port=args.port, url_path="telegram", webhook_url=args.webhook_url,
                        secret_token=webhook_secret, allowed_updates=Update.ALL_TYPES)
    else:
        log.info("polling Telegram for updates")
        app.run_polling(allowed_updates=Update.ALL_TYPES)
