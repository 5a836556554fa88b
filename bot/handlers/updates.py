"""Nothing lost: Telegram's updates through the inbox, the bot's messages through the outbox.

- `accept` keeps an update in the inbox (the database) before Telegram is told it arrived (the
  webhook answers 200 after it; polling asks for the next updates after it), then has its chat
  drained.
- `drain` takes a chat's lock (the database's: across worker processes on PostgreSQL), handles the
  chat's kept updates one at a time in Telegram's order — each in one transaction that also removes
  it from the inbox and writes its replies to the outbox — and sends what the outbox holds for the
  chat, in order (`telegram.flush`). A worker that finds the chat locked leaves it to the holder,
  which looks again after letting go, so nothing waits unseen.
- At start (`start`, called by the runners once the application has started), and every few
  seconds after, chats with kept updates or unsent messages are drained: what a crash interrupted
  is handled, what the Bot API refused for a while (429, 5xx, no connection) is sent, in order.
  An update Telegram sends again because a crash kept it from hearing of it is a duplicate, whose
  turn sends what the chat still has unsent (telegram.respond).
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes

from bot.handlers import telegram as handlers
from bot.service import SalesService
from storage.database import ChatLock

log = logging.getLogger(__name__)
RETRY_SECONDS = 5  # how often kept updates and unsent messages are looked for
ARRIVED_KEPT = 10_000  # parsed updates kept for their handling (see Updates.arrived)
# Chats drained at once by one worker on PostgreSQL, where each holds a connection for its lock while it
# waits for the database threads; unbounded, they could take every connection of the pool and leave
# none for the transactions they wait for. 24 locks beside the threads' own stay within the pool's 60.
DRAINS_AT_ONCE = 24
TURNS_PER_SLOT = 3  # updates a chat handles in a row while others wait for a slot (a bound on their wait)
TelegramApp = Application[Any, Any, Any, Any, Any, Any]


def chat_of(update: Update) -> str | None:
    """The chat an update belongs to (a user's own id when it comes from no chat); None: neither."""
    where = update.effective_chat or update.effective_user
    return str(where.id) if where else None


class Updates:
    def __init__(self, app: TelegramApp, service: SalesService) -> None:
        self.app = app
        self.service = service
        self.draining: dict[str, asyncio.Task[None]] = {}  # chat -> the task draining it here
        self.again: set[str] = set()  # chats with news since their task last looked
        # Updates accepted here and not yet handled, as parsed on arrival: kept, an update is read
        # back from the inbox, and parsing it again would cost more than the rest of its way there.
        self.arrived: dict[int, Update] = {}
        # SQLite holds no connection for a lock: there every chat may be drained at once
        self.slots: AbstractAsyncContextManager[Any] = (
            nullcontext() if service.database.one_process_only else asyncio.Semaphore(DRAINS_AT_ONCE))
        self.waiting = 0  # chats waiting for a slot: a chat that keeps talking lets its slot go to them

    async def accept(self, update: Update) -> None:
        """Keep the update, then handle it. Returns once it is kept: the caller may then tell
        Telegram it arrived (a database error raises, and Telegram sends the update again)."""
        chat = chat_of(update)
        if chat is None:  # not part of any conversation (e.g. a poll's new state): nothing to keep
            await self.app.process_update(update)
            return
        await handlers.stored(self.app, self.service.receive, handlers.CHANNEL, str(update.update_id),
                              update.update_id, chat, update.to_dict())
        if len(self.arrived) >= ARRIVED_KEPT:  # handled elsewhere (another worker) or failed: let go
            self.arrived.clear()
        self.arrived[update.update_id] = update
        if update.callback_query:  # the button stops spinning now, not once the chat's turn comes
            handlers.acknowledge_early(self.app, update)
        self.drain_soon(chat)

    def drain_soon(self, chat: str) -> None:
        if chat in self.draining:  # its task may have looked already: it goes round once more
            self.again.add(chat)
            return
        self.draining[chat] = task = asyncio.create_task(self.drain(chat))
        task.add_done_callback(lambda done: self._finished(chat, done))

    def _finished(self, chat: str, task: asyncio.Task[None]) -> None:
        del self.draining[chat]
        if not task.cancelled() and task.exception() is not None:
            log.error("chat %s could not be drained: %s", chat, type(task.exception()).__name__)
        if chat in self.again:
            self.again.discard(chat)
            self.drain_soon(chat)

    async def drain(self, chat: str) -> None:
        self.waiting += 1
        slotted = False
        try:
            async with self.slots:  # waiting for one, a chat holds nothing
                self.waiting, slotted = self.waiting - 1, True
                await self._drain(chat)
        finally:
            self.waiting -= 0 if slotted else 1

    async def _drain(self, chat: str) -> None:
        app, next_update = self.app, self.service.next_update
        while True:
            lock, payload = await handlers.stored(app, self._take, chat)
            if lock is None:  # another worker has it; it looks again when it lets go
                return
            try:
                done: str | None = None  # whatever the handlers made of it (ignored, failed), it is done
                handled = 0
                while payload:
                    update = self.arrived.pop(payload["update_id"], None) or Update.de_json(payload, app.bot)
                    await app.process_update(update)  # the handlers: parse, handle, flush
                    done, handled = str(update.update_id), handled + 1
                    payload = await handlers.stored(app, next_update, handlers.CHANNEL, chat, done)
                    if self.waiting and handled >= TURNS_PER_SLOT:  # others wait: it goes on behind them
                        break
                if done is None:  # nothing new: messages that could not be sent before
                    await handlers.flush(app, chat)
            finally:
                more = await handlers.stored(app, self._let_go, lock, chat)
            if (payload or more) and self.waiting:
                self.again.add(chat)  # _finished queues it again, at the back
                return
            if not more:
                return

    def _take(self, chat: str) -> tuple[ChatLock | None, dict[str, Any] | None]:
        """The chat's lock and its earliest kept update: one trip to the database's thread."""
        lock = self.service.database.try_lock(f"{handlers.CHANNEL}:{chat}")
        if lock is None:
            return None, None
        try:
            return lock, self.service.next_update(handlers.CHANNEL, chat)
        except BaseException:
            lock.release()
            raise

    def _let_go(self, lock: ChatLock, chat: str) -> bool:
        """Let go of the chat; whether another worker kept updates of it meanwhile (in one process,
        `again` sees to those). Unsent messages wait for look_for_work."""
        lock.release()
        return not self.service.database.one_process_only and self.service.has_updates(handlers.CHANNEL, chat)

    async def settled(self) -> None:
        """Wait until every chat in hand here is drained."""
        while self.draining:
            await asyncio.gather(*self.draining.values(), return_exceptions=True)

    async def look_for_work(self, _context: ContextTypes.DEFAULT_TYPE | None = None) -> None:
        """Drain every chat with kept updates or unsent messages (at start, then periodically).
        Messages only to send go first: the quickest to finish, each for someone already waiting.
        A chat being drained here now goes round once more: its task may be past its sending."""
        kept, unsent = await handlers.stored(self.app, self.service.waiting, handlers.CHANNEL)
        for chat in dict.fromkeys(unsent + kept):
            self.drain_soon(chat)

    async def start(self) -> None:
        """Take up at once what a crash (or a stop) left: kept updates, unsent messages. Nothing
        else would until the first periodic look, and a process killed again before it comes would
        leave them once more. A failure is logged: the periodic look tries again."""
        try:
            await self.look_for_work()
        except Exception as error:
            # the type only, no traceback: an error's text may quote the request, and so the token
            log.error("could not look for kept updates and unsent messages at start: %s",  # noqa: TRY400
                      type(error).__name__)


def install(app: TelegramApp, service: SalesService) -> Updates:
    """The inbox and the outbox on the application, with the periodic look for work. The first
    look is `Updates.start`, when the application has started: a job's first run is counted from
    now, and a first run already past when the scheduler starts (it starts with the application,
    later) is moved a whole interval on. A look that comes late (a busy loop) is still made, once."""
    updates = app.bot_data["updates"] = Updates(app, service)
    if app.job_queue:
        app.job_queue.run_repeating(updates.look_for_work, interval=RETRY_SECONDS, first=RETRY_SECONDS,
                                    job_kwargs={"misfire_grace_time": None, "coalesce": True})
    return updates
