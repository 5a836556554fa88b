"""The dashboard: agents and managers, logged in by the one-time link the bot gives (/dashboard),
see the funnel, the leads (filtered, paged, as CSV), a lead's transcript, the referral tree, the
agents' rehearsal scores and the sale's diagram. An agent sees only their own leads; a manager sees
everything; anyone else gets 403. Every figure comes aggregated from storage/reports.py.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
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
from storage.reports import Referred, Reports

ROOTS_PER_PAGE = 30  # referral trees on a page
DEPTH = 4  # generations of a referral tree shown below its top
DEFAULT_DAYS = 30


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


S = TypeVar("S", bound="StaffPages")


def staff_only(view: Callable[[S, Request, Viewer], Response]) -> Callable[[S, Request], Response]:
    """A dashboard page for a signed-in agent or manager (given as `viewer`); anyone else is refused."""
    @functools.wraps(view)
    def checked(self: S, request: Request) -> Response:
        viewer = self.viewer(request)
        return self.refused(request) if viewer is None else view(self, request, viewer)
    return checked


# The days a page may ask for: "to=9999-12-31" (whose next day has no midnight) or "from=0001-01-01"
# are taken as the edges of this span, not as a 500.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date.max - timedelta(days=1)


def within(of: date) -> date:
    return min(max(of, FIRST_DAY), LAST_DAY)


def day(value: str | None) -> date | None:
    """A day a page was asked for, kept within the span pages can count with (FIRST_DAY, LAST_DAY)."""
    try:
        return within(date.fromisoformat(value)) if value and len(value) == 10 else None
    except ValueError:
        return None


def period(request: Request, days: int = DEFAULT_DAYS) -> tuple[date, date, datetime, datetime]:
    """The from and to days of a page (YYYY-MM-DD, both included; the last `days` by default), and
    the instants they span (UTC)."""
    today = utcnow().date()
    end = day(request.query_params.get("to")) or today
    start = day(request.query_params.get("from")) or within(end - timedelta(days=days - 1))
    if start > end:
        start, end = end, start
    return start, end, midnight(start), midnight(end + timedelta(days=1))


def midnight(of: date) -> datetime:
    return datetime.combine(of, time(), UTC)


def number(value: str | None, default: int = 1, highest: int = 1_000_000) -> int:
    if value and value.isascii() and value.isdigit() and len(value) < 9:
        return min(max(int(value), 1), highest)
    return default


class StaffPages:
    """What every staff page shares: who is looking, and a page in their language."""

    def __init__(self, service: SalesService, signing: Signing, pages: Pages) -> None:
        self.service = service
        self.signing = signing
        self.pages = pages
        self.library = service.library

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


class Dashboard(StaffPages):
    def routes(self) -> list[Route]:
        return [
            Route("/login/{code}", self.login),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/dashboard", self.funnel),
            Route("/dashboard/referrals", self.referrals),
            Route("/dashboard/rehearsals", self.rehearsals),
            Route("/dashboard/diagram", self.diagram),
            Route("/dashboard/diagram.svg", self.diagram_file),
        ]

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
            since, until = (start, end) if given else (None, None)
            rows = reports.rehearsals(viewer.scope, since, until)  # the newest, for the table
            summary = reports.rehearsal_summary(viewer.scope, since, until)  # all of them
        by_agent = [{"agent": agent, "attempts": attempts, "average": average, "best": best, "latest": latest}
                    for _id, agent, attempts, average, best, latest in summary]
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
