"""The needs calculator: cases worked out by hand, and properties that must hold for any answers."""
from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.flows.calculator import ADULT_PROTECTION, TIERS, VARIANTS, Plan, analyse, needs_of, out_of_range
from tests.conftest import frozen_library

P = frozen_library().parameters


def covers(plan: Plan) -> dict[str, tuple[int, int]]:
    return {f"{c.need.key}@{c.need.age}" if c.need.age is not None else c.need.key: (c.sum, c.premium)
            for c in plan.covers}


def test_single_office_worker_without_debts() -> None:
    answers = {"age": 30, "occupation": "office", "family": "single", "annual_income": 200_000, "debts": 0,
               "savings": 0, "existing_cover": "social_only", "car": False}
    result = analyse(answers, P)
    # Nobody depends on the income and there are no debts: no life cover.
    # Critical illness: max(200 000 x 3 years, 300 000 floor) = 600 000; age 30 rate 9.0 per 1 000 -> 5 400.
    # Medical: the 2 000 000 plan, age 30 -> 300.
    # Accident: max(200 000 x 5, 500 000) = 1 000 000 x 0.5 -> 500.
    # Budget: no monthly budget, so 10 % of 200 000 = 20 000.
    assert result.budget == 20_000
    assert covers(result.plans["essential"]) == {"breadwinner.critical_illness": (600_000, 5_400),
                                                 "breadwinner.medical": (2_000_000, 300)}
    assert covers(result.plans["standard"])["breadwinner.accident"] == (1_000_000, 500)
    assert result.plans["standard"].total == 6_200


def test_family_with_mortgage_children_and_a_car() -> None:
    answers = {"age": 35, "occupation": "office", "family": "married_children", "children_ages": [3, 7],
               "parents": 0, "annual_income": 300_000, "spouse_income": 100_000, "debts": 800_000,
               "savings": 100_000, "existing_cover": "social_only", "car": True, "car_value": 200_000,
               "monthly_budget": 3_000}
    result = analyse(answers, P)
    plan = covers(result.plans["comprehensive"])
    # Life (DIME): debts 800 000 + 10 years x 300 000 + 2 children x 300 000 education - savings 100 000
    #   = 4 300 000; age 35 rate 1.4 per 1 000 -> 6 020.
    assert plan["breadwinner.term_life"] == (4_300_000, 6_020)
    # Critical illness: 3 x 300 000 = 900 000 x 14.0 / 1 000 = 12 600.
    assert plan["breadwinner.critical_illness"] == (900_000, 12_600)
    # Partner (income 100 000): life 5 years x 100 000 = 500 000 x 1.4 = 700; CI floor 300 000 x 14 = 4 200.
    assert plan["partner.term_life"] == (500_000, 700)
    assert plan["partner.critical_illness"] == (300_000, 4_200)
    # Children under 10: accident capped by law at 200 000 x 0.6 = 120; CI 300 000 x 4.0 = 1 200; medical 250.
    assert plan["child.accident@3"] == (200_000, 120) and plan["child.critical_illness@7"] == (300_000, 1_200)
    # Car: compulsory 950 (must), third party 1 300, own damage 600 + 1.2 % x 200 000 = 3 000.
    assert plan["car.compulsory"] == (200_000, 950) and plan["car.own_damage"] == (200_000, 3_000)
    # Budget 3 000 x 12 = 36 000. Essential = 950 + 6 020 + 12 600 + 450 + 450 + 250 + 250 = 20 970;
    # standard adds 750 + 4 200 + 700 + 250 + 1 200 + 1 200 + 1 300 = 9 600; comprehensive 120 + 120 + 3 000.
    assert result.budget == 36_000
    assert [result.plans[v].total for v in VARIANTS] == [20_970, 30_570, 33_810]
    assert list(plan)[0] == "car.compulsory"  # must-insure first
    assert list(plan)[1:3] == ["breadwinner.term_life", "breadwinner.critical_illness"]  # breadwinner next


