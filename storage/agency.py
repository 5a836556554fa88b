"""The agency's people and how customers reach them: staff and their roles, start codes (links),
referrals, and which agent a lead belongs to."""
from __future__ import annotations

import importlib
import secrets
from dataclasses import dataclass
from typing import Any, cast
from datetime import UTC, datetime, timedelta

from sqlalchemy import CursorResult, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from storage.workspace import as_utc
from storage.models import (
    Contact,
    Conversation,
    FollowUp,
    Lead,
    LeadNote,
    Referral,
    ReferralCode,
    Staff,
    utcnow,
)

CODE_BYTES = 12  # 96 random bits: 16 characters of A-Za-z0-9_-, as Telegram's start parameter allows


@dataclass(frozen=True)
class Attribution:
    """What a start code did: who brought the person (None: nobody), or why it credited nobody."""

    referral: Referral | None = None
    referrer_name: str = ""  # the client's first name, only when they agreed to be named
    refused: str = ""  # unknown | revoked | self | already_referred | not_new
    joined_as: str = ""  # a staff invitation made them an agent


# Statements asked for at every first /start, built once.
_STAFF = select(Staff).where(Staff.channel == bindparam("channel"),
                             Staff.external_id == bindparam("external_id"), Staff.active.is_(True))
_LAST_LEAD = select(func.max(Lead.updated_at)).where(Lead.agent_id == Staff.id).scalar_subquery()  # by index
_NEXT_AGENT = (select(Staff).where(Staff.active.is_(True), Staff.role == "agent")
               .order_by(_LAST_LEAD.asc().nulls_first(), Staff.id).limit(1))


# The codes a /start link may carry: a client's or an agent's referral, a campaign, an invitation to
# join the staff (a dashboard login code is none of these).
REFERRING = frozenset({"client", "agent", "campaign", "staff_invite"})


