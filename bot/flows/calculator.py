"""The needs calculator: what cover a household needs, what it has, the gap, and plans that fit
the budget. Pure arithmetic over the answers and scripts_library/parameters.yaml; no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TIERS = ("must", "essential", "standard", "comprehensive")
VARIANTS = ("essential", "standard", "comprehensive")
PEOPLE = ("self", "partner", "child", "car")  # whom a cover is for


@dataclass(frozen=True)
class Need:
    """One cover for one person: recommended sum, what existing cover provides, and the gap."""

    key: str  # role.kind as in plan_order, e.g. "breadwinner.term_life" or "child.medical"
    kind: str  # term_life, critical_illness, medical, accident, compulsory, third_party, own_damage
    person: str  # self, partner, child, car
    recommended: int
    existing: int
    tier: str
    priority: int
    age: int | None = None  # a child's age, to tell children apart
    premium_per_sum: float = 0.0  # yearly premium per unit of sum (flat premiums use `flat_premium`)
    flat_premium: int = 0
    declined: bool = False  # not offered to this person (age or occupation)

    @property
    def gap(self) -> int:
        return max(0, self.recommended - self.existing)

    @property
    def must(self) -> bool:
        return self.tier == "must"

    def premium(self, insured: int) -> int:
        return self.flat_premium if self.flat_premium else int(round(insured * self.premium_per_sum))


@dataclass(frozen=True)
class PlannedCover:
    need: Need
    sum: int
    premium: int

    @property
    def reduced(self) -> bool:
        return self.sum < self.need.gap


@dataclass(frozen=True)
class Plan:
    variant: str
    covers: tuple[PlannedCover, ...]
    budget: int
    left_out: tuple[Need, ...] = ()
    shortfall: bool = False  # the budget does not reach the must-haves at their full sums

    @property
    def total(self) -> int:
        return sum(c.premium for c in self.covers)

    @property
    def per_day(self) -> float:
        return round(self.total / 365, 1)


@dataclass(frozen=True)
class Analysis:
    needs: tuple[Need, ...]
    plans: dict[str, Plan] = field(default_factory=dict)
    budget: int = 0
    breadwinner: str = "self"


def _band(table: dict[int, float], age: int) -> float:
    for upper in sorted(table):
        if age <= upper:
            return table[upper]
    return table[max(table)]


def _round(value: float, step: int) -> int:
    return int(round(value / step) * step)


def household(answers: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    """The answers the calculator uses, with defaults for what was skipped or not asked."""
    existing = answers.get("existing_cover") or "none"
    return {
        "age": int(answers.get("age") or p["defaults"]["age"]),
        "income": answers.get("annual_income") or 0,
        "partner_income": answers.get("spouse_income") or 0,
        "has_partner": answers.get("family") in ("married", "married_children"),
        "children": sorted(answers.get("children_ages") or []),
        "parents": answers.get("parents") or 0,
        "debts": answers.get("debts") or 0,
        "savings": answers.get("savings") or 0,
        "social_insurance": existing in ("social_only", "social_and_policies"),
        "existing_life": answers.get("existing_life") or 0,
        "existing_critical_illness": answers.get("existing_critical_illness") or 0,
        "occupation": answers.get("occupation") or p["defaults"]["occupation"],
        "car": bool(answers.get("car")),
        "car_value": answers.get("car_value"),
        "monthly_budget": answers.get("monthly_budget"),
    }


def _priorities(p: dict[str, Any]) -> dict[str, tuple[str, int]]:
    order: dict[str, tuple[str, int]] = {}
    for tier in TIERS:
        for key in p["plan_order"].get(tier, []):
            order[key] = (tier, len(order))
    return order


class _Needs:
    """Collects the needs of one household, each placed by its role.kind in `plan_order`."""

    def __init__(self, answers: dict[str, Any], p: dict[str, Any]) -> None:
        self.h, self.n, self.p = household(answers, p), p["needs"], p
        self.order = _priorities(p)
        self.found: list[Need] = []

    def add(self, person: str, role: str, kind: str, recommended: float, existing: float = 0,
            age: int | None = None, per_thousand: float = 0.0, flat: int = 0, declined: bool = False) -> None:
        key = f"{role}.{kind}"
        if key not in self.order or recommended <= 0:
            return
        tier, priority = self.order[key]
        self.found.append(Need(key, kind, person, int(recommended), int(existing), tier,
                               priority * 100 + (age or 0), age, per_thousand / 1000, flat, declined))

    def rounded(self, value: float) -> int:
        return _round(value, self.n["round_sums_to"])

    def adult(self, person: str, role: str, breadwinner: str) -> None:
        h, n, p = self.h, self.n, self.p
        income = h["income"] if person == "self" else h["partner_income"]
        age = h["age"]  # a partner's age is taken as the customer's
        limits, rates = p["underwriting"]["max_age"], p["rates_per_thousand"]
        if person == breadwinner:  # debts always; income and education only when someone depends on it
            in_education = [a for a in h["children"] if a < n["education_until_age"]]
            replaced = income * n["income_replacement_years"] + n["education_per_child"] * len(in_education)
            dependants = len(h["children"]) + h["parents"] + (1 if h["has_partner"] else 0)
            life = h["debts"] + (replaced if dependants else 0) - h["savings"]
        else:
            life = income * n["partner_income_replacement_years"] if h["children"] else 0
        mine = person == "self"
        self.add(person, role, "term_life", self.rounded(max(0, life)), h["existing_life"] if mine else 0,
                 per_thousand=_band(rates["term_life"], age), declined=age > limits["term_life"])
        illness = max(income * n["critical_illness_income_years"], n["critical_illness_minimum"])
        self.add(person, role, "critical_illness", self.rounded(illness),
                 h["existing_critical_illness"] if mine else 0,
                 per_thousand=_band(rates["critical_illness"], age),
                 declined=age > limits["critical_illness"])
        self.add(person, role, "medical", n["medical_sum"], flat=int(_band(p["medical_premium"], age)),
                 declined=age > limits["medical"])
        occupation_class = p["occupation_class"][h["occupation"]] if mine else 1
        factor = p["accident_class_factor"].get(occupation_class)
        self.add(person, role, "accident",
                 self.rounded(max(income * n["accident_income_multiple"], n["accident_minimum"])),
                 per_thousand=_band(rates["accident"], age) * (factor or 0),
                 declined=factor is None or age > limits["accident"])

    def child(self, age: int) -> None:
        n, rates, medical = self.n, self.p["rates_per_thousand"], self.p["medical_premium"]
        cap = next(limit for upper, limit in sorted(n["child_death_benefit_cap"].items()) if age < upper)
        self.add("child", "child", "medical", n["medical_sum"], age=age, flat=int(_band(medical, age)))
        self.add("child", "child", "critical_illness", n["child_critical_illness"], age=age,
                 per_thousand=_band(rates["critical_illness"], age))
        self.add("child", "child", "accident", min(n["child_accident"], cap), age=age,
                 per_thousand=_band(rates["accident"], age))

    def car(self) -> None:
        n, car = self.n, self.p["car_premium"]
        value = self.h["car_value"] or n["default_car_value"]
        self.add("car", "car", "compulsory", n["car_compulsory_sum"], flat=car["compulsory"])
        self.add("car", "car", "third_party", n["car_third_party_sum"], flat=car["third_party"])
        own_damage = int(car["own_damage_base"] + value * car["own_damage_share"])
        self.add("car", "car", "own_damage", value, flat=own_damage)


def needs_of(answers: dict[str, Any], p: dict[str, Any]) -> tuple[list[Need], str]:
    """Every cover the household needs, in priority order, and who the breadwinner is."""
    needs = _Needs(answers, p)
    h = needs.h
    breadwinner = "partner" if h["has_partner"] and h["partner_income"] > h["income"] else "self"
    roles = {"self": "breadwinner" if breadwinner == "self" else "partner"}
    if h["has_partner"]:
        roles["partner"] = "partner" if breadwinner == "self" else "breadwinner"
    for person, role in roles.items():
        needs.adult(person, role, breadwinner)
    for child_age in h["children"]:
        if child_age < p["needs"]["child_cover_until_age"]:
            needs.child(child_age)
    if h["car"]:
        needs.car()
    return sorted(needs.found, key=lambda need: need.priority), breadwinner


def budget_of(answers: dict[str, Any], p: dict[str, Any]) -> int:
    h = household(answers, p)
    if h["monthly_budget"]:
        return int(h["monthly_budget"] * 12)
    return int((h["income"] + h["partner_income"]) * p["budget"]["share_of_household_income"])


def fit(needs: list[Need], variant: str, budget: int, p: dict[str, Any]) -> Plan:
    """The covers of a variant in priority order, each at the largest sum the budget still allows.

    Must-insure cover is always in (the law asks for it); everything else only within budget.
    """
    allowed = TIERS[: TIERS.index(variant) + 1]
    smallest = p["budget"]["smallest_share_of_need"]
    chosen, left_out, spent = [], [], 0
    for need in needs:
        if need.tier not in allowed or need.gap <= 0 or need.declined:
            continue
        insured = need.gap
        premium = need.premium(insured)
        if not need.must and spent + premium > budget:
            if need.flat_premium or not need.premium_per_sum:
                left_out.append(need)
                continue
            step = p["needs"]["round_sums_to"]
            # what is left of the budget, rounded down
            insured = int((budget - spent) / need.premium_per_sum // step * step)
            premium = need.premium(insured)
            if insured < need.gap * smallest or insured <= 0:
                left_out.append(need)
                continue
        chosen.append(PlannedCover(need, insured, premium))
        spent += premium
    must_haves = [n for n in needs if n.tier in ("must", "essential") and n.gap > 0 and not n.declined]
    shortfall = sum(n.premium(n.gap) for n in must_haves) > budget
    return Plan(variant, tuple(chosen), budget, tuple(left_out), shortfall)


def analyse(answers: dict[str, Any], parameters: dict[str, Any]) -> Analysis:
    needs, breadwinner = needs_of(answers, parameters)
    budget = budget_of(answers, parameters)
    plans = {variant: fit(needs, variant, budget, parameters) for variant in VARIANTS}
    return Analysis(tuple(needs), plans, budget, breadwinner)
