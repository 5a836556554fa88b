"""Getting updates in and messages out reliably: per-chat order, rate limits and retries."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter, BaseUpdateProcessor

log = logging.getLogger(__name__)


class PerChatOrder(BaseUpdateProcessor):
    """Different chats run concurrently; the updates of one chat run one at a time, in order.

    A lock exists only while its chat has updates in flight, so the table stays as small as
    the number of busy chats.
    """

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    @property
    def busy_chats(self) -> int:
        return len(self._locks)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat, asyncio.Lock())
        self._users[chat] = self._users.get(chat, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[chat] -= 1
            if not self._users[chat]:
                del self._users[chat], self._locks[chat]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


class RetryingRateLimiter(AIORateLimiter):
    """Telegram's flood limits (with retries after 429 'retry_after'), plus retries on network hiccups."""

    def __init__(self, network_retries: int = 3, backoff: float = 0.5, **limits: Any) -> None:
        super().__init__(max_retries=limits.pop("max_retries", 3), **limits)
        self.network_retries = network_retries
        self.backoff = backoff

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):  # type: ignore[no-untyped-def]
        for attempt in range(self.network_retries + 1):
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except BadRequest:  # a subclass of NetworkError, but the request itself is wrong: no retry
                raise
            except NetworkError as error:
                if attempt == self.network_retries:
                    raise
                log.warning("%s failed (%s); retry %d of %d", endpoint, type(error).__name__, attempt + 1,
                            self.network_retries)
                await asyncio.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")
