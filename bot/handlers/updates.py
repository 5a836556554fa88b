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
from storage.database import ChatLock, transient

log = logging.getLogger(__name__)
RETRY_SECONDS = 5  # how often kept updates and unsent messages are looked for
ARRIVED_KEPT = 10_000  # parsed updates kept for their handling (see Updates.arrived)
# On PostgreSQL a chat being drained holds a connection for its lock and, during a turn, one for its
# transaction: so at most half the process's connections are drained at once (two are left for
# the look for work and the schedules), and the pool is never exhausted.
SPARE_CONNECTIONS = 2
# A turn that fails for a passing reason (a dropped connection, no connection free, a lock time-out)
# is tried again after these waits, its update kept; then it is parked (PARKED) and the person told.
RETRY_WAITS = (0.5, 1, 2, 4, 8)
TURNS_PER_SLOT = 3  # updates a chat handles in a row while others wait for a slot (a bound on their wait)
DONE, KEPT, PARKED = "done", "kept", "parked"  # what became of an update whose handlers ran
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
            nullcontext() if service.database.one_process_only
            else asyncio.Semaphore(max(1, (service.database.connections - SPARE_CONNECTIONS) // 2)))
        self.handling: set[int] = set()  # updates whose turn runs now (their failures are ours to judge)
        self.failures: dict[int, BaseException] = {}  # update -> why its turn failed, as on_error heard
        self.tries: dict[int, int] = {}  # update -> turns failed for a passing reason so far
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
                handled, kept = 0, False
                while payload:
                    update = self.arrived.pop(payload["update_id"], None) or Update.de_json(payload, app.bot)
                    self.handling.add(update.update_id)
                    try:
                        await app.process_update(update)  # the handlers: parse, handle, flush
                    finally:
                        self.handling.discard(update.update_id)
                    outcome = await self._settle_failure(update, chat)
                    if outcome is KEPT:  # for another try, later: the chat waits for it
                        kept = True
                        break
                    handled += 1
                    # whatever the handlers made of it (ignored, refused), it is done; a parked one stays
                    done = str(update.update_id) if outcome is DONE else None
                    payload = await handlers.stored(app, next_update, handlers.CHANNEL, chat, done)
                    if self.waiting and handled >= TURNS_PER_SLOT:  # others wait: it goes on behind them
                        break
                if not handled and not kept:  # nothing new: messages that could not be sent before
                    await handlers.flush(app, chat)
            finally:
                more = await handlers.stored(app, self._let_go, lock, chat)
            if kept:  # its next try is due later (_settle_failure); new updates of the chat wait behind it
                return
            if (payload or more) and self.waiting:
                self.again.add(chat)  # _finished queues it again, at the back
                return
            if not more:
                return

    def failed(self, update: object, error: BaseException) -> bool:
        """The error handler's word that an update's turn failed; True: it is ours (being drained
        here), and `_settle_failure` decides what becomes of it."""
        if isinstance(update, Update) and update.update_id in self.handling:
            self.failures[update.update_id] = error
            return True
        return False

    async def _settle_failure(self, update: Update, chat: str) -> str:
        """After an update's handlers ran: DONE (handled), KEPT (its turn failed for a passing
        reason: tried again later) or PARKED (failed for good, or too often: left aside, the person told)."""
        error = self.failures.pop(update.update_id, None)
        if error is None:
            self.tries.pop(update.update_id, None)
            return DONE
        tries = self.tries[update.update_id] = self.tries.get(update.update_id, 0) + 1
        if transient(error) and tries <= len(RETRY_WAITS):
            log.warning("chat %s: update %s failed (%s); tried again in %s s", chat, update.update_id,
                        type(error).__name__, RETRY_WAITS[tries - 1])
            asyncio.get_running_loop().call_later(RETRY_WAITS[tries - 1], self.drain_soon, chat)
            return KEPT
        del self.tries[update.update_id]
        reason = f"{type(error).__name__} after {tries} tries"
        log.error("chat %s: update %s parked (%s); `salesbot parked` lists it", chat, update.update_id,
                  reason)
        await handlers.stored(self.app, self.service.park, handlers.CHANNEL, str(update.update_id), reason)
        await handlers.apologise(self.app, update)  # once, now that it will not be tried again
        return PARKED

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
