"""Telegram handlers: turn an update into a plain inbound value, and the channel's messages
(channel.py) into Bot API calls.

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
from bot.flows.messages import Button, Inbound
from bot.handlers.channel import Channel, Limits, Outbox, command, more_offset, pick_locale
from bot.service import SalesService, Sender, Turn

log = logging.getLogger(__name__)
CHANNEL = "telegram"
# Telegram takes up to 100 buttons, but a keyboard longer than a phone screen hides the question.
LIMITS = Limits(text=MessageLimit.MAX_TEXT_LENGTH, options=8)
_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what Telegram allows in a deep link
# Message parts the sale cannot read, named as the flow's errors.<name> texts may expect.
UNSUPPORTED = ("sticker", "photo", "voice", "video", "video_note", "audio", "document", "animation",
               "location", "venue", "contact", "poll", "dice")


def service_of(context: ContextTypes.DEFAULT_TYPE) -> SalesService:
    service: SalesService = context.application.bot_data["service"]
    return service


def channel_of(context: ContextTypes.DEFAULT_TYPE) -> Channel:
    channel: Channel = context.application.bot_data["channel"]
    return channel


def sender_of(update: Update, start_payload: str | None = None) -> Sender:
    user, chat = update.effective_user, update.effective_chat
    where = chat.id if chat else user.id if user else None
    if where is None:
        raise ValueError(f"update {update.update_id} comes from no chat and no user")
    return Sender(CHANNEL, str(where), name=user.full_name if user else "",
                  locale=pick_locale(user.language_code if user else None), start_payload=start_payload)


def text_of(update: Update) -> str:
    message = update.effective_message
    return (message.text or "") if message else ""


def keyboard(options: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    if not options:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.value)] for b in options])


async def send(context: ContextTypes.DEFAULT_TYPE, chat_id: int, outbox: Outbox) -> None:
    if outbox.turn.preparing:
        await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
    for message in outbox.messages:
        target = context.application.bot_data.get("agent_chat_id") if message.to_agent else chat_id
        if target is None:
            log.warning("a lead for the agent was not sent: TELEGRAM_AGENT_CHAT_ID is not set "
                        "(it is in the contact log)")
            continue
        await context.bot.send_message(target, message.text, reply_markup=keyboard(message.buttons))
        if message.chart:
            await context.bot.send_photo(target, await asyncio.to_thread(render_png, message.chart))


async def respond(update: Update, context: ContextTypes.DEFAULT_TYPE, inbound: Inbound,
                  sender: Sender | None = None) -> Turn:
    """The one path: hand the message to the sale (off the event loop), then send what it says."""
    sender = sender or sender_of(update)
    outbox = await asyncio.to_thread(channel_of(context).handle, sender, inbound, str(update.update_id))
    if not outbox.turn.duplicate:
        await send(context, int(sender.external_id), outbox)  # the chat's id (a user's only without a chat)
    return outbox.turn


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    payload = context.args[0] if context.args and _PAYLOAD.match(context.args[0]) else None
    await respond(update, context, command("start"), sender_of(update, payload))


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    name = (text_of(update).split() or [""])[0][1:].split("@")[0].lower()  # "/Lang@sales_bot zh" -> lang
    await respond(update, context, command(name, " ".join(context.args or [])))


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await respond(update, context, Inbound("text", text_of(update)))


async def on_edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await respond(update, context, Inbound("unsupported", "edited"))


async def on_unsupported(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    what = next((part for part in UNSUPPORTED if getattr(message, part, None)), "unsupported")
    await respond(update, context, Inbound("unsupported", what))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    offset = more_offset(query.data or "")
    if offset is not None:  # 'more': the channel's own option, the sale never sees it
        await show_more(update, context, query.message, offset)
        return
    turn = await respond(update, context, Inbound("choice", query.data or ""))
    if not turn.duplicate and isinstance(query.message, Message):
        await show_choice(query.message, None if turn.stale else query.data)


async def show_more(update: Update, context: ContextTypes.DEFAULT_TYPE, message: object, offset: int) -> None:
    """The pressed question's keyboard turns to the next page of options (see Channel.more).
    Pressed on an older question, that message becomes the current question, with its options."""
    if not isinstance(message, Message):  # too old for Telegram to say what it was
        return
    page = await asyncio.to_thread(channel_of(context).more, sender_of(update), offset)
    try:
        if page is None:
            await message.edit_reply_markup(reply_markup=None)
        elif page.text == message.text:
            await message.edit_reply_markup(reply_markup=keyboard(page.buttons))
        else:
            await message.edit_text(page.text, reply_markup=keyboard(page.buttons))
    except BadRequest as error:  # too old to edit, or the same page twice: nothing is lost
        log.info("could not page message %s: %s", message.message_id, error)


async def show_choice(message: Message, chosen: str | None) -> None:
    """Leave the question in the chat as a record: its answer ticked, its buttons gone."""
    rows = message.reply_markup.inline_keyboard if message.reply_markup else ()
    labels = {b.callback_data: b.text for row in rows for b in row}
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
        text = await asyncio.to_thread(channel_of(context).apology, sender_of(update))
        try:
            await context.bot.send_message(update.effective_chat.id, text)
        except Exception as error:  # the apology itself failed; logging is all that is left
            log.error("could not apologise to chat %s: %r", update.effective_chat.id, type(error).__name__)
