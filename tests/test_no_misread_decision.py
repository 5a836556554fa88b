"""The hard rule: only a clear yes moves the sale forward. Whatever sequence of messages that do not
accept (questions that mention buying, paying or applying, noes, hedges, doubts, refusals) a customer
sends at the proposal, the objection or the closing, they never reach the application, and no message
that says no moves them a step along the funnel."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.flows.messages import Inbound, Step
from bot.flows.sale import handle
from bot.library import Library
from bot.flows.listening import DECISIONS
from bot.flows.understanding import negated
from tests.conftest import frozen_library
from tests.helpers import sale_at

LIBRARY = frozen_library()  # hypothesis runs a test many times: one library, not a fixture per example
ANSWERS = {"age": 38, "occupation": "office", "health": False, "family": "married_children",
           "children_ages": [5, 9], "parents": 1, "annual_income": 300000, "spouse_income": 150000,
           "debts": 800000, "savings": 100000, "existing_cover": "social_only", "car": False,
           "monthly_budget": 1500, "worry": "illness"}
NOT_ACCEPTING = {
    "en": ["no", "nope", "no thanks, not interested", "can I pay monthly?",
           "if I apply today when does cover start?", "how do I apply?",
           "what if I sign and then change my mind?", "do I have to pay now?",
           "can I buy it for my kids too?",
           "I'm not sure", "maybe later", "let me think about it", "too expensive",
           "yes but not now",
           "ok but I need to ask my wife first", "hmm", "why so expensive?", "not now, maybe next year",
           "I already have an agent", "is this a scam?", "no, I don't want to apply", "sounds good but no",
           "what happens if I stop paying?", "would I be able to apply later?"],
    "zh_CN": ["不", "不要", "不用了谢谢", "可以按月交吗", "那我今天申请的话多久能拿到保单",
              "我想买分红险，有吗？", "怎么申请？", "签了以后反悔怎么办", "现在就要交钱吗", "我再想想",
              "太贵了",
              "好是好，但是太贵了", "先不买", "我要问问我老婆", "嗯……", "不是现在", "你们是骗子吧",
              "交了钱能退吗", "我不申请", "申请要什么材料？",
              "这个能给孩子买吗"],
    "zh_Hant": ["唔要", "唔該，我再諗下", "係咪要即刻俾錢？", "可唔可以月繳？", "申請咗之後可唔可以退？",
                "太貴啦", "我要問下我老公先", "唔係而家"],
}
MESSAGES = [(locale, text) for locale, texts in NOT_ACCEPTING.items() for text in texts]


@settings(max_examples=150, deadline=None)
@given(start=st.sampled_from(["proposal", "objection", "closing"]),
       sequence=st.lists(st.sampled_from(MESSAGES), min_size=1, max_size=6))
def test_no_sequence_of_non_accepting_messages_reaches_the_application(
        start: str, sequence: list[tuple[str, str]]) -> None:
    locale = sequence[0][0]
    sale = sale_at(LIBRARY, start, dict(ANSWERS), locale=locale, disclosed=start == "closing",
                   objection="expensive" if start == "objection" else None)
    for _, text in sequence:
        trail = handle(sale, Inbound("text", text))
        assert sale.state not in ("won", "after_sales", "referral"), (start, sequence, text)
        moves = [item.trigger for item in trail if isinstance(item, Step)]
        assert not (negated(LIBRARY, text) and DECISIONS & set(moves)), (text, moves)  # no "no" decides


def test_every_message_of_the_pool_is_read_without_accepting(library: Library) -> None:
    for locale, text in MESSAGES:
        for start in ("proposal", "objection", "closing"):
            sale = sale_at(library, start, dict(ANSWERS), locale=locale, disclosed=True,
                           objection="expensive")
            handle(sale, Inbound("text", text))
            assert sale.state in ("proposal", "objection", "lost", "paused") or \
                (start == "closing" and sale.state == "closing"), (start, text, sale.state)


AGREEING = {"en": ["yes", "ok", "I agree", "sure, sign me up", "Yes, tomorrow at 10 works", "let's do it",
                   "I haven't read it, just sign me up", "sounds good", "apply"],
            "zh_CN": ["好的", "可以", "我同意，确认投保", "好的，明天上午10点可以", "就这个吧", "申请",
                      "条款我没看，你直接帮我签了吧", "行"]}


@settings(max_examples=150, deadline=None)
@given(locale=st.sampled_from(sorted(AGREEING)), start=st.sampled_from(["proposal", "objection", "closing"]),
       picks=st.lists(st.integers(0, 100), min_size=1, max_size=6), press=st.booleans())
def test_an_application_needs_the_terms_shown_and_its_button(locale: str, start: str, picks: list[int], *,
                                                              press: bool) -> None:
    """Typed words alone never apply, however agreeing: an application happens only by the button
    "I have read this and want to apply", pressed at the closing after the key terms were shown."""
    sale = sale_at(LIBRARY, start, dict(ANSWERS), locale=locale, disclosed=start == "closing",
                   objection="expensive" if start == "objection" else None)
    texts = AGREEING[locale]
    for pick in picks:
        trail = handle(sale, Inbound("text", texts[pick % len(texts)]))
        assert "accept" not in [item.trigger for item in trail if isinstance(item, Step)]
        assert sale.state not in ("won", "after_sales", "referral")
    if press and sale.state == "closing":
        handle(sale, Inbound("choice", "accept"))
        assert sale.state == "won" and sale.progress.disclosed  # the terms were shown before the yes
