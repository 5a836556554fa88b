"""The message path's own tables — the inbox, the outbox, delivery claims and the contact log —
written with statements compiled once per database and run straight on the driver's cursor.

Every message passes through these a dozen times; SQLAlchemy's per-execution bookkeeping (cache
keys, execution contexts, result wrappers) costs several times the statements themselves, so they
are compiled from Core once, with their types' own conversions, and then only executed. Any
other table goes through the ORM (storage/unit_of_work.py).
"""
from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Column, Dialect, Engine, Table, bindparam, delete, insert, select, update
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from storage import evidence
from storage.models import (Contact, ContactEvent, Conversation, Delivery, EvidenceEntry, InboxItem,
                            OutboxItem, utcnow)

INBOX, OUTBOX, DELIVERIES, EVENTS, CONTACTS, CONVERSATIONS, EVIDENCE = (
    cast(Table, model.__table__)
    for model in (InboxItem, OutboxItem, Delivery, ContactEvent, Contact, Conversation, EvidenceEntry))
SAVED = ("state", "data", "remind_at", "updated_at")  # what a turn changes in a conversation
Row = dict[str, Any]
GIVEN = object()  # a parameter given with each execution


class Prepared:
    """A statement compiled for one database, with the conversions of its parameters and columns."""

    def __init__(self, statement: ClauseElement, dialect: Dialect,
                 columns: Sequence[Column[Any]] = ()) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = compiled.string
        positional = compiled.positiontup  # the parameters' order, for drivers that take them by position
        self.named = positional is None
        self.plan: list[tuple[str, Callable[[Any], Any] | None, Any]] = []  # name, conversion, fixed value
        for name in positional if positional is not None else dict.fromkeys(compiled.bind_names.values()):
            bind = compiled.binds[name]
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            # a value written into the statement itself ('pending', LIMIT 1), or one to be given
            self.plan.append((name, convert, GIVEN if bind.required else bind.value))
        self.results = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                        for column in columns]

    def parameters(self, values: Row) -> Any:
        converted = []
        for name, convert, fixed in self.plan:
            value = values[name] if fixed is GIVEN else fixed
            converted.append(convert(value) if convert else value)
        if self.named:
            return dict(zip((name for name, _, _ in self.plan), converted, strict=True))
        return converted

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(convert(value) if convert else value
                     for convert, value in zip(self.results, raw, strict=True))


def _values(table: Table, *skip: str) -> dict[str, Any]:
    return {c.key: bindparam(c.key) for c in table.columns if c.key not in skip}


class Statements:
    """The message path's statements for one database (SQLite or PostgreSQL)."""

    def __init__(self, dialect: Dialect) -> None:
        module = importlib.import_module(f"sqlalchemy.dialects.{dialect.name}")  # the one in use only
        prepare = functools.partial(Prepared, dialect=dialect)
        kept = _values(INBOX, "id", "parked_at", "reason")  # a new update is not parked
        self.inbox_put = prepare(module.insert(INBOX).values(kept).on_conflict_do_nothing())
        self.inbox_first = prepare(
            select(INBOX.c.payload)
            .where(INBOX.c.channel == bindparam("channel"), INBOX.c.chat == bindparam("chat"),
                   INBOX.c.parked_at.is_(None))
            .order_by(INBOX.c.sequence).limit(1), columns=[INBOX.c.payload])
        self.inbox_done = prepare(delete(INBOX).where(INBOX.c.channel == bindparam("channel"),
                                                      INBOX.c.delivery_id == bindparam("delivery_id")))
        self.inbox_park = prepare(
            update(INBOX).where(INBOX.c.channel == bindparam("channel"),
                                INBOX.c.delivery_id == bindparam("delivery_id"))
            .values(parked_at=bindparam("now", type_=INBOX.c.parked_at.type),
                    reason=bindparam("reason", type_=INBOX.c.reason.type)))
        self.claim = prepare(module.insert(DELIVERIES).values(_values(DELIVERIES)).on_conflict_do_nothing()
                             .returning(DELIVERIES.c.delivery_id), columns=[DELIVERIES.c.delivery_id])
        self.outbox_add = prepare(insert(OUTBOX).values(_values(OUTBOX, "id", "sent_at")))
        pending = [OUTBOX.c.id, OUTBOX.c.kind, OUTBOX.c.payload]
        self.outbox_pending = prepare(
            select(*pending)
            .where(OUTBOX.c.channel == bindparam("channel"), OUTBOX.c.chat == bindparam("chat"),
                   OUTBOX.c.status == "pending")
            .order_by(OUTBOX.c.id), columns=pending)
        # A pending row marked (not one erased meanwhile, or marked by another worker) comes back.
        marked = [OUTBOX.c.channel, OUTBOX.c.chat, OUTBOX.c.conversation_id, OUTBOX.c.stage, OUTBOX.c.kind,
                  OUTBOX.c.payload]
        mark = (update(OUTBOX).where(OUTBOX.c.id == bindparam("item_id"), OUTBOX.c.status == "pending")
                .values(attempts=OUTBOX.c.attempts + 1).returning(*marked))
        now = bindparam("now", type_=OUTBOX.c.sent_at.type)
        self.outbox_sent = prepare(mark.values(status="sent", sent_at=now), columns=marked)
        self.outbox_failed = prepare(mark.values(status="failed",
                                                 reason=bindparam("reason", type_=OUTBOX.c.reason.type)),
                                     columns=marked)
        self.unreachable = prepare(update(CONTACTS).where(CONTACTS.c.channel == bindparam("channel"),
                                                          CONTACTS.c.external_id == bindparam("external_id"))
                                   .values(unreachable_since=now))
        shown = [OUTBOX.c.status, OUTBOX.c.sent_at]
        self.question_shown = prepare(
            select(*shown).where(OUTBOX.c.channel == bindparam("channel"), OUTBOX.c.chat == bindparam("chat"),
                                 OUTBOX.c.asked == bindparam("asked", type_=OUTBOX.c.asked.type))
            .order_by(OUTBOX.c.id.desc()).limit(1), columns=shown)
        self.events_add = prepare(insert(EVENTS).values(_values(EVENTS, "id")))
        last = [EVIDENCE.c.seq, EVIDENCE.c.hash]
        self.evidence_last = prepare(
            select(*last).where(EVIDENCE.c.conversation_id == bindparam("conversation_id"))
            .order_by(EVIDENCE.c.seq.desc()).limit(1), columns=last)
        self.evidence_add = prepare(insert(EVIDENCE).values(_values(EVIDENCE, "id")))
        self.conversation_save = prepare(
            update(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("conversation_id"))
            .values({key: bindparam(key) for key in SAVED}))


