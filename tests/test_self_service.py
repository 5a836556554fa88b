"""A customer alone: the questionnaire's length, the chart, qualification, hand-off and the reminder."""
from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path

import pytest
from matplotlib.patches import Rectangle
from telegram.ext import CallbackContext

from bot.charts import draw, render_png
from bot.handlers.console import render
from bot.flows.calculator import analyse
from bot.flows.messages import Inbound, Reply
from bot.flows.presenting import gap_chart
from bot.handlers.telegram import send_reminders
from bot.library import Library
from bot.service import SalesService, Sender
from storage.models import utcnow
from tests.botapi import button_update, message_update
from tests.answering import question_of
from tests.helpers import CHAT, Harness, asked_question, current_conversation

# A typical family (married, two children, a mortgage, a car), by question id, as typed.
FAMILY = {
    "en": {"age": "35", "occupation": "office", "health": "no", "family": "married_children",
           "children_ages": "3, 7", "parents": "0", "annual_income": "300000", "spouse_income": "100000",
           "debts": "800000", "savings": "100000", "existing_cover": "social_only", "car": "yes",
           "car_value": "200000", "monthly_budget": "3000", "worry": "illness"},
    "zh_CN": {"age": "35", "occupation": "office", "health": "否", "family": "married_children",
              "children_ages": "3, 7", "parents": "0", "annual_income": "30万", "spouse_income": "10万",
              "debts": "80万", "savings": "10万", "existing_cover": "social_only", "car": "是",
              "car_value": "20万", "monthly_budget": "3000", "worry": "illness"},
}
AGENT_CHAT = 900


def run_questionnaire(service: SalesService, sender: Sender, answers: dict[str, str]) -> int:
    """Type the answer to each question asked (an optional one not in `answers` skipped) up to the
    summary; the number of answers typed."""
    service.handle(sender, Inbound("command", "start"))
    service.handle(sender, Inbound("choice", "agree"))
    typed = 0
    for _ in range(2 * len(service.library.questions)):
        asked = asked_question(service, sender)
        if asked is None:
            break
        typed += asked in answers
        answer = Inbound("text", answers[asked]) if asked in answers else Inbound("choice", "skip")
        service.handle(sender, answer)
    with service.database.unit_of_work() as uow:
        state = current_conversation(uow, sender.channel, sender.external_id).state
    assert state == "summary", "the questionnaire did not reach the summary"
    return typed


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_a_typical_family_needs_at_most_15_answers(service: SalesService, locale: str) -> None:
    answers = run_questionnaire(service, Sender("test", f"family-{locale}", locale=locale), FAMILY[locale])
    assert answers <= 15


def test_the_gap_chart_is_a_png_with_the_expected_bars_and_chinese_glyphs(library: Library) -> None:
    answers = {"age": 35, "occupation": "office", "family": "married", "annual_income": 300_000,
               "debts": 500_000, "existing_cover": "social_and_policies", "existing_life": 1_000_000,
               "existing_critical_illness": 0, "car": False}
    chart = gap_chart(library, "zh_CN", analyse(answers, library.parameters), answers)
    assert chart.labels == ("定期寿险", "重大疾病保险", "百万医疗险", "意外伤害保险")
    # Life: 500 000 debts + 10 x 300 000 = 3 500 000 needed, 1 000 000 already covered.
    assert chart.needed[0] == 3_500_000 and chart.covered[0] == 1_000_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing CJK glyph is a warning: make it fail
        png = render_png(chart)
        bars = []
        for patch in draw(chart).axes[0].patches:
            assert isinstance(patch, Rectangle)  # a bar
            bars.append(patch.get_height())
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert bars == [v / 10_000 for v in chart.needed + chart.covered]


def test_the_console_saves_the_chart_and_shows_where(library: Library, tmp_path: Path) -> None:
    answers = {"age": 30, "occupation": "office", "family": "single", "annual_income": 100_000, "car": False}
    chart = gap_chart(library, "en", analyse(answers, library.parameters), answers)
    shown = render(Reply("Your plan", chart=chart), tmp_path)
    path = Path(shown.splitlines()[-1].removeprefix("[chart] "))
    assert path.parent == tmp_path and path.read_bytes().startswith(b"\x89PNG")


