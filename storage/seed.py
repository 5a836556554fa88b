"""Filling a database with many stored conversations at once, for benchmarks."""
from __future__ import annotations

from sqlalchemy import insert, select

from storage.database import Database
from storage.models import Contact, Conversation


def seed_conversations(database: Database, count: int, channel: str = "seed", batch: int = 5000) -> None:
    """Add `count` contacts, each with a conversation at the first question."""
    with database.unit_of_work() as uow:
        start = uow.session.scalar(select(Contact.id).order_by(Contact.id.desc()).limit(1)) or 0
        for first in range(0, count, batch):
            ids = range(start + first + 1, start + min(first + batch, count) + 1)
            uow.session.execute(insert(Contact), [
                {"id": i, "channel": channel, "external_id": str(i), "name": "", "locale": "en"}
                for i in ids])
            uow.session.execute(insert(Conversation), [
                {"contact_id": i, "mode": "customer", "state": "needs",
                 "data": {"answers": {}, "progress": {"greeted": True, "question": "age"}}} for i in ids])
        uow.commit()
