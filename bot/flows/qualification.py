"""Is this a qualified prospect? The four marks: a need, the means to pay, a fair chance at
underwriting, and consent to be contacted. Pure rules over the answers and the analysis."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.flows.calculator import Analysis

REASONS = ("health", "age", "need", "budget", "consent")  # in the order they are told


@dataclass(frozen=True)
class Qualification:
    need: bool
    can_pay: bool
    underwriting: bool
    consent: bool
    reasons: tuple[str, ...]  # library keys under qualification.*, the first that failed first

    @property
    def qualified(self) -> bool:
        return self.need and self.can_pay and self.underwriting and self.consent


def qualify(answers: dict[str, Any], analysis: Analysis, parameters: dict[str, Any],
            consent: bool) -> Qualification:
    essential = analysis.plans["essential"]
    age = int(answers.get("age") or 0)
    limits = parameters["underwriting"]
    need = any(not cover.need.must for cover in essential.covers) or bool(essential.left_out)
    can_pay = analysis.budget > 0 and any(not cover.need.must for cover in essential.covers)
    healthy = not answers.get("health")
    of_age = limits["min_age"] <= age <= max(limits["max_age"].values())
    reasons = [key for key, ok in (("health", healthy), ("age", of_age), ("need", need), ("budget", can_pay),
                                   ("consent", consent)) if not ok]
    return Qualification(need, can_pay, healthy and of_age, consent, tuple(reasons))