@functools.cache
def statements(dialect: Dialect) -> Statements:
    return Statements(dialect)


class Cursor:
    """Runs the prepared statements on a driver connection, inside whatever transaction it is in."""

    def __init__(self, connection: Callable[[], Any], dialect: Dialect) -> None:
        self._connection = connection  # the driver's connection, asked for when first needed
        self.sql = statements(dialect)

    def execute(self, statement: Prepared, values: Row) -> Any:
        cursor = self._connection().cursor()
        cursor.execute(statement.sql, statement.parameters(values))
        return cursor

    def execute_many(self, statement: Prepared, rows: list[Row]) -> None:
        self._connection().cursor().executemany(statement.sql, [statement.parameters(row) for row in rows])

    def first(self, statement: Prepared, values: Row) -> tuple[Any, ...] | None:
        raw = self.execute(statement, values).fetchone()
        return statement.row(raw) if raw is not None else None

    def all(self, statement: Prepared, values: Row) -> list[tuple[Any, ...]]:
        return [statement.row(raw) for raw in self.execute(statement, values).fetchall()]


class Events:
    """The contact log: lines queued, written in one statement when the transaction commits."""

    def __init__(self, cursor: Cursor) -> None:
        self.cursor = cursor
        self.pending: list[Row] = []

    def add_to(self, conversation_id: int, kind: str, stage: str, text: str = "",
               detail: dict[str, Any] | None = None) -> None:
        self.pending.append({"conversation_id": conversation_id, "kind": kind, "stage": stage, "text": text,
                             "detail": detail or {}, "at": utcnow()})

    def write(self) -> None:
        if self.pending:
            self.cursor.execute_many(self.cursor.sql.events_add, self.pending)
            self.cursor.execute_many(self.cursor.sql.evidence_add, self._chained(self.pending))
            self.pending = []

    def _chained(self, lines: list[Row]) -> list[Row]:
        """The lines as evidence entries, each chained to the one before it in its conversation
        (storage/evidence.py). The chat's lock keeps two turns of one conversation apart."""
        heads: dict[int, tuple[int, str]] = {}
        entries = []
        for line in lines:
            conversation_id = line["conversation_id"]
            if conversation_id not in heads:
                last = self.cursor.first(self.cursor.sql.evidence_last, {"conversation_id": conversation_id})
                heads[conversation_id] = (last[0], last[1]) if last else (0, evidence.GENESIS)
            seq, prev = heads[conversation_id]
            entry = evidence.canonical(line)
            digest = evidence.chained(prev, conversation_id, seq + 1, entry)
            entries.append({"conversation_id": conversation_id, "seq": seq + 1, "entry": entry,
                            "prev_hash": prev, "hash": digest})
            heads[conversation_id] = (seq + 1, digest)
        return entries


class Deliveries:
    def __init__(self, cursor: Cursor) -> None:
        self.cursor = cursor

    def claim(self, channel: str, delivery_id: str) -> bool:
        """Record a delivery; False when it was recorded before (a duplicate)."""
        row = {"channel": channel, "delivery_id": delivery_id, "at": utcnow()}
        return self.cursor.first(self.cursor.sql.claim, row) is not None


