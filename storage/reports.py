"""What the web app reads (bot/web/): a web visitor's chat as it was delivered, and the dashboard's
figures — the funnel, the leads, a transcript, the referral tree, the agents' rehearsals.

Every figure is aggregated here, in SQL, and every list is paged, so that a page costs the same
with a hundred conversations as with a hundred thousand: the queries walk the indexes the tables
have (a lead by its contact id, a conversation by its contact, the contact log by its conversation,
the outbox by its chat, a referral by the person referred or by their referrer). Plain values go
out (the dataclasses below); no SQL leaves this module.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from storage.models import Contact, ContactEvent, Conversation, Lead, OutboxItem, Referral, Staff
from storage.workspace import LARGEST_ID, as_utc

CUSTOMER = "customer"


# -- a web visitor's chat ----------------------------------------------------------------------
@dataclass(frozen=True)
class ChatItem:
    """One line of a chat as it was delivered: what the person sent (who "you": the kind of their
    message, its text and argument) or what the bot sent (who "bot": an outbox row's kind and its
    message as JSON)."""

    at: datetime
    who: str  # you | bot
    id: int  # the contact-log line's id (you) or the outbox row's id (bot)
    kind: str  # you: text | choice | command | unsupported; bot: message | chart | share | file
    text: str = ""
    argument: str = ""
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class Delivered:
    """An outbox row sent to a chat: a chart, a link's picture or a file to serve again."""

    id: int
    kind: str
    payload: dict[str, Any]


# -- the funnel ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StageGroup:
    """How many conversations are at a stage now, by one fact of their stored progress, read only
    where it tells more (None elsewhere, so that the groups stay few):
    needs: the question being asked; paused: the stage it paused in; lost: the furthest of what it
    had done before — "disclosed" (the key terms were shown), "objection" (a doubt was raised about
    a proposal), "consent" (they agreed to the questions), or None."""

    state: str
    count: int
    detail: str | None = None


# -- leads -------------------------------------------------------------------------------------
SORTS = ("lead", "created", "oldest", "name", "stage", "agent", "status", "updated")


@dataclass(frozen=True)
class LeadFilter:
    """Which leads a list shows. agent_ids: only these agents' leads (an agent's own view is this
    with their id); unassigned: only leads without an agent. referrer: "#12" (or "12") is the client
    with contact id 12, anything else a referrer's name (a client's or an agent's, any case).
    start/end: the contact was created at or after start and before end."""

    stage: str | None = None  # a stage, or "none": no customer conversation yet
    agent_ids: tuple[int, ...] | None = None
    unassigned: bool = False
    referrer: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    sort: str = "lead"


@dataclass(frozen=True)
class LeadRow:
    contact_id: int
    name: str
    created_at: datetime
    stage: str | None  # the latest customer conversation's state; None: none yet
    agent_id: int | None
    agent: str  # the agent's name ("" when none)
    referrer: str  # the referrer's name: a client's ("#id" when they have none), else an agent's
    referrer_contact_id: int | None
    status: str
    lost_reason: str
    locale: str
    channel: str


@dataclass(frozen=True)
class StaffRow:
    id: int
    name: str
    role: str
    active: bool


@dataclass(frozen=True)
class EventLine:
    id: int
    at: datetime
    kind: str
    stage: str
    text: str
    detail: dict[str, Any]


# -- referrals ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Referrer:
    """The top of a referral tree: a client whom no client brought; or an agent whose own link
    brought people."""

    contact_id: int | None
    staff_id: int | None
    name: str
    stage: str | None
    brought: int  # people who came by their links
    answered: int  # of them, who finished the questions (and not yet a client)
    clients: int  # of them, who became clients


@dataclass(frozen=True)
class Referred:
    """Someone who came by a referrer's link, and the people they brought in turn (counts)."""

    parent_contact_id: int
    contact_id: int
    name: str
    stage: str | None
    status: str  # came | answered | client
    brought: int
    clients: int


