"""The agent's workspace over the tables: leads by stage, one lead in full, notes, follow-ups,
status and assignment. Plain values go out (the dataclasses below); no SQL leaves this module."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, Subquery, func, select, update
from sqlalchemy.orm import Session, aliased

from storage.models import (
    Contact,
    ContactEvent,
    Conversation,
    FollowUp,
    Lead,
    LeadNote,
    Referral,
    Staff,
)

LOG_KINDS = ("inbound", "outbound")  # the lines of the contact log an agent reads
LARGEST_ID = 2**31 - 1  # an id beyond an INTEGER column is no lead (PostgreSQL would refuse the query)


def as_utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes (stored as UTC); PostgreSQL aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class LeadSummary:
    """A lead as listed: who, where their conversation stands, whose it is, who referred them."""

    contact_id: int
    name: str
    channel: str
    external_id: str
    locale: str
    reachable: bool
    status: str
    lost_reason: str
    agent_id: int | None
    agent_name: str | None
    stage: str | None  # the state of the contact's latest customer conversation; None: none yet
    conversation_id: int | None
    referrer: str | None  # the referrer's name (a client's, else a staff member's)
    updated_at: datetime


@dataclass(frozen=True)
class LogLine:
    at: datetime
    kind: str  # inbound | outbound
    text: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class NoteLine:
    at: datetime
    text: str
    author: str


@dataclass(frozen=True)
class FollowUpLine:
    id: int
    due_at: datetime
    text: str
    staff_id: int


@dataclass(frozen=True)
class LeadDetail:
    lead: LeadSummary
    answers: dict[str, Any]
    progress: dict[str, Any]
    proposals: list[str]  # the detail of each "proposal" mark of the log ("standard 8000"), oldest first
    log: list[LogLine]  # newest last
    notes: list[NoteLine]  # newest last
    follow_ups: list[FollowUpLine]  # open ones, soonest first
    agent: Staff | None


@dataclass(frozen=True)
class DueFollowUp:
    """A follow-up that has come due, claimed for delivery (marked done) by this transaction."""

    id: int
    due_at: datetime
    text: str
    staff: Staff
    contact_id: int
    name: str


def _latest_customer_conversations() -> Subquery:
    """Each contact's latest sale (mode "customer"): contact_id, conversation_id."""
    return (select(Conversation.contact_id, func.max(Conversation.id).label("conversation_id"))
            .where(Conversation.mode == "customer").group_by(Conversation.contact_id).subquery())