def test_a_tight_budget_shrinks_then_leaves_out_and_says_so() -> None:
    answers = {"age": 30, "occupation": "office", "family": "single", "annual_income": 200_000,
               "existing_cover": "social_only", "car": False, "monthly_budget": 300}
    plan = analyse(answers, P).plans["essential"]
    # Budget 3 600. CI needs 600 000 (5 400): it gets what 3 600 buys at 9.0 per 1 000 = 400 000, which is
    # at least half the need. Nothing is left for the 300 medical plan: left out, and the plan says so.
    assert covers(plan) == {"breadwinner.critical_illness": (400_000, 3_600)}
    assert [n.key for n in plan.left_out] == ["breadwinner.medical"]
    assert plan.shortfall and plan.covers[0].reduced


def test_existing_cover_and_the_partner_as_breadwinner() -> None:
    answers = {"age": 40, "occupation": "office", "family": "married", "annual_income": 50_000,
               "spouse_income": 400_000, "debts": 0, "existing_cover": "social_and_policies",
               "existing_life": 100_000, "existing_critical_illness": 200_000, "car": False}
    needs = {n.key: n for n in needs_of(answers, P)[0]}
    # The partner earns more, so the partner is the breadwinner: life 10 x 400 000 = 4 000 000.
    life = needs["breadwinner.term_life"]
    assert life.person == "partner" and life.gap == 4_000_000
    # The customer's own CI need is the 300 000 floor; the 200 000 they have leaves a gap of 100 000.
    critical_illness = needs["partner.critical_illness"]
    assert critical_illness.person == "self" and critical_illness.gap == 100_000


def test_declined_covers_are_not_offered() -> None:
    answers = {"age": 58, "occupation": "high_risk", "family": "single", "annual_income": 100_000,
               "car": False}
    needs = {n.key: n for n in needs_of(answers, P)[0]}
    assert needs["breadwinner.accident"].declined  # occupation class 6
    assert needs["breadwinner.critical_illness"].declined  # over 55
    plan_keys = {c.need.key for c in analyse(answers, P).plans["comprehensive"].covers}
    assert plan_keys == {"breadwinner.medical"}


FAMILY = {"age": 35, "occupation": "office", "family": "married_children", "children_ages": [3, 7],
          "parents": 0, "annual_income": 300_000, "spouse_income": 100_000, "debts": 800_000,
          "savings": 100_000, "existing_cover": "social_only", "car": False}


def test_parents_supported_raise_the_customers_own_life_cover() -> None:
    # Each parent: 10 years x 24 000 a year = 240 000 more life cover, told as a part of the sum.
    for parents in (0, 1, 4):
        life = {n.key: n for n in needs_of({**FAMILY, "parents": parents}, P)[0]}["breadwinner.term_life"]
        assert life.recommended == 4_300_000 + parents * 240_000
        assert dict(life.parts).get("parents", 0) == parents * 240_000
    # When the partner is the breadwinner, the parents still depend on the customer: their own life cover.
    answers = {**FAMILY, "family": "married", "children_ages": [], "spouse_income": 900_000, "parents": 2}
    needs = {n.key: n for n in needs_of(answers, P)[0]}
    assert needs["partner.term_life"].person == "self" and needs["partner.term_life"].recommended == 480_000


def test_the_main_worry_changes_the_essential_plan() -> None:
    def essential(worry: str | None) -> list[str]:
        return [c.need.key for c in analyse({**FAMILY, "worry": worry}, P).plans["essential"].covers]
    plain = essential(None)
    assert "breadwinner.accident" not in plain and "partner.critical_illness" not in plain
    # Accidents: accident cover for everyone joins the essential plan, right after the high-loss covers.
    assert essential("accident")[2:4] == ["breadwinner.accident", "partner.accident"]
    # Illness: critical illness for the partner and the children joins too; income: the partner's life cover.
    assert {"partner.critical_illness", "child.critical_illness"} <= set(essential("illness"))
    assert "partner.term_life" in essential("income") and "partner.term_life" not in plain
    # Retirement has no cover of its own (savings products are not protection): the plan is the same.
    assert essential("retirement") == plain


