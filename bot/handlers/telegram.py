"""Telegram handlers: turn an update into a plain inbound value, and the replies into messages.

Every handler is a line or two; they all end in `respond`, the one path to the sale.
"""
from __future__ import annotations

import asyncio
import logging
import re
import traceback

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, MessageLimit
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.charts import render_png
from bot.flows.messages import Inbound, Reply
from bot.service import SalesService, Sender, Turn, pick_locale

log = logging.getLogger(__name__)
CHANNEL = "telegram"
COMMANDS = ("start", "help", "cancel", "restart", "lang", "rehearse", "stop", "progress", "script", "delete")
_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what Telegram allows in a deep link
# Message parts the sale cannot read, named as the flow's errors.<name> texts may expect.
UNSUPPORTED = ("sticker", "photo", "voice", "video", "video_note", "audio", "document", "animation", "location",
               "venue", "contact", "poll", "dice")


def service_of(context: ContextTypes.DEFAULT_TYPE) -> SalesService:
    return context.application.bot_data["service"]


def sender_of(update: Update, start_payload: str | None = None) -> Sender:
    user, chat = update.effective_user, update.effective_chat
    return Sender(CHANNEL, str(chat.id if chat else user.id), name=user.full_name if user else "",
                  locale=pick_locale(user.language_code if user else None), start_payload=start_payload)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.value)] for b in reply.buttons])


def chunks(text: str) -> list[str]:
    limit = MessageLimit.MAX_TEXT_LENGTH
    return [text[i:i + limit] for i in range(0, len(text), limit)] or [""]


async def send(context: ContextTypes.DEFAULT_TYPE, chat_id: int, turn: Turn) -> None:
    if turn.preparing:
        await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
    for reply in turn.replies:
        target = context.application.bot_data.get("agent_chat_id") if reply.to_agent else chat_id
        if target is None:
            log.warning("a lead for the agent was not sent: TELEGRAM_AGENT_CHAT_ID is not set (it is in the contact log)")
            continue
        parts = chunks(reply.text)
        for part in parts[:-1]:
            await context.bot.send_message(target, part)
        await context.bot.send_message(target, parts[-1], reply_markup=keyboard(reply))
        if reply.chart:
            await context.bot.send_photo(target, await asyncio.to_thread(render_png, reply.chart))


async def respond(update: Update, context: ContextTypes.DEFAULT_TYPE, inbound: Inbound,
                  sender: Sender | None = None) -> Turn:
    """The one path: hand the message to the sale (off the event loop), then send what it says."""
    sender = sender or sender_of(update)
    turn = await asyncio.to_thread(service_of(context).handle, sender, inbound, str(update.update_id))
    if not turn.duplicate:
        await send(context, update.effective_chat.id, turn)
    return turn


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    payload = context.args[0] if context.args and _PAYLOAD.match(context.args[0]) else None
    await respond(update, context, Inbound("command", "start"), sender_of(update, payload))


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    command = update.effective_message.text.split()[0][1:].split("@")[0].lower()
    argument = " ".join(context.args or [])
    await respond(update, context, Inbound("command", command, {"zh": "zh_CN", "cn": "zh_CN"}.get(argument, argument)))


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await respond(update, context, Inbound("text", update.effective_message.text))


async def on_edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await respond(update, context, Inbound("unsupported", "edited"))


async def on_unsupported(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    what = next((part for part in UNSUPPORTED if getattr(message, part, None)), "unsupported") if message else "unsupported"
    await respond(update, context, Inbound("unsupported", what))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer()
    turn = await respond(update, context, Inbound("choice", query.data or ""))
    if not turn.duplicate and isinstance(query.message, Message):
        await show_choice(query.message, None if turn.stale else query.data)


async def show_choice(message: Message, chosen: str | None) -> None:
    """Leave the question in the chat as a record: its answer ticked, its buttons gone."""
    labels = {b.callback_data: b.text for row in (message.reply_markup.inline_keyboard if message.reply_markup else ())
              for b in row}
    try:
        if chosen in labels:
            await message.edit_text(f"{message.text}\n\n✓ {labels[chosen]}", reply_markup=None)
        else:
            await message.edit_reply_markup(reply_markup=None)
    except BadRequest as error:  # too old to edit, or already edited: the reply itself was sent
        log.info("could not edit message %s: %s", message.message_id, error)


async def send_reminders(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The periodic job: each due reminder sent once (they are kept in the database, not in the
    job), and old records of handled updates dropped."""
    for sender, reply in await asyncio.to_thread(service_of(context).due_reminders, CHANNEL):
        await context.bot.send_message(int(sender.external_id), reply.text)
    await asyncio.to_thread(service_of(context).forget_old_deliveries)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log what failed (never the token), tell the user politely, keep running."""
    token = context.bot.token
    where = update.update_id if isinstance(update, Update) else None
    details = "".join(traceback.format_exception(context.error)) if context.error else "no error given"
    log.error("update %s failed: %s", where, details.replace(token, "<token>"))
    if isinstance(update, Update) and update.effective_chat:
        user = update.effective_user
        text = service_of(context).library.text(pick_locale(user.language_code if user else None), "errors.internal")
        try:
            await context.bot.send_message(update.effective_chat.id, text)
        except Exception as error:  # noqa: BLE001 - the apology itself failed; logging is all that is left
            log.error("could not apologise to chat %s: %r", update.effective_chat.id, type(error).__name__)
