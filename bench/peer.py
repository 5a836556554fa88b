"""The fair peer for the throughput bench: the bench's five steps as a hand-written
python-telegram-bot ConversationHandler bot, storing one plain row per update with the plain DB-API.

Per step it makes the same Bot API calls as the project (counted with FakeBotApi.methods()):
  /start        sendMessage (greeting), sendMessage (consent question, keyboard)          2 calls
  "agree"       answerCallbackQuery, sendMessage (thanks), sendMessage (age question),
                editMessageText (the pressed question ticked)                             4 calls
  "35"          sendMessage (work question, keyboard)                                     1 call
  "office"      answerCallbackQuery, sendMessage (health question, keyboard), editMessageText  3 calls
  "no"          answerCallbackQuery, sendMessage (family question, keyboard), editMessageText  3 calls
The texts and keyboards are the project's English ones, so the payloads weigh the same.
"""
from __future__ import annotations

import asyncio
import sqlite3
import threading
import warnings
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest
from telegram.warnings import PTBUserWarning

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
CONSENT, AGE, WORK, HEALTH, FAMILY = range(5)

GREETING = ("Hello {name}! I'm the insurance assistant of Li Ming, a licensed agent of Example Life "
            "Insurance Agency Co., Ltd. (licence no. 000000000000000000000000).\n\nIn a few minutes I'll ask "
            "about your family, income, existing cover and health, and then suggest cover that fits — with "
            "prices shown as estimates, never as promises.")
CONSENT_TEXT = ("We only ask what is needed for advice. Health answers are sensitive personal data: do you "
                "agree that we use your answers, including health answers, to prepare your proposal? You can "
                "ask us to delete them at any time.")
THANKS = ('Thank you. 12 short questions. Type "back" to change the last answer, "why" to hear why a '
          'question is asked, or "cancel" to stop and continue later.')
GOODBYE = "Understood. Send /start whenever you change your mind."
AGE_TEXT = "Question 1 of 12\nHow old are you?"
WORK_TEXT = "Question 2 of 12\nWhich is closest to your work?"
HEALTH_TEXT = ("Question 3 of 12\nIn the last 5 years, have you been diagnosed with or treated for cancer, "
               "heart disease, stroke, diabetes, hepatitis or kidney disease?")
FAMILY_TEXT = "Question 4 of 12\nWhich describes your family best?"
CONSENT_OPTIONS = {"agree": "Yes, let's start", "decline": "No, thank you"}
WORK_OPTIONS = {"office": "Office or desk work", "professional": "Teacher, doctor, shop or service staff",
                "field": "Sales or work on the road", "manual": "Driver, factory or farm work",
                "construction": "Construction, electrician, police",
                "high_risk": "Fire-fighter, sailor, miner, work at heights"}
HEALTH_OPTIONS = {"yes": "Yes", "no": "No"}
FAMILY_OPTIONS = {"single": "Single", "married": "Married, no children",
                  "married_children": "Married with children", "single_parent": "Single parent"}


def connect(url: str, autocommit: bool = False) -> Any:
    """A plain DB-API connection for a SQLAlchemy URL: sqlite3 for sqlite:///path, psycopg for
    postgresql[+psycopg]://... (its `options`, e.g. -csearch_path=..., passed on)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connection = sqlite3.connect(parsed.database or ":memory:", check_same_thread=False,
                                     isolation_level=None if autocommit else "DEFERRED")
        connection.execute("PRAGMA journal_mode=WAL")  # as the project's engine sets them
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection
    params = {"host": parsed.host, "port": parsed.port, "user": parsed.username, "password": parsed.password,
              "dbname": parsed.database, "options": parsed.query.get("options")}
    conninfo = make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})
    return psycopg.connect(conninfo, autocommit=autocommit)


class Rows:
    """One row per update, each in its own transaction."""

    def __init__(self, url: str) -> None:
        self.connection = connect(url)
        self.mark = "?" if isinstance(self.connection, sqlite3.Connection) else "%s"
        self.lock = threading.Lock()  # one connection, used from the event loop's worker threads
        self.connection.execute("CREATE TABLE IF NOT EXISTS peer_updates (update_id BIGINT PRIMARY KEY, "
                                "chat_id BIGINT NOT NULL, step TEXT NOT NULL, answer TEXT NOT NULL, "
                                "received_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)")
        self.connection.commit()

    def add(self, update_id: int, chat_id: int, step: str, answer: str) -> None:
        with self.lock:
            try:
                marks = ", ".join([self.mark] * 4)
                self.connection.execute(f"INSERT INTO peer_updates (update_id, chat_id, step, answer) "
                                        f"VALUES ({marks})", (update_id, chat_id, step, answer))
                self.connection.commit()
            except Exception:
                self.connection.rollback()
                raise

    def close(self) -> None:
        self.connection.close()


def keyboard(options: dict[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=value)]
                                 for value, label in options.items()])


async def record(context: ContextTypes.DEFAULT_TYPE, update: Update, step: str, answer: str) -> None:
    """The update's row, written off the event loop (as the project does its database work)."""
    rows: Rows = context.bot_data["rows"]
    chat = update.effective_chat.id if update.effective_chat else 0
    await asyncio.to_thread(rows.add, update.update_id, chat, step, answer)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None  # a command is a message, from someone
    await record(context, update, "start", message.text or "")
    await message.reply_text(GREETING.format(name=user.full_name))
    await message.reply_text(CONSENT_TEXT, reply_markup=keyboard(CONSENT_OPTIONS))
    return CONSENT


