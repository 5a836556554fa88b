"""The evidence of each sale: every line of its contact log (what the customer was shown and
pressed and typed, what moved the sale, disclosures, consent, hand-offs, complaints) copied, as
it is written, into an append-only chain per conversation. Each entry holds the line as canonical
JSON and the hash of the entry before it, so an entry edited, removed or put in another order
breaks the chain: `salesbot audit verify` finds it, `salesbot audit export` gives one sale's chain
as a readable page and as JSON."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import EvidenceEntry

GENESIS = "0" * 64  # the hash before a conversation's first entry


def canonical(line: dict[str, Any]) -> str:
    """A contact-log line as the one string its hash is taken of."""
    at = line["at"]
    return json.dumps({"kind": line["kind"], "stage": line["stage"], "text": line["text"],
                       "detail": line.get("detail") or {},
                       "at": at.isoformat() if isinstance(at, datetime) else str(at)},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def chained(prev_hash: str, conversation_id: int, seq: int, entry: str) -> str:
    return hashlib.sha256(f"{prev_hash}|{conversation_id}|{seq}|{entry}".encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    conversation_id: int
    seq: int
    entry: str
    prev_hash: str
    hash: str


def problems(entries: Iterable[Entry]) -> dict[int, str]:
    """What is wrong with each conversation's chain, the entries given in order of conversation
    and seq (as `all_entries` reads them): a conversation not named has an unbroken chain."""
    found: dict[int, str] = {}
    conversation, expected, prev = None, 1, GENESIS
    for entry in entries:
        if entry.conversation_id != conversation:
            conversation, expected, prev = entry.conversation_id, 1, GENESIS
        if entry.conversation_id in found:
            continue
        if entry.seq != expected:
            found[entry.conversation_id] = f"entry {expected} is missing"
        elif entry.prev_hash != prev:
            found[entry.conversation_id] = f"entry {entry.seq} does not follow the one before it"
        elif chained(prev, entry.conversation_id, entry.seq, entry.entry) != entry.hash:
            found[entry.conversation_id] = f"entry {entry.seq} was changed"
        expected, prev = entry.seq + 1, entry.hash
    return found


def all_entries(session: Session, conversation_id: int | None = None) -> Iterator[Entry]:
    """Every evidence entry (or one conversation's), in order of conversation and seq, streamed."""
    query = select(EvidenceEntry).order_by(EvidenceEntry.conversation_id, EvidenceEntry.seq)
    if conversation_id is not None:
        query = query.where(EvidenceEntry.conversation_id == conversation_id)
    for row in session.scalars(query.execution_options(yield_per=2000)):
        yield Entry(row.conversation_id, row.seq, row.entry, row.prev_hash, row.hash)