def test_childrens_education_without_children_is_read_as_income() -> None:
    result = analyse({**FAMILY, "family": "married", "children_ages": [], "worry": "education"}, P)
    assert (result.worry, result.worry_redirected) == ("income", True)
    assert analyse({**FAMILY, "worry": "education"}, P).worry == "education"


def test_a_floor_is_told_as_the_minimum_not_as_an_income_multiple() -> None:
    needs = {n.key: n for n in needs_of({**FAMILY, "annual_income": 60_000, "spouse_income": 20_000}, P)[0]}
    # 5 x 60 000 = 300 000 is under the 500 000 floor; 3 x 60 000 = 180 000 under the 300 000 floor.
    assert needs["breadwinner.accident"].parts == (("minimum", 500_000),)
    assert needs["breadwinner.critical_illness"].parts == (("minimum", 300_000),)
    rich = {n.key: n for n in needs_of(FAMILY, P)[0]}
    assert rich["breadwinner.critical_illness"].parts == (("ci_years", 900_000),)


def test_zero_skipped_and_stated_budgets_are_different() -> None:
    zero, skipped, stated = (analyse({**FAMILY, "monthly_budget": b}, P) for b in (0, None, 2_000))
    assert (zero.budget, zero.budget_basis) == (0, "zero") and zero.plans["standard"].total == 0
    assert (skipped.budget, skipped.budget_basis) == (40_000, "suggested")  # 10 % of 400 000
    assert (stated.budget, stated.budget_basis) == (24_000, "stated")


def test_a_tight_budget_buys_the_breadwinners_life_and_illness_cover_first() -> None:
    plan = analyse({**FAMILY, "monthly_budget": 200}, P).plans["standard"]
    # 2 400 a year against 6 020 + 12 600 at full sums: both cut by the same share (12.9 %: 550 000 and
    # 110 000, rounded down), what rounding left tops up the life cover; nothing goes to smaller covers.
    assert covers(plan) == {"breadwinner.term_life": (610_000, 854),
                            "breadwinner.critical_illness": (110_000, 1_540)}
    assert plan.shortfall and plan.must_cost == 20_020
    # 50 a month: illness cover would fall under the smallest sum sold, so life cover takes it all.
    assert covers(analyse({**FAMILY, "monthly_budget": 50}, P).plans["standard"]) == {
        "breadwinner.term_life": (420_000, 588)}
    # 10 a month buys nothing worth having: no plan at all, rather than a plan of nothing.
    nothing = analyse({**FAMILY, "monthly_budget": 10}, P).plans["standard"]
    assert nothing.covers == () and nothing.total == 0 and nothing.must_cost == 20_020


def test_covers_outside_their_entry_ages_are_refused_and_said_so() -> None:
    needs = {n.key: n for n in needs_of({**FAMILY, "age": 58}, P)[0]}
    assert needs["breadwinner.critical_illness"].refusal == "age"  # entry ages 0-55
    assert needs["breadwinner.term_life"].refusal == ""  # up to 60
    old = analyse({**FAMILY, "family": "married", "children_ages": [], "age": 70}, P)
    assert all(n.refusal == "age" for n in old.needs)
    assert all(plan.total == 0 for plan in old.plans.values())


def test_a_need_above_the_largest_sum_sold_here_is_capped() -> None:
    plan = analyse({**FAMILY, "annual_income": 1_000_000}, P).plans["standard"]
    illness = next(c for c in plan.covers if c.need.key == "breadwinner.critical_illness")
    assert (illness.need.gap, illness.sum) == (3_000_000, 1_000_000)
    assert illness.capped and not illness.reduced


