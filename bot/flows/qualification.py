"""Is this a qualified prospect? The four marks: a need, the means to pay, a fair chance at
underwriting, and consent to be contacted. Pure rules over the answers and the analysis."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.flows.calculator import Analysis

# Library keys under qualification.* (told to the customer) and lead.reasons.* (told to the agent),
# in the order they are told. "unfinished": the questions are not all answered, so the need and the
# means to pay are not assessed yet.
REASONS = ("health", "age", "need", "budget", "unfinished", "consent")
TOLD = ("health", "age", "need", "budget")  # the reasons the customer hears when the lead is sent
# Why a lead goes to the agent (lead.why.*): the customer asked for an agent, could not answer a
# question, declared a health condition (non-standard underwriting), is outside the entry ages,
# applied, or asked to be contacted about the plan.
WHYS = ("asked", "stuck", "health", "age", "applied", "contact")


@dataclass(frozen=True)
class Qualification:
    need: bool
    can_pay: bool
    underwriting: bool
    consent: bool
    reasons: tuple[str, ...]  # keys of REASONS, the first that failed first
    assessed: bool = True  # every required question answered, so need and means were judged

    @property
    def qualified(self) -> bool:
        return self.need and self.can_pay and self.underwriting and self.consent


def qualify(answers: dict[str, Any], analysis: Analysis, consent: bool,
            assessed: bool = True) -> Qualification:
    """A need: some cover is missing (offered here or not). Can pay: a budget that buys a plan of
    more than the law's cover (or nothing is offered here to buy). Underwriting: no declared
    condition, and none of the customer's own covers outside its entry ages."""
    wanted = [n for n in analysis.needs if not n.must and n.gap > 0]
    essential = analysis.plans["essential"]
    buys = any(not c.need.must for c in essential.covers) or not any(not n.declined for n in wanted)
    need = assessed and bool(wanted)
    can_pay = assessed and analysis.budget > 0 and buys
    healthy = not answers.get("health")
    too_old = any(n.refusal == "age" and n.person == "self" for n in analysis.needs)
    of_age = "age" not in answers or not too_old
    marks = [("health", healthy), ("age", of_age)]
    marks += [("need", need), ("budget", can_pay)] if assessed else [("unfinished", False)]
    reasons = [key for key, ok in (*marks, ("consent", consent)) if not ok]
    return Qualification(need, can_pay, healthy and of_age, consent, tuple(reasons), assessed)
