"""The dashboard: agents and managers, logged in by the one-time link the bot gives (/dashboard),
see the funnel, the leads (filtered, paged, as CSV), a lead's transcript, the referral tree, the
agents' rehearsal scores and the sale's diagram. An agent sees only their own leads; a manager sees
everything; anyone else gets 403. Every figure comes aggregated from storage/reports.py.
"""
from __future__ import annotations

import csv
import io
import re
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.agency import LOGIN_MINUTES
from bot.commands import MANAGER
from bot.flows.machine import STAGES
from bot.library import LOCALES
from bot.service import SalesService
from bot.web import funnel as funnels
from bot.web.chat import TooLarge, read_form
from bot.web.diagram import sale_svg
from bot.web.pages import NO_STORE, Pages, Words, request_locale
from bot.web.security import LANG_COOKIE, SESSION_COOKIE, SESSION_HOURS, Signing
from storage.models import utcnow
from storage.reports import SORTS, LeadFilter, Referred, Reports

PAGE_SIZE = 50  # leads on a page
ROOTS_PER_PAGE = 30  # referral trees on a page
DEPTH = 4  # generations of a referral tree shown below its top
DEFAULT_DAYS = 30
CSV_HEADER = ["lead", "name", "stage", "agent", "referrer", "status", "created"]
_RISKY_CELL = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would read these as a formula


@dataclass(frozen=True)
class Viewer:
    """The staff member a session cookie names, and the language their pages are in."""

    staff_id: int
    name: str
    role: str
    locale: str

    @property
    def scope(self) -> int | None:
        """Whose leads they see: their own (an agent), or everyone's (None: a manager)."""
        return None if self.role == MANAGER else self.staff_id


@dataclass
class Node:
    """A person in a referral tree, with those they brought."""

    contact_id: int | None
    name: str
    stage: str | None
    status: str = ""
    brought: int = 0
    clients: int = 0
    staff: bool = False
    children: list[Node] = field(default_factory=list)


Page = Callable[["Dashboard", Request], Response]


def staff_only(view: Callable[[Dashboard, Request, Viewer], Response]) -> Page:
    """A dashboard page for a signed-in agent or manager (given as `viewer`); anyone else is refused."""
    @functools.wraps(view)
    def checked(self: Dashboard, request: Request) -> Response:
        viewer = self.viewer(request)
        return self.refused(request) if viewer is None else view(self, request, viewer)
    return checked


def day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value and len(value) == 10 else None
    except ValueError:
        return None


def period(request: Request, days: int = DEFAULT_DAYS) -> tuple[date, date, datetime, datetime]:
    """The from and to days of a page (YYYY-MM-DD, both included; the last `days` by default), and
    the instants they span (UTC)."""
    today = utcnow().date()
    end = day(request.query_params.get("to")) or today
    start = day(request.query_params.get("from")) or end - timedelta(days=days - 1)
    if start > end:
        start, end = end, start
    return start, end, midnight(start), midnight(end + timedelta(days=1))


def midnight(of: date) -> datetime:
    return datetime.combine(of, time(), UTC)


def cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(_RISKY_CELL) else value


def number(value: str | None, default: int = 1, highest: int = 1_000_000) -> int:
    if value and value.isascii() and value.isdigit() and len(value) < 9:
        return min(max(int(value), 1), highest)
    return default


