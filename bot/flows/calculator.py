"""The needs calculator: what cover a household needs, what it has, the gap, and plans that fit
the budget. Pure arithmetic over the answers and the figures of scripts_library/parameters.yaml
(bot/flows/figures.py); no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.flows.figures import Parameters, band

TIERS = ("must", "essential", "standard", "comprehensive")
VARIANTS = ("essential", "standard", "comprehensive")
PEOPLE = ("self", "partner", "child", "car")  # whom a cover is for
ADULT_PROTECTION = ("term_life", "critical_illness")  # an adult has these before a child has any cover
# How a recommended sum is made up (Need.parts), in the order a reason tells it; savings count negative.
PARTS = ("income_years", "partner_years", "ci_years", "accident_times", "minimum", "debts", "education",
         "parents", "savings")


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
    refusal: str = ""  # why it is not offered here: "age" (outside its entry ages) or "occupation"
    parts: tuple[tuple[str, int], ...] = ()  # how `recommended` was made up, e.g. (("debts", 800000),)
    insured_age: int = 0  # the age of the person covered
    first: bool = False  # bought before the high-loss covers (an adult's medical without social insurance)

    @property
    def gap(self) -> int:
        return max(0, self.recommended - self.existing)

    @property
    def must(self) -> bool:
        return self.tier == "must"

    @property
    def declined(self) -> bool:
        return bool(self.refusal)

    def premium(self, insured: int) -> int:
        return self.flat_premium if self.flat_premium else int(round(insured * self.premium_per_sum))


@dataclass(frozen=True)
class PlannedCover:
    need: Need
    sum: int
    premium: int
    limit: int  # the most this need gets here: its gap, or the cover's largest sum sold without an agent

    @property
    def reduced(self) -> bool:  # cut to fit the budget
        return self.sum < self.limit

    @property
    def capped(self) -> bool:  # the need is larger than the largest sum sold here
        return self.limit < self.need.gap


@dataclass(frozen=True)
class Plan:
    variant: str
    covers: tuple[PlannedCover, ...]
    budget: int
    left_out: tuple[Need, ...] = ()
    shortfall: bool = False  # the budget does not reach the must-haves at their full sums
    must_cost: int = 0  # what the must-haves (must and essential tiers) cost a year at full sums
    must_haves: tuple[Need, ...] = ()

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
    budget_basis: str = "stated"  # stated (a monthly budget above 0), zero (0 stated), suggested (skipped)
    worry: str | None = None  # the main worry the plan follows
    worry_redirected: bool = False  # children's education with no child in education, read as income


def _round(value: float, step: int) -> int:
    return int(round(value / step) * step)


@dataclass(frozen=True)
class Household:
    """The answers the calculator uses, with defaults for what was skipped or not asked."""

    age: int
    partner_age: int  # the customer's own age when the partner's was not given
    income: int
    partner_income: int
    has_partner: bool
    children: tuple[int, ...]
    parents: int
    debts: int
    savings: int
    social_insurance: bool
    existing_life: int
    existing_critical_illness: int
    occupation: str
    car: bool
    car_value: int | None
    monthly_budget: int | None
    worry: str | None

    @property
    def budget_basis(self) -> str:
        budget = self.monthly_budget
        return "suggested" if budget is None else "stated" if budget > 0 else "zero"


def household(answers: dict[str, Any], p: Parameters) -> Household:
    partner = answers.get("family") in ("married", "married_children")
    return Household(
        age=int(answers.get("age") or p.defaults.age),
        partner_age=int(answers.get("partner_age") or answers.get("age") or p.defaults.age),
        income=answers.get("annual_income") or 0,
        partner_income=(answers.get("spouse_income") or 0) if partner else 0,
        has_partner=partner,
        children=tuple(sorted(answers.get("children_ages") or [])),
        parents=answers.get("parents") or 0,
        debts=answers.get("debts") or 0,
        savings=answers.get("savings") or 0,
        social_insurance=answers.get("existing_cover") in ("social_only", "social_and_policies"),
        existing_life=answers.get("existing_life") or 0,
        existing_critical_illness=answers.get("existing_critical_illness") or 0,
        occupation=answers.get("occupation") or p.defaults.occupation,
        car=bool(answers.get("car")),
        car_value=answers.get("car_value"),
        monthly_budget=answers.get("monthly_budget"),
        worry=answers.get("worry"),
    )


def in_education(h: Household, p: Parameters) -> list[int]:
    return [age for age in h.children if age < p.needs.education_until_age]


def worry_of(h: Household, p: Parameters) -> tuple[str | None, bool]:
    """The worry the plan follows, and whether children's education was read as the family's income
    (no child in education: the life cover that would fund it is the cover for the income)."""
    worry = h.worry if h.worry in p.worry_covers else None
    if worry == "education" and not in_education(h, p):
        return "income", True
    return worry, False


def _priorities(p: Parameters) -> dict[str, tuple[str, int]]:
    order: dict[str, tuple[str, int]] = {}
    for tier in TIERS:
        for key in p.plan_order.get(tier, []):
            order[key] = (tier, len(order))
    return order


def out_of_range(kind: str, age: int, p: Parameters) -> bool:
    limits = p.cover_limits.get(kind)
    return limits is not None and not limits.min_age <= age <= limits.max_age


class _Needs:
    """Collects the needs of one household, each placed by its role.kind in `plan_order`: must-insure
    first, then the high-loss covers, then those of the customer's main worry, then the rest."""

    def __init__(self, answers: dict[str, Any], p: Parameters) -> None:
        self.h, self.n, self.p = household(answers, p), p.needs, p
        self.order = _priorities(p)
        worry, _ = worry_of(self.h, p)
        self.worried = set(p.worry_covers.get(worry, [])) if worry else set()
        self.found: list[Need] = []

    def add(self, person: str, role: str, kind: str, recommended: float, existing: float = 0,
            age: int | None = None, per_thousand: float = 0.0, flat: int = 0, refusal: str = "",
            parts: tuple[tuple[str, int], ...] = (), insured_age: int | None = None) -> None:
        key = f"{role}.{kind}"
        if key not in self.order or recommended <= 0:
            return
        tier, rank = self.order[key]
        worried = kind in self.worried and tier != "must"
        if worried and TIERS.index(tier) > TIERS.index("essential"):
            tier = "essential"  # the customer's main worry is in every plan
        high_loss = key in self.p.budget.high_loss_first
        first = key in self.p.budget.first_without_social_insurance and not self.h.social_insurance
        group = 0 if tier == "must" else 1 if first else 2 if high_loss else 3 if worried else 4
        insured_age = age if age is not None else insured_age if insured_age is not None else self.h.age
        if out_of_range(kind, insured_age, self.p):
            refusal = "age"
        self.found.append(Need(key, kind, person, int(recommended), int(existing), tier,
                               (group * 100 + rank) * 100 + (age or 0), age, per_thousand / 1000, flat,
                               refusal, parts, insured_age, first))

    def rounded(self, value: float) -> int:
        return _round(value, self.n.round_sums_to)

    def life_parts(self, person: str, breadwinner: str, income: int) -> tuple[tuple[str, int], ...]:
        """DIME for the breadwinner: income for those who live on it, debts, education, less savings;
        the other adult's income while there are children; the customer's own parents' support."""
        h, n = self.h, self.n
        parts: list[tuple[str, float]] = []
        if person == breadwinner:
            if h.children or h.has_partner:
                parts.append(("income_years", income * n.income_replacement_years))
            parts.append(("debts", h.debts))
            if h.children or h.has_partner:
                parts.append(("education", n.education_per_child * len(in_education(h, self.p))))
        elif h.children:
            parts.append(("partner_years", income * n.partner_income_replacement_years))
        if person == "self":
            parts.append(("parents", h.parents * n.parent_support_years * n.parent_support_per_year))
        if person == breadwinner:
            parts.append(("savings", -h.savings))
        return tuple((name, int(value)) for name, value in parts if value)

    def sized(self, name: str, amount: float, minimum: int) -> tuple[tuple[str, int], ...]:
        """A sum from income with a floor: the part says which one applies."""
        return ((name, int(amount)),) if amount >= minimum else (("minimum", minimum),)

    def adult(self, person: str, role: str, breadwinner: str) -> None:
        h, n, p = self.h, self.n, self.p
        income = h.income if person == "self" else h.partner_income
        rates, mine = p.rates_per_thousand, person == "self"
        age = h.age if mine else h.partner_age
        life = self.life_parts(person, breadwinner, income)
        self.add(person, role, "term_life", self.rounded(max(0, sum(v for _, v in life))),
                 h.existing_life if mine else 0, per_thousand=band(rates.term_life, age), parts=life,
                 insured_age=age)
        illness = self.sized("ci_years", income * n.critical_illness_income_years, n.critical_illness_minimum)
        self.add(person, role, "critical_illness", self.rounded(illness[0][1]),
                 h.existing_critical_illness if mine else 0,
                 per_thousand=band(rates.critical_illness, age), parts=illness, insured_age=age)
        self.add(person, role, "medical", n.medical_sum, flat=int(band(p.medical_premium, age)),
                 insured_age=age)
        occupation_class = p.occupation_class[h.occupation] if mine else 1
        factor = p.accident_class_factor.get(occupation_class)
        accident = self.sized("accident_times", income * n.accident_income_multiple, n.accident_minimum)
        self.add(person, role, "accident", self.rounded(accident[0][1]),
                 per_thousand=band(rates.accident, age) * (factor or 0),
                 refusal="" if factor else "occupation", parts=accident, insured_age=age)

    def child(self, age: int) -> None:
        n, rates, medical = self.n, self.p.rates_per_thousand, self.p.medical_premium
        cap = next(limit for upper, limit in sorted(n.child_death_benefit_cap.items()) if age < upper)
        self.add("child", "child", "medical", n.medical_sum, age=age, flat=int(band(medical, age)))
        self.add("child", "child", "critical_illness", n.child_critical_illness, age=age,
                 per_thousand=band(rates.critical_illness, age))
        self.add("child", "child", "accident", min(n.child_accident, cap), age=age,
                 per_thousand=band(rates.accident, age))

    def car(self) -> None:
        n, car = self.n, self.p.car_premium
        value = self.h.car_value or n.default_car_value
        self.add("car", "car", "compulsory", n.car_compulsory_sum, flat=car.compulsory)
        self.add("car", "car", "third_party", n.car_third_party_sum, flat=car.third_party)
        own_damage = int(car.own_damage_base + value * car.own_damage_share)
        self.add("car", "car", "own_damage", value, flat=own_damage)


