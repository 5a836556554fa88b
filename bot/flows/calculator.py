"""The needs calculator: what cover a household needs, what it has, the gap, and plans that fit
the budget. Pure arithmetic over the answers and scripts_library/parameters.yaml; no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TIERS = ("must", "essential", "standard", "comprehensive")
VARIANTS = ("essential", "standard", "comprehensive")


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


def _round(value: float) -> int:
    return int(round(value / 10_000) * 10_000)


def household(answers: dict[str, Any]) -> dict[str, Any]:
    """The answers the calculator uses, with defaults for what was skipped or not asked."""
    existing = answers.get("existing_cover") or "none"
    return {
        "age": int(answers.get("age") or 40),
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
        "occupation": answers.get("occupation") or "office",
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


def needs_of(answers: dict[str, Any], p: dict[str, Any]) -> tuple[list[Need], str]:
    """Every cover the household needs, in priority order, and who the breadwinner is."""
    h, n = household(answers), p["needs"]
    order = _priorities(p)
    breadwinner = "partner" if h["has_partner"] and h["partner_income"] > h["income"] else "self"
    roles = {"self": "breadwinner" if breadwinner == "self" else "partner"}
    if h["has_partner"]:
        roles["partner"] = "partner" if breadwinner == "self" else "breadwinner"
    incomes = {"self": h["income"], "partner": h["partner_income"]}
    children_in_education = [a for a in h["children"] if a < n["education_until_age"]]
    dependants = len(h["children"]) + h["parents"] + (1 if h["has_partner"] else 0)
    occupation_class = p["occupation_class"][h["occupation"]]
    limits = p["underwriting"]["max_age"]
    rates, medical = p["rates_per_thousand"], p["medical_premium"]
    needs: list[Need] = []

    def add(person: str, role: str, kind: str, recommended: float, existing: float = 0, age: int | None = None,
            per_thousand: float = 0.0, flat: int = 0, declined: bool = False) -> None:
        key = f"{role}.{kind}"
        if key not in order or recommended <= 0:
            return
        tier, priority = order[key]
        needs.append(Need(key, kind, person, int(recommended), int(existing), tier,
                          priority * 100 + (age or 0), age, per_thousand / 1000, flat, declined))

    for person, role in roles.items():
        income, age = incomes[person], h["age"]  # a partner's age is taken as the customer's
        if person == breadwinner:  # debts always; income and education only when someone depends on it
            replaced = income * n["income_replacement_years"] + n["education_per_child"] * len(children_in_education)
            life = h["debts"] + (replaced if dependants else 0) - h["savings"]
        else:
            life = income * n["partner_income_replacement_years"] if h["children"] else 0
        existing_life = h["existing_life"] if person == "self" else 0
        existing_ci = h["existing_critical_illness"] if person == "self" else 0
        add(person, role, "term_life", _round(max(0, life)), existing_life, per_thousand=_band(rates["term_life"], age),
            declined=age > limits["term_life"])
        add(person, role, "critical_illness",
            _round(max(income * n["critical_illness_income_years"], n["critical_illness_minimum"])), existing_ci,
            per_thousand=_band(rates["critical_illness"], age), declined=age > limits["critical_illness"])
        add(person, role, "medical", n["medical_sum"], flat=int(_band(medical, age)), declined=age > limits["medical"])
        factor = p["accident_class_factor"].get(occupation_class if person == "self" else 1)
        add(person, role, "accident", _round(max(income * n["accident_income_multiple"], n["accident_minimum"])),
            per_thousand=_band(rates["accident"], age) * (factor or 0),
            declined=factor is None or age > limits["accident"])
    for child_age in h["children"]:
        if child_age >= 18:
            continue
        cap = next(limit for upper, limit in sorted(n["child_death_benefit_cap"].items()) if child_age < upper)
        add("child", "child", "medical", n["medical_sum"], age=child_age, flat=int(_band(medical, child_age)))
        add("child", "child", "critical_illness", n["child_critical_illness"], age=child_age,
            per_thousand=_band(rates["critical_illness"], child_age))
        add("child", "child", "accident", min(n["child_accident"], cap), age=child_age,
            per_thousand=_band(rates["accident"], child_age))
    if h["car"]:
        car, value = p["car_premium"], h["car_value"] or n["default_car_value"]
        add("car", "car", "compulsory", n["car_compulsory_sum"], flat=car["compulsory"])
        add("car", "car", "third_party", n["car_third_party_sum"], flat=car["third_party"])
        add("car", "car", "own_damage", value, flat=int(car["own_damage_base"] + value * car["own_damage_share"]))
    return sorted(needs, key=lambda need: need.priority), breadwinner


def budget_of(answers: dict[str, Any], p: dict[str, Any]) -> int:
    h = household(answers)
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
            insured = int((budget - spent) / need.premium_per_sum // 10_000 * 10_000)  # what is left, rounded down
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
