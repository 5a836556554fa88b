"""Getting messages out reliably: the flood limit, and retries after a 429 or a network error."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)


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
