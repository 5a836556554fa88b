"""Throughput, latency and memory of the Telegram channel, against two bots in the same run: a bare
echo bot and a fair peer (bench/peer.py: the same five steps, Bot API calls and one row per update).

All three run the real python-telegram-bot Application with the offline Bot API request layer
(nothing leaves the machine), interleaved: each repetition runs each bot once, in a rotating order.
Every run gets a fresh database at DATABASE_URL (a SQLAlchemy URL: a file beside the given one for
sqlite:///path, a schema of its own, dropped afterwards, for postgresql+psycopg://...); without it,
SQLite in a temporary directory.
Run: .venv/bin/python bench/telegram_throughput.py [--chats 10000] [--repeat 3] [--quick]
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import inspect
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlalchemy.engine import make_url
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from peer import Rows, connect, peer_app
from bot.handlers.app import build_application
from bot.handlers.delivery import RetryingRateLimiter
from bot.library import Library
from bot.service import SalesService
from storage.database import Database
from storage.seed import seed_conversations
from tests.botapi import FakeBotApi, OfflineRequest, button_update, message_update, offline_api

TOKEN = "111111:BENCH-token_abcdefghijklmnopqrstuvwxyz"
AnyApplication = Application[Any, Any, Any, Any, Any, Any]
SCRIPT = [("text", "/start"), ("button", "agree"), ("text", "35"), ("button", "office"), ("button", "no")]
BOTS = ("echo", "peer", "project")


class Inbox(Protocol):
    """The project's inbox (app.bot_data["updates"]), when it has one: `accept` keeps an update
    (its JSON, or the Update made of it) and schedules its handling; `settled` waits for all of it."""

    async def accept(self, data: Any) -> None: ...

    async def settled(self) -> None: ...


@dataclass
class Run:
    latencies: list[float]
    seconds: float
    kib: int  # resident memory grown during the run
    calls: int  # Bot API calls made during the run

    @property
    def per_s(self) -> float:
        return len(self.latencies) / self.seconds


def takes_update(inbox: Inbox) -> bool:
    """Whether `accept` is annotated to take an Update rather than the update's JSON."""
    first = next(iter(inspect.signature(inbox.accept).parameters.values()))
    return first.annotation in (Update, "Update")


def rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4


def updates_for(chat: int) -> list[dict[str, Any]]:
    return [message_update(chat, value) if kind == "text" else button_update(chat, value)
            for kind, value in SCRIPT]


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[max(int(len(ordered) * 0.99) - 1, 0)]


async def timed(app: AnyApplication, updates: list[dict[str, Any]]) -> list[float]:
    """Each update's time from its JSON to its replies sent, one update after another."""
    latencies: list[float] = []
    api = offline_api(app.bot)
    inbox: Inbox | None = app.bot_data.get("updates")
    as_update = inbox is not None and takes_update(inbox)
    for sent in updates:
        # a button is pressed on the chat's current question (its data carries the question's number)
        data = api.on_current_message(sent) if api else sent
        began = time.perf_counter()
        if inbox is not None:
            await inbox.accept(Update.de_json(data, app.bot) if as_update else data)
            await inbox.settled()
        else:
            await app.process_update(Update.de_json(data, app.bot))
        latencies.append(time.perf_counter() - began)
    return latencies


@functools.cache
def library() -> Library:
    """The sale's texts and classifier, loaded once (2 s) and shared by every run, as in one process."""
    return Library()


def sales_app(database: Database) -> AnyApplication:
    # Telegram's own flood limits (30 messages/s) would measure Telegram, not this code: the
    # limiter stays in the path with its retries, its throttling set to zero.
    unthrottled = RetryingRateLimiter(overall_max_rate=0, group_max_rate=0)
    return build_application(SalesService(library(), database), TOKEN, request=OfflineRequest(FakeBotApi()),
                             rate_limiter=unthrottled)


def echo_app() -> AnyApplication:
    app = ApplicationBuilder().token(TOKEN).request(OfflineRequest(FakeBotApi())).build()

    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:  # always, for the message updates this bot is sent
            await message.reply_text(message.text or "?")

    app.add_handler(MessageHandler(filters.ALL, echo))
    return app


