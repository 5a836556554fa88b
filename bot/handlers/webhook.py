"""Getting Telegram's updates: its webhook — a small HTTP server (tornado) that takes Telegram's
POSTs and hands each update to `accept` — or polling, and the loop that runs the application
behind either. Both tell Telegram an update arrived only once `accept` has kept it.

It replaces python-telegram-bot's own (`Updater.start_webhook`), which answers a body that is not
JSON with 500 (and Telegram sends a 5xx'd update again and again) and logs an update it cannot
read, in full, at CRITICAL, with whatever personal data it holds. Here:

- a request without Telegram's secret-token header, or with another value, gets 403;
- a body that is not a JSON object, or not an update, gets 400: sending it again cannot help.
  The log names only its size and what was wrong with it, never its content;
- a body larger than any update (MAX_BODY) is refused by the server before it is read;
- an update is answered 200 once `accept` has taken it (by default: into the application's
  queue; a store that must survive a crash can be put here, as it runs before the 200).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from types import TracebackType
from typing import Any

import tornado.web
from telegram import Bot, Update
from telegram.error import (BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError,
                            TimedOut)
from telegram.ext import Application, ExtBot
from tornado.httpserver import HTTPServer

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's updates are a few kilobytes (a message is at most 4 096 characters); anything near
# this is forged, and is refused before it is read.
MAX_BODY = 1 << 20
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGABRT)
Accept = Callable[[Update], Awaitable[None]]
START_WAITS = (1, 2, 4, 8, 15, 30)  # seconds between tries of the first calls, while the Bot API is away



def _update_data(body: bytes) -> dict[str, Any]:
    data = json.loads(body)
    if not isinstance(data, dict) or type(data.get("update_id")) is not int:
        raise TypeError("not a JSON object with a numeric update_id")
    return data

class UpdateHandler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("POST",)

    def initialize(self, bot: Bot, accept: Accept, secret: str) -> None:  # tornado's per-request set-up
        self.bot, self.accept, self.secret = bot, accept, secret

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("refused a webhook request from %s: %s", self.request.remote_ip,
                        "the secret token is wrong" if given else "no secret token")
            self.refuse(403)
            return
        body = self.request.body
        try:
            update = Update.de_json(_update_data(body), self.bot)
        except Exception as error:  # whatever a forged body makes fail; its message may quote the body
            log.warning("refused a webhook request of %d bytes that is not an update (%s)", len(body),
                        type(error).__name__)
            self.refuse(400)
            return
        if isinstance(self.bot, ExtBot):  # as python-telegram-bot's own webhook does
            self.bot.insert_callback_data(update)
        await self.accept(update)  # kept (or handed on) before Telegram hears it arrived
        self.set_status(200)

    def refuse(self, status: int) -> None:
        self.clear()
        self.set_status(status)
        self.finish()

    def log_exception(self, typ: type[BaseException] | None, _value: BaseException | None,
                      _tb: TracebackType | None) -> None:
        # tornado's own logs the request with its headers (the secret), and an exception's message
        # may quote the update (a database error quotes its parameters): the type only.
        log.error("a webhook request failed: %s", typ.__name__ if typ else "unknown error")


class WebhookApp(tornado.web.Application):
    def __init__(self, path: str, bot: Bot, accept: Accept, secret: str) -> None:
        super().__init__([(rf"{path}/?", UpdateHandler, {"bot": bot, "accept": accept, "secret": secret})])

    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """No access log line per update; refusals are logged by the handler."""


async def serve_webhook(app: Application[Any, Any, Any, Any, Any, Any], listen: str, port: int,
                        webhook_url: str, secret: str, path: str = "/telegram",
                        allowed_updates: list[str] | None = None, accept: Accept | None = None) -> None:
    """Run the application behind its webhook server until SIGINT, SIGTERM or SIGABRT: initialise
    it (the token is checked here: InvalidToken), listen, and only then tell Telegram where to
    post, so that no update arrives before the server can take it."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stopping.set)
    server = HTTPServer(WebhookApp(path, app.bot, accept or app.update_queue.put, secret),
                        max_body_size=MAX_BODY)
    async with started(app):
        try:
            server.listen(port, address=listen)
            await patiently(lambda: app.bot.set_webhook(webhook_url, secret_token=secret,
                                                        allowed_updates=allowed_updates), "set the webhook")
            log.info("webhook mode: listening on %s:%s", listen, port)
            await stopping.wait()
        finally:
            server.stop()
            await server.close_all_connections()
            await settle(app)
            await app.stop()


