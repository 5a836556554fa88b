"""A channel's side of the message path: the inbox (updates kept until handled, in order per chat)
and the outbox (messages waiting to be sent, marked sent or failed). Each call is its own small
transaction on the prepared statements of storage/queues.py."""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.outbox import Pending, unsent
from storage import evidence
from storage.database import Database


class Queues:
    database: Database

    def receive(self, channel: str, delivery_id: str, sequence: int, chat: str,
                payload: dict[str, Any]) -> None:
        """Keep an update until it is handled (`handle` with its delivery_id, or `received`)."""
        with self.database.queues(atomic=False) as queues:  # one statement
            queues.inbox.put(channel, delivery_id, sequence, chat, payload)

    def next_update(self, channel: str, chat: str, done: str | None = None) -> dict[str, Any] | None:
        """The chat's earliest kept update, after the one `done` is removed, whatever became of it
        (usually `handle` removed it already)."""
        with self.database.queues(atomic=False) as queues:  # a handled update goes, alone if need be
            if done is not None:
                queues.inbox.done(channel, done)
            return queues.inbox.first(channel, chat)

    def park(self, channel: str, delivery_id: str, reason: str) -> None:
        """Leave aside an update whose turn kept failing: kept for an operator, no longer in the way."""
        with self.database.queues() as queues:
            queues.inbox.park(channel, delivery_id, reason)

    def parked(self) -> list[tuple[str, str, str, datetime, str]]:
        """Updates left aside: channel, chat, delivery id, when parked, why."""
        with self.database.unit_of_work() as uow:
            return [(i.channel, i.chat, i.delivery_id, i.parked_at or i.received_at, i.reason)
                    for i in uow.inbox.parked()]

    # -- the evidence of each sale (storage/evidence.py) -----------------------------------------
    def evidence_problems(self) -> dict[int, str]:
        """Every conversation whose evidence chain is broken (edited, removed, reordered), with why."""
        with self.database.unit_of_work() as uow:
            return evidence.problems(evidence.all_entries(uow.session))

    def evidence_of(self, conversation_id: int) -> tuple[list[dict[str, Any]], str | None]:
        """One conversation's evidence, entry by entry, and what is wrong with it (None: intact)."""
        with self.database.unit_of_work() as uow:
            entries = list(evidence.all_entries(uow.session, conversation_id))
        rows = [{"seq": e.seq, **json.loads(e.entry), "prev_hash": e.prev_hash, "hash": e.hash}
                for e in entries]
        return rows, evidence.problems(entries).get(conversation_id)

    def claim(self, channel: str, delivery_id: str) -> bool:
        """Mark an update handled that changes nothing kept (a page of options); False: it was before."""
        with self.database.queues() as queues:
            queues.inbox.done(channel, delivery_id)
            return queues.deliveries.claim(channel, delivery_id)

    def has_updates(self, channel: str, chat: str) -> bool:
        with self.database.queues(atomic=False) as queues:
            return queues.inbox.first(channel, chat) is not None


    # -- the outbox: what a channel sends -------------------------------------------------------
    def pending(self, channel: str, chat: str) -> list[Pending]:
        """The chat's messages not yet sent, in order."""
        with self.database.queues(atomic=False) as queues:
            return unsent(queues.outbox, channel, chat)

    def waiting(self, channel: str) -> tuple[list[str], list[str]]:
        """The chats with updates not yet handled, and those with messages not yet sent."""
        with self.database.unit_of_work() as uow:
            return uow.inbox.chats(channel), uow.outbox.chats(channel)

    def sent(self, item_id: int, at: datetime | None = None) -> None:
        """The channel took the message (at: when, by its clock; else now)."""
        self.sent_all([(item_id, at)])

    def sent_all(self, items: Sequence[tuple[int, datetime | None]]) -> None:
        """Messages the channel took (each with when, by its clock), marked in one transaction."""
        with self.database.queues() as queues:
            for item_id, at in items:
                queues.outbox.sent(item_id, at)

    def failed(self, item_id: int, reason: str, unreachable: bool = False) -> None:
        with self.database.queues() as queues:
            queues.outbox.failed(item_id, reason, unreachable)