@contextmanager
def fresh_url(base: str, name: str) -> Iterator[str]:
    """A new, empty database next to `base`, removed afterwards."""
    url = make_url(base)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            yield base
            return
        path = Path(url.database)
        path = path.with_name(f"{path.stem}-{name}{path.suffix}")
        try:
            yield url.set(database=str(path)).render_as_string(hide_password=False)
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    schema = f"bench_{os.getpid()}_{name}"
    with connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        in_schema = url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield in_schema.render_as_string(hide_password=False)
    finally:
        with connect(base, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@asynccontextmanager
async def started(bot: str, url: str) -> AsyncIterator[AnyApplication]:
    """One of BOTS, initialized, on the database at `url` (the echo bot keeps nothing)."""
    async with AsyncExitStack() as closing:
        if bot == "echo":
            app = echo_app()
        elif bot == "peer":
            rows = Rows(url)
            closing.callback(rows.close)
            app = peer_app(rows, TOKEN, OfflineRequest(FakeBotApi()))
        else:
            database = Database(url)
            closing.callback(database.close)
            app = sales_app(database)
        yield await closing.enter_async_context(app)


async def run(bot: str, url: str, chats: int) -> Run:
    if bot == "echo":  # one message in each of as many chats as the others get updates
        updates = [message_update(chat, "hello") for chat in range(1, chats * len(SCRIPT) + 1)]
    else:
        updates = [u for chat in range(1, chats + 1) for u in updates_for(chat)]
    async with started(bot, url) as app:
        gc.collect()
        before = rss_kib()
        began = time.perf_counter()
        latencies = await timed(app, updates)
        seconds = time.perf_counter() - began
        await asyncio.sleep(0.01)  # the last press's acknowledgement, sent in a task of its own
        gc.collect()
        api = offline_api(app.bot)
        calls = sum(c.method != "getMe" for c in api.calls) if api else 0
        return Run(latencies, seconds, rss_kib() - before, calls)


async def main(chats: int, repeat: int, sizes: list[int], sample: int, base_url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="salesbot-bench-") as workdir:
        await measure(chats, repeat, sizes, sample, base_url or f"sqlite:///{workdir}/bench.sqlite3")


async def measure(chats: int, repeat: int, sizes: list[int], sample: int, base: str) -> None:
    print(f"{chats} chats x {len(SCRIPT)} updates, {repeat} run(s) of each bot interleaved, one process, "
          f"database {make_url(base).render_as_string(hide_password=True)}")
    runs: dict[str, list[Run]] = {bot: [] for bot in BOTS}
    for rep in range(repeat):
        order = BOTS[rep % len(BOTS):] + BOTS[:rep % len(BOTS)]
        for bot in order:
            with fresh_url(base, f"{bot}{rep}") as url:
                runs[bot].append(await run(bot, url, chats))
        print(f"run {rep + 1}: " + ", ".join(f"{bot} {runs[bot][-1].per_s:.0f}/s" for bot in order))

    print(f"{'bot':<8} {'updates/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'calls/update':>13} "
          f"{'KiB/conversation':>17}")
    median: dict[str, float] = {}
    for bot, done in runs.items():
        latencies = [t for r in done for t in r.latencies]
        median[bot] = statistics.median(r.per_s for r in done)
        print(f"{bot:<8} {median[bot]:>10.0f} {statistics.median(latencies) * 1000:>8.2f} "
              f"{p99(latencies) * 1000:>8.2f} {done[0].calls / len(done[0].latencies):>13.2f} "
              f"{max(r.kib for r in done) / chats:>+17.2f}")
    print(f"ratio project/peer: {median['project'] / median['peer']:.2f}  "
          f"project/echo: {median['project'] / median['echo']:.2f}  (median updates/s; memory: "
          f"resident growth during a run, the largest of its runs, over {chats} conversations)")

    if sizes:
        print(f"project's per-update cost as stored conversations grow ({sample} chats x {len(SCRIPT)} "
              "updates):")
    for size in sizes:
        with fresh_url(base, f"scale{size}") as url:
            scale = Database(url)
            seed_conversations(scale, size)
            if scale.engine.dialect.name == "postgresql":  # the seed sets contact ids; new ones follow
                with scale.engine.begin() as connection:
                    connection.execute(text("SELECT setval(pg_get_serial_sequence('contacts', 'id'), "
                                            "(SELECT max(id) FROM contacts))"))
            async with sales_app(scale) as app:
                fresh = [u for chat in range(10_000_000, 10_000_000 + sample) for u in updates_for(chat)]
                latencies = await timed(app, fresh)
            scale.close()
        print(f"  {size:>7} stored: p50 {statistics.median(latencies) * 1000:.2f} ms  "
              f"p99 {p99(latencies) * 1000:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, help="conversations per run (default 10000; --quick: 40)")
    parser.add_argument("--repeat", type=int, help="runs of each bot (default 3; --quick: 1)")
    parser.add_argument("--sizes", type=int, nargs="*", help="stored conversations for the scaling runs "
                        "(default 100 10000 100000; --quick: none)")
    parser.add_argument("--sample", type=int, default=300, help="chats per scaling run")
    parser.add_argument("--quick", action="store_true", help="a smoke test, well under 30 s")
    args = parser.parse_args()
    quick = args.quick
    sizes = args.sizes if args.sizes is not None else [] if quick else [100, 10_000, 100_000]
    asyncio.run(main(chats=args.chats or (40 if quick else 10_000), repeat=args.repeat or (1 if quick else 3),
                     sizes=sizes, sample=args.sample, base_url=os.environ.get("DATABASE_URL")))
