"""Throughput and latency of the bot as 1, 2 and 4 worker processes sharing one PostgreSQL database.

Each worker is the real bot in webhook mode (tests.helpers.BotProcess), all of them started together
on a fresh schema and pointed at one fake Bot API (tests.botapi.BotApiServer) in this process.
`--chats` people run the throughput bench's five steps (bench/telegram_throughput.py SCRIPT) at once,
from a pool of `--clients` threads: each step is posted only after the replies to the last one have
arrived (a press is of the last question's keyboard), and a chat's updates are spread round-robin
over the workers' webhook ports, as nginx would. Measured: updates/s from the first post to the last
reply, and each update's latency from its post until its replies were taken by the fake Bot API.

Before the timed chats, one chat per worker is run step by step, each step waited for with
BotProcess.handled (the database's view): every worker handles every step once (warm-up), and the
number of messages each step is answered with is learnt, so the timed chats wait on the fake Bot
API's records alone (no database polling while timed).

Caveats. Each worker runs python-telegram-bot's flood limiter (RetryingRateLimiter, an AIORateLimiter)
at TELEGRAM_MAX_MESSAGES_PER_SECOND (Telegram's 30 by default). Five steps make about 2 calls per
update that carry a chat_id, so at 30/s one worker could not pass ~15 updates/s whatever its speed:
the bench sets the limit to 0 (none) unless TELEGRAM_MAX_MESSAGES_PER_SECOND is set, and the
"chat calls/s per worker" column shows when a limit is what was measured. (Against the real
Telegram, whose limit is per bot token, n workers each at 30/s could be answered 429.)

The fake Bot API is a Python ThreadingHTTPServer (a thread and a new connection per call)
in this process, which also runs the clients; it holds the GIL and this machine has 2 cores. When
the CPU line shows this process near 100% of a core, or the machine near 100% of all cores, the
figures measure the harness and the machine, not the bot's scaling.

PostgreSQL: DATABASE_URL when it names one, else the tests' server (tests/conftest.py POSTGRES_URL).
Run: .venv/bin/python bench/workers.py [--workers 1 2 4] [--chats 200] [--clients 32] [--quick]
"""
from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.engine import make_url

from telegram_throughput import SCRIPT, p99
from tests.botapi import BotApiServer, button_update, message_update, value_of
from tests.conftest import POSTGRES_URL, postgres_problem
from tests.helpers import BotProcess, postgres_schema, tracebacks, wait_for

PATIENCE = 30.0  # seconds a person waits for their message to be taken, or for its replies
START_TIMEOUT = 90.0  # four workers importing and loading the library at once on 2 cores
TICK = os.sysconf("SC_CLK_TCK")
FLOOD_LIMIT = 30  # requests/s with a chat_id: the AIORateLimiter's default (Telegram's limit per bot)


class Stalled(Exception):
    """A chat gave up: an update was never taken (HTTP 200), or its replies never came."""


# -- CPU accounting: cheap reads of /proc, to tell who was busy ----------------------------------
def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine so far (all cores)."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICK  # all but idle and iowait


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def postgres_cpu() -> float:
    """CPU seconds of the local PostgreSQL server's processes: the live ones' own, plus what the
    postmaster collected from backends that ended (cutime), so the difference of two reads counts
    connections opened and closed in between. 0 when it runs elsewhere (or is not readable)."""
    total = 0
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = stat_path.read_text().split(" (", 1)[1].rsplit(")", 1)
        except OSError:  # ended meanwhile
            continue
        if name == "postgres":
            values = fields.split()
            total += sum(int(v) for v in values[11:15])  # utime, stime, cutime, cstime
    return total / TICK


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