class Inbox:
    """Updates received and not yet handled (see InboxItem)."""

    def __init__(self, cursor: Cursor) -> None:
        self.cursor = cursor

    def put(self, channel: str, delivery_id: str, sequence: int, chat: str, payload: dict[str, Any]) -> None:
        """Keep an update; one received before (Telegram sends again what was not answered) is kept once."""
        self.cursor.execute(self.cursor.sql.inbox_put, {
            "channel": channel, "delivery_id": delivery_id, "sequence": sequence, "chat": chat,
            "payload": payload, "received_at": utcnow()})

    def first(self, channel: str, chat: str) -> dict[str, Any] | None:
        """The chat's earliest update not yet handled (its payload)."""
        row = self.cursor.first(self.cursor.sql.inbox_first, {"channel": channel, "chat": chat})
        return row[0] if row else None

    def done(self, channel: str, delivery_id: str) -> None:
        self.cursor.execute(self.cursor.sql.inbox_done, {"channel": channel, "delivery_id": delivery_id})

    def park(self, channel: str, delivery_id: str, reason: str) -> None:
        """Leave an update aside (its turn kept failing): kept for an operator, the chat goes on."""
        self.cursor.execute(self.cursor.sql.inbox_park, {"channel": channel, "delivery_id": delivery_id,
                                                         "now": utcnow(), "reason": reason[:200]})


class Outbox:
    """Messages decided and not yet sent (see OutboxItem); sending them logs them."""

    def __init__(self, cursor: Cursor, events: Events) -> None:
        self.cursor = cursor
        self.events = events
        self.new: list[Row] = []

    def add(self, channel: str, chat: str, conversation_id: int | None, stage: str, kind: str,
            payload: dict[str, Any]) -> None:
        """Queue a message; they are written, in order, in one statement when the transaction commits."""
        self.new.append({"channel": channel, "chat": chat, "conversation_id": conversation_id, "stage": stage,
                         "kind": kind, "payload": payload, "status": "pending", "reason": "", "attempts": 0,
                         "created_at": utcnow(), "asked": payload.get("asked") if kind == "message" else None,
                         })

    def write(self) -> None:
        if self.new:
            self.cursor.execute_many(self.cursor.sql.outbox_add, self.new)
            self.new = []

    def pending(self, channel: str, chat: str) -> list[tuple[int, str, dict[str, Any]]]:
        """The chat's messages not yet sent, in order: (id, kind, payload)."""
        self.write()
        return [(item_id, kind, payload) for item_id, kind, payload
                in self.cursor.all(self.cursor.sql.outbox_pending, {"channel": channel, "chat": chat})]

    def shown(self, channel: str, chat: str, asked: int) -> tuple[bool, datetime | None] | None:
        """Whether the message that asked question `asked` was sent, and when (the channel's time);
        None: no such message (asked before this was recorded, or by another channel)."""
        values = {"channel": channel, "chat": chat, "asked": asked}
        row = self.cursor.first(self.cursor.sql.question_shown, values)
        return None if row is None else (row[0] == "sent", row[1])

    def sent(self, item_id: int, now: datetime | None = None) -> None:
        """The channel took the message: mark it, and only now write it into the contact log."""
        item = self.cursor.first(self.cursor.sql.outbox_sent, {"item_id": item_id, "now": now or utcnow()})
        if item is None:  # erased meanwhile, or marked by another worker
            return
        _channel, _chat, conversation_id, stage, kind, payload = item
        if conversation_id is not None and kind == "message":
            buttons = [value for _label, value in payload.get("buttons") or ()]
            self.events.add_to(conversation_id, "outbound", stage, payload["text"],
                               {"buttons": buttons} if buttons else {})

    def failed(self, item_id: int, reason: str, unreachable: bool = False) -> None:
        """Refused for good (the chat is gone, the bot was blocked): kept, with why, never sent.
        unreachable: the person cannot be written to at all; their contact is marked so."""
        item = self.cursor.first(self.cursor.sql.outbox_failed, {"item_id": item_id, "reason": reason[:200]})
        if item is None:
            return
        if unreachable:
            self.cursor.execute(self.cursor.sql.unreachable,
                                {"channel": item[0], "external_id": item[1], "now": utcnow()})


class Queues:
    """A transaction over the message path's tables alone, without an ORM session (see the top)."""

    def __init__(self, cursor: Cursor) -> None:
        self.events = Events(cursor)
        self.deliveries = Deliveries(cursor)
        self.inbox = Inbox(cursor)
        self.outbox = Outbox(cursor, self.events)

    def write(self) -> None:
        """The queued rows into their tables (before a commit)."""
        self.outbox.write()
        self.events.write()


@contextmanager
def queues(engine: Engine, atomic: bool = True) -> Iterator[Queues]:
    """`with queues(engine) as q: ...`: committed when the block ends, rolled back if it raises.
    atomic=False: each statement stands on its own — on PostgreSQL then committed as it runs,
    saving the round trips of BEGIN and COMMIT (SQLite's are not worth saving)."""
    connection = engine.raw_connection()
    driver: Any = connection.dbapi_connection  # on PostgreSQL, psycopg's connection (its autocommit)
    by_statement = not atomic and engine.dialect.name == "postgresql"
    if by_statement:
        driver.autocommit = True
    try:
        work = Queues(Cursor(lambda: connection, engine.dialect))
        yield work
        work.write()
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        if by_statement:
            driver.autocommit = False
        connection.close()