# -- rehearsals --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RehearsalRow:
    staff_id: int
    agent: str
    at: datetime
    persona: str
    difficulty: str
    drill: bool
    score: int


def _latest(conversation: Any, contact_id: Any) -> ColumnElement[bool]:
    """The join condition of a contact's latest customer conversation (none newer than it)."""
    newer = aliased(Conversation)
    return and_(conversation.contact_id == contact_id, conversation.mode == CUSTOMER,
                ~exists().where(newer.contact_id == conversation.contact_id, newer.mode == CUSTOMER,
                                newer.id > conversation.id))


def _referred_by(query: Select[Any], referrer: str) -> Select[Any]:
    """Leads referred by a contact's number ("#12") or by someone whose name matches."""
    query = query.join(Referral, Referral.referred_contact_id == Lead.contact_id)
    number = referrer.strip().lstrip("#")
    if number.isdigit():
        return query.where(Referral.referrer_contact_id == min(int(number), LARGEST_ID))
    person, referring = aliased(Contact), aliased(Staff)
    return (query.outerjoin(person, person.id == Referral.referrer_contact_id)
            .outerjoin(referring, referring.id == Referral.referrer_staff_id)
            .where(or_(_like_name(person.name, referrer), _like_name(referring.name, referrer))))


def _like_name(column: Any, value: str) -> ColumnElement[bool]:
    return func.lower(column) == value.strip().lower()


def _flag(value: Any) -> bool:
    return bool(value) and value not in ("false", "0")