# -- one run: `workers` processes, `chats` people ------------------------------------------------
@dataclass
class Result:
    workers: int
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    stalled: list[str] = field(default_factory=list)
    statuses: Counter[int | None] = field(default_factory=Counter)
    api_calls: int = 0
    chat_calls: int = 0  # the calls with a chat_id: those the bot's flood limiter counts
    cpu: dict[str, float] = field(default_factory=dict)  # who -> CPU seconds during the timed part
    cpu_wall: float = 0.0  # the timed part's wall time, as the CPU figures were taken
    problems: list[str] = field(default_factory=list)  # from the workers' outputs

    @property
    def per_s(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


class Bench:
    def __init__(self, api: BotApiServer, bots: list[BotProcess], replies: list[int]) -> None:
        self.api, self.bots, self.replies = api, bots, replies
        self.turn = 0  # the next worker, round-robin over all posts (as nginx does)
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.spans: list[tuple[float, float]] = []  # (first post, last reply) per chat
        self.statuses: Counter[int | None] = Counter()
        self.client_cpu = 0.0  # the client threads' own CPU, to tell it from the fake Bot API's
        self.aborted = threading.Event()  # set on an error or Ctrl-C: the chats stop at once

    def next_bot(self) -> BotProcess:
        with self.lock:
            self.turn += 1
            return self.bots[self.turn % len(self.bots)]

    def post(self, update: dict[str, Any]) -> None:
        """Post until answered 200, as Telegram does."""
        deadline = time.monotonic() + PATIENCE
        while True:
            status = self.next_bot().post_update(update)
            with self.lock:
                self.statuses[status] += 1
            if status == 200:
                return
            if time.monotonic() > deadline or self.aborted.is_set():
                raise Stalled(f"update {update['update_id']} not taken (last answer {status})")
            time.sleep(0.2)  # Telegram waits a little before it posts again

    def chat(self, chat: int) -> None:
        cpu = time.thread_time()
        latencies: list[float] = []
        first = last = 0.0
        try:
            for step, (kind, value) in enumerate(SCRIPT):
                if self.aborted.is_set():
                    raise Stalled("aborted")
                before = len(self.api.api.delivered(chat))
                update = message_update(chat, value) if kind == "text" else press(self.api, chat, value)
                began = time.perf_counter()
                first = first or began
                self.post(update)
                if not self.arrived(chat, before + self.replies[step]):
                    raise Stalled(f"step {step + 1} {(kind, value)}: {self.replies[step]} replies "
                                  f"expected in {PATIENCE:.0f} s")
                last = time.perf_counter()
                latencies.append(last - began)
        finally:
            with self.lock:
                self.latencies += latencies
                if latencies:
                    self.spans.append((first, last))
                self.client_cpu += time.thread_time() - cpu

    def arrived(self, chat: int, count: int) -> bool:
        """Wait (on the fake Bot API's records) until `count` messages were sent to the chat."""
        api = self.api.api
        arrived = api.wait_until(lambda: self.aborted.is_set() or len(api.delivered(chat)) >= count, PATIENCE)
        return arrived and not self.aborted.is_set()


def press(api: BotApiServer, chat: int, value: str) -> dict[str, Any]:
    """A press of `value` on the last question the chat got: its callback data carries the
    question's number, taken from that message's keyboard."""
    asked = [m for m in api.api.delivered(chat) if m.get("reply_markup")]
    if not asked:
        raise Stalled(f"no question with buttons to press {value!r} on")
    markup = asked[-1]["reply_markup"]
    keyboard = markup["inline_keyboard"] if isinstance(markup, dict) else []
    offered = [value_of(b.get("callback_data", "")) for row in keyboard for b in row]
    if value not in offered:
        raise Stalled(f"{value!r} is not offered by the last question (it offers {offered})")
    return button_update(chat, value, text=asked[-1]["text"], keyboard=keyboard)


def calibrate(api: BotApiServer, bots: list[BotProcess]) -> list[int]:
    """Run one chat per worker step by step, chat j's step i sent to worker (i + j) mod n so that
    every worker handles every step once (warm-up), each step waited for in the database
    (BotProcess.handled): how many messages each step is answered with."""
    counts: set[tuple[int, ...]] = set()
    for chat in range(1, len(bots) + 1):
        replies = []
        for step, (kind, value) in enumerate(SCRIPT):
            bot = bots[(step + chat) % len(bots)]
            before = len(api.api.delivered(chat))
            update = message_update(chat, value) if kind == "text" else press(api, chat, value)
            status = bot.post_update(update)
            if status != 200:
                raise Stalled(f"warm-up chat {chat}, step {step + 1}: answered {status}")
            handled = functools.partial(bot.handled, update["update_id"], chat)
            wait_for(handled, f"warm-up chat {chat}, step {step + 1} handled", PATIENCE)
            replies.append(len(api.api.delivered(chat)) - before)
        counts.add(tuple(replies))
    if len(counts) > 1:
        print(f"   note: the warm-up chats got different numbers of replies per step: {sorted(counts)}")
    with api.api.lock:  # the timed chats count sendMessage only: say if a step sends anything else
        others = Counter(c.method for c in api.api.calls if c.method.startswith("send")
                         and c.method not in ("sendMessage", "sendChatAction"))
    if others:
        print(f"   note: the script also sends {dict(others)}; latencies count sendMessage only")
    return list(max(counts))


def stop(bots: list[BotProcess]) -> None:
    for bot in bots:
        if not bot.alive():
            if bot.process is not None and bot.output() and not bot.outputs:
                bot.outputs.append(bot.output())  # died on its own: keep what it said
            continue
        try:
            bot.stop()
        except subprocess.TimeoutExpired:  # did not end within 20 s of SIGINT
            bot.kill()


def run(base_url: str, workers: int, chats: int, clients: int) -> Result:
    result = Result(workers)
    with postgres_schema(base_url) as url, BotApiServer() as api:
        bots = [BotProcess(api, url) for _ in range(workers)]
        try:
            registered = [bot.launch(clear=False) for bot in bots]  # together: they meet in migrations
            for bot, before in zip(bots, registered, strict=True):
                bot.wait_ready(before, timeout=START_TIMEOUT)
            replies = calibrate(api, bots)
            bench = Bench(api, bots, replies)
            calls_before = len(api.api.calls)
            pids = [bot.process.pid for bot in bots if bot.process]
            cpu_before = ([process_cpu(pid) for pid in pids], own_cpu(), machine_cpu(), postgres_cpu())
            pool_began = time.perf_counter()
            with ThreadPoolExecutor(max_workers=min(clients, chats)) as pool:
                try:
                    futures = {chat: pool.submit(bench.chat, chat) for chat in range(1000, 1000 + chats)}
                    wait(futures.values())
                except BaseException:  # Ctrl-C: the client threads end now, not after their chats
                    bench.aborted.set()
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
            for chat, future in futures.items():
                if isinstance(error := future.exception(), Exception):
                    result.stalled.append(f"chat {chat}: {error}")
            result.cpu_wall = time.perf_counter() - pool_began
            workers_cpu = sum(process_cpu(pid) - cpu for pid, cpu in zip(pids, cpu_before[0], strict=True))
            busy = machine_cpu() - cpu_before[2]
            postgres = postgres_cpu() - cpu_before[3]
            result.latencies, result.statuses = bench.latencies, bench.statuses
            if bench.spans:
                result.seconds = max(e for _, e in bench.spans) - min(b for b, _ in bench.spans)
            with api.api.lock:
                result.api_calls = len(api.api.calls) - calls_before
                result.chat_calls = sum(1 for c in api.api.calls[calls_before:] if "chat_id" in c.params)
            own = own_cpu() - cpu_before[1]
            result.cpu = {"workers": workers_cpu, "bench process": own, "clients": bench.client_cpu,
                          "postgres": postgres, "others": busy - workers_cpu - own - postgres,
                          "machine": busy}
        finally:
            stop(bots)
        printed = Counter(tracebacks([o for bot in bots for o in bot.outputs]))
        result.problems = [f"{n} x {line[:200]}" for line, n in printed.most_common(5)]
        levels = Counter(level for bot in bots for o in bot.outputs for line in o.splitlines()
                         for level in ("ERROR", "WARNING") if f" {level} " in line)
        if levels:
            result.problems.append(f"the workers' logs have {dict(levels)} lines")
    return result


def percent(seconds: float, wall: float) -> str:
    return f"{100 * seconds / wall:.0f}%" if wall else "-"


def report(results: list[Result], chats: int, clients: int) -> None:
    cores = os.cpu_count() or 1
    print(f"\n{chats} chats x {len(SCRIPT)} updates, {clients} client threads, {cores} cores")
    print(f"{'workers':>7} {'updates/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'speed-up':>9} {'seconds':>8} "
          f"{'API calls/s':>12} {'chat calls/s per worker':>24}")
    base = next((r.per_s for r in results if r.workers == 1), results[0].per_s)
    for r in results:
        p50 = statistics.median(r.latencies) * 1000 if r.latencies else 0.0
        slow = p99(r.latencies) * 1000 if r.latencies else 0.0
        up = r.per_s / base if base else 0.0
        calls = r.api_calls / r.seconds if r.seconds else 0.0
        limited = r.chat_calls / r.seconds / r.workers if r.seconds else 0.0
        print(f"{r.workers:>7} {r.per_s:>10.0f} {p50:>8.1f} {slow:>8.1f} {up:>8.2f}x {r.seconds:>8.1f} "
              f"{calls:>12.0f} {limited:>24.1f}")
    if any(r.seconds and r.chat_calls / r.seconds / r.workers > 0.9 * FLOOD_LIMIT for r in results):
        print(f"note: a worker near {FLOOD_LIMIT} chat calls/s is held by its own flood limiter (Telegram's "
              f"{FLOOD_LIMIT} messages/s per bot), not by its work; each worker has its own limiter, so "
              f"together they may exceed the bot's limit that Telegram counts per token")
    # wall time of the timed part x 100% = one core fully busy; the machine has `cores` of them
    print(f"CPU during the timed part (100% = one core busy for the whole time; {cores} cores = "
          f"{100 * cores}%):")
    for r in results:
        c, wall = r.cpu, r.cpu_wall
        if not c:
            continue
        print(f"  {r.workers} worker(s): workers {percent(c['workers'], wall)}, this process "
              f"{percent(c['bench process'], wall)} (fake Bot API ~"
              f"{percent(c['bench process'] - c['clients'], wall)}, clients {percent(c['clients'], wall)}), "
              f"PostgreSQL {percent(c['postgres'], wall)}, others {percent(c['others'], wall)}, "
              f"machine {percent(c['machine'], wall)}")
    for r in results:
        retried = {k: v for k, v in r.statuses.items() if k != 200}
        if r.stalled or retried or r.problems:
            print(f"  {r.workers} worker(s): {len(r.stalled)} chats stalled, posts not answered 200: "
                  f"{retried or 'none'}")
            for line in r.stalled[:3] + r.problems:
                print(f"     {line}")


def postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgresql") else POSTGRES_URL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="worker counts to run")
    parser.add_argument("--chats", type=int, help="conversations per run (default 200; --quick: 20)")
    parser.add_argument("--clients", type=int, default=32, help="client threads posting at once")
    parser.add_argument("--quick", action="store_true", help="a smoke run with few chats")
    args = parser.parse_args()
    chats = args.chats or (20 if args.quick else 200)
    base = postgres_url()
    shown = make_url(base).render_as_string(hide_password=True)
    if postgres_problem(base):
        print(f"PostgreSQL is not reachable at {shown}: nothing measured")
        return
    # the workers inherit it: their own flood limit off, so that their work is what is measured
    os.environ.setdefault("SALESBOT_DEMO", "1")  # the example identity of the library serves the bench
    rate = os.environ.setdefault("TELEGRAM_MAX_MESSAGES_PER_SECOND", "0")
    print(f"PostgreSQL at {shown}; workers {args.workers}, {chats} chats each, flood limit {rate}/s "
          "(0: none)")
    busy = machine_cpu()
    time.sleep(1)  # a one-second sample of the machine's load before we add ours
    if (busy := machine_cpu() - busy) > 0.3:
        print(f"   note: the machine is already {100 * busy:.0f}% busy (of {100 * (os.cpu_count() or 1)}%) "
              "before the bench: other programs will skew the figures (see 'others' below)")
    began = time.monotonic()
    results = []
    for workers in args.workers:
        result = run(base, workers, chats, args.clients)
        print(f"  {workers} worker(s): {result.per_s:.0f} updates/s over {result.seconds:.1f} s")
        results.append(result)
    report(results, chats, args.clients)
    print(f"took {time.monotonic() - began:.0f} s in all")


if __name__ == "__main__":
    main()
