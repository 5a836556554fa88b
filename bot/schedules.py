"""What the bot does on its own time: one reminder to a customer who stopped in the middle of the
questions, agents' follow-ups when due, the agency's roster, and forgetting old delivery claims."""
from __future__ import annotations

from datetime import datetime, timedelta

from bot.agency import Desk
from bot.flows.messages import Reply
from bot.library import Library
from bot.outbox import post, whole
from bot.workspace import Workspace
from storage.database import Database
from storage.models import utcnow


class Schedules:
    database: Database
    library: Library
    desk: Desk
    workspace: Workspace

    keep_sent: timedelta

    def forget_old_records(self, older_than: timedelta = timedelta(days=2)) -> int:
        """Keep the message path's tables the size of recent traffic, not of history: delivery
        claims (Telegram redelivers an update for at most a day) and sent or failed messages past
        `keep_sent` (the contact log holds what was sent). Returns how many rows went."""
        with self.database.unit_of_work() as uow:
            removed = uow.deliveries.forget_before(utcnow() - older_than)
            removed += uow.outbox.forget_before(utcnow() - self.keep_sent)
            uow.commit()
        return removed

    def due_follow_ups(self, channel: str, now: datetime | None = None) -> list[str]:
        """Agents' follow-up reminders now due, each put in the outbox once; the chats to drain."""
        with self.database.unit_of_work() as uow:
            due = self.workspace.due_follow_ups(uow.leads, channel, now or utcnow())
            for chat, locale, reply in due:
                post(uow, self.library, channel, chat, None, "", reply, whole, locale)
            uow.commit()
        return [chat for chat, _, _ in due]

    def due_reminders(self, channel: str, now: datetime | None = None) -> list[str]:
        """Reminders now due on a channel, each put in the outbox (the contact log records it when
        sent) and never due again; returns the chats to send them to."""
        chats = []
        with self.database.unit_of_work() as uow:
            for contact, record in uow.conversations.due_reminders(channel, now or utcnow()):
                reply = Reply(self.library.text(contact.locale, "reminder"))
                record.reminded, record.remind_at = True, None
                uow.events.add(record, "reminder", record.state)
                post(uow, self.library, channel, contact.external_id, record.id, record.state, reply, whole,
                           contact.locale)
                chats.append(contact.external_id)
            uow.commit()
        return chats

    def staff(self, channel: str) -> list[tuple[str, str]]:
        """The agency's agents and managers on a channel: those the settings name (put on the
        roster now, so that leads go to them before they first write) and those who joined."""
        with self.database.unit_of_work() as uow:
            for external_id, role in sorted(self.desk.configured.items()):  # one order: no deadlock
                uow.agency.ensure_staff(channel, external_id, role, "")
            roster = [(s.external_id, s.role) for s in uow.agency.all_staff(channel)]
            uow.commit()
        return roster