class Reports:
    """Read-only queries over one session (a unit of work's)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- the web chat --------------------------------------------------------------------------
    def chat(self, channel: str, chat: str, limit: int = 200) -> list[ChatItem]:
        """The last `limit` messages delivered to a chat, and what the person sent among them, in
        order. Only what came since the person's contact was made (after an erasure, a new contact
        starts a new chat); with no contact, what was delivered (the erasure's own answer)."""
        contact = self.session.scalars(select(Contact).where(
            Contact.channel == channel, Contact.external_id == chat)).one_or_none()
        query = select(OutboxItem).where(OutboxItem.channel == channel, OutboxItem.chat == chat,
                                         OutboxItem.status == "sent")
        if contact is not None:
            query = query.where(OutboxItem.created_at >= contact.created_at)
        sent = list(self.session.scalars(query.order_by(OutboxItem.id.desc()).limit(limit)))
        items = [ChatItem(as_utc(row.created_at), "bot", row.id, row.kind, payload=dict(row.payload))
                 for row in sent]
        if contact is not None:
            since = sent[-1].created_at if len(sent) == limit else contact.created_at
            conversations = select(Conversation.id).where(Conversation.contact_id == contact.id,
                                                          Conversation.mode == CUSTOMER)
            said = self.session.scalars(
                select(ContactEvent).where(ContactEvent.conversation_id.in_(conversations),
                                           ContactEvent.kind == "inbound", ContactEvent.at >= since)
                .order_by(ContactEvent.id.desc()).limit(limit))
            items += [ChatItem(as_utc(e.at), "you", e.id, str((e.detail or {}).get("kind", "text")), e.text,
                               str((e.detail or {}).get("argument", ""))) for e in said]
        return sorted(items, key=lambda item: (item.at, item.who == "bot", item.id))

    def delivered(self, channel: str, chat: str, item_id: int) -> Delivered | None:
        """An outbox row of this chat that was delivered, by its id (None: not theirs, or none)."""
        if not 0 < item_id <= 2**62:
            return None
        row = self.session.scalars(select(OutboxItem).where(
            OutboxItem.id == item_id, OutboxItem.channel == channel, OutboxItem.chat == chat,
            OutboxItem.status == "sent")).one_or_none()
        return Delivered(row.id, row.kind, dict(row.payload)) if row else None

    # -- staff ---------------------------------------------------------------------------------
    def staff(self) -> list[StaffRow]:
        rows = self.session.scalars(select(Staff).order_by(Staff.name, Staff.id))
        return [StaffRow(s.id, s.name, s.role, s.active) for s in rows]

    # -- the funnel ------------------------------------------------------------------------------
    def _cohort(self, start: datetime, end: datetime, agent_id: int | None) -> Select[Any]:
        """Customer conversations started in [start, end): an agent's leads', or every customer's
        (the agency's own people, who try the bot too, are no customers: left out by a small list
        rather than a join with every lead)."""
        query = (select().select_from(Conversation)
                 .where(Conversation.mode == CUSTOMER, Conversation.created_at >= start,
                        Conversation.created_at < end))
        if agent_id is not None:
            return (query.join(Lead, Lead.contact_id == Conversation.contact_id)
                    .where(Lead.agent_id == agent_id))
        staff = (select(Contact.id).join(Staff, and_(Staff.channel == Contact.channel,
                                                     Staff.external_id == Contact.external_id)))
        return query.where(Conversation.contact_id.not_in(staff))

    def stage_groups(self, start: datetime, end: datetime, agent_id: int | None = None) -> list[StageGroup]:
        """Conversations started in the range, by the stage they are at now and the one fact of
        their progress that tells more there (see StageGroup): one pass over the conversations,
        the JSON read only for the rows that need it."""

        def progress(name: str) -> Any:
            return Conversation.data[("progress", name)]

        def done(name: str) -> Any:
            return func.coalesce(progress(name).as_boolean(), false())

        detail = case(
            (Conversation.state == "needs", progress("question").as_string()),
            (Conversation.state == "paused", progress("paused_from").as_string()),
            (Conversation.state == "lost", case((done("disclosed"), "disclosed"),
                                                (progress("objection").as_string().is_not(None), "objection"),
                                                (done("consent"), "consent"), else_=None)),
            else_=None).label("detail")
        query = (self._cohort(start, end, agent_id).add_columns(Conversation.state, detail, func.count())
                 .group_by(Conversation.state, detail))
        return [StageGroup(state, count, found) for state, found, count in self.session.execute(query)]

    # -- leads ---------------------------------------------------------------------------------
    def _filtered(self, lead_filter: LeadFilter) -> tuple[Select[Any], list[tuple[Any, bool]]]:
        """The ids of the leads the filter lets through, joined only to what the filter or the sort
        needs, and the sort: (expression, descending) pairs, the lead's id last."""
        f = lead_filter
        query = select(Lead.contact_id).select_from(Lead)
        if f.agent_ids is not None:
            query = query.where(Lead.agent_id.in_(f.agent_ids) if f.agent_ids else false())
        if f.unassigned:
            query = query.where(Lead.agent_id.is_(None))
        if f.start is not None or f.end is not None or f.sort in ("created", "oldest", "name"):
            query = query.join(Contact, Contact.id == Lead.contact_id)
            if f.start is not None:
                query = query.where(Contact.created_at >= f.start)
            if f.end is not None:
                query = query.where(Contact.created_at < f.end)
        if f.stage == "none":
            query = query.where(~exists().where(Conversation.contact_id == Lead.contact_id,
                                                Conversation.mode == CUSTOMER))
        elif f.stage or f.sort == "stage":
            on = _latest(Conversation, Lead.contact_id)
            if f.stage:
                query = query.join(Conversation, and_(on, Conversation.state == f.stage))
            else:
                query = query.outerjoin(Conversation, on)
        if f.referrer:
            query = _referred_by(query, f.referrer)
        newest = (Lead.contact_id, True)
        if f.sort == "agent":
            agent = aliased(Staff)
            query = query.outerjoin(agent, agent.id == Lead.agent_id)
            return query, [(agent.name.is_(None), False), (agent.name, False), newest]
        order: dict[str, list[tuple[Any, bool]]] = {
            "created": [(Contact.created_at, True), newest],
            "oldest": [(Contact.created_at, False), (Lead.contact_id, False)],
            "name": [(Contact.name, False), newest],
            "stage": [(Conversation.state.is_(None), False), (Conversation.state, False), newest],
            "status": [(Lead.status, False), newest],
            "updated": [(Lead.updated_at, True), newest],
        }
        return query, order.get(f.sort, [newest])

    @staticmethod
    def _ordered(query: Select[Any], order: list[tuple[Any, bool]]) -> Select[Any]:
        return query.order_by(*(column.desc() if descending else column.asc()
                                for column, descending in order))

    def _details(self) -> Select[*tuple[Any, ...]]:
        agent, person, referring = aliased(Staff), aliased(Contact), aliased(Staff)
        conversation = aliased(Conversation)
        return (select(Lead.contact_id, Contact.name, Contact.created_at, conversation.state, Lead.agent_id,
                       agent.name, person.name, Referral.referrer_contact_id, referring.name, Lead.status,
                       Lead.lost_reason, Contact.locale, Contact.channel)
                .select_from(Lead)
                .join(Contact, Contact.id == Lead.contact_id)
                .outerjoin(conversation, _latest(conversation, Lead.contact_id))
                .outerjoin(agent, agent.id == Lead.agent_id)
                .outerjoin(Referral, Referral.referred_contact_id == Lead.contact_id)
                .outerjoin(person, person.id == Referral.referrer_contact_id)
                .outerjoin(referring, referring.id == Referral.referrer_staff_id))

    @staticmethod
    def _row(row: Sequence[Any]) -> LeadRow:
        (contact_id, name, created_at, stage, agent_id, agent, person, person_id, referring, status,
         lost_reason, locale, channel) = row
        referrer = (person or f"#{person_id}") if person_id is not None else (referring or "")
        return LeadRow(contact_id, name, as_utc(created_at), stage, agent_id, agent or "", referrer,
                       person_id, status, lost_reason, locale, channel)

    def lead_page(self, lead_filter: LeadFilter, limit: int, offset: int = 0) -> list[LeadRow]:
        """One page of the leads: their ids by the filter and sort first (the index walk), then the
        details of just those."""
        query, order = self._filtered(lead_filter)
        ids = list(self.session.scalars(self._ordered(query, order).limit(limit).offset(offset)))
        if not ids:
            return []
        found = {row[0]: self._row(row) for row in self.session.execute(
            self._details().where(Lead.contact_id.in_(ids)))}
        return [found[i] for i in ids if i in found]

    def lead_table(self, lead_filter: LeadFilter, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Every lead the filter lets through, in its order, read in batches, as plain rows for an
        export (a hundred thousand of them): lead, name, stage, agent, referrer, status, and the
        day the contact was made (YYYY-MM-DD, UTC)."""
        query, order = self._filtered(lead_filter)
        keys = query.add_columns(*(column.label(f"k{n}") for n, (column, _) in enumerate(order))).subquery()
        details = self._details().join(keys, keys.c.contact_id == Lead.contact_id)
        details = details.order_by(*(keys.c[f"k{n}"].desc() if descending else keys.c[f"k{n}"].asc()
                                     for n, (_, descending) in enumerate(order)))
        for (contact_id, name, created_at, stage, _, agent, person, person_id, referring, status,
             *_) in self.session.execute(details.execution_options(yield_per=batch)):
            referrer = (person or f"#{person_id}") if person_id is not None else (referring or "")
            made = created_at if created_at.tzinfo is None else created_at.astimezone(UTC)
            yield contact_id, name, stage or "", agent or "", referrer, status, made.date().isoformat()

    def lead(self, contact_id: int) -> LeadRow | None:
        if not 0 < contact_id <= LARGEST_ID:
            return None
        row = self.session.execute(self._details().where(Lead.contact_id == contact_id)).first()
        return self._row(row) if row else None

    def transcript(self, contact_id: int, limit: int = 1000) -> list[EventLine]:
        """The last `limit` lines of a lead's contact log (every customer conversation), oldest first."""
        conversations = select(Conversation.id).where(Conversation.contact_id == contact_id,
                                                      Conversation.mode == CUSTOMER)
        rows = self.session.scalars(
            select(ContactEvent).where(ContactEvent.conversation_id.in_(conversations))
            .order_by(ContactEvent.id.desc()).limit(limit))
        return [EventLine(e.id, as_utc(e.at), e.kind, e.stage, e.text, dict(e.detail or {}))
                for e in reversed(list(rows))]

    # -- referrals -------------------------------------------------------------------------------
    def _brought(self, agent_id: int | None) -> Select[Any]:
        """Referrals, an agent's only (those whose person referred is their lead) if given."""
        query = select().select_from(Referral)
        if agent_id is not None:
            query = query.join(Lead, Lead.contact_id == Referral.referred_contact_id).where(
                Lead.agent_id == agent_id)
        return query

    def _stage_of(self, contact_id: Any) -> Any:
        return (select(Conversation.state).where(Conversation.contact_id == contact_id,
                                                 Conversation.mode == CUSTOMER)
                .order_by(Conversation.id.desc()).limit(1).scalar_subquery())

    def agent_links(self, agent_id: int | None) -> list[Referrer]:
        """The agents whose own links brought people: how many, and how far they went."""
        clients = func.sum(case((Referral.status == "client", 1), else_=0))
        answered = func.sum(case((Referral.status == "answered", 1), else_=0))
        query = (self._brought(agent_id)
                 .add_columns(Referral.referrer_staff_id, Staff.name, func.count(), answered, clients)
                 .join(Staff, Staff.id == Referral.referrer_staff_id)
                 .group_by(Referral.referrer_staff_id, Staff.name))
        rows = sorted(self.session.execute(query), key=lambda r: (-r[2], r[0]))
        return [Referrer(None, staff_id, name, None, brought, said or 0, won or 0)
                for staff_id, name, brought, said, won in rows]

    def referrers(self, agent_id: int | None, limit: int, offset: int = 0) -> list[Referrer]:
        """The tops of the clients' referral trees — clients who brought people and whom no client
        brought — most people brought first, a page of them."""
        clients = func.sum(case((Referral.status == "client", 1), else_=0))
        answered = func.sum(case((Referral.status == "answered", 1), else_=0))
        other = aliased(Referral)
        query = (self._brought(agent_id)
                 .add_columns(Referral.referrer_contact_id, func.count(), answered, clients)
                 .where(Referral.referrer_contact_id.is_not(None),
                        ~exists().where(other.referred_contact_id == Referral.referrer_contact_id,
                                        other.referrer_contact_id.is_not(None)))
                 .group_by(Referral.referrer_contact_id)
                 .order_by(func.count().desc(), Referral.referrer_contact_id).limit(limit).offset(offset))
        rows = list(self.session.execute(query))
        ids = [row[0] for row in rows]
        names: dict[int, str] = {}
        if ids:
            names = dict(self.session.execute(
                select(Contact.id, Contact.name).where(Contact.id.in_(ids))).all())
        stages = self._stages(ids)
        return [Referrer(contact_id, None, names.get(contact_id, ""), stages.get(contact_id), brought,
                         said or 0, won or 0) for contact_id, brought, said, won in rows]

    def _stages(self, contact_ids: Sequence[int]) -> dict[int, str]:
        if not contact_ids:
            return {}
        latest = select(Conversation.contact_id, Conversation.state).where(
            _latest(Conversation, Conversation.contact_id), Conversation.contact_id.in_(contact_ids))
        return dict(self.session.execute(latest).all())

    def referred(self, contact_ids: Sequence[int], agent_id: int | None,
                 per_parent: int = 10) -> list[Referred]:
        """The people these clients brought (the newest `per_parent` of each), with how many each
        of them brought in turn."""
        if not contact_ids:
            return []
        rank = func.row_number().over(partition_by=Referral.referrer_contact_id,
                                      order_by=Referral.id.desc()).label("rank")
        ranked = (self._brought(agent_id)
                  .add_columns(Referral.referrer_contact_id, Referral.referred_contact_id, Referral.status,
                               rank)
                  .where(Referral.referrer_contact_id.in_(contact_ids)).subquery())
        rows = list(self.session.execute(
            select(ranked.c.referrer_contact_id, ranked.c.referred_contact_id, ranked.c.status, Contact.name)
            .join(Contact, Contact.id == ranked.c.referred_contact_id)
            .where(ranked.c.rank <= per_parent).order_by(ranked.c.referred_contact_id.desc())))
        children = [row[1] for row in rows]
        counts: dict[int, tuple[int, int]] = {}
        if children:
            clients = func.sum(case((Referral.status == "client", 1), else_=0))
            counts = {referrer: (brought, won or 0) for referrer, brought, won in self.session.execute(
                self._brought(agent_id).add_columns(Referral.referrer_contact_id, func.count(), clients)
                .where(Referral.referrer_contact_id.in_(children)).group_by(Referral.referrer_contact_id))}
        stages = self._stages(children)
        return [Referred(parent, child, name, stages.get(child), status, *counts.get(child, (0, 0)))
                for parent, child, status, name in rows]

    # -- rehearsals ------------------------------------------------------------------------------
    def rehearsal_summary(self, staff_id: int | None, start: datetime | None,
                          end: datetime | None) -> list[tuple[int, str, int, int, int, int]]:
        """Per staff member, over all their finished rehearsals (not only the rows a page shows):
        id, name, attempts, average, best and latest score."""
        score = Conversation.data["score"].as_integer()
        newest = func.row_number().over(partition_by=Staff.id,
                                        order_by=(Conversation.updated_at.desc(), Conversation.id.desc()))
        columns = select(Staff.id, Staff.name, score.label("score"), newest.label("rank"))
        ranked = self._rehearsal_query(columns, score, staff_id, start, end).subquery()
        rows = self.session.execute(
            select(ranked.c.id, ranked.c.name, func.count(), func.avg(ranked.c.score),
                   func.max(ranked.c.score), func.max(case((ranked.c.rank == 1, ranked.c.score))))
            .group_by(ranked.c.id, ranked.c.name))
        return [(sid, name, count, round(average), best, latest)
                for sid, name, count, average, best, latest in rows]

    @staticmethod
    def _rehearsal_query(query: Select[Any], score: Any, staff_id: int | None, start: datetime | None,
                         end: datetime | None) -> Select[Any]:
        query = (query.select_from(Conversation)
                 .join(Contact, Contact.id == Conversation.contact_id)
                 .join(Staff, and_(Staff.channel == Contact.channel,
                                   Staff.external_id == Contact.external_id))
                 .where(Conversation.mode == "rehearsal", score.is_not(None)))
        if staff_id is not None:
            query = query.where(Staff.id == staff_id)
        if start is not None:
            query = query.where(Conversation.updated_at >= start)
        if end is not None:
            query = query.where(Conversation.updated_at < end)
        return query

    def rehearsals(self, staff_id: int | None, start: datetime | None, end: datetime | None,
                   limit: int = 500) -> list[RehearsalRow]:
        """Finished rehearsals (those with a score) of the agency's staff, newest first: a staff
        member rehearses in their own chat, the contact of the same channel and id."""
        score = Conversation.data["score"].as_integer()
        data = Conversation.data
        columns = select(Staff.id, Staff.name, Conversation.updated_at, data["persona"].as_string(),
                         data["difficulty"].as_string(), data["drill"].as_boolean(), score)
        query = self._rehearsal_query(columns, score, staff_id, start, end)
        rows = self.session.execute(query.order_by(Conversation.updated_at.desc(), Conversation.id.desc())
                                    .limit(limit))
        return [RehearsalRow(sid, name, as_utc(at), persona or "", difficulty or "", _flag(drill),
                             int(points)) for sid, name, at, persona, difficulty, drill, points in rows]
