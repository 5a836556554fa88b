"""A first, rule-based proposal from the needs answers.

Pure arithmetic over the parameters in scripts_library/parameters.yaml; the full needs
calculator replaces `build_proposal` behind the same signature.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Cover:
    kind: str
    sum: int
    premium: int


@dataclass(frozen=True)
class Proposal:
    covers: tuple[Cover, ...]
    budget: int

    @property
    def total_premium(self) -> int:
        return sum(cover.premium for cover in self.covers)

    @property
    def per_day(self) -> float:
        return round(self.total_premium / 365, 1)

    @property
    def over_budget(self) -> bool:
        return self.total_premium > self.budget

    def as_context(self) -> dict[str, Any]:
        return {
            "covers": [vars(cover) for cover in self.covers],
            "total_premium": self.total_premium,
            "per_day": self.per_day,
            "budget": self.budget,
            "over_budget": self.over_budget,
        }


def _by_age(table: dict[int, float], age: int) -> float:
    for upper in sorted(table):
        if age <= upper:
            return table[upper]
    return table[max(table)]


def _round_sum(value: float) -> int:
    return int(round(value / 10_000) * 10_000)


def recommended_sums(answers: dict[str, Any], p: dict[str, Any]) -> dict[str, int]:
    income = answers.get("annual_income") or 0
    debts = answers.get("debts") or 0
    has_dependants = (answers.get("dependants") or 0) > 0
    return {
        # Life cover only matters when someone depends on the income or debts would be left.
        "term_life": _round_sum(income * p["income_replacement_years"] + debts) if has_dependants or debts else 0,
        "critical_illness": _round_sum(max(income * p["critical_illness_income_multiple"], p["critical_illness_minimum"])),
        "medical": int(p["medical_sum"]),
        "accident": _round_sum(income * p["accident_income_multiple"]),
    }


def build_proposal(answers: dict[str, Any], parameters: dict[str, Any]) -> Proposal:
    p = parameters["proposal"]
    age = int(answers.get("age") or 40)
    sums = recommended_sums(answers, p)
    covers = []
    for kind in p["order"]:
        if sums[kind] <= 0:
            continue
        if kind == "medical":
            premium = _by_age(p["medical_premium"], age)
        else:
            premium = sums[kind] / 1000 * _by_age(p["rates_per_thousand"][kind], age)
        covers.append(Cover(kind, sums[kind], int(round(premium))))
    monthly = answers.get("monthly_budget")
    budget = monthly * 12 if monthly else (answers.get("annual_income") or 0) * p["premium_share_of_income"]
    return Proposal(tuple(covers), int(budget))
