"""The funnel: how far the conversations of a period got along the sale, from the counts storage
aggregates (storage/reports.py: by stage now, with the little the progress says of paused and lost
ones), and the same as an SVG chart. Pure functions: no I/O."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from bot.flows.machine import APART, FUNNEL, STAGES
from storage.reports import StageGroup

ALONG = FUNNEL  # how far along the sale each stage is; those apart (paused, lost) are counted as they are now


@dataclass(frozen=True)
class FunnelRow:
    stage: str
    count: int  # got this far (a stage apart: there now)
    conversion: float  # count / started
    now: int  # there now


@dataclass(frozen=True)
class Stop:
    question: str | None
    count: int
    share: float  # of all that got to the questions


def furthest(group: StageGroup) -> int:
    """How far along the sale a group's conversations got, read from where they are now."""
    if group.state == "paused":
        return ALONG.get(group.detail or "", 0)
    if group.state == "lost":  # what they had done before declining
        done = {"disclosed": "closing", "objection": "objection", "consent": "needs"}.get(group.detail or "")
        return ALONG[done] if done else 0
    return ALONG.get(group.state, 0)


def funnel(groups: Sequence[StageGroup]) -> tuple[int, list[FunnelRow]]:
    """Conversations started, and a row per stage of the sale, in its order."""
    started = sum(g.count for g in groups)
    now: Counter[str] = Counter()
    for group in groups:
        now[group.state] += group.count
    rows = []
    for stage in STAGES:
        along = ALONG.get(stage)
        count = now[stage] if along is None else sum(g.count for g in groups if furthest(g) >= along)
        rows.append(FunnelRow(stage, count, count / started if started else 0.0, now[stage]))
    return started, rows


def stops(groups: Sequence[StageGroup], reached_needs: int, order: Iterable[str]) -> list[Stop]:
    """Where the questions stop: those in the needs questions now, by the question they are at, in
    the questionnaire's order (before the first one first), then any it no longer has."""
    stopped: Counter[str | None] = Counter()
    for group in groups:
        if group.state == "needs":
            stopped[group.detail] += group.count
    known = [None, *order]
    keys = [q for q in known if q in stopped] + [q for q in stopped if q not in known]
    return [Stop(q, stopped[q], stopped[q] / reached_needs if reached_needs else 0.0) for q in keys]


def percent(share: float) -> str:
    value = round(share * 100, 1)
    return f"{value:.0f}%" if value == int(value) else f"{value:.1f}%"


def chart_svg(rows: Sequence[FunnelRow], names: dict[str, str], title: str) -> Markup:
    """The funnel as horizontal bars, one per stage, as an inline SVG (id funnel-chart)."""
    bar_height, gap, left, width, right = 22, 6, 170, 420, 120
    biggest = max((row.count for row in rows), default=0) or 1
    height = len(rows) * (bar_height + gap) + gap
    total = left + width + right
    out = [Markup('<svg id="funnel-chart" xmlns="http://www.w3.org/2000/svg" role="img" '
                  'viewBox="0 0 {0} {1}" width="{0}" height="{1}"><title>{2}</title>').format(total, height,
                                                                                             title)]
    for index, row in enumerate(rows):
        y = gap + index * (bar_height + gap)
        length = round(width * row.count / biggest)
        colour = "#c96a6a" if row.stage in APART else "#3d7ab8"
        out.append(Markup('<text x="{0}" y="{1}" text-anchor="end" class="funnel-label">{2}</text>').format(
            left - 8, y + 16, names.get(row.stage, row.stage)))
        bar = Markup('<rect x="{0}" y="{1}" width="{2}" height="{3}" fill="{4}" data-stage="{5}"/>')
        out.append(bar.format(left, y, max(length, 1), bar_height, colour, row.stage))
        out.append(Markup('<text x="{0}" y="{1}" class="funnel-value">{2} · {3}</text>').format(
            left + length + 6, y + 16, row.count, percent(row.conversion)))
    out.append(Markup("</svg>"))
    return Markup("").join(escape(part) for part in out)