# -- properties ------------------------------------------------------------------------------
def households() -> st.SearchStrategy[dict[str, Any]]:
    family = st.sampled_from(["single", "married", "married_children", "single_parent"])
    return st.fixed_dictionaries({
        "age": st.integers(18, 70),
        "occupation": st.sampled_from(list(P.occupation_class)),
        "family": family,
        "children_ages": st.lists(st.integers(0, 25), max_size=4),
        "parents": st.integers(0, 4),
        "annual_income": st.integers(0, 3_000_000),
        "spouse_income": st.integers(0, 3_000_000),
        "debts": st.integers(0, 5_000_000),
        "savings": st.integers(0, 5_000_000),
        "existing_cover": st.sampled_from(["social_only", "social_and_policies", "policies_only", "none"]),
        "existing_life": st.integers(0, 3_000_000),
        "existing_critical_illness": st.integers(0, 1_000_000),
        "car": st.booleans(),
        "car_value": st.integers(10_000, 2_000_000),
        "monthly_budget": st.one_of(st.none(), st.integers(0, 20_000)),
    })


def life_cover(answers: dict[str, Any]) -> int:
    return sum(n.gap for n in needs_of(answers, P)[0] if n.key == "breadwinner.term_life")


@settings(max_examples=300, deadline=None)
@given(households(), st.integers(0, 17), st.booleans())
def test_more_dependants_never_lowers_life_cover(answers: dict[str, Any], child_age: int,
                                                 add_child: bool) -> None:
    answers = {**answers, "family": "married_children"}
    more = dict(answers)
    if add_child:
        more["children_ages"] = answers["children_ages"] + [child_age]
    else:
        more["parents"] = answers["parents"] + 1
    assert life_cover(more) >= life_cover(answers)


@settings(max_examples=300, deadline=None)
@given(households())
def test_a_plan_never_exceeds_its_budget(answers: dict[str, Any]) -> None:
    result = analyse(answers, P)
    for plan in result.plans.values():
        required = sum(c.premium for c in plan.covers if c.need.must)  # the law's cover is never dropped
        assert plan.total - required <= max(0, plan.budget - required)


@settings(max_examples=300, deadline=None)
@given(households())
def test_must_insure_is_always_listed_first(answers: dict[str, Any]) -> None:
    for plan in analyse(answers, P).plans.values():
        musts = [c.need.must for c in plan.covers]
        assert musts == sorted(musts, reverse=True)
        if answers["car"]:
            assert plan.covers[0].need.key == "car.compulsory"


@settings(max_examples=300, deadline=None)
@given(households())
def test_a_plan_costs_something_and_every_cover_is_within_its_entry_ages(answers: dict[str, Any]) -> None:
    for plan in analyse(answers, P).plans.values():
        assert (plan.total > 0) == bool(plan.covers)  # no plan of nothing, no cover for nothing
        for cover in plan.covers:
            assert cover.sum > 0 and cover.premium > 0 and not cover.need.declined
            assert not out_of_range(cover.need.kind, cover.need.insured_age, P)


@settings(max_examples=300, deadline=None)
@given(households())
def test_the_breadwinner_is_the_higher_earner(answers: dict[str, Any]) -> None:
    needs, breadwinner = needs_of(answers, P)
    partner = answers["family"] in ("married", "married_children")
    higher = "partner" if partner and answers["spouse_income"] > answers["annual_income"] else "self"
    assert breadwinner == higher
    assert all(n.person == breadwinner for n in needs if n.key.startswith("breadwinner."))


@settings(max_examples=300, deadline=None)
@given(households())
def test_a_sum_is_what_its_parts_say(answers: dict[str, Any]) -> None:
    step = P.needs.round_sums_to
    for need in needs_of(answers, P)[0]:
        if need.parts:
            assert need.recommended == round(max(0, sum(v for _, v in need.parts)) / step) * step