class Agency:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- staff ---------------------------------------------------------------------------------
    def staff(self, channel: str, external_id: str) -> Staff | None:
        return self.session.scalars(_STAFF, {"channel": channel, "external_id": external_id}).first()

    def ensure_staff(self, channel: str, external_id: str, role: str, name: str) -> Staff:
        """A person named in the configuration: their row, created or brought to the role named.
        Created by one statement that does nothing when another worker created it a moment before."""
        dialect = self.session.get_bind().dialect.name
        insert = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert
        new = {"channel": channel, "external_id": external_id, "role": role, "name": name, "active": True,
               "joined_at": utcnow()}
        self.session.execute(insert(Staff).values(new)
                             .on_conflict_do_nothing(index_elements=["channel", "external_id"]))
        row = self.session.scalars(select(Staff).where(Staff.channel == channel,
                                                       Staff.external_id == external_id)
                                   .execution_options(populate_existing=True)).one()
        if (row.role, row.active) != (role, True):
            row.role, row.active = role, True
        if name and not row.name:  # put on the roster before they first wrote
            row.name = name
        return row

    def all_staff(self, channel: str) -> list[Staff]:
        return list(self.session.scalars(select(Staff).where(Staff.channel == channel,
                                                             Staff.active.is_(True))))

    def next_agent(self) -> Staff | None:
        """Round-robin among active agents (on whatever channel they work): the one who was given a
        lead longest ago (or never)."""
        return self.session.scalars(_NEXT_AGENT).first()

    # -- codes -----------------------------------------------------------------------------------
    def new_code(self, kind: str, contact: Contact | None = None, staff: Staff | None = None,
                 label: str = "") -> ReferralCode:
        row = ReferralCode(code=secrets.token_urlsafe(CODE_BYTES), kind=kind,
                           contact_id=contact.id if contact else None, staff_id=staff.id if staff else None,
                           show_name=False, label=label, created_at=utcnow())
        self.session.add(row)
        self.session.flush()
        return row

    def code_of(self, kind: str, contact: Contact | None = None, staff: Staff | None = None) -> ReferralCode:
        """The person's own link code (a client's, an agent's), made on first asking."""
        owner = (ReferralCode.contact_id == contact.id if contact
                 else ReferralCode.staff_id == (staff.id if staff else 0))
        row = self.session.scalars(select(ReferralCode).where(owner, ReferralCode.kind == kind,
                                                              ReferralCode.revoked_at.is_(None))).first()
        return row or self.new_code(kind, contact, staff)

    def login(self, code: str, now: datetime, minutes: int) -> Staff | None:
        """The staff member a one-time dashboard link logs in, if it is theirs, fresh and unused;
        it is used up either way."""
        row = self.session.get(ReferralCode, code)
        if row is None or row.kind != "login" or row.staff_id is None or not self._use_up(code, now):
            return None
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        if now - created > timedelta(minutes=minutes):
            return None
        staff = self.session.get(Staff, row.staff_id)
        return staff if staff and staff.active else None

    def _join(self, contact: Contact, code: str) -> Attribution:
        """An invitation to the staff opened: the first person to open it becomes an agent."""
        if self.staff(contact.channel, contact.external_id) is not None:  # a manager stays a manager
            return Attribution(refused="already_staff")
        if not self._use_up(code, utcnow()):  # opened by someone else first, or before
            return Attribution(refused="revoked")
        self.ensure_staff(contact.channel, contact.external_id, "agent", contact.name)
        return Attribution(joined_as="agent")

    def _use_up(self, code: str, now: datetime) -> bool:
        """Mark a one-time code used, in one statement: True only for the one caller that found it
        unused (several people opening an invitation at once make one agent, on any database)."""
        claimed = self.session.execute(update(ReferralCode).where(ReferralCode.code == code,
                                                                  ReferralCode.used_at.is_(None),
                                                                  ReferralCode.revoked_at.is_(None))
                                       .values(used_at=now).execution_options(synchronize_session=False))
        return cast("CursorResult[Any]", claimed).rowcount == 1

    # -- referrals -----------------------------------------------------------------------------
    def attribute(self, contact: Contact, code: str, first_message: bool) -> Attribution:
        """Credit whoever's code the person started with, if it is real, live, not their own, and they
        were not brought by someone before; a staff invitation makes them an agent."""
        row = self.session.get(ReferralCode, code)
        if row is None or row.kind not in REFERRING:  # a dashboard login code is no referral
            return Attribution(refused="unknown")
        if row.revoked_at is not None:
            return Attribution(refused="revoked")
        if row.kind == "staff_invite":
            return self._join(contact, code)
        if row.contact_id == contact.id:
            return Attribution(refused="self")
        if self.referral_of(contact) is not None:
            return Attribution(refused="already_referred")
        if not first_message:
            return Attribution(refused="not_new")
        referral = Referral(code=code, referrer_contact_id=row.contact_id, referrer_staff_id=row.staff_id,
                            referred_contact_id=contact.id, at=utcnow(), status="came")
        self.session.add(referral)
        referrer = self.session.get(Contact, row.contact_id) if row.contact_id else None
        name = (referrer.name.split() or [""])[0] if referrer and row.show_name else ""
        return Attribution(referral=referral, referrer_name=name)

    def referral_of(self, contact: Contact) -> Referral | None:
        return self.session.scalars(select(Referral)
                                    .where(Referral.referred_contact_id == contact.id)).first()

    def referrals_by(self, contact: Contact) -> dict[str, int]:
        """How many friends a client brought, by how far they went."""
        rows = self.session.execute(select(Referral.status, func.count())
                                    .where(Referral.referrer_contact_id == contact.id)
                                    .group_by(Referral.status))
        return dict(rows.all())

    def contact(self, contact_id: int) -> Contact | None:
        return self.session.get(Contact, contact_id)

    # -- leads ---------------------------------------------------------------------------------
    def talking_with_agent(self, contact: Contact, now: datetime) -> Lead | None:
        """The customer's lead while an agent talks with them (after /reply, until /done or its hours)."""
        lead = self.session.get(Lead, contact.id)
        until = lead.talking_until if lead else None
        return lead if until is not None and as_utc(until) > now else None

    def lead_of(self, contact: Contact, referral: Referral | None = None) -> Lead:
        """The customer's lead, made on first need: the agent whose link brought them, else the
        referring client's agent, else the next agent in turn (or nobody when there is none)."""
        lead = self.session.get(Lead, contact.id)
        if lead is not None:
            return lead
        agent_id = referral.referrer_staff_id if referral else None
        if agent_id is None and referral and referral.referrer_contact_id:
            theirs = self.session.get(Lead, referral.referrer_contact_id)
            agent_id = theirs.agent_id if theirs else None
        if agent_id is None:
            agent = self.next_agent()
            agent_id = agent.id if agent else None
        lead = Lead(contact_id=contact.id, agent_id=agent_id, status="new", lost_reason="",
                    updated_at=utcnow())
        self.session.add(lead)
        self.session.flush()
        return lead

    def agent_of(self, lead: Lead) -> Staff | None:
        return self.session.get(Staff, lead.agent_id) if lead.agent_id else None

    def forget(self, contact: Contact) -> None:
        """Before a contact is erased: their leads, notes and follow-ups go; their links are revoked
        and no longer theirs; friends they brought keep their own records, without the credit."""
        self.session.execute(delete(FollowUp).where(FollowUp.contact_id == contact.id))
        self.session.execute(delete(LeadNote).where(LeadNote.contact_id == contact.id))
        self.session.execute(delete(Lead).where(Lead.contact_id == contact.id))
        self.session.execute(delete(Referral).where(Referral.referred_contact_id == contact.id))
        self.session.execute(update(Referral).where(Referral.referrer_contact_id == contact.id)
                             .values(referrer_contact_id=None))
        self.session.execute(update(ReferralCode).where(ReferralCode.contact_id == contact.id)
                             .values(contact_id=None, revoked_at=utcnow()))

    def stage_of(self, contact: Contact) -> str | None:
        return self.session.scalars(select(Conversation.state).where(
            Conversation.contact_id == contact.id, Conversation.mode == "customer")
            .order_by(Conversation.id.desc()).limit(1)).first()
