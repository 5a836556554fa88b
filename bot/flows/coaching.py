"""For agents outside a rehearsal: their scores over time, and talk tracks on demand (/script)."""
from __future__ import annotations

from datetime import datetime

from bot.flows.machine import STAGES
from bot.flows.messages import Chart, Reply
from bot.flows.personas import figures, handling, personas
from bot.flows.reading import STEPS
from bot.library import Library

# The rehearsal's own talk tracks, stage by stage of the method, closing techniques included
# (templates/<locale>/rehearsal/script/<name>.j2), rendered with a persona's figures.
TRACKS = ("opening", "needs", "presentation", "objection", "closing")
# Stage name -> the talk track the customer sale shows for it (declared with each stage in machine.py).
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
    """`/script closing`, `/script objection expensive`, optionally with a persona for the figures
    (`/script closing aware_family`)."""
    by_id = {p["id"]: p for p in personas(library)}
    persona = next((by_id[w] for w in words if w in by_id), personas(library)[0])
    context = figures(persona, library, locale)
    objections = list(handling(library))
    if words[:1] == ["objection"] and len(words) > 1 and words[1] in objections:
        return Reply(objection_track(library, locale, words[1], context))
    if words[:1] and words[0] in TRACKS:
        return Reply(library.text(locale, f"rehearsal/script/{words[0]}", **context))
    if words[:1] and words[0] in STAGE_TRACKS:  # what the customer sale says at that stage
        track = STAGE_TRACKS[words[0]]
        return Reply(library.text(locale, track, **{**context, "total": len(library.questions)}))
    stages = list(TRACKS) + [s for s in STAGE_TRACKS if s not in TRACKS]
    return Reply(library.text(locale, "rehearsal.script.usage", stages=", ".join(stages),
                              objections=", ".join(objections), personas=", ".join(by_id)))


def objection_track(library: Library, locale: str, objection: str, context: dict[str, object]) -> str:
    """The handling steps of the method for one objection, each with its model line."""
    title = library.text(locale, "rehearsal.script.objection",
                         objection_label=library.text(locale, f"rehearsal.objections.{objection}"), **context)
    steps = [library.text(locale, "rehearsal.script.step", n=number, label=library.text(
                 locale, f"rehearsal.steps.{step}"), line=library.text(
                 locale, f"rehearsal.handling.{objection}.{step}", **context))
             for number, step in enumerate(STEPS, 1)]
    return "\n".join([title, *steps])