@settings(max_examples=300, deadline=None)
@given(households())
def test_high_loss_first(answers: dict[str, Any]) -> None:
    """What went to smaller covers could not have bought more of the breadwinner's high-loss cover
    (an adult's medical plan without social insurance comes before it by rule)."""
    smallest, step = P.budget.smallest, P.needs.round_sums_to
    result = analyse(answers, P)
    for variant, plan in result.plans.items():
        allowed = TIERS[: TIERS.index(variant) + 1]
        high = [n for n in result.needs if n.key in P.budget.high_loss_first and n.tier in allowed
                and n.gap >= smallest(n.kind) and not n.declined]  # a smaller gap is not sold on its own
        chosen = {c.need.key: c for c in plan.covers}
        others = sum(c.premium for c in plan.covers
                     if not (c.need.must or c.need.first) and c.need.key not in P.budget.high_loss_first)
        for need in high:
            cover = chosen.get(need.key)
            if cover is None:
                assert others <= need.premium(smallest(need.kind))
            elif cover.reduced:
                assert others <= need.premium(step)


@settings(max_examples=500, deadline=None)
@given(households())
def test_no_child_is_covered_while_an_earning_adult_is_bare(answers: dict[str, Any]) -> None:
    """Adults before children: a plan that covers a child holds every life and critical-illness
    cover its tiers give an adult (any at all: a cut sum counts)."""
    result = analyse(answers, P)
    for variant, plan in result.plans.items():
        allowed = TIERS[: TIERS.index(variant) + 1]
        covered = {c.need.key for c in plan.covers}
        if any(c.need.person == "child" for c in plan.covers):
            adults = [n.key for n in result.needs
                      if n.person in ("self", "partner") and n.tier in allowed and n.kind in ADULT_PROTECTION
                      and n.gap >= P.budget.smallest(n.kind) and not n.declined]
            assert set(adults) <= covered, (variant, adults, covered)


@settings(max_examples=300, deadline=None)
@given(households().filter(lambda a: a["existing_cover"] in ("none", "policies_only")))
def test_without_social_insurance_the_adults_medical_comes_first(answers: dict[str, Any]) -> None:
    """Social insurance first: when nothing pays hospital bills, an adult's medical plan is left out
    of a plan only when what the law's cover left of the budget cannot pay for it."""
    result = analyse(answers, P)
    for plan in result.plans.values():
        allowed = TIERS[: TIERS.index(plan.variant) + 1]
        before = sum(c.premium for c in plan.covers if c.need.must or c.need.first)
        covered = {c.need.key for c in plan.covers}
        for need in result.needs:
            if need.first and need.tier in allowed and not need.declined and need.key not in covered:
                assert need.premium(need.gap) > plan.budget - before, (plan.variant, need.key)
            if need.first and need.key in covered:
                assert need.person in ("self", "partner") and need.kind == "medical"


def test_the_partners_cover_is_priced_at_the_partners_own_age() -> None:
    """A 62-year-old's 40-year-old partner can still get critical illness cover, at a 40-year-old's
    rate; without the partner's age their cover is priced at the customer's."""
    answers = {"age": 62, "occupation": "office", "family": "married", "annual_income": 100_000,
               "spouse_income": 300_000, "existing_cover": "social_only", "car": False,
               "monthly_budget": None}
    unknown = {n.key: n for n in needs_of(answers, P)[0]}
    known = {n.key: n for n in needs_of({**answers, "partner_age": 40}, P)[0]}
    partner_ci = "breadwinner.critical_illness"  # the partner earns more: the breadwinner
    assert unknown[partner_ci].declined and unknown[partner_ci].insured_age == 62
    assert not known[partner_ci].declined and known[partner_ci].insured_age == 40
    assert known["partner.medical"].insured_age == 62 and known["breadwinner.medical"].insured_age == 40
