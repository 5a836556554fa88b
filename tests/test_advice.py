"""The advice as the customer and the agent get it: no plan of nothing, reasons about the right
person with the true figures, notes on what is out of range, and the lead to the agent."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.flows import advice
from bot.flows.calculator import VARIANTS, analyse
from bot.flows.messages import Mark, Reply
from bot.flows.presenting import WORRIES, gap_chart, lead_context, plan_context
from bot.flows.qualification import WHYS, qualify
from bot.flows.sale import Sale
from bot.library import LOCALES, Library
from tests.helpers import sale_at
from tests.test_calculator import households
from tests.conftest import frozen_library

FAMILY = {"age": 35, "occupation": "office", "health": False, "family": "married_children",
          "children_ages": [3, 7], "parents": 0, "annual_income": 300_000, "spouse_income": 100_000,
          "debts": 800_000, "savings": 100_000, "existing_cover": "social_only", "car": False,
          "monthly_budget": None, "worry": None}
COUPLE: dict[str, Any] = {"family": "married", "children_ages": None}


def proposal(library: Library, locale: str = "en", **answers: Any) -> Sale:
    return sale_at(library, "proposal", {**FAMILY, **answers}, locale, consent=True)


def text_of(sale: Sale, to_agent: bool = False) -> str:
    return "\n".join(r.text for r in sale.talk.trail if isinstance(r, Reply) and r.to_agent == to_agent)


def plan_text(sale: Sale) -> str:
    sale.talk.trail = []
    advice.show_plan(sale, sale.progress.variant)
    return text_of(sale)


# -- no plan of nothing ------------------------------------------------------------------------
@pytest.mark.parametrize("answers", [{"age": 70}, {"monthly_budget": 10}, {"monthly_budget": 0}])
def test_nothing_to_propose_is_said_plainly_and_nothing_can_be_accepted(library: Library,
                                                                        answers: dict[str, Any]) -> None:
    sale = proposal(library, **COUPLE, **answers)
    assert not advice.has_plan(sale)
    text = plan_text(sale)
    assert "There is no plan we can honestly propose" in text and "CNY 0 a year" not in text
    options = sale.stage.options(sale)
    assert "proceed" not in options and "expensive" not in options and "contact" in options


def test_what_the_must_haves_cost_is_shown_next_to_a_budget_that_does_not_reach(library: Library) -> None:
    text = plan_text(proposal(library, monthly_budget=50))
    assert "The most important cover — Term life insurance for you, Critical illness insurance" in text
    assert "would cost about CNY 20,020 a year at the full sums" in text
    assert "against your budget of CNY 600 a year" in text


def test_a_zero_a_skipped_and_a_stated_budget_are_said_differently(library: Library) -> None:
    assert "no room for insurance in your budget" in plan_text(proposal(library, monthly_budget=0))
    assert "a suggested budget of CNY 40,000 a year" in plan_text(proposal(library))
    assert "within your budget of CNY 36,000 a year" in plan_text(proposal(library, monthly_budget=3_000))


def test_closing_without_a_plan_offers_no_application(library: Library) -> None:
    sale = sale_at(library, "closing", {**FAMILY, **COUPLE, "age": 70}, "en")
    assert "accept" not in sale.stage.options(sale)
    sale.stage.enter(sale, None)
    assert not sale.progress.disclosed and "Cooling-off" not in text_of(sale)


# -- reasons and notes ---------------------------------------------------------------------------
def test_each_reason_names_the_person_it_is_about(library: Library) -> None:
    text = plan_text(proposal(library, family="married", children_ages=None, annual_income=100_000,
                              spouse_income=400_000, debts=0, savings=0))
    assert "Term life insurance — for your partner" in text
    assert "If your partner died, the family would need 10 years of their income (CNY 4,000,000)" in text
    assert "Million medical plan — for you\nCover CNY 2,000,000, about CNY 450 a year\nWhy: Pays your" in text
    assert "If you died" not in text and "your partner's large hospital bills" in text


def test_a_floor_is_explained_as_the_minimum_we_recommend(library: Library) -> None:
    text = plan_text(proposal(library, annual_income=60_000, spouse_income=20_000))
    assert "the sum is the minimum we recommend (CNY 500,000)" in text  # accident: 5 x 60 000 is 300 000
    assert "the sum is the minimum we recommend (CNY 300,000)" in text  # critical illness
    assert "5 times" not in text.split("Accident insurance — for you")[1].split("Main exclusions")[0]


def test_parents_supported_show_in_the_life_cover_and_its_reason(library: Library) -> None:
    text = plan_text(proposal(library, parents=2))
    assert "CNY 4,780,000" in text and "support for 2 parents for 10 years (CNY 480,000)" in text
    assert "support for" not in plan_text(proposal(library, parents=0))


def test_covers_out_of_their_entry_ages_are_named_with_what_is_still_open(library: Library) -> None:
    text = plan_text(proposal(library, age=58, worry="illness"))
    assert "Critical illness insurance for you: not offered here at your age" in text
    assert "Critical illness insurance for you (entry ages 0 to 55)" in text
    assert "Still open at your age: Term life insurance (up to age 60)" in text


def test_premiums_approaching_the_sum_insured_are_flagged(library: Library) -> None:
    # Age 53: critical illness 900 000 at 45 per 1 000 = 40 500 a year; x 20 years = 810 000 > 80 %.
    text = plan_text(proposal(library, age=53, family="single", children_ages=None, monthly_budget=5_000))
    assert "about CNY 40,500 a year for 20 years (a usual payment term) comes to CNY 810,000" in text
    assert "the premiums add up" not in plan_text(proposal(library, age=35))


@pytest.mark.parametrize("worry", WORRIES)
def test_every_main_worry_is_explained(library: Library, worry: str) -> None:
    assert library.text("en", f"plan.worry.{worry}", redirected=False, out_of_reach=[], children=2,
                        parents=0, social=True).startswith("You")
    assert set(WORRIES) == set(library.parameters.worry_covers) == set(library.question("worry").choices)


def test_education_without_children_is_told_as_income(library: Library) -> None:
    text = plan_text(proposal(library, family="married", children_ages=None, worry="education"))
    assert "there is no child in education in your answers, so we read it as your family's income" in text


# -- the lead ----------------------------------------------------------------------------------
def lead_of(sale: Sale) -> tuple[str, list[str]]:
    marks = [m.detail for m in sale.talk.trail if isinstance(m, Mark) and m.kind == "lead"]
    return text_of(sale, to_agent=True), marks


def test_a_qualified_lead_is_written_for_the_agent_in_the_agents_language(library: Library) -> None:
    sale = proposal(library)
    advice.refer_to_agent(sale, "contact")
    lead, marks = lead_of(sale)
    assert lead.startswith("新的合格潜在客户") and "结论：合格" in lead
    assert "发送原因：客户看过方案后请求顾问联系" in lead
    assert "定期寿险（客户本人）" in lead and "您" not in lead
    assert marks == ["contact: qualified"] and sale.progress.contacted
    assert "Li Ming will contact you in this chat within one working day" in text_of(sale)


def test_an_english_speaking_agent_reads_it_in_english() -> None:
    library = frozen_library()
    library.agent_locale = "en"
    sale = proposal(library, locale="zh_CN")
    advice.refer_to_agent(sale, "asked")
    lead, _ = lead_of(sale)
    assert "New qualified lead" in lead and "Term life insurance for the customer" in lead
    assert "Customer's income: CNY 300,000" in lead and "The customer asked to talk to an agent." in lead


@pytest.mark.parametrize("answers,why,reason", [
    ({"health": True}, "health", "申报了近 5 年内的严重疾病"),
    ({"age": 63}, "age", "63 岁，超出以下保障的在线投保年龄：定期寿险（客户本人）"),
    ({"age": 70, **COUPLE}, "age", "70 岁"),
    ({"monthly_budget": 10}, "contact", "预算不足以覆盖最重要的保障"),
])
def test_an_unqualified_customer_who_asks_is_still_sent_with_the_verdict_and_told_honestly(
        library: Library, answers: dict[str, Any], why: str, reason: str) -> None:
    sale = proposal(library, **answers)
    assert advice.why_contact(sale) == why
    advice.refer_to_agent(sale, advice.why_contact(sale))
    lead, marks = lead_of(sale)
    assert lead.startswith("新的潜在客户（不合格）") and reason in lead
    assert f"发送原因：{library.text('zh_CN', f'lead.why.{why}')}" in lead
    told = text_of(sale)
    assert "Li Ming will contact you" in told and "already meets the needs" not in told
    assert marks[0].startswith(f"{why}: ") and "qualified" not in marks[0]


def test_a_customer_stuck_in_the_questions_is_sent_unassessed(library: Library) -> None:
    sale = sale_at(library, "needs", {"age": 40, "occupation": "office"}, "en", question="health")
    advice.refer_to_agent(sale, "stuck")
    lead, marks = lead_of(sale)
    assert "问卷尚未答完" in lead and "尚未提出方案" in lead and "建议的" not in lead
    assert marks == ["stuck: unfinished"]
    assert "Li Ming will contact you in this chat" in text_of(sale)


def test_applying_sends_the_lead_once_and_a_second_lead_is_an_update(library: Library) -> None:
    sale = sale_at(library, "closing", FAMILY, "en", disclosed=True)
    assert sale.trigger("accept") and sale.state == "won"
    lead, marks = lead_of(sale)
    assert lead.startswith("新的合格潜在客户") and "客户已阅读重要条款并申请投保" in lead
    assert marks == ["applied: qualified"]
    sale.talk.trail = []
    assert sale.trigger("pause") and sale.trigger("resume") and sale.state == "won"
    assert lead_of(sale) == ("", [])  # resuming is not applying again
    again = sale_at(library, "closing", FAMILY, "en", disclosed=True, contacted=True)
    again.trigger("accept")
    assert lead_of(again)[0].startswith("客户线索更新")


def test_qualified_only_with_all_four_marks(library: Library) -> None:
    P = library.parameters
    assert qualify(FAMILY, analyse(FAMILY, P), consent=True).qualified
    assert not qualify(FAMILY, analyse(FAMILY, P), consent=False).qualified
    assert qualify(FAMILY, analyse(FAMILY, P), consent=True, assessed=False).reasons == ("unfinished",)
    covered = {**FAMILY, "family": "single", "children_ages": None, "debts": 0,
               "existing_cover": "social_and_policies", "existing_critical_illness": 1_000_000}
    assert "need" not in qualify(covered, analyse(covered, P), consent=True).reasons  # medical still needed


# -- every text renders ------------------------------------------------------------------------
LIBRARY = frozen_library()  # hypothesis runs a test many times: one library, not a fixture per example


@settings(max_examples=60, deadline=None)
@given(households(), st.sampled_from(WHYS), st.booleans())
def test_every_plan_and_lead_renders_in_every_language(answers: dict[str, Any], why: str,
                                                        health: bool) -> None:
    library = LIBRARY
    answers = {**answers, "health": health, "worry": None}
    result = analyse(answers, library.parameters)
    verdict = qualify(answers, result, consent=True)
    for locale in LOCALES:
        for variant in VARIANTS:
            context = plan_context(library, locale, result, variant, answers)
            plan = library.text(locale, "proposal/plan", **context)
            assert "about CNY 0 a year" not in plan and "每年约 0 元" not in plan
            for cover in context["covers"]:
                assert cover["person"] and cover["person"] in cover["label"]
        context = lead_context(library, result, "standard", answers, verdict, why)
        lead = library.text(library.agent_locale, "agent/lead", reference="R1", customer_name="",
                            update=False, **context)
        assert ("新的合格潜在客户" in lead) == verdict.qualified



def test_a_cover_not_offered_at_this_age_still_shows_its_gap_in_the_chart(library: Library) -> None:
    answers = {**FAMILY, "age": 58}
    chart = gap_chart(library, "en", analyse(answers, library.parameters), answers)
    assert "Critical illness insurance" in chart.labels  # the need is real even where we cannot sell


@pytest.mark.parametrize(("locale", "text"), [("en", "I want to complain, my agent never called me back"),
                                              ("zh_CN", "我要投诉，你们的顾问一直没联系我")])
def test_a_complaint_is_logged_as_one_with_the_complaint_line(library: Library, locale: str,
                                                               text: str) -> None:
    from bot.flows.messages import Inbound, Mark
    from bot.flows.sale import handle

    sale = proposal(library, locale)
    trail = handle(sale, Inbound("text", text))
    assert Mark("complaint", "proposal") in trail and sale.state == "proposal"
    said = text_of(sale)
    assert library.agency.complaint_line in said and library.agency.regulator_hotline in said
    assert text[-6:] in text_of(sale, to_agent=True)  # the words go to a person, as written
