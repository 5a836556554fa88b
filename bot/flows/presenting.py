"""Turning answers and the needs analysis into what the templates show: summary lines, the
plan with a reason for each cover tied to the customer's own answers, and the gap chart's data.
"""
from __future__ import annotations

from typing import Any

from bot.flows.calculator import VARIANTS, Analysis, PlannedCover, household
from bot.flows.messages import Chart
from bot.flows.questionnaire import asked
from bot.library import Library, Question

CHART_KINDS = ("term_life", "critical_illness", "medical", "accident")


def answer_text(library: Library, locale: str, question: Question, value: Any) -> str:
    if value is None:
        return library.text(locale, "skipped")
    if question.type == "choice":
        return library.text(locale, f"choices.{question.id}.{value}")
    if question.type == "yes_no":
        return library.text(locale, f"buttons.{'yes' if value else 'no'}")
    if question.type == "numbers":
        return ", ".join(str(v) for v in value)
    if question.unit == "money":
        return library.money(locale, value)
    return str(value)


def summary_lines(library: Library, locale: str, answers: dict[str, Any]) -> list[dict[str, str]]:
    return [{"label": library.text(locale, f"questions.{q.id}.label"),
             "value": answer_text(library, locale, q, answers.get(q.id, q.default))}
            for q in asked(library.questions, answers)]


def reason_context(answers: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    h, n = household(answers, parameters), parameters["needs"]
    return {"years": n["income_replacement_years"], "debts": h["debts"], "savings": h["savings"],
            "children": len([a for a in h["children"] if a < n["education_until_age"]]),
            "ci_years": n["critical_illness_income_years"], "social": h["social_insurance"],
            "deductible": n["medical_deductible"], "accident_multiple": n["accident_income_multiple"],
            "partner_years": n["partner_income_replacement_years"]}


def cover_context(library: Library, locale: str, cover: PlannedCover,
                  reasons: dict[str, Any]) -> dict[str, Any]:
    need = cover.need
    return {
        "name": library.text(locale, f"covers.{need.kind}"),
        "person": library.text(locale, f"people.{need.person}", age=need.age),
        "sum": cover.sum, "premium": cover.premium, "need": need.gap, "reduced": cover.reduced,
        "must": need.must,
        "reason": library.text(locale, f"reasons.{need.key}", **reasons, existing=need.existing),
        "exclusions": library.text(locale, f"exclusions.{need.kind}"),
    }


def plan_context(library: Library, locale: str, analysis: Analysis, variant: str,
                 answers: dict[str, Any]) -> dict[str, Any]:
    plan = analysis.plans[variant]
    reasons = reason_context(answers, library.parameters)
    return {
        "variant": library.text(locale, f"variants.{variant}"),
        "covers": [cover_context(library, locale, cover, reasons) for cover in plan.covers],
        "total": plan.total, "per_day": plan.per_day, "budget": plan.budget, "shortfall": plan.shortfall,
        "left_out": [library.text(locale, f"covers.{need.kind}") for need in plan.left_out],
        "other_variants": [{"name": library.text(locale, f"variants.{v}"), "total": analysis.plans[v].total}
                           for v in VARIANTS if v != variant],
        "essential_total": analysis.plans["essential"].total,
        "health_review": bool(answers.get("health")),
    }


def gap_chart(library: Library, locale: str, analysis: Analysis, answers: dict[str, Any]) -> Chart:
    """The customer's own cover: needed against already covered, per cover type."""
    insured = household(answers, library.parameters)["social_insurance"]
    cap = library.parameters["needs"].get("social_medical_cap", 0) if insured else 0
    needed = {kind: 0 for kind in CHART_KINDS}
    covered = {kind: 0 for kind in CHART_KINDS}
    for need in analysis.needs:
        if need.kind in needed and need.person == "self" and not need.declined:
            needed[need.kind] = need.recommended
            covered[need.kind] = need.existing + (cap if need.kind == "medical" else 0)
    kinds = [kind for kind in CHART_KINDS if needed[kind]]
    return Chart(
        title=library.text(locale, "chart.title"),
        labels=tuple(library.text(locale, f"covers.{kind}") for kind in kinds),
        needed=tuple(needed[kind] for kind in kinds),
        covered=tuple(min(covered[kind], needed[kind]) for kind in kinds),
        legend=(library.text(locale, "chart.needed"), library.text(locale, "chart.covered")),
        note=library.text(locale, "chart.note"),
        axis=library.text(locale, "chart.axis"),
    )
