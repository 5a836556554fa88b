"""Throughput, latency and memory of the Telegram channel, against a bare echo bot in the same run.

Both bots run the real python-telegram-bot Application with the offline Bot API request layer
(nothing leaves the machine); the sales bot also logs every contact to SQLite.
Run: .venv/bin/python bench/telegram_throughput.py [--chats 10000]
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

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


def rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4


def updates_for(chat: int) -> list[dict[str, Any]]:
    return [message_update(chat, value) if kind == "text" else button_update(chat, value)
            for kind, value in SCRIPT]


async def timed(app: AnyApplication, updates: list[dict[str, Any]]) -> list[float]:
    latencies: list[float] = []
    api = offline_api(app.bot)
    for data in updates:
        # a button is pressed on the chat's current question (its data carries the question's number)
        update = Update.de_json(api.on_current_message(data) if api else data, app.bot)
        began = time.perf_counter()
        await app.process_update(update)
        latencies.append(time.perf_counter() - began)
    return latencies


def sales_app(database: Database) -> AnyApplication:
    # Telegram's own flood limits (30 messages/s) would measure Telegram, not this code: the
    # limiter stays in the path with its retries, its throttling set to zero.
    unthrottled = RetryingRateLimiter(overall_max_rate=0, group_max_rate=0)
    return build_application(SalesService(Library(), database), TOKEN, request=OfflineRequest(FakeBotApi()),
                             rate_limiter=unthrottled)


def echo_app() -> AnyApplication:
    app = ApplicationBuilder().token(TOKEN).request(OfflineRequest(FakeBotApi())).build()

    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:  # always, for the message updates this bot is sent
            await message.reply_text(message.text or "?")

    app.add_handler(MessageHandler(filters.ALL, echo))
    return app


def summary(name: str, latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    figures = {"updates_per_s": len(latencies) / seconds, "p50_ms": statistics.median(ordered) * 1000,
               "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000}
    print(f"{name:<12} {len(latencies):>7} updates  {figures['updates_per_s']:>8.0f}/s  "
          f"p50 {figures['p50_ms']:.2f} ms  p99 {figures['p99_ms']:.2f} ms")
    return figures


async def main(chats: int, sizes: list[int], sample: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="salesbot-bench-"))
    database = Database(f"sqlite:///{workdir / 'bench.sqlite3'}")
    updates = [u for chat in range(1, chats + 1) for u in updates_for(chat)]
    echo_updates = [message_update(chat, "hello") for chat in range(1, len(updates) + 1)]

    print(f"{chats} chats, {len(updates)} updates, one process, SQLite at {workdir}")
    async with echo_app() as app:
        began = time.perf_counter()
        echo = summary("echo bot", await timed(app, echo_updates), time.perf_counter() - began)
    gc.collect()
    before = rss_kib()
    async with sales_app(database) as app:
        began = time.perf_counter()
        sales = summary("sales bot", await timed(app, updates), time.perf_counter() - began)
    gc.collect()
    print(f"ratio sales/echo: {sales['updates_per_s'] / echo['updates_per_s']:.2f}")
    print(f"resident memory: +{(rss_kib() - before) / chats:.2f} KiB per conversation "
          f"({chats} conversations, all kept in the database, none held in memory between updates)")

    print(f"per-update cost as stored conversations grow ({sample} chats x {len(SCRIPT)} updates each):")
    for size in sizes:
        scale = Database(f"sqlite:///{workdir / f'scale-{size}.sqlite3'}")
        seed_conversations(scale, size)
        async with sales_app(scale) as app:
            fresh = [u for chat in range(10_000_000, 10_000_000 + sample) for u in updates_for(chat)]
            latencies = await timed(app, fresh)
        print(f"  {size:>7} stored: p50 {statistics.median(latencies) * 1000:.2f} ms  "
              f"p99 {sorted(latencies)[int(len(latencies) * 0.99) - 1] * 1000:.2f} ms")
        scale.close()
    database.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 10_000, 100_000])
    parser.add_argument("--sample", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.chats, args.sizes, args.sample))