async def answered(update: Update, context: ContextTypes.DEFAULT_TYPE, step: str,
                   options: dict[str, str], *questions: tuple[str, dict[str, str] | None]) -> None:
    """A press: acknowledged, stored, the next question(s) sent, the pressed question ticked."""
    query = update.callback_query
    assert query is not None and query.data is not None  # the handler is a CallbackQueryHandler
    await query.answer()
    await record(context, update, step, query.data)
    for text, next_options in questions:
        await context.bot.send_message(query.from_user.id, text,
                                       reply_markup=keyboard(next_options) if next_options else None)
    text = (query.message.text or "") if isinstance(query.message, Message) else ""
    await query.edit_message_text(f"{text}\n\n✓ {options[query.data]}")


async def consent(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    if update.callback_query and update.callback_query.data == "decline":
        await answered(update, context, "consent", CONSENT_OPTIONS, (GOODBYE, None))
        return ConversationHandler.END
    await answered(update, context, "consent", CONSENT_OPTIONS, (THANKS, None), (AGE_TEXT, None))
    return AGE


async def age(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    message = update.effective_message
    assert message is not None  # a text handler's update
    text = (message.text or "").strip()
    await record(context, update, "age", text)
    if not (text.isdigit() and 18 <= int(text) <= 99):
        await message.reply_text("Please type your age in years, e.g. 35.")
        return AGE
    await message.reply_text(WORK_TEXT, reply_markup=keyboard(WORK_OPTIONS))
    return WORK


async def work(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await answered(update, context, "work", WORK_OPTIONS, (HEALTH_TEXT, HEALTH_OPTIONS))
    return HEALTH


async def health(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await answered(update, context, "health", HEALTH_OPTIONS, (FAMILY_TEXT, FAMILY_OPTIONS))
    return FAMILY


def choice(options: dict[str, str]) -> str:
    return "^(" + "|".join(options) + ")$"


def peer_app(rows: Rows, token: str, request: BaseRequest) -> AnyApplication:
    """The peer, talking to the Bot API through `request`, storing its rows in `rows`."""
    # The same limiter the project builds on (python-telegram-bot's), its throttling off as there.
    app = (ApplicationBuilder().token(token).request(request)
           .rate_limiter(AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)).build())
    app.bot_data["rows"] = rows
    with warnings.catch_warnings():  # per_message=False is meant: one conversation per chat
        warnings.filterwarnings("ignore", category=PTBUserWarning)
        conversation = ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states={CONSENT: [CallbackQueryHandler(consent, pattern=choice(CONSENT_OPTIONS))],
                    AGE: [MessageHandler(filters.TEXT & ~filters.COMMAND, age)],
                    WORK: [CallbackQueryHandler(work, pattern=choice(WORK_OPTIONS))],
                    HEALTH: [CallbackQueryHandler(health, pattern=choice(HEALTH_OPTIONS))],
                    FAMILY: []},
            fallbacks=[CommandHandler("start", start)])
    app.add_handler(conversation)
    return app
