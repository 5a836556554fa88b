"""Telegram handlers: turn an update into a plain inbound value, and the channel's messages
(channel.py) into Bot API calls.

Every handler is a line or two; they all end in `respond`, the one path to the sale. Before them
stand the handlers of PRIVATE_ONLY (at the end): the sale is for people in private chats only.
"""
from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
import logging
import re
import traceback
from urllib.parse import quote, urlencode
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, MessageLimit
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.helpers import create_deep_linked_url

from bot.charts import render_png
from bot.qr import qr_png
from bot.flows.messages import Button, Inbound
from bot.handlers.channel import AGENT, Channel, Limits, command, menu, more_offset, pick_locale
from bot.library import DEFAULT_LOCALE, SOURCE_LOCALES
from bot.agency import AGENT_CHAT
from bot.service import Pending, SalesService, Sender, Turn

log = logging.getLogger(__name__)
CHANNEL = "telegram"
# Telegram takes up to 100 buttons, but a keyboard longer than a phone screen hides the question.
LIMITS = Limits(text=MessageLimit.MAX_TEXT_LENGTH, options=8)
_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what Telegram allows in a deep link
# Message parts the sale cannot read, named as the flow's errors.<name> texts may expect.
UNSUPPORTED = ("sticker", "photo", "voice", "video", "video_note", "audio", "document", "animation",
               "location", "venue", "contact", "poll", "dice")
# The number of a press whose button carries none (sent before buttons were numbered, or forged):
# it is never the current question's (Progress.asked counts from 0 up), so the press is stale.
UNNUMBERED = -1
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
ANSWER_FIRST_SECONDS = 1  # how long a press waits for its answer to the button to go first
ACKNOWLEDGED_KEPT = 10_000  # presses answered on arrival, remembered until handled here
P = ParamSpec("P")
T = TypeVar("T")
answering: set[asyncio.Task[None]] = set()  # answers to presses under way (each task needs a reference)


async def stored(app: Application[Any, Any, Any, Any, Any, Any], work: Callable[P, T], *args: P.args,
                 **kwargs: P.kwargs) -> T:
    """Database work of the message path, the sale's turns included: on SQLite done at once, on
    the event loop — a local file that one process writes, where a hop to a worker thread costs
    more than the work itself, and where a write from another thread would make the loop wait for
    SQLite's lock — and on a database server in a worker thread, so that the loop goes on while it
    answers."""
    service = app.bot_data["service"]
    if service.database.one_process_only and service.interpreter is None:  # a model call waits: a thread
        return work(*args, **kwargs)
    return await asyncio.to_thread(work, *args, **kwargs)


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
                  locale=pick_locale(user.language_code if user else None), start_payload=start_payload,
                  link_base=f"https://t.me/{update.get_bot().username}?start=")


def text_of(update: Update) -> str:
    message = update.effective_message
    return (message.text or "") if message else ""


def callback_data(button: Button, asked: int | None) -> str:
    """What a button sends back when pressed: its value and the number of the question that
    offered it, "no|7" (Reply.asked), so that a press counts only from the message that asked the
    current question. The longest value of the sale is 30 bytes: far within Telegram's 64."""
    return button.value if asked is None else f"{button.value}|{asked}"


def pressed(data: str) -> tuple[str, int]:
    """A button's value and the number of the question it came from, read from its callback data."""
    value, bar, number = data.rpartition("|")
    if bar and number.isascii() and number.isdigit():
        return value, int(number)
    return data, UNNUMBERED


def keyboard(options: tuple[Button, ...], asked: int | None = None) -> InlineKeyboardMarkup | None:
    if not options:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=callback_data(b, asked))]
                                 for b in options])


def share_url(link: str, text: str) -> str:
    """Telegram's own way to forward: it opens the chat list with the text and link ready to send."""
    return f"https://t.me/share/url?{urlencode({'url': link, 'text': text}, quote_via=quote)}"


async def deliver(bot: Bot, target: int, item: Pending) -> Message:
    """Send one message of the outbox; what Telegram made of it (its `date`: when it was sent)."""
    message = item.message
    if item.kind == "chart" and message.chart:
        return await bot.send_photo(target, await asyncio.to_thread(render_png, message.chart))
    if item.kind == "share" and message.share:
        label = message.buttons[0].label if message.buttons else "➦"
        button = InlineKeyboardButton(label, url=share_url(message.share, message.text))
        forward = InlineKeyboardMarkup([[button]])
        return await bot.send_photo(target, qr_png(message.share), caption=message.share,
                                    reply_markup=forward)
    if item.kind == "file" and message.attachment:
        name, content = message.attachment
        return await bot.send_document(target, content.encode(), filename=name)
    # no link previews: Telegram's preview fetch would open (and use up) a one-time login link
    return await bot.send_message(target, item.message.text, link_preview_options=NO_PREVIEW,
                                  reply_markup=keyboard(item.message.buttons, item.message.asked))


