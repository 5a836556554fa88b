"""Turning answers and the needs analysis into what the templates show: summary lines, the
plan with a reason for each cover tied to the customer's own answers and its true figures, the
notes on what is out of range, the gap chart's data, and the lead for the agent.
"""
from __future__ import annotations

from typing import Any

from bot.flows.calculator import (PARTS, PEOPLE, VARIANTS, Analysis, Need, PlannedCover, household,
                                  in_education)
from bot.flows.messages import Chart
from bot.flows.qualification import REASONS, WHYS, Qualification
from bot.flows.answers import answer_text
from bot.flows.questionnaire import asked
from bot.library import Library, Question

CHART_KINDS = ("term_life", "critical_illness", "medical", "accident")
WORRIES = ("illness", "accident", "income", "education", "retirement")
LEAD_LABELS = ("annual_income", "parents")  # answers whose label speaks to the customer ("Your income")
# The library texts rendered here besides those named by the plan's rules (wording.py insists on them).
KEYS = ("plan.cover_for", "plan.warning", *(f"plan.parts.{part}" for part in PARTS if part != "savings"),
        *(f"plan.worry.{worry}" for worry in WORRIES), *(f"lead.people.{person}" for person in PEOPLE),
        *(f"lead.why.{why}" for why in WHYS), *(f"lead.reasons.{reason}" for reason in REASONS),
        *(f"lead.labels.{label}" for label in LEAD_LABELS))


def summary_lines(library: Library, locale: str, answers: dict[str, Any],
                  for_agent: bool = False) -> list[dict[str, str]]:
    def label(question: Question) -> str:
        agent = f"lead.labels.{question.id}"
        return library.text(locale, agent if for_agent and library.has(locale, agent)
                            else f"questions.{question.id}.label")
    # the agent sees only what was answered (a lead can come before the questions are done)
    return [{"label": label(q), "value": answer_text(library, locale, q, answers.get(q.id, q.default))}
            for q in asked(library.questions, answers) if not for_agent or q.id in answers]


class Words:
    """The plan's words in one locale, for the customer (people "you") or the agent ("the customer")."""

    def __init__(self, library: Library, locale: str, answers: dict[str, Any],
                 for_agent: bool = False) -> None:
        self.library, self.locale, self.p = library, locale, library.parameters
        self.people = "lead.people" if for_agent else "people"
        h = household(answers, self.p)
        self.age = h.age
        self.general = {"social": h.social_insurance, "parents": h.parents,
                        "children": len(in_education(h, self.p))}

    def text(self, key: str, **context: Any) -> str:
        return self.library.text(self.locale, key, **context)

    def label(self, need: Need) -> str:
        """A cover with the person it covers, e.g. "Term life insurance for you"."""
        return self.text("plan.cover_for", name=self.text(f"covers.{need.kind}"),
                         person=self.text(f"{self.people}.{need.person}", age=need.age))

    def reason(self, need: Need) -> str:
        mine, parts = need.person == "self", dict(need.parts)
        made_of = [self.text(f"plan.parts.{name}", amount=amount, mine=mine, **self.general)
                   for name, amount in need.parts if name != "savings"]
        return self.text(f"reasons.{need.key}", **self.general, mine=mine, made_of=made_of,
                         less=-parts.get("savings", 0), existing=need.existing)

    def warning(self, cover: PlannedCover) -> str:
        """Premiums that, over a usual payment term, approach the sum insured are worth a word."""
        rule = self.p.premium_warning
        paid = cover.premium * rule.payment_years
        if not cover.need.premium_per_sum or paid <= rule.share_of_sum * cover.sum:
            return ""
        return self.text("plan.warning", premium=cover.premium, paid=paid, insured=cover.sum)

    def cover(self, cover: PlannedCover) -> dict[str, Any]:
        need = cover.need
        return {
            "name": self.text(f"covers.{need.kind}"), "label": self.label(need),
            "person": self.text(f"{self.people}.{need.person}", age=need.age),
            "sum": cover.sum, "premium": cover.premium, "need": need.gap, "limit": cover.limit,
            "reduced": cover.reduced, "capped": cover.capped, "must": need.must, "reason": self.reason(need),
            "warning": self.warning(cover), "exclusions": self.text(f"exclusions.{need.kind}"),
        }

    def limits(self, analysis: Analysis) -> dict[str, Any]:
        """Covers not offered here (age or occupation), and what is still open to the customer."""
        refused = [n for n in analysis.needs if n.declined]
        limits = self.p.cover_limits
        shown = {kind: limit.model_dump(exclude_none=True) for kind, limit in limits.items()}
        declined = [{"label": self.label(n), "refusal": n.refusal, **shown.get(n.kind, {})} for n in refused]
        mine = {n.kind for n in refused if n.person == "self"}
        still_open = [{"name": self.text(f"covers.{kind}"), **shown[kind]} for kind, limit in limits.items()
                      if kind not in mine and limit.min_age <= self.age <= limit.max_age]
        return {"declined": declined, "still_open": still_open if declined else []}

    def worry(self, analysis: Analysis) -> str:
        if not analysis.worry:
            return ""
        kinds = self.p.worry_covers[analysis.worry]
        out = [self.label(n) for n in analysis.needs if n.declined and n.kind in kinds and n.person == "self"]
        return self.text(f"plan.worry.{analysis.worry}", redirected=analysis.worry_redirected,
                         out_of_reach=out, **self.general)