def needs_of(answers: dict[str, Any], p: Parameters) -> tuple[list[Need], str]:
    """Every cover the household needs, in priority order, and who the breadwinner is (the higher earner)."""
    needs = _Needs(answers, p)
    h = needs.h
    breadwinner = "partner" if h.has_partner and h.partner_income > h.income else "self"
    roles = {"self": "breadwinner" if breadwinner == "self" else "partner"}
    if h.has_partner:
        roles["partner"] = "partner" if breadwinner == "self" else "breadwinner"
    for person, role in roles.items():
        needs.adult(person, role, breadwinner)
    for child_age in h.children:
        if child_age < p.needs.child_cover_until_age:
            needs.child(child_age)
    if h.car:
        needs.car()
    return sorted(needs.found, key=lambda need: need.priority), breadwinner


def budget_of(answers: dict[str, Any], p: Parameters) -> tuple[int, str]:
    """The yearly budget and where it comes from: stated, zero (0 stated) or suggested (skipped)."""
    h = household(answers, p)
    if h.monthly_budget is not None:
        return int(h.monthly_budget * 12), h.budget_basis
    return int((h.income + h.partner_income) * p.budget.share_of_household_income), "suggested"


def _limit(need: Need, p: Parameters) -> int:
    limits = p.cover_limits.get(need.kind)
    largest = limits.max_sum if limits else None
    return min(need.gap, largest) if largest else need.gap