class LeadBook:
    """Queries and updates of the leads (`uow.leads`); everything in the unit of work's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- staff ---------------------------------------------------------------------------------
    def staff(self, staff_id: int) -> Staff | None:
        if not 0 < staff_id <= LARGEST_ID:
            return None
        return self.session.get(Staff, staff_id)

    def locale_of(self, staff: Staff) -> str | None:
        """The locale of the staff member's own contact on the same channel, if they have one."""
        return self.session.scalars(
            select(Contact.locale).where(Contact.channel == staff.channel,
                                         Contact.external_id == staff.external_id)
        ).one_or_none()

    # -- leads ---------------------------------------------------------------------------------
    def _summaries(self) -> Select[Lead, Contact, str, str, int, str, str]:
        """A lead with its contact, its agent's name, its latest sale's stage and id, and the names of
        whoever referred it (all but the contact may be NULL: outer joins)."""
        latest = _latest_customer_conversations()
        agent, referrer, referring_staff = aliased(Staff), aliased(Contact), aliased(Staff)
        return (
            select(Lead, Contact, agent.name, Conversation.state, Conversation.id, referrer.name,
                   referring_staff.name)
            .join(Contact, Contact.id == Lead.contact_id)
            .outerjoin(agent, agent.id == Lead.agent_id)
            .outerjoin(latest, latest.c.contact_id == Lead.contact_id)
            .outerjoin(Conversation, Conversation.id == latest.c.conversation_id)
            .outerjoin(Referral, Referral.referred_contact_id == Lead.contact_id)
            .outerjoin(referrer, referrer.id == Referral.referrer_contact_id)
            .outerjoin(referring_staff, referring_staff.id == Referral.referrer_staff_id)
        )

    @staticmethod
    def _summary(lead: Lead, contact: Contact, agent_name: str | None, stage: str | None,
                 conversation_id: int | None, referrer: str | None,
                 referring_staff: str | None) -> LeadSummary:
        return LeadSummary(
            contact_id=lead.contact_id, name=contact.name, channel=contact.channel,
            external_id=contact.external_id, locale=contact.locale,
            reachable=contact.unreachable_since is None, status=lead.status, lost_reason=lead.lost_reason,
            agent_id=lead.agent_id, agent_name=agent_name, stage=stage, conversation_id=conversation_id,
            referrer=referrer or referring_staff or None, updated_at=as_utc(lead.updated_at))

    def find(self, contact_id: int) -> LeadSummary | None:
        if not 0 < contact_id <= LARGEST_ID:
            return None
        row = self.session.execute(self._summaries().where(Lead.contact_id == contact_id)).first()
        return self._summary(*row) if row else None

    def leads(self, agent_id: int | None = None) -> list[LeadSummary]:
        """The leads of one agent (None: everyone's), the most recently worked first."""
        query = self._summaries().order_by(Lead.updated_at.desc(), Lead.contact_id.desc())
        if agent_id is not None:
            query = query.where(Lead.agent_id == agent_id)
        return [self._summary(*row) for row in self.session.execute(query)]

    def stage_counts(self, agent_id: int | None = None) -> dict[str | None, int]:
        """How many leads are at each stage (None: no customer conversation yet)."""
        latest = _latest_customer_conversations()
        query = (select(Conversation.state, func.count(Lead.contact_id))
                 .select_from(Lead)
                 .outerjoin(latest, latest.c.contact_id == Lead.contact_id)
                 .outerjoin(Conversation, Conversation.id == latest.c.conversation_id)
                 .group_by(Conversation.state))
        if agent_id is not None:
            query = query.where(Lead.agent_id == agent_id)
        return dict(self.session.execute(query).all())

    def detail(self, lead: LeadSummary, log_lines: int = 8, note_lines: int = 10) -> LeadDetail:
        """Everything the agent reads about one lead."""
        answers: dict[str, Any] = {}
        progress: dict[str, Any] = {}
        if lead.conversation_id is not None:
            data = self.session.scalars(
                select(Conversation.data).where(Conversation.id == lead.conversation_id)).one()
            answers, progress = dict(data.get("answers") or {}), dict(data.get("progress") or {})
        customer = select(Conversation.id).where(Conversation.contact_id == lead.contact_id,
                                                 Conversation.mode == "customer")
        log = list(self.session.scalars(
            select(ContactEvent)
            .where(ContactEvent.conversation_id.in_(customer), ContactEvent.kind.in_(LOG_KINDS))
            .order_by(ContactEvent.id.desc()).limit(log_lines)))
        proposals = list(self.session.scalars(
            select(ContactEvent.text).where(ContactEvent.conversation_id.in_(customer),
                                            ContactEvent.kind == "proposal")
            .order_by(ContactEvent.id)))
        notes = self.session.execute(
            select(LeadNote, Staff.name).join(Staff, Staff.id == LeadNote.staff_id)
            .where(LeadNote.contact_id == lead.contact_id)
            .order_by(LeadNote.id.desc()).limit(note_lines)).all()
        follow_ups = self.session.scalars(
            select(FollowUp).where(FollowUp.contact_id == lead.contact_id, FollowUp.done_at.is_(None))
            .order_by(FollowUp.due_at, FollowUp.id))
        return LeadDetail(
            lead=lead, answers=answers, progress=progress, proposals=proposals,
            log=[LogLine(as_utc(e.at), e.kind, e.text, dict(e.detail or {})) for e in reversed(log)],
            notes=[NoteLine(as_utc(note.at), note.text, author) for note, author in reversed(notes)],
            follow_ups=[FollowUpLine(f.id, as_utc(f.due_at), f.text, f.staff_id) for f in follow_ups],
            agent=self.session.get(Staff, lead.agent_id) if lead.agent_id is not None else None)

    # -- changes -------------------------------------------------------------------------------
    def add_note(self, contact_id: int, staff_id: int, text: str, at: datetime) -> LeadNote:
        note = LeadNote(contact_id=contact_id, staff_id=staff_id, text=text, at=as_utc(at))
        self.session.add(note)
        self._touch(contact_id, at)
        self.session.flush()
        return note

    def add_follow_up(self, contact_id: int, staff_id: int, due_at: datetime, text: str = "") -> FollowUp:
        follow_up = FollowUp(contact_id=contact_id, staff_id=staff_id, due_at=as_utc(due_at), text=text)
        self.session.add(follow_up)
        self.session.flush()
        return follow_up

    def set_status(self, contact_id: int, status: str, at: datetime, lost_reason: str = "") -> None:
        """The new status; a lost reason is kept only with "lost" (and cut to the column's 200)."""
        lead = self.session.get(Lead, contact_id)
        if lead is not None:
            lead.status = status
            lead.lost_reason = lost_reason[:200] if status == "lost" else ""
            lead.updated_at = as_utc(at)

    def talk(self, contact_id: int, until: datetime | None) -> None:
        """The customer's typed messages go to their agent until then (None: no longer)."""
        lead = self.session.get(Lead, contact_id)
        if lead is not None:
            lead.talking_until = as_utc(until) if until else None

    def reassign(self, contact_id: int, staff_id: int, at: datetime) -> None:
        lead = self.session.get(Lead, contact_id)
        if lead is not None:
            lead.agent_id = staff_id
            lead.updated_at = as_utc(at)

    def _touch(self, contact_id: int, at: datetime) -> None:
        lead = self.session.get(Lead, contact_id)
        if lead is not None:
            lead.updated_at = as_utc(at)

    # -- follow-ups that have come due ---------------------------------------------------------
    def due_follow_ups(self, channel: str, now: datetime) -> list[DueFollowUp]:
        """Follow-ups due by `now` for active staff on `channel`, each marked done here. A row is
        claimed by a conditional UPDATE, so two workers never both deliver the same one."""
        now = as_utc(now)
        rows = self.session.execute(
            select(FollowUp, Staff, Contact.name)
            .join(Staff, Staff.id == FollowUp.staff_id)
            .join(Contact, Contact.id == FollowUp.contact_id)
            .where(FollowUp.done_at.is_(None), FollowUp.due_at <= now, Staff.channel == channel,
                   Staff.active.is_(True))
            .order_by(FollowUp.due_at, FollowUp.id)).all()
        due = []
        for follow_up, staff, name in rows:
            claimed = cast("CursorResult[Any]", self.session.execute(
                update(FollowUp).where(FollowUp.id == follow_up.id, FollowUp.done_at.is_(None))
                .values(done_at=now).execution_options(synchronize_session=False)))
            if claimed.rowcount == 1:
                due.append(DueFollowUp(follow_up.id, as_utc(follow_up.due_at), follow_up.text, staff,
                                       follow_up.contact_id, name))
        return due