def plan_context(library: Library, locale: str, analysis: Analysis, variant: str,
                 answers: dict[str, Any], for_agent: bool = False) -> dict[str, Any]:
    words = Words(library, locale, answers, for_agent)
    plan, plans = analysis.plans[variant], analysis.plans
    return {
        "variant": library.text(locale, f"variants.{variant}"),
        "covers": [words.cover(cover) for cover in plan.covers],
        "total": plan.total, "per_day": plan.per_day, "budget": plan.budget,
        "budget_basis": analysis.budget_basis, "shortfall": plan.shortfall, "must_cost": plan.must_cost,
        "must_haves": [words.label(need) for need in plan.must_haves],
        "left_out": [words.label(need) for need in plan.left_out],
        "other_variants": [{"name": library.text(locale, f"variants.{v}"), "total": plans[v].total}
                           for v in VARIANTS if plans[v].total > 0 and plans[v].covers != plan.covers],
        "essential_total": plans["essential"].total,
        "health_review": bool(answers.get("health")),
        "worry_note": words.worry(analysis), **words.limits(analysis),
    }


def lead_context(library: Library, analysis: Analysis, variant: str, answers: dict[str, Any],
                 verdict: Qualification, why: str) -> dict[str, Any]:
    """The lead as the agent reads it: in the agent's language, about "the customer", headed by the
    verdict and why it was sent."""
    locale = library.agent_locale
    context = plan_context(library, locale, analysis, variant, answers, for_agent=True)
    out_of_age = [d["label"] for d in context["declined"] if d["refusal"] == "age"]
    return {**context, "qualified": verdict.qualified, "assessed": verdict.assessed,
            "verdict": [library.text(locale, f"lead.reasons.{reason}", age=answers.get("age"),
                                     out_of_age=out_of_age) for reason in verdict.reasons],
            "sent_because": library.text(locale, f"lead.why.{why}"),
            "lines": summary_lines(library, locale, answers, for_agent=True)}


def gap_chart(library: Library, locale: str, analysis: Analysis, answers: dict[str, Any]) -> Chart:
    """The customer's own cover: needed against already covered, per cover type (a cover not
    offered here still shows its need: the gap is real)."""
    insured = household(answers, library.parameters).social_insurance
    cap = library.parameters.needs.social_medical_cap if insured else 0
    needed = dict.fromkeys(CHART_KINDS, 0)
    covered = dict.fromkeys(CHART_KINDS, 0)
    for need in analysis.needs:
        if need.kind in needed and need.person == "self":
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