class Dashboard:
    def __init__(self, service: SalesService, signing: Signing, pages: Pages) -> None:
        self.service = service
        self.signing = signing
        self.pages = pages
        self.library = service.library

    def routes(self) -> list[Route]:
        return [
            Route("/login/{code}", self.login),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/dashboard", self.funnel),
            Route("/dashboard/leads", self.leads),
            Route("/dashboard/leads.csv", self.leads_csv),
            Route("/dashboard/conversation/{lead:int}", self.conversation),
            Route("/dashboard/referrals", self.referrals),
            Route("/dashboard/rehearsals", self.rehearsals),
            Route("/dashboard/diagram", self.diagram),
            Route("/dashboard/diagram.svg", self.diagram_file),
        ]

    # -- who is looking --------------------------------------------------------------------------
    def viewer(self, request: Request) -> Viewer | None:
        staff_id = self.signing.session(request.cookies.get(SESSION_COOKIE))
        if staff_id is None:
            return None
        with self.service.database.unit_of_work() as uow:
            staff = uow.leads.staff(staff_id)
            if staff is None or not staff.active:
                return None
            own = uow.leads.locale_of(staff)
        chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
        locale = chosen if chosen in LOCALES else own if own in LOCALES else request_locale(request)
        return Viewer(staff.id, staff.name, staff.role, locale or "en")

    def refused(self, request: Request, status: int = 403, key: str = "refused.staff_only") -> Response:
        return self.pages.refusal(request_locale(request), status, key)

    def page(self, request: Request, viewer: Viewer, template: str, current: str, **context: Any) -> Response:
        other = next(locale for locale in LOCALES if locale != viewer.locale)
        response = self.pages.render(template, viewer.locale, viewer=viewer, current=current,
                                     csrf=self.signing.csrf(f"staff:{viewer.staff_id}"),
                                     language_link=f"{request.url.path}?{urlencode({'lang': other})}",
                                     **context)
        if request.query_params.get("lang") in LOCALES:
            response.set_cookie(LANG_COOKIE, viewer.locale, max_age=365 * 86400, httponly=True,
                                samesite="lax", secure=request.url.scheme == "https", path="/")
        return response

    # -- logging in and out ------------------------------------------------------------------------
    def login(self, request: Request) -> Response:
        """A one-time link from the bot: a fresh, unused login code of an active staff member opens a
        session; it is used up either way."""
        code = request.path_params["code"]
        with self.service.database.unit_of_work() as uow:
            staff = uow.agency.login(code, utcnow(), LOGIN_MINUTES) if len(code) <= 64 else None
            uow.commit()
        if staff is None:
            return self.refused(request, 403, "refused.login")
        response = RedirectResponse("/dashboard", 303, headers=NO_STORE)
        response.set_cookie(SESSION_COOKIE, self.signing.session_cookie(staff.id),
                            max_age=SESSION_HOURS * 3600, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")
        return response

    async def logout(self, request: Request) -> Response:
        """The session ends (a form with the page's token: no other site can log anyone out)."""
        viewer = await run_in_threadpool(self.viewer, request)
        try:
            form = await read_form(request)
        except TooLarge:
            form = {}
        if viewer is None or not self.signing.csrf_ok(f"staff:{viewer.staff_id}", form.get("csrf")):
            return self.refused(request, 403, "refused.form")
        response = RedirectResponse("/chat", 303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
        return response

    # -- the funnel ------------------------------------------------------------------------------
    @staff_only
    def funnel(self, request: Request, viewer: Viewer) -> Response:
        first, last, start, end = period(request)
        with self.service.database.unit_of_work() as uow:
            groups = Reports(uow.session).stage_groups(start, end, viewer.scope)
        started, rows = funnels.funnel(groups)
        words = Words(self.library, viewer.locale)
        names = {stage: words.stage(stage) for stage in STAGES}
        reached_needs = next((row.count for row in rows if row.stage == "needs"), 0)
        stops = funnels.stops(groups, reached_needs, [q.id for q in self.library.questions])
        chart = funnels.chart_svg(rows, names, words("funnel.chart"))
        return self.page(request, viewer, "funnel.html", "funnel", first=first, last=last, started=started,
                         rows=rows, names=names, chart=chart, stops=stops, percent=funnels.percent)

    # -- leads -----------------------------------------------------------------------------------
    def lead_filter(self, request: Request, viewer: Viewer,
                    reports: Reports) -> tuple[LeadFilter, dict[str, str]]:
        """The filter a page's query asks for (an agent's always narrowed to their own leads), and the
        query's values as the form shows them again."""
        params = request.query_params
        chosen = {name: params.get(name, "").strip()[:100] for name in ("stage", "agent", "referrer", "from",
                                                                        "to", "sort")}
        stage = chosen["stage"] if chosen["stage"] in STAGES or chosen["stage"] == "none" else None
        agent_ids: tuple[int, ...] | None = None
        unassigned = False
        wanted = chosen["agent"]
        if viewer.scope is not None:
            agent_ids = (viewer.staff_id,)
        elif wanted == "none":
            unassigned = True
        elif wanted.isascii() and wanted.isdigit():
            agent_ids = (int(wanted[:10]),)
        elif wanted:
            agent_ids = tuple(s.id for s in reports.staff() if s.name.strip().lower() == wanted.lower())
        start = day(chosen["from"])
        end = day(chosen["to"])
        lead_filter = LeadFilter(
            stage=stage, agent_ids=agent_ids, unassigned=unassigned, referrer=chosen["referrer"] or None,
            start=midnight(start) if start else None, end=midnight(end + timedelta(days=1)) if end else None,
            sort=chosen["sort"] if chosen["sort"] in SORTS else "lead")
        return lead_filter, chosen

    @staff_only
    def leads(self, request: Request, viewer: Viewer) -> Response:
        page = number(request.query_params.get("page"))
        with self.service.database.unit_of_work() as uow:
            reports = Reports(uow.session)
            lead_filter, chosen = self.lead_filter(request, viewer, reports)
            rows = reports.lead_page(lead_filter, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
            staff = [s for s in reports.staff() if s.active or s.id == viewer.staff_id]
        if viewer.scope is not None:
            staff = [s for s in staff if s.id == viewer.staff_id]
        query = {name: value for name, value in chosen.items() if value}
        link = "/dashboard/leads?" + urlencode(query)
        return self.page(request, viewer, "leads.html", "leads", rows=rows[:PAGE_SIZE], chosen=chosen,
                         staff=staff, stages=list(STAGES), sorts=SORTS, page=page,
                         previous=f"{link}&{urlencode({'page': page - 1})}" if page > 1 else "",
                         next=f"{link}&{urlencode({'page': page + 1})}" if len(rows) > PAGE_SIZE else "",
                         csv_link="/dashboard/leads.csv?" + urlencode(query))

    @staff_only
    def leads_csv(self, request: Request, viewer: Viewer) -> Response:
        with self.service.database.unit_of_work() as uow:
            lead_filter, _ = self.lead_filter(request, viewer, Reports(uow.session))
        headers = {"Content-Disposition": 'attachment; filename="leads.csv"', **NO_STORE}
        return StreamingResponse(self._csv(lead_filter), media_type="text/csv; charset=utf-8",
                                 headers=headers)

    def _csv(self, lead_filter: LeadFilter) -> Iterator[str]:
        """The leads as CSV, a few thousand rows at a time (one transaction throughout)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        buffer.write("\ufeff")  # so that spreadsheets read the file as UTF-8 (Chinese names)
        writer.writerow(CSV_HEADER)
        with self.service.database.unit_of_work() as uow:
            for count, (lead, name, stage, agent, referrer, status, created) in enumerate(
                    Reports(uow.session).lead_table(lead_filter), 1):
                writer.writerow((lead, cell(name), stage, cell(agent), cell(referrer), status, created))
                if count % 5000 == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    # -- one lead's transcript ---------------------------------------------------------------------
    @staff_only
    def conversation(self, request: Request, viewer: Viewer) -> Response:
        with self.service.database.unit_of_work() as uow:
            reports = Reports(uow.session)
            lead = reports.lead(request.path_params["lead"])
            if lead is None:
                return self.refused(request, 404, "refused.not_found")
            if viewer.scope is not None and lead.agent_id != viewer.scope:
                return self.refused(request, 403, "refused.not_yours")
            lines = reports.transcript(lead.contact_id)
        kinds = {line.id: re.sub(r"[^a-z0-9_-]", "", line.kind.lower()) or "event" for line in lines}
        return self.page(request, viewer, "conversation.html", "leads", lead=lead, lines=lines, kinds=kinds,
                         cut=len(lines) >= 1000)

    # -- referrals -------------------------------------------------------------------------------
    @staff_only
    def referrals(self, request: Request, viewer: Viewer) -> Response:
        """The agents' links, then the clients' referral trees (a page of them), each person with
        how many they brought and how many of those became clients."""
        page = number(request.query_params.get("page"))
        with self.service.database.unit_of_work() as uow:
            reports = Reports(uow.session)
            links = [Node(t.staff_id, t.name, None, brought=t.brought, clients=t.clients, staff=True)
                     for t in reports.agent_links(viewer.scope)]
            tops = reports.referrers(viewer.scope, ROOTS_PER_PAGE + 1, (page - 1) * ROOTS_PER_PAGE)
            trees = [Node(t.contact_id, t.name, t.stage, brought=t.brought, clients=t.clients)
                     for t in tops[:ROOTS_PER_PAGE]]
            level = trees
            for _ in range(DEPTH):
                parents = {n.contact_id: n for n in level if n.brought and n.contact_id is not None}
                level = []
                for child in reports.referred(list(parents), viewer.scope):
                    node = self._node(child)
                    parents[child.parent_contact_id].children.append(node)
                    level.append(node)
                if not level:
                    break
        return self.page(request, viewer, "referrals.html", "referrals", links=links, trees=trees, page=page,
                         previous=f"/dashboard/referrals?page={page - 1}" if page > 1 else "",
                         next=f"/dashboard/referrals?page={page + 1}" if len(tops) > ROOTS_PER_PAGE else "",
                         percent=funnels.percent)

    @staticmethod
    def _node(child: Referred) -> Node:
        return Node(child.contact_id, child.name, child.stage, child.status, child.brought, child.clients)

    # -- rehearsals ------------------------------------------------------------------------------
    @staff_only
    def rehearsals(self, request: Request, viewer: Viewer) -> Response:
        given = "from" in request.query_params or "to" in request.query_params
        first, last, start, end = period(request, 365)
        with self.service.database.unit_of_work() as uow:
            reports = Reports(uow.session)
            rows = reports.rehearsals(viewer.scope, start if given else None, end if given else None)
        summary: dict[int, dict[str, Any]] = {}
        for row in reversed(rows):  # oldest first: the latest score is the last one seen
            agent = summary.setdefault(row.staff_id, {"agent": row.agent, "scores": []})
            agent["scores"].append(row.score)
        by_agent = [{"agent": a["agent"], "attempts": len(a["scores"]),
                     "average": round(sum(a["scores"]) / len(a["scores"])), "best": max(a["scores"]),
                     "latest": a["scores"][-1]} for a in summary.values()]
        by_agent.sort(key=lambda a: str(a["agent"]))
        return self.page(request, viewer, "rehearsals.html", "rehearsals", rows=rows, by_agent=by_agent,
                         first=first if given else None, last=last if given else None)

    # -- the diagram -----------------------------------------------------------------------------
    @staff_only
    def diagram(self, request: Request, viewer: Viewer) -> Response:
        words = Words(self.library, viewer.locale)
        labels = {stage: words.stage(stage) for stage in STAGES} if viewer.locale != "en" else {}
        svg = sale_svg(labels, title=words("diagram.title"), element_id="sale-diagram")
        return self.page(request, viewer, "diagram.html", "diagram", svg=svg)

    @staff_only
    def diagram_file(self, _request: Request, viewer: Viewer) -> Response:
        title = Words(self.library, viewer.locale)("diagram.title")
        return Response(sale_svg(title=title), media_type="image/svg+xml",
                        headers={"Content-Disposition": 'inline; filename="sale.svg"'})