async def flush(app: Application[Any, Any, Any, Any, Any, Any], chat: str,
                pending: list[Pending] | None = None) -> bool:
    """Send the chat's unsent messages in order; those the Bot API took are marked sent (and only
    then logged) together, in one transaction, when the flush ends. A refusal for good (blocked,
    chat not found, a bad request) marks it failed with the reason and goes on; anything that may
    pass (no connection, 5xx, 429 after the rate limiter's retries) stops here, keeping the order:
    False, and the rest is sent later.
    pending: the chat's unsent messages when the caller has just read them (a turn's own)."""
    service: SalesService = app.bot_data["service"]
    delivered: list[tuple[int, datetime]] = []
    try:
        for item in pending if pending is not None else await stored(app, service.pending, CHANNEL, chat):
            target = app.bot_data.get("agent_chat_id") if chat == AGENT_CHAT else int(chat)
            if target is None:
                await stored(app, service.failed, item.id, "no agent chat is set (TELEGRAM_AGENT_CHAT_ID)")
                continue
            try:
                sent = await deliver(app.bot, target, item)
            except Forbidden as error:  # the person blocked the bot, or deleted their account
                await stored(app, service.failed, item.id, error.message, True)
                continue
            except BadRequest as error:  # e.g. chat not found: sending it again cannot help
                await stored(app, service.failed, item.id, error.message)
                continue
            except TelegramError as error:
                log.warning("chat %s: a message waits to be sent (%s)", chat, type(error).__name__)
                return False
            delivered.append((item.id, sent.date))
    finally:
        if delivered:  # whatever stopped the flush, what went out is marked
            await stored(app, service.sent_all, delivered)
    return True


