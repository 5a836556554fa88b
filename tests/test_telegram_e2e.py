"""End to end: the bot as its own process in webhook mode, updates posted to it over HTTP on
loopback, and its Bot API base URL pointed at a recording server started here."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.library import Library
from storage.models import Contact, Conversation
from tests.answering import FAMILY_ANSWERS, Step, fill, question_of
from tests.botapi import BotApiServer, button_update, message_update, value_of
from tests.helpers import TOKEN, BotProcess, wait_for


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[BotProcess]:
    with BotApiServer() as api:
        process = BotProcess(api, tmp_path / "e2e.sqlite3")
        process.start()
        try:
            yield process
        finally:
            output = process.stop()
            assert TOKEN not in output  # the token never reaches the log


def press(bot: BotProcess, chat: int, value: str, language: str) -> list[dict[str, Any]]:
    # the question with the buttons comes last; a chart drawn before it can delay it on a busy machine
    wait_for(lambda: "reply_markup" in bot.api.api.sent(chat)[-1], "the question with buttons")
    last = bot.api.api.sent(chat)[-1]
    keyboard = last["reply_markup"]["inline_keyboard"]
    assert value in [value_of(b["callback_data"]) for row in keyboard for b in row], (value, last["text"])
    # the button of that value on this keyboard: its data carries the question's number ("no|7")
    return bot.say(button_update(chat, value, text=last["text"], keyboard=keyboard, language=language), chat)


LINK = re.compile(r"https://t\.me/[A-Za-z0-9_]+\?start=([A-Za-z0-9_-]+)")


def asking(bot: BotProcess, chat: int) -> str | None:
    """The needs question the bot's database says the chat is at."""
    engine = sqlalchemy.create_engine(bot.database_url)
    try:
        with Session(engine) as session:
            record = session.scalars(select(Conversation).join(Contact).where(
                Contact.external_id == str(chat), Conversation.mode == "customer")
                .order_by(Conversation.id.desc())).first()
            return question_of(record.state, record.data) if record else None
    finally:
        engine.dispose()


@pytest.mark.parametrize("language,greeting,won",
                         [("en", "licence no.", "Next steps"), ("zh-hans", "执业证号", "接下来")])
def test_a_complete_sale_with_a_restart_in_the_middle(bot: BotProcess, language: str, greeting: str,
                                                      won: str, library: Library) -> None:
    chat = 7100 if language == "en" else 7200
    assert greeting in bot.say(message_update(chat, "/start", language=language), chat)[0]["text"]

    def send(step: Step) -> None:
        kind, value = step
        if kind == "press":
            press(bot, chat, value, language)
        else:
            bot.say(message_update(chat, value, language=language), chat)

    send(("press", "agree"))
    fill(library, lambda: asking(bot, chat), send, FAMILY_ANSWERS, until="children_ages")
    # stop the process half-way through the questions and start a new one
    question = bot.api.api.sent(chat)[-1]["text"]
    bot.stop()
    bot.start()
    assert bot.api.api.sent(chat) == []  # the new process has said nothing yet
    replies = bot.say(message_update(chat, "/start", language=language), chat)
    assert replies[-1]["text"] == question  # the same question, where we stopped
    assert asking(bot, chat) == "children_ages"
    fill(library, lambda: asking(bot, chat), send, FAMILY_ANSWERS)
    for decision in ("confirm", "proceed", "accept"):
        send(("press", decision))
    assert won in bot.api.api.sent(chat)[-2]["text"]
    assert "answerCallbackQuery" in bot.api.api.methods() and "editMessageText" in bot.api.api.methods()
    # the client's own link brings a friend, over HTTP too
    invite = bot.say(message_update(chat, "/invite", language=language), chat)
    [code] = {m.group(1) for reply in invite if (m := LINK.search(reply["text"]))}
    friend = chat + 1
    assert greeting in bot.say(message_update(friend, f"/start {code}", language=language), friend)[0]["text"]
    with sqlalchemy.create_engine(bot.database_url).connect() as db:
        referrals = db.execute(sqlalchemy.text(
            "SELECT r.status, c.external_id FROM referrals r JOIN contacts c ON c.id = r.referred_contact_id"
        )).all()
    assert [(status, int(external_id)) for status, external_id in referrals] == [("came", friend)]


def test_duplicates_stale_buttons_and_wrong_secrets(bot: BotProcess) -> None:
    chat = 7300
    start = message_update(chat, "/start", update_id=555_000)
    bot.say(start, chat)
    count = len(bot.api.api.sent(chat))
    assert bot.post(start) == 200  # Telegram delivering the same update again
    wait_for(lambda: bot.handled(555_000, chat), "the repeated update taken out of the inbox")
    assert len(bot.api.api.sent(chat)) == count

    stale = bot.say(button_update(chat, "accept", text="old question",
                                  keyboard=[[{"text": "old", "callback_data": "accept"}]]), chat)
    assert "earlier message" in stale[0]["text"]
    wait_for(lambda: "editMessageReplyMarkup" in bot.api.api.methods(), "the old buttons removed")

    calls = len(bot.api.api.calls)
    assert bot.post(message_update(chat, "/start"), secret="wrong") == 403
    assert bot.post(message_update(chat, "/start"), secret="") == 403
    assert len(bot.api.api.calls) == calls  # refused before anything was kept: nothing to process
