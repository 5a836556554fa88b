"""The dashboard's leads: the list (filtered, paged), the same as CSV, and one lead's transcript.
An agent sees only their own leads (bot/web/dashboard.py says who is looking)."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from bot.flows.machine import STAGES
from bot.web.dashboard import StaffPages, Viewer, day, midnight, number, staff_only
from bot.web.pages import NO_STORE
from storage.reports import SORTS, LeadFilter, Reports

PAGE_SIZE = 50  # leads on a page
CSV_HEADER = ["lead", "name", "stage", "agent", "referrer", "status", "created"]
_RISKY_CELL = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would read these as a formula


def cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(_RISKY_CELL) else value


class LeadPages(StaffPages):
    def routes(self) -> list[Route]:
        return [
            Route("/dashboard/leads", self.leads),
            Route("/dashboard/leads.csv", self.leads_csv),
            Route("/dashboard/conversation/{lead:int}", self.conversation),
        ]

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