def _worth_buying(need: Need, p: Parameters) -> bool:
    """Offered, and a gap no smaller than the smallest sum sold (a few hundred short is no cover to buy)."""
    worth = need.gap >= p.budget.smallest(need.kind)
    return worth and not need.declined and need.premium(_limit(need, p)) > 0


def _cover(need: Need, insured: int, limit: int) -> PlannedCover:
    return PlannedCover(need, insured, need.premium(insured), limit)


def _affordable(need: Need, money: float, p: Parameters) -> int:
    """The largest sum `money` a year buys, rounded down to the step (0 for a flat-priced cover)."""
    step = p.needs.round_sums_to
    return int(money / need.premium_per_sum // step * step) if need.premium_per_sum and money > 0 else 0


def _share(group: list[Need], money: int, p: Parameters) -> list[PlannedCover]:
    """High-loss first: the group at full sums when the money reaches; else each cut by the same
    share, and one that would fall below the smallest sum sold is dropped for the others."""
    while group:
        limits = [_limit(n, p) for n in group]
        full = sum(n.premium(limit) for n, limit in zip(group, limits, strict=True))
        if full <= money:
            return [_cover(n, limit, limit) for n, limit in zip(group, limits, strict=True)]
        covers = [_cover(n, min(limit, _affordable(n, money * n.premium(limit) // full, p)), limit)
                  for n, limit in zip(group, limits, strict=True)]
        spare = money - sum(c.premium for c in covers)
        for i, cover in enumerate(covers):  # what rounding down left over tops up the first that can use it
            more = min(cover.limit, _affordable(cover.need, cover.premium + spare, p))
            covers[i] = _cover(cover.need, more, cover.limit)
            spare -= covers[i].premium - cover.premium
        too_small = [c for c in covers if c.sum < p.budget.smallest(c.need.kind)]
        if not too_small:
            return covers
        group = [n for n in group if n is not too_small[-1].need]
    return []


def _within(need: Need, money: int, p: Parameters) -> PlannedCover | None:
    """The cover at its full sum if the money reaches, else at the largest sum it buys if that is
    still worth having (a share of the need and the smallest sum sold); else None."""
    limit = _limit(need, p)
    if need.premium(limit) <= money:
        return _cover(need, limit, limit)
    insured = min(limit, _affordable(need, money, p))
    enough = max(limit * p.budget.smallest_share_of_need, p.budget.smallest(need.kind))
    return _cover(need, insured, limit) if insured >= enough else None


def _children_after_adults(needs: list[Need]) -> list[Need]:
    """Priority order, but a child's cover waits until every adult's life and critical-illness
    cover has had its turn."""
    last = max((i for i, n in enumerate(needs) if n.person != "child" and n.kind in ADULT_PROTECTION),
               default=-1)
    head, tail = needs[: last + 1], needs[last + 1:]
    return [n for n in head if n.person != "child"] + [n for n in head if n.person == "child"] + tail


def fit(needs: list[Need], variant: str, budget: int, p: Parameters) -> Plan:
    """The covers of a variant, each at the largest sum the budget still allows: must-insure cover
    always (the law asks for it), then an adult's medical plan where no social insurance pays
    hospital bills, then the high-loss group, then the rest in priority order, adults before
    children: a child is covered only once every adult's life and critical-illness cover of this
    variant is."""
    allowed = TIERS[: TIERS.index(variant) + 1]
    wanted = [n for n in needs if n.tier in allowed and _worth_buying(n, p)]
    chosen = [_cover(n, n.gap, n.gap) for n in wanted if n.must]
    left_out: list[Need] = []
    for need in (n for n in wanted if n.first):
        cover = _within(need, budget - sum(c.premium for c in chosen), p)
        if cover is None:
            left_out.append(need)
        else:
            chosen.append(cover)
    high_loss = [n for n in wanted if n.key in p.budget.high_loss_first]
    chosen += _share(high_loss, budget - sum(c.premium for c in chosen), p)
    taken = {c.need.key for c in chosen}
    left_out += [n for n in high_loss if n.key not in taken]
    left = budget - sum(c.premium for c in chosen)
    rest = [n for n in wanted if not (n.must or n.first or n.key in p.budget.high_loss_first)]
    for need in _children_after_adults(rest):
        bare_adult = any(n.kind in ADULT_PROTECTION and n.person != "child" for n in left_out)
        cover = None if need.person == "child" and bare_adult else _within(need, left, p)
        if cover is None:
            left_out.append(need)
        else:
            chosen.append(cover)
            left -= cover.premium
    must_haves = tuple(n for n in needs if n.tier in ("must", "essential") and _worth_buying(n, p))
    must_cost = sum(n.premium(_limit(n, p)) for n in must_haves)
    return Plan(variant, tuple(sorted(chosen, key=lambda c: c.need.priority)), budget,
                tuple(sorted(left_out, key=lambda n: n.priority)), must_cost > budget, must_cost, must_haves)


def analyse(answers: dict[str, Any], parameters: Parameters) -> Analysis:
    needs, breadwinner = needs_of(answers, parameters)
    budget, basis = budget_of(answers, parameters)
    worry, redirected = worry_of(household(answers, parameters), parameters)
    plans = {variant: fit(needs, variant, budget, parameters) for variant in VARIANTS}
    return Analysis(tuple(needs), plans, budget, breadwinner, basis, worry, redirected)
