"""Reading typed answers: amounts as people write them (Chinese numerals, 万, k, million, per month),
choices in words and inside sentences, and amounts that survive being shown and typed back."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import cn2an
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.flows.answers import (Rejection, implausible, parse_amount, parse_number, read_answer, said_choice,
                              said_choices)
from bot.flows.sale import COMMANDS
from bot.library import LOCALES, SOURCE_LOCALES, Question, normalise
from tests.conftest import frozen_library

LIBRARY = frozen_library()


@pytest.mark.parametrize("text,value", [
    ("三十万", 300_000), ("30万", 300_000), ("3.5万", 35_000), ("三点五万", 35_000),
    ("一百二十万", 1_200_000), ("两万", 20_000), ("十万八千", 108_000), ("3万5", 35_000),
    ("1.2亿", 120_000_000), ("三十五岁", 35),
    ("30k", 30_000), ("1.2 million", 1_200_000), ("1.2m", 1_200_000), ("about 300,000", 300_000),
    ("大概30万左右", 300_000), ("300,000 yuan", 300_000), ("¥300,000", 300_000), ("￥300,000", 300_000),
    ("CNY 1,234,567", 1_234_567), ("30 万元", 300_000), ("roughly 250k", 250_000), ("约 8000 块", 8000),
    ("3.3万", 33_000), ("12.50", 12.5),
    ("abc", None), ("三十多", None), ("几万", None), ("万", None), ("1e5", None), ("1.2.3", None), ("", None),
    ("🙂", None), ("30万 or 40万", None),
])
def test_amounts_are_read_as_people_write_them(text: str, value: float | None) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize("text,per", [
    ("月薪两万", "month"), ("monthly 20k", "month"), ("每月8000", "month"), ("20k a month", "month"),
    ("8000/月", "month"), ("两万一个月", "month"), ("每年6000", "year"), ("年薪三十万", "year"),
    ("6000 per year", "year"), ("30万", None),
])
def test_the_period_an_amount_is_for_is_read(text: str, per: str | None) -> None:
    amount = parse_amount(text)
    assert amount is not None and amount.per == per


def answer(question_id: str, text: str, locale: str = "en") -> object:
    question = LIBRARY.question(question_id)
    words = LIBRARY.keywords[locale]
    labels = {c: LIBRARY.text(locale, f"choices.{question_id}.{c}") for c in question.choices}
    return read_answer(question, text, words["yes"], words["no"], labels)


@pytest.mark.parametrize("question_id,text,value", [
    ("annual_income", "月薪两万", 240_000), ("annual_income", "monthly 20k", 240_000),
    ("annual_income", "每月8000", 96_000), ("annual_income", "年薪三十万", 300_000),
    ("annual_income", "三十万", 300_000), ("monthly_budget", "每年6000", 500),
    ("monthly_budget", "6000 a year", 500), ("monthly_budget", "500", 500), ("debts", "每月8000", 8000),
])
def test_an_amount_for_the_other_period_is_converted(question_id: str, text: str, value: float) -> None:
    assert answer(question_id, text) == value


@pytest.mark.parametrize("question_id,text,choice", [
    ("occupation", "办公室", "office"), ("occupation", "文员", "office"), ("occupation", "程序员", "office"),
    ("occupation", "office", "office"), ("occupation", "I work in an office", "office"),
    ("occupation", "我在办公室上班", "office"), ("occupation", "teacher", "professional"),
    ("occupation", "nurse", "professional"), ("occupation", "driver", "manual"),
    ("occupation", "I'm a taxi driver", "manual"), ("occupation", "建筑工人", "construction"),
    ("occupation", "建筑设计师", "office"), ("occupation", "police officer", "construction"),
    ("occupation", "消防员", "high_risk"), ("occupation", "sales", "field"),
    ("family", "married with two kids", "married_children"), ("family", "已婚有孩子", "married_children"),
    ("family", "married, no kids", "married"), ("family", "已婚没有孩子", "married"),
    ("family", "已婚，无子女", "married"), ("family", "single", "single"),
    ("family", "not married", "single"), ("family", "single mom", "single_parent"),
    ("family", "离婚带孩子", "single_parent"), ("family", "单身", "single"),
    ("existing_cover", "social insurance", "social_only"), ("existing_cover", "社保", "social_only"),
    ("existing_cover", "a private policy", "policies_only"),
    ("existing_cover", "没有社保，有商业保险", "policies_only"),
    ("existing_cover", "social insurance and a company policy", "social_and_policies"),
    ("existing_cover", "社保和商业保险都有", "social_and_policies"),
    ("existing_cover", "no insurance", "none"), ("existing_cover", "都没有", "none"),
    ("worry", "cancer", "illness"), ("worry", "我怕生病", "illness"), ("worry", "car crash", "accident"),
    ("worry", "if I die", "income"), ("worry", "孩子上学", "education"), ("worry", "退休以后", "retirement"),
])
def test_choices_are_read_from_words_and_sentences(question_id: str, text: str, choice: str) -> None:
    assert answer(question_id, text) == choice
    assert answer(question_id, text, "zh_CN") == choice  # words of either language work in both


@pytest.mark.parametrize("text", ["maybe", "7", "something else", "astronaut", "宇航员", "没有工作"])
def test_words_of_no_choice_are_refused_with_the_options(text: str) -> None:
    refused = answer("occupation", text)
    assert isinstance(refused, Rejection) and refused.key == "errors.choice"


@pytest.mark.parametrize("question", [q for q in LIBRARY.questions if q.type == "choice"], ids=lambda q: q.id)
def test_every_choice_has_synonyms_in_every_language_and_none_is_a_command(question: Question) -> None:
    assert list(question.synonyms) and set(question.synonyms) == set(question.choices)
    commands = set().union(*(LIBRARY.words_anywhere[c] for c in COMMANDS))
    for choice, by_locale in question.synonyms.items():
        assert set(by_locale) == set(SOURCE_LOCALES), f"{question.id}.{choice}"
        for word in (w for words in by_locale.values() for w in words):
            assert normalise(word) not in commands, f"{question.id}.{choice}: {word!r} is a command"
            tied = said_choices(question, normalise(word))
            assert tied and (said_choice(question, normalise(word)) or set(tied) <= set(question.ask_on_tie))


def test_implausible_values_are_outside_the_plausible_range_and_zero_never_is() -> None:
    income, budget, age = (LIBRARY.question(q) for q in ("annual_income", "monthly_budget", "age"))
    assert implausible(income, 1) and implausible(income, 20_000_000) and not implausible(income, 300_000)
    assert not implausible(income, 0)  # 0 means none
    assert implausible(budget, 10) and implausible(budget, 60_000) and not implausible(budget, 500)
    assert implausible(age, 85) and not implausible(age, 80)
    assert not implausible(LIBRARY.question("occupation"), "office")


# -- amounts shown by the bot and typed back ------------------------------------------------------
def _exact_in(locale: str, value: int) -> bool:
    """Whether the locale shows `value` without rounding (Chinese shows 万 and 亿 to one decimal)."""
    if locale == "en" or value < 10_000:
        return True
    return value % (1_000 if value < 100_000_000 else 10_000_000) == 0


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(LOCALES))
def test_a_shown_amount_typed_back_is_the_same_amount(value: int, locale: str) -> None:
    back = parse_number(LIBRARY.money(locale, value))
    assert back is not None
    if _exact_in(locale, value):
        assert back == value
    else:  # rounded to the tenth of a 万 (亿): close, and what is shown reads back as itself
        assert abs(back - value) <= (500 if value < 100_000_000 else 5_000_000)
        assert parse_number(LIBRARY.money(locale, back)) == back


@given(st.integers(min_value=1, max_value=9_999))
def test_amounts_with_cents_round_trip(cents: int) -> None:
    value = cents / 100
    assert parse_number(LIBRARY.money("en", value)) == value
    assert parse_number(LIBRARY.money("zh_CN", value)) == value


_MULTIPLIER = st.sampled_from([("", 1), ("万", 10_000), ("k", 1_000), ("m", 1_000_000),
                               (" million", 1_000_000), ("千", 1_000), ("亿", 100_000_000)])
_AROUND = st.sampled_from([("", ""), ("about ", ""), ("¥", ""), ("", " yuan"), ("大概", "左右"), ("CNY ", ""),
                           ("", "元"), ("约", "块钱")])


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=99_999), st.integers(min_value=0, max_value=2), _MULTIPLIER,
       _AROUND, st.sampled_from(LOCALES))
def test_any_amount_read_is_shown_and_read_back_the_same(whole: int, places: int, unit: tuple[str, int],
                                                         around: tuple[str, str], locale: str) -> None:
    number = Decimal(whole).scaleb(-places)  # e.g. 3.5, 120, 0.75
    text = f"{around[0]}{number:f}{unit[0]}{around[1]}"
    value = parse_number(text)
    assert value is not None and Decimal(str(value)) == (number * unit[1]).quantize(Decimal("0.01"))
    back = parse_number(LIBRARY.money(locale, value))
    assert back is not None
    assert parse_number(LIBRARY.money(locale, back)) == back  # what is shown reads back as itself
    if isinstance(value, int) and _exact_in(locale, value):
        assert back == value


@given(st.integers(min_value=0, max_value=10**12))
def test_chinese_numerals_read_as_their_number(value: int) -> None:
    assert parse_number(cn2an.an2cn(value)) == value
    assert parse_number(cn2an.an2cn(value) + "元") == value


@pytest.mark.parametrize("text", ["I am 35 years old", "I'm 35", "我35岁", "我今年35岁", "I am 35"])
def test_an_age_said_in_a_sentence_is_read(text: str) -> None:
    assert answer("age", text) == 35


@pytest.mark.parametrize(("text", "expected"), [
    ("married", None), ("已婚", None), ("我结婚了", None), ("I have a wife", None),
    ("married, no kids", "married"), ("已婚没孩子", "married"), ("结婚了，有两个娃", "married_children"),
    ("single", "single"), ("单身", "single")])
def test_married_alone_asks_about_children(text: str, expected: str | None) -> None:
    """Children are never assumed either way: "married" alone is asked about, with the two
    choices it could be."""
    read = answer("family", normalise(text))
    if expected is None:
        assert isinstance(read, Rejection) and read.key == "errors.choice_which"
        labels = [LIBRARY.text("en", f"choices.family.{c}") for c in ("married", "married_children")]
        assert read.context["choices"] == "; ".join(labels)
    else:
        assert read == expected


@pytest.mark.parametrize(("text", "asked", "expected"), [
    ("I am 41, married, my wife earns 5k a month", "age", {"age": 41, "spouse_income": 60_000}),
    ("我41 已婚 老婆月薪8000", "age", {"age": 41, "spouse_income": 96_000}),
    ("我今年32 结婚了 老婆30 有个娃3岁", "age", {"age": 32, "family": "married_children", "partner_age": 30,
                                          "children_ages": [3]}),
    ("我老婆39", "partner_age", {"partner_age": 39}),
    ("我月薪2万 老婆月薪8000", "annual_income", {"annual_income": 240_000, "spouse_income": 96_000})])
def test_the_partners_facts_go_to_the_partner(text: str, asked: str, expected: dict[str, object]) -> None:
    """A sentence about the partner fills the partner's answers, not the customer's ("老婆月薪8000" is
    not my income, "老婆30" is her age, not an income of 30); "married" alone is asked about later
    (children or not), yet what it implies (a partner) is read at once."""
    from bot.flows.slots import facts_in

    answers = {} if asked == "age" else {"family": "married_children"}
    assert facts_in(LIBRARY, text, LIBRARY.question(asked), answers).values == expected


YEAR = datetime.now(UTC).year


@pytest.mark.parametrize(("text", "asked", "answers", "expected"), [
    ("none, both passed", "parents", {}, {"parents": 0}),  # none, not "both"
    ("born in 86", "age", {}, {"age": YEAR - 1986}),
    ("100k CI, and no I dont have a car", "existing_critical_illness",
     {"existing_cover": "policies_only", "existing_life": 0},
     {"existing_critical_illness": 100_000, "car": False}),
    ("yes, bmw 3 series, maybe 180k now", "car", {}, {"car": True}),  # the hedge is about the worth
    ("RM400 a month ok", "monthly_budget", {}, {"monthly_budget": 400}),
    ("Jayden was born 2015 and Mia in 2022", "children_ages", {"family": "married_children"},
     {"children_ages": [YEAR - 2015, YEAR - 2022]}),
    ("3.5k monthly, wife part time maybe 1.5k", "annual_income", {"family": "married"},
     {"annual_income": 42_000, "spouse_income": 18_000}),
    ("240k base plus some RSUs, wife's on 110k", "annual_income", {"family": "married"},
     {"annual_income": 240_000, "spouse_income": 110_000}),
    ("diabetic since 2015, single dad of a 10 yr old", "health", {"age": 40, "occupation": "office"},
     {"health": True, "family": "single_parent", "children_ages": [10]}),
    # number words side by side are several numbers; "mum of three" counts children, not parents
    ("three kids twelve nine and five", "family", {"age": 43, "occupation": "manual", "health": False},
     {"family": "married_children", "children_ages": [12, 9, 5]}),
    # "the little one" is a child, not the number 1; turning two next is one now
    ("eldest is fifteen, little one turns two in january", "children_ages", {"family": "married_children"},
     {"children_ages": [15, 1], "family": "married_children"}),
    ("im 41, office job, married, the little one turns two in january and the eldest is 7", "age", {},
     {"age": 41, "occupation": "office", "family": "married_children", "children_ages": [1, 7]}),
    # the health question asks about the last 5 years: a condition of 10 years ago is asked back
    ("I had cancer 10 years ago", "health", {"age": 40, "occupation": "office"}, {}),
    ("十年前得过癌症", "health", {"age": 40, "occupation": "office"}, {}),
    ("diabetic since 2015", "health", {"age": 40, "occupation": "office"}, {"health": True}),
    ("single mum of three (14, 11 and 4) and i send my mum money every month too", "family",
     {"age": 40, "occupation": "office", "health": False},
     {"family": "single_parent", "children_ages": [14, 11, 4], "parents": 1}),
])
def test_facts_as_people_write_them(text: str, asked: str, answers: dict[str, object],
                                    expected: dict[str, object]) -> None:
    from bot.flows.slots import facts_in

    assert facts_in(LIBRARY, text, LIBRARY.question(asked), answers).values == expected


@pytest.mark.parametrize("text", ["I had cancer 10 years ago", "had a stroke back in 2012", "十年前得过癌症"])
def test_a_condition_older_than_the_question_asks_about_is_asked_back(text: str) -> None:
    from bot.flows.slots import facts_in
    from bot.flows.understanding import plain

    given = {"age": 40, "occupation": "office"}
    facts = facts_in(LIBRARY, plain(LIBRARY, text), LIBRARY.question("health"), given)
    assert "health" not in facts.values and facts.unsure == {"health": True}
