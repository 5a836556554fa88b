"""What the periodic look for work costs as history grows: the same look (chats with kept updates
or unsent messages) on a database holding 100 conversations' messages and on one holding 100 000
conversations' (five sent messages each, and a few unsent), timed interleaved in one run. The
pending rows have an index of their own, so the ratio should stay near 1.

Run: .venv/bin/python bench/look_for_work.py [--large 100000] [--rounds 200]   (on SQLite)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.database import Database
from storage.queues import OUTBOX

SENT_PER_CONVERSATION = 5
UNSENT_CHATS = 3  # chats with something waiting, as after a brief outage


def filled(url: str, conversations: int) -> Database:
    database = Database(url)
    now = datetime.now(UTC)
    rows = [{"channel": "telegram", "chat": str(n), "conversation_id": None, "stage": "needs",
             "kind": "message", "payload": {"text": "question"}, "status": "sent", "reason": "",
             "attempts": 1,
             "created_at": now, "sent_at": now, "asked": None}
            for n in range(conversations) for _ in range(SENT_PER_CONVERSATION)]
    rows += [{**rows[n * SENT_PER_CONVERSATION], "status": "pending", "sent_at": None, "attempts": 0}
             for n in range(UNSENT_CHATS)]
    with database.engine.begin() as connection:
        for start in range(0, len(rows), 20_000):
            connection.execute(OUTBOX.insert(), rows[start:start + 20_000])
    return database


def look(database: Database) -> float:
    started = time.perf_counter()
    with database.unit_of_work() as uow:
        kept, unsent = uow.inbox.chats("telegram"), uow.outbox.chats("telegram")
    assert not kept and len(unsent) == UNSENT_CHATS
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        small = filled(f"sqlite:///{folder}/small.sqlite3", 100)
        large = filled(f"sqlite:///{folder}/large.sqlite3", args.large)
        times: dict[str, list[float]] = {"100": [], str(args.large): []}
        for _ in range(args.rounds):  # interleaved: the machine's ups and downs fall on both alike
            times["100"].append(look(small))
            times[str(args.large)].append(look(large))
        medians = {size: statistics.median(values) * 1000 for size, values in times.items()}
        for size, median in medians.items():
            print(f"look for work at {int(size):>7} conversations: median {median:.3f} ms")
        print(f"ratio large/small: {medians[str(args.large)] / medians['100']:.2f}")


if __name__ == "__main__":
    main()
