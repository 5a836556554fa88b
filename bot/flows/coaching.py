"""For agents outside a rehearsal: their scores over time, and talk tracks on demand (/script)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.flows.machine import STAGES
from bot.flows.messages import Chart, Reply
from bot.flows.rehearsal import persona_plan
from bot.library import Library

VIEWS = ("progress", "script")  # agent commands that only show something, in any mode
# Stage name -> the talk track shown for it (declared with each stage in machine.py).
STAGE_TRACKS = {stage.name: stage.track for stage in STAGES.values() if stage.track}


def progress(library: Library, locale: str, scores: list[tuple[datetime, int]]) -> Reply:
    if not scores:
        return Reply(library.text(locale, "rehearsal.progress.none"))
    values = [score for _, score in scores]
    text = library.text(locale, "rehearsal.progress.summary", count=len(values), last=values[-1],
                        best=max(values))
    chart = Chart(title=library.text(locale, "rehearsal.progress.title"),
                  labels=tuple(f"{at:%m-%d}" for at, _ in scores), needed=tuple(values), covered=(),
                  legend=(library.text(locale, "rehearsal.progress.axis"), ""), note="",
                  axis=library.text(locale, "rehearsal.progress.axis"), kind="line")
    return Reply(text, chart=chart)


def talk_track(library: Library, locale: str, words: list[str]) -> Reply:
    """`/script closing`, `/script objection expensive`, optionally with a persona for the figures."""
    personas = {p["id"]: p for p in library.rehearsal["personas"]["personas"]}
    persona = next((personas[w] for w in words if w in personas), next(iter(personas.values())))
    context: dict[str, Any] = {**persona_plan(persona, library, locale),
                               "customer_name": persona["name"][locale],
                               "deductible": library.parameters["needs"]["medical_deductible"],
                               "total": len(library.questions), "referral_code": "R0"}
    objections = [o.id for o in library.objections]
    if words[:1] == ["objection"] and len(words) > 1 and words[1] in objections:
        return Reply(library.text(locale, f"objection/{words[1]}", **context))
    if words[:1] and words[0] in STAGE_TRACKS:
        return Reply(library.text(locale, STAGE_TRACKS[words[0]], **context))
    return Reply(library.text(locale, "rehearsal.script.usage", stages=", ".join(STAGE_TRACKS),
                              objections=", ".join(objections), personas=", ".join(personas)))