async def flush_agent_chat(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The agents' chat is shared by every conversation: it is sent to by whoever holds its lock."""
    lock = await stored(app, app.bot_data["service"].database.try_lock, f"{CHANNEL}:{AGENT_CHAT}")
    if lock is None:
        app.bot_data["updates"].drain_soon(AGENT_CHAT)
        return
    try:
        await flush(app, AGENT_CHAT)
    finally:
        await stored(app, lock.release)


async def show_menu(app: Application[Any, Any, Any, Any, Any, Any], chat: int | None, role: str) -> None:
    """The command menu of one role, in each language (Telegram picks by the user's language): for
    one chat, or for every chat without one of its own (chat None)."""
    library = app.bot_data["service"].library
    scope = BotCommandScopeChat(chat) if chat is not None else BotCommandScopeDefault()
    for locale in SOURCE_LOCALES:  # Telegram tells only the language, not the script
        commands = [BotCommand(c.name, library.text(locale, f"commands.{c.name}")) for c in menu(role)]
        language = None if locale == "en" else locale.split("_")[0]  # English for every other language
        await app.bot.set_my_commands(commands, scope=scope, language_code=language)


async def respond(update: Update, context: ContextTypes.DEFAULT_TYPE, inbound: Inbound,
                  sender: Sender | None = None) -> Turn:
    """The one path: hand the message to the sale, then send what it wrote to the outbox."""
    sender = sender or sender_of(update)
    app = context.application
    turn = await stored(app, channel_of(context).handle, sender, inbound, str(update.update_id))
    # The turn is committed: whatever fails from here on (a 429 storm, a database that went away
    # while marking a message sent) leaves its messages in the outbox for the next look for work,
    # and is no reason to apologise for a turn that was made.
    try:
        await deliver_turn(app, sender, turn)
    except Exception as error:
        log.warning("chat %s: the turn is saved; its messages wait to be sent (%s)", sender.external_id,
                    type(error).__name__)
    return turn


async def deliver_turn(app: Application[Any, Any, Any, Any, Any, Any], sender: Sender, turn: Turn) -> None:
    if turn.joined:  # a new agent: their command menu now holds the agents' commands
        await show_menu(app, int(sender.external_id), AGENT)
    if turn.duplicate:  # handled before: sent again as a crash kept Telegram from hearing of it, and
        await flush(app, sender.external_id)  # then what it wrote may not all have gone out either
        return
    if turn.preparing:
        with contextlib.suppress(TelegramError):  # 'typing' is only a courtesy
            await app.bot.send_chat_action(int(sender.external_id), ChatAction.TYPING)
    await flush(app, sender.external_id, turn.pending)
    for chat in turn.others:  # an agent's chat, a referrer's thanks: now, not at the next look for work
        if chat == AGENT_CHAT:
            await flush_agent_chat(app)
        else:
            app.bot_data["updates"].drain_soon(chat)


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    payload = context.args[0] if context.args and _PAYLOAD.match(context.args[0]) else None
    await respond(update, context, command("start"), sender_of(update, payload))


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    name = (text_of(update).split() or [""])[0][1:].split("@")[0].lower()  # "/Lang@sales_bot zh" -> lang
    await respond(update, context, command(name, " ".join(context.args or [])))


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    written = message.date if message else None  # to tell a retype from an answer (SalesService._retyped)
    await respond(update, context, Inbound("text", text_of(update), written_at=written))


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
    # Answered on arrival, or now: in a task of its own, as the press is handled whatever becomes
    # of the answer; but it goes first (the button stops spinning before anything else shows) unless slow.
    answer = context.bot_data.setdefault("acknowledged", {}).pop(query.id, None) or acknowledge(query)
    await asyncio.wait({answer}, timeout=ANSWER_FIRST_SECONDS)
    value, asked = pressed(query.data or "")
    offset = more_offset(value)
    if offset is not None:  # 'more': the channel's own option, the sale never sees it
        if await stored(context.application, service_of(context).claim, CHANNEL, str(update.update_id)):
            await show_more(update, context, query.message, offset)  # once, however often delivered
        return
    turn = await respond(update, context, Inbound("choice", value, asked=asked))
    if not turn.duplicate and isinstance(query.message, Message):
        await show_choice(query.message, None if turn.stale else query.data)


def acknowledge_early(app: Application[Any, Any, Any, Any, Any, Any], update: Update) -> None:
    """Answer a press in a private chat as it arrives (see acknowledge), noted so that `on_button`
    does not answer it twice; presses elsewhere are answered by `screen_button`."""
    query, chat = update.callback_query, update.effective_chat
    if query and chat and chat.type == ChatType.PRIVATE and not query.from_user.is_bot:
        early = app.bot_data.setdefault("acknowledged", {})
        if len(early) >= ACKNOWLEDGED_KEPT:  # presses drained by another worker are never taken here
            early.clear()
        early[query.id] = acknowledge(query)


def acknowledge(query: CallbackQuery, text: str | None = None) -> asyncio.Task[None]:
    """Answer a press (the button stops spinning) at once, in a task of its own: the press is
    handled whatever becomes of the answer — Telegram refuses one after about 15 s ("query is too
    old") — and the answer never waits for the press to be handled. A failure is only logged."""
    task = asyncio.create_task(_answer(query, text))
    answering.add(task)
    task.add_done_callback(answering.discard)
    return task


async def _answer(query: CallbackQuery, text: str | None) -> None:
    try:
        await query.answer(text)
    except Exception as error:  # the press itself is handled all the same
        log.warning("could not answer button press %s: %s: %s", query.id, type(error).__name__, error)


async def show_more(update: Update, context: ContextTypes.DEFAULT_TYPE, message: object, offset: int) -> None:
    """The pressed question's keyboard turns to the next page of options (see Channel.more).
    Pressed on an older question, that message becomes the current question, with its options."""
    if not isinstance(message, Message):  # too old for Telegram to say what it was
        return
    page = await stored(context.application, channel_of(context).more, sender_of(update), offset)
    try:
        if page is None:
            await message.edit_reply_markup(reply_markup=None)
        elif page.text == message.text:
            await message.edit_reply_markup(reply_markup=keyboard(page.buttons, page.asked))
        else:
            await message.edit_text(page.text, reply_markup=keyboard(page.buttons, page.asked))
    except TelegramError as error:  # too old to edit, the same page twice, no connection: nothing is lost
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
    except TelegramError as error:  # too old to edit, already edited, no connection: only a record
        log.info("could not edit message %s: %s", message.message_id, error)


async def send_reminders(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The periodic job: each due reminder put in the outbox once (they are kept in the database,
    not in the job) and its chat drained; old records of handled updates dropped."""
    service = service_of(context)
    app = context.application
    for chat in await stored(app, service.due_reminders, CHANNEL) + await stored(app, service.due_follow_ups,
                                                                                 CHANNEL):
        context.bot_data["updates"].drain_soon(chat)
    await stored(app, service.forget_old_records)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log what failed (never the token), tell the user politely, keep running. An update taken
    from the inbox is the inbox's to judge (Updates.failed): tried again, or parked and apologised for."""
    token = context.bot.token
    where = update.update_id if isinstance(update, Update) else None
    details = "".join(traceback.format_exception(context.error)) if context.error else "no error given"
    log.error("update %s failed: %s", where, details.replace(token, "<token>"))
    updates = context.bot_data.get("updates")
    if context.error is not None and updates is not None and updates.failed(update, context.error):
        return
    if isinstance(update, Update):
        await apologise(context.application, update)


async def apologise(app: Application[Any, Any, Any, Any, Any, Any], update: Update) -> None:
    """Tell the person their message could not be handled."""
    if update.effective_chat is None:
        return
    try:
        text = await stored(app, app.bot_data["channel"].apology, sender_of(update))
        await app.bot.send_message(update.effective_chat.id, text)
    except Exception as error:  # the apology itself failed; logging is all that is left
        # the type only, no traceback: an error's text may quote the request, and so the token
        log.error("could not apologise to chat %s: %r",  # noqa: TRY400
                  update.effective_chat.id, type(error).__name__)


# -- private chats only ------------------------------------------------------------------------
# A sale is one person's: in a group every member would write into one record (one member's
# "40" becoming another's age, anyone's `/delete confirm` erasing it), and a channel has no
# customer at all. So the bot talks only in private chats, with people. Outside them it keeps no
# record of any kind (no contact, no conversation, not even of the group) and answers only a
# message meant for it — a command (for no bot in particular, or for this one by name), a
# mention of it, or a reply to one of its messages — with a pointer to a private chat; everything
# else said in a group (and every edit) is ignored, so it never chats along. Without a record it
# cannot answer only once per group; answering only when addressed keeps it to once per request.
# Messages from bots are never answered, anywhere. These handlers run before all others (their
# own group) and stop whatever they catch.


class _FromBot(filters.UpdateFilter):
    """A message sent by a bot (Telegram's `is_bot`)."""

    def filter(self, update: Update) -> bool:
        return bool(update.effective_user and update.effective_user.is_bot)


class _ForThisBot(filters.MessageFilter):
    """A message meant for this bot: a command at its start ("/start", "/start@this_bot", not
    "/start@another_bot"), a mention of the bot, or a reply to one of its messages."""

    def filter(self, message: Message) -> bool:
        bot = message.get_bot()
        name = (bot.username or "").lower()
        entities = {**message.parse_entities(), **message.parse_caption_entities()}
        for entity, text in entities.items():
            _, at, target = text.partition("@")
            if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
                meant = not at or target.lower() == name
            elif entity.type == MessageEntity.MENTION:  # "@name"
                meant = target.lower() == name
            else:  # a mention of someone without a username links to them; of the bot, to the bot
                linked = entity.user if entity.type == MessageEntity.TEXT_MENTION else None
                meant = linked is not None and linked.id == bot.id
            if meant:
                return True
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.id == bot.id)


FROM_BOT = _FromBot()
OUTSIDE_PRIVATE_CHATS = ~filters.ChatType.PRIVATE  # groups, supergroups and channels (their posts too)
FOR_THIS_BOT = _ForThisBot() & ~filters.UpdateType.EDITED


async def ignore(_update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    raise ApplicationHandlerStop


def private_only_text(context: ContextTypes.DEFAULT_TYPE, language_code: str | None) -> str:
    """The pointer to a private chat: the library's words in the person's language, then the link."""
    locale = pick_locale(language_code) if language_code else DEFAULT_LOCALE
    words = service_of(context).library.text(locale, "errors.private_only")
    return f"{words}\n{create_deep_linked_url(context.bot.username)}"


async def point_to_private_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A message meant for the bot outside a private chat: answered with the pointer, nothing kept."""
    message, user = update.effective_message, update.effective_user
    if message is not None:
        text = private_only_text(context, user.language_code if user else None)
        try:
            await context.bot.send_message(message.chat_id, text, reply_parameters=ReplyParameters(
                message.message_id, allow_sending_without_reply=True))
        except TelegramError as error:  # e.g. a channel where the bot may not post: nothing is lost
            log.info("could not point chat %s to a private chat: %s", message.chat_id, error)
    raise ApplicationHandlerStop


async def screen_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A press outside a private chat (a keyboard left in a group, or a message in no chat at all:
    the bot sends no inline messages) is answered with the pointer and goes no further; a press in
    a private chat goes on to `on_button`."""
    query, chat = update.callback_query, update.effective_chat
    if query is None or (chat is not None and chat.type == ChatType.PRIVATE and not query.from_user.is_bot):
        return
    if not query.from_user.is_bot:
        acknowledge(query, private_only_text(context, query.from_user.language_code))
    raise ApplicationHandlerStop


# Registered as a group of their own before every other handler (see build_application).
PRIVATE_ONLY: list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]] = [
    MessageHandler(FROM_BOT, ignore),
    MessageHandler(OUTSIDE_PRIVATE_CHATS & FOR_THIS_BOT, point_to_private_chat),
    MessageHandler(OUTSIDE_PRIVATE_CHATS, ignore),
    CallbackQueryHandler(screen_button),
]