@asynccontextmanager
async def started(app: Application[Any, Any, Any, Any, Any, Any]) -> AsyncIterator[None]:
    """The application initialised (the token checked: InvalidToken), its commands set and left
    work taken up; shut down at the end. A Bot API that is briefly away or busy at start (no
    connection, 5xx, 429) is asked again rather than ending the process."""
    await patiently(app.initialize, "reach the Bot API")
    try:
        if app.post_init:
            post_init = app.post_init
            await patiently(lambda: post_init(app), "set the command menus")
        await app.start()
        await take_up_left_work(app)
        yield
    finally:
        if app.running:  # the runners stop it themselves, once what is under way has settled
            await app.stop()
        await app.shutdown()


async def patiently(call: Callable[[], Awaitable[Any]], what: str) -> None:
    """`call`, asked again after a transient Bot API error, with growing waits (START_WAITS)."""
    for wait in (*START_WAITS, None):
        try:
            await call()
        except (InvalidToken, BadRequest, Forbidden):  # asking again cannot help
            raise
        except (NetworkError, TimedOut, RetryAfter) as error:
            if wait is None:
                raise
            pause = max(wait, retry_seconds(error))
            log.warning("could not %s (%s); trying again in %s s", what, type(error).__name__, pause)
            await asyncio.sleep(pause)
        else:
            return


def retry_seconds(error: Exception) -> float:
    after = getattr(error, "retry_after", 0)
    return float(after.total_seconds() if isinstance(after, timedelta) else after or 0)


async def take_up_left_work(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """At start: what the last process left (updates kept and not handled, messages not sent, e.g.
    after a crash) is drained now, beside the first new updates (Updates.start)."""
    updates = app.bot_data.get("updates")
    if updates is not None:
        await updates.start()


async def settle(app: Application[Any, Any, Any, Any, Any, Any], seconds: float = 10) -> None:
    """On the way out, let what is being handled finish (a reply sent but not yet marked sent would
    be sent again after the restart); what is left after `seconds` is handled after the restart."""
    updates = app.bot_data.get("updates")
    if updates is not None:
        try:
            await asyncio.wait_for(updates.settled(), seconds)
        except TimeoutError:
            log.warning("stopped with updates still being handled; they are handled after the restart")


async def serve_polling(app: Application[Any, Any, Any, Any, Any, Any], accept: Accept,
                        allowed_updates: list[str] | None = None, timeout: int = 30) -> None:
    """Run the application by polling until SIGINT, SIGTERM or SIGABRT. Each batch is accepted
    (kept) before the next request moves the offset past it: Telegram forgets only what is kept."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stopping.set)
    async with started(app):
        await patiently(app.bot.delete_webhook, "end the webhook")  # Telegram sends to one place
        stop = asyncio.ensure_future(stopping.wait())
        offset: int | None = None
        try:
            while not stopping.is_set():
                fetch = asyncio.ensure_future(app.bot.get_updates(offset=offset, timeout=timeout,
                                                                  allowed_updates=allowed_updates))
                await asyncio.wait({fetch, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()
                    break
                try:
                    batch = fetch.result()
                except InvalidToken:
                    raise
                except TelegramError as error:  # the connection dropped, Telegram is busy: ask again
                    log.warning("could not get updates (%s); asking again", type(error).__name__)
                    await asyncio.sleep(1)
                    continue
                for update in batch:
                    await accept(update)
                if batch:
                    offset = batch[-1].update_id + 1
        finally:
            stop.cancel()
            await settle(app)
            await app.stop()