def through_telegram_to_contact(tg: Harness, answers: dict[str, str]) -> None:
    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/start"), button_update(CHAT, "agree"))
        while (asked := question_of(tg.record()[1].state, tg.record()[1].data)) is not None:
            answer = answers.get(asked, "skip")
            last = h.api.sent(CHAT)[-1]
            rows = last.get("reply_markup", {}).get("inline_keyboard", [])
            values = [b["callback_data"] for row in rows for b in row]
            await h.feed(button_update(CHAT, answer) if answer in values else message_update(CHAT, answer))
        await h.feed(button_update(CHAT, "confirm"), button_update(CHAT, "contact"))
    tg.run(scenario)


def test_a_qualified_lead_reaches_the_agent(service: SalesService) -> None:
    tg = Harness(service)
    tg.app.bot_data["agent_chat_id"] = AGENT_CHAT
    through_telegram_to_contact(tg, FAMILY["en"])
    to_agent = tg.api.sent(AGENT_CHAT)
    assert len(to_agent) == 1
    assert "新的合格潜在客户 1（" in to_agent[0]["text"] and "定期寿险" in to_agent[0]["text"]
    assert "Li Ming will contact you" in tg.api.sent(CHAT)[-2]["text"]
    assert any(c.method == "sendPhoto" and int(c.params["chat_id"]) == CHAT for c in tg.api.calls)
    kinds = [kind for kind, _ in tg.record()[2]]
    assert "lead" in kinds


def test_a_declared_condition_goes_to_the_agent_as_not_qualified_and_the_customer_hears_why(
        service: SalesService) -> None:
    tg = Harness(service)
    tg.app.bot_data["agent_chat_id"] = AGENT_CHAT
    # a declared condition: non-standard underwriting, the one an agent must see
    answers = {**FAMILY["en"], "health": "yes"}
    through_telegram_to_contact(tg, answers)
    [lead] = tg.api.sent(AGENT_CHAT)
    assert "新的潜在客户（不合格）" in lead["text"] and "非标准核保" in lead["text"]
    assert "needs the insurer's underwriting review" in tg.api.sent(CHAT)[-2]["text"]


def test_one_reminder_a_day_after_stopping_never_a_second(service: SalesService) -> None:
    sender = Sender("telegram", str(CHAT), locale="en")
    service.handle(sender, Inbound("command", "start"))
    service.handle(sender, Inbound("choice", "agree"))
    service.handle(sender, Inbound("text", "35"))
    assert service.due_reminders("telegram", utcnow() + timedelta(hours=23)) == []
    assert service.due_reminders("telegram", utcnow() + timedelta(hours=25)) == [str(CHAT)]
    assert service.pending("telegram", str(CHAT))[-1].message.text.startswith("Hello again")
    service.handle(sender, Inbound("text", "office"))  # they came back, then stopped again
    assert service.due_reminders("telegram", utcnow() + timedelta(days=3)) == []


def test_the_reminder_job_sends_through_telegram_once(service: SalesService) -> None:
    tg = Harness(service)
    tg.put("needs", question="age")
    with service.database.unit_of_work() as uow:
        record = current_conversation(uow, "telegram", str(CHAT))
        record.remind_at = utcnow() - timedelta(minutes=1)
        uow.commit()

    async def scenario(h: Harness) -> None:
        await send_reminders(CallbackContext(h.app))
        await send_reminders(CallbackContext(h.app))
        await h.app.bot_data["updates"].settled()
    tg.run(scenario)
    sent = tg.api.sent(CHAT)
    assert len(sent) == 1 and "/start" in sent[0]["text"]


def test_no_reminder_once_the_questions_are_done(service: SalesService) -> None:
    run_questionnaire(service, Sender("telegram", "77", locale="en"), FAMILY["en"])
    assert service.due_reminders("telegram", utcnow() + timedelta(days=2))  # at the summary: still reminded
    sender = Sender("telegram", "78", locale="en")
    run_questionnaire(service, sender, FAMILY["en"])
    service.handle(sender, Inbound("choice", "confirm"))  # saw the plan
    assert service.due_reminders("telegram", utcnow() + timedelta(days=2)) == []
