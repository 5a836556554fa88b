"""The Telegram channel through the real Application, with the Bot API answered offline."""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from pytest_mock import MockerFixture
from sqlalchemy import func, select
from telegram import Update
from telegram.error import NetworkError

from telegram.ext import CommandHandler

from bot.flows.machine import STATES
from bot.flows.messages import Button, Inbound, Reply
from bot.flows.progress import Progress
from bot.flows.questionnaire import asked
from bot.handlers.app import register_commands
from bot.handlers.channel import (MANAGER, COMMAND_NAMES, COMMANDS, CUSTOMER, Limits, menu, more_offset,
                                  outgoing, page)
from bot.handlers import telegram as telegram_handlers
from bot.handlers.console import parse_line
from bot.handlers.telegram import LIMITS
from bot.service import Cut, SalesService, Sender, Turn, whole
from storage.models import Contact, Conversation, Delivery
from tests.answering import FAMILY_ANSWERS, answer_step, question_of
from tests import botapi
from tests.botapi import button_update, message_update
from tests.helpers import CHAT, TOKEN, Harness, current_conversation, keyboard_values


@pytest.fixture
def tg(service: SalesService) -> Harness:
    return Harness(service)


def test_start_greets_with_the_disclosure_and_a_keyboard(tg: Harness) -> None:
    tg.run(lambda h: h.feed(message_update(CHAT, "/start")))
    first, second = tg.api.sent(CHAT)
    assert "licence no." in first["text"] and "reply_markup" not in first
    assert keyboard_values(second) == ["agree", "decline"]
    assert second["reply_markup"]["inline_keyboard"][0][0]["text"] == "Yes, let's start"


def test_the_locale_comes_from_the_telegram_language(tg: Harness) -> None:
    tg.run(lambda h: h.feed(message_update(CHAT, "/start", language="zh-hans")))
    assert "执业证号" in tg.api.sent(CHAT)[0]["text"]


def test_a_deep_link_payload_is_kept_with_the_contact_and_logged(tg: Harness) -> None:
    tg.run(lambda h: h.feed(message_update(CHAT, "/start R42")))
    contact, _, _ = tg.record()
    assert contact.start_payload == "R42"
    with tg.service.database.unit_of_work() as uow:
        event = uow.events.of(current_conversation(uow, "telegram", str(CHAT)).id)[0]
        assert event.detail["start_payload"] == "R42"


def test_a_pressed_button_is_answered_and_the_question_shows_the_choice(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/start"))
        question = h.api.sent(CHAT)[-1]
        h.api.clear()
        await h.feed(button_update(CHAT, "agree", message_id=77, text=question["text"],
                                   keyboard=question["reply_markup"]["inline_keyboard"]))
    tg.run(scenario)
    methods = tg.api.methods()
    assert methods[0] == "answerCallbackQuery"
    edit = next(c.params for c in tg.api.calls if c.method == "editMessageText")
    assert edit["message_id"] == 77 and edit["text"].endswith("✓ Yes, let's start")
    assert "reply_markup" not in edit
    first = tg.service.library.text("en", "progress", n=1, total=len(asked(tg.service.library.questions, {})))
    assert tg.api.sent(CHAT)[-1]["text"].startswith(first)
    assert tg.record()[1].state == "needs"


def test_a_whole_sale_in_telegram(tg: Harness) -> None:
    async def press(value: str) -> None:
        last = tg.api.sent(CHAT)[-1]
        assert value in keyboard_values(last), (value, last["text"])
        keyboard = last["reply_markup"]["inline_keyboard"]
        await tg.feed(button_update(CHAT, value, text=last["text"], keyboard=keyboard))

    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/start"))
        await press("agree")
        for _ in h.service.library.questions:
            if (asked := question_of(h.record()[1].state, h.record()[1].data)) is None:
                break
            kind, value = answer_step(h.service.library, asked, FAMILY_ANSWERS)
            await (press(value) if kind == "press" else h.feed(message_update(CHAT, value)))
        for decision in ("confirm", "proceed", "accept"):
            await press(decision)
    tg.run(scenario)
    assert tg.record()[1].state == "won"
    assert "sendChatAction" in tg.api.methods()  # 'typing' while the proposal was prepared
    assert any("Cooling-off period" in m["text"] for m in tg.api.sent(CHAT))


def test_a_repeated_update_is_processed_once(tg: Harness) -> None:
    update = message_update(CHAT, "/start", update_id=987654)
    tg.run(lambda h: h.feed(update, update))
    assert len(tg.api.sent(CHAT)) == 2
    assert [kind for kind, _ in tg.record()[2]].count("inbound") == 1


def scope_of(call: dict[str, Any]) -> dict[str, Any]:
    scope = call.get("scope", {"type": "default"})
    parsed: dict[str, Any] = json.loads(scope) if isinstance(scope, str) else scope  # a form field over HTTP
    return parsed


def test_the_command_menu_is_registered_in_both_languages_per_role(service: SalesService) -> None:
    service.desk.configured.update({"777": "agent", "778": "manager"})
    tg = Harness(service)
    tg.run(lambda h: register_commands(h.app))
    calls = [c.params for c in tg.api.calls if c.method == "setMyCommands"]
    customers = [c for c in calls if scope_of(c)["type"] == "default"]
    assert {c.get("language_code") for c in customers} == {None, "zh"}
    for call in customers:  # no customer sees an agent's command
        assert [c["command"] for c in call["commands"]] == [
            "start", "help", "cancel", "restart", "lang", "invite", "referrals", "mydata", "delete"]
    chinese = next(c for c in customers if c.get("language_code") == "zh")
    assert "开始" in chinese["commands"][0]["description"]
    per_chat = {(scope_of(c)["chat_id"], c.get("language_code")): [x["command"] for x in c["commands"]]
                for c in calls if scope_of(c)["type"] == "chat"}
    assert set(per_chat) == {(777, None), (777, "zh"), (778, None), (778, "zh")}
    assert "leads" in per_chat[(777, None)] and "rehearse" in per_chat[(777, None)]
    assert "addagent" not in per_chat[(777, None)] and "addagent" in per_chat[(778, None)]


def test_one_command_list_drives_the_telegram_menu_and_handlers_and_the_console(tg: Harness) -> None:
    tg.run(lambda h: register_commands(h.app))
    registered = next(c.params for c in tg.api.calls if c.method == "setMyCommands")
    assert [c["command"] for c in registered["commands"]] == [c.name for c in menu(CUSTOMER)]
    handled = {name for group in tg.app.handlers.values() for h in group if isinstance(h, CommandHandler)
               for name in h.commands}
    assert handled == COMMAND_NAMES == {c.name for c in COMMANDS}
    for name in COMMAND_NAMES:  # the console reads every one of them as a command too
        assert parse_line(f"/{name} x", (), free_input=True) == Inbound("command", name, "x")
    assert parse_line("/lang zh", (), free_input=False) == Inbound("command", "lang", "zh_CN")  # as Telegram
    agents_only = {c.name for c in COMMANDS if CUSTOMER not in c.roles}
    assert {"rehearse", "stop", "progress", "script", "leads", "lead", "assign"} <= agents_only
    assert all(MANAGER in c.roles for c in COMMANDS)  # a manager may use everything
    assert [c.name for c in menu(CUSTOMER)] == ["start", "help", "cancel", "restart", "lang", "invite",
                                                "referrals", "mydata", "delete"]


# -- options that do not fit one message -------------------------------------------------------
OPTIONS = tuple(Button(f"option {i}", f"v{i}") for i in range(11))


def test_options_are_paged_at_the_limit_with_a_more_option_that_leads_round() -> None:
    first = page(OPTIONS, 8, 0, "More")
    assert [b.value for b in first] == [f"v{i}" for i in range(7)] + ["more:7"] and first[-1].label == "More"
    assert [b.value for b in page(OPTIONS, 8, 7, "More")] == ["v7", "v8", "v9", "v10", "more:0"]
    assert page(OPTIONS, 8, 99, "More") == first  # the options changed since: the first page
    assert page(OPTIONS[:8], 8, 0, "More") == OPTIONS[:8] and page(OPTIONS, None, 0, "More") == OPTIONS
    seen, offset = set(), 0
    for _ in range(len(OPTIONS)):  # pressing 'more' again and again shows every option
        shown = page(OPTIONS, 3, offset, "More")
        seen |= {b.value for b in shown[:-1]}
        offset = more_offset(shown[-1].value) or 0
    assert seen == {b.value for b in OPTIONS}
    assert more_offset("more:7") == 7 and more_offset("agree") is None and more_offset("more:x") is None


def test_a_reply_becomes_messages_within_the_limits() -> None:
    parts = outgoing(Reply("x" * 10, OPTIONS, free_input=True), Limits(text=4, options=8), "More")
    assert [m.text for m in parts] == ["xxxx", "xxxx", "xx"]
    assert [m.buttons for m in parts[:-1]] == [(), ()]
    assert len(parts[-1].buttons) == 8 and parts[-1].free_input
    assert outgoing(Reply("x" * 10, OPTIONS), Limits(), "More")[0].buttons == OPTIONS  # the console: no limit


def test_more_shows_the_next_page_of_the_same_question_and_changes_nothing(tg: Harness) -> None:
    tg.put("proposal", dict(ANSWERS))
    every = tg.service.options_for(Sender("telegram", str(CHAT), locale="en"))
    per_message = LIMITS.options  # Telegram's limit is set, unlike the console's
    assert per_message is not None
    assert every and len(every.buttons) > per_message  # the proposal offers more than one page
    values = [b.value for b in every.buttons]
    pages: list[list[str]] = []

    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/help"))
        question = h.api.sent(CHAT)[-1]
        pages.append(keyboard_values(question))
        _, _, log_before = h.record()
        h.api.clear()
        more = question["reply_markup"]["inline_keyboard"][-1][0]
        assert more["text"] == h.service.library.text("en", "buttons.more")
        await h.feed(button_update(CHAT, more["callback_data"], message_id=88, text=question["text"],
                                   keyboard=question["reply_markup"]["inline_keyboard"]))
        assert h.api.methods() == ["answerCallbackQuery", "editMessageReplyMarkup"]  # no new message
        edit = h.api.calls[-1].params
        assert edit["message_id"] == 88
        pages.append(keyboard_values(edit))
        assert h.record()[2] == log_before and h.record()[1].state == "proposal"  # nothing saved or logged
        h.api.clear()  # 'more' on an older question: it becomes the current one, with its text
        await h.feed(button_update(CHAT, "more:7", message_id=60, text="an older question",
                                   keyboard=[[{"text": "More", "callback_data": "more:7"}]]))
        edit = next(c.params for c in h.api.calls if c.method == "editMessageText")
        assert edit["text"] == question["text"] and keyboard_values(edit) == pages[1]
        await h.feed(button_update(CHAT, "decline", message_id=88, text=question["text"],
                                   keyboard=edit["reply_markup"]["inline_keyboard"]))
    tg.run(scenario)
    assert pages[0] == values[:per_message - 1] + [f"more:{per_message - 1}"]
    assert pages[1] == values[per_message - 1:] + ["more:0"]
    assert tg.record()[1].state == "lost"  # an option of the second page is an answer like any other


def test_lang_switches_the_language(tg: Harness) -> None:
    tg.put("needs", question="age")
    tg.run(lambda h: h.feed(message_update(CHAT, "/lang zh")))
    assert tg.record()[0].locale == "zh_CN"
    assert "第 1 题" in tg.api.sent(CHAT)[-1]["text"]


# -- inputs the flow does not expect, in every stage -------------------------------------------
UNEXPECTED: dict[str, tuple[Callable[[], dict[str, Any]], str | None]] = {
    "sticker": (lambda: message_update(CHAT, **botapi.STICKER), "only read text and buttons"),
    "photo": (lambda: message_update(CHAT, **botapi.PHOTO), "only read text and buttons"),
    "voice": (lambda: message_update(CHAT, **botapi.VOICE), "only read text and buttons"),
    "document": (lambda: message_update(CHAT, **botapi.DOCUMENT), "only read text and buttons"),
    "location": (lambda: message_update(CHAT, **botapi.LOCATION), "only read text and buttons"),
    "edited message": (lambda: message_update(CHAT, "35", edited=True), "edited messages"),
    "old button": (lambda: button_update(CHAT, "agree_old"), "earlier message"),
    "forged button": (lambda: button_update(CHAT, "'; DROP TABLE contacts; --"), "earlier message"),
    "oversized button": (lambda: button_update(CHAT, "x" * 300), "earlier message"),
    "4096-char text": (lambda: message_update(CHAT, "x" * 4096), None),
    "emoji only": (lambda: message_update(CHAT, "😀😀😀"), None),
    "unknown command": (lambda: message_update(CHAT, "/weather"), "don't know that command"),
    "help command": (lambda: message_update(CHAT, "/help"), "I help you find insurance"),
}
ANSWERS = {"age": 35, "family": "single", "dependants": 0, "annual_income": 200000, "social_insurance": True,
           "health": False}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("kind", list(UNEXPECTED))
def test_unexpected_input_gets_a_polite_reply_and_changes_nothing(tg: Harness, kind: str, state: str) -> None:
    make, expected = UNEXPECTED[kind]
    tg.put(state, dict(ANSWERS), question="health", paused_from="needs", disclosed=True, objection="think")
    _, before, log_before = tg.record()
    data_before = dict(before.data)
    tg.run(lambda h: h.feed(make()))
    _, after, log_after = tg.record()
    assert after.state == state and after.data["answers"] == data_before["answers"]
    def kept(data: dict[str, Any]) -> dict[str, Any]:
        # bad answers are counted, a misread is remembered (the next reply differs), the question asked
        # again is a message numbered with what it offers; defaults are written
        counted = ("failures", "misread", "asked", "offered")
        return {k: v for k, v in Progress.from_json(data["progress"]).to_json().items() if k not in counted}
    assert kept(after.data) == kept(data_before)
    sent = tg.api.sent(CHAT)
    assert len(sent) >= 2 and all(m["text"] for m in sent)
    if expected:
        assert expected in sent[0]["text"]
    assert keyboard_values(sent[-1]) or state == "needs"  # the question is asked again
    new = log_after[len(log_before):]
    assert new[0][0] == "inbound" and any(k == "outbound" for k, _ in new)


# -- failures --------------------------------------------------------------------------------
def test_an_error_is_logged_without_the_token_and_the_user_gets_an_apology(
        tg: Harness, mocker: MockerFixture, caplog: pytest.LogCaptureFixture) -> None:
    real = tg.service.handle
    served = real(Sender("telegram", str(CHAT), locale="en"), Inbound("command", "start"))
    mocker.patch.object(tg.service, "handle",
                        side_effect=[RuntimeError(f"boom at /bot{TOKEN}/sendMessage"), served])
    with caplog.at_level(logging.ERROR):
        tg.run(lambda h: h.feed(message_update(CHAT, "/start"), message_update(CHAT, "/start")))
    assert "something went wrong on our side" in tg.api.sent(CHAT)[0]["text"]
    assert "boom" in caplog.text and TOKEN not in caplog.text
    assert len(tg.api.sent(CHAT)) == 3  # and the next update was served


def test_429_and_network_errors_are_retried(tg: Harness) -> None:
    tg.api.fail("sendMessage", 0, NetworkError("connection reset"))
    tg.run(lambda h: h.feed(message_update(CHAT, "/start")))
    assert tg.api.methods().count("sendMessage") == 4  # two messages, the first tried three times
    assert len(tg.api.sent(CHAT)) == 4 and "licence no." in tg.api.sent(CHAT)[-2]["text"]


def test_one_chat_in_order_different_chats_concurrently(tg: Harness, mocker: MockerFixture) -> None:
    """Through the inbox: while the Bot API keeps chat 1 waiting, chat 2 is answered (chats do not
    wait for each other), and chat 1's second update is handled only after its first."""
    finished: list[str] = []
    real = tg.service.handle

    def recorded(sender: Sender, inbound: Inbound, delivery_id: str | None = None, cut: Cut = whole) -> Turn:
        turn = real(sender, inbound, delivery_id, cut)
        finished.append(f"{sender.external_id}:{inbound.text}")
        return turn

    mocker.patch.object(tg.service, "handle", side_effect=recorded)
    chat_one_waits = tg.request.hold("sendMessage", chat=1)

    async def scenario(h: Harness) -> None:
        updates = h.app.bot_data["updates"]
        for update in [message_update(1, "slow"), message_update(1, "after"), message_update(2, "hello")]:
            await updates.accept(Update.de_json(update, h.app.bot))
        await asyncio.wait_for(updates.draining["2"], 10)  # chat 2 is done while chat 1 still waits
        assert h.api.sent(2) and not h.api.sent(1) and "1:after" not in finished
        chat_one_waits.set()
        await updates.settled()

    tg.run(scenario)
    assert finished.index("1:slow") < finished.index("1:after") and "2:hello" in finished
    assert len(tg.api.sent(1)) >= 2 and tg.api.sent(2)
    with tg.service.database.unit_of_work() as uow:  # everything handled has left the inbox
        assert uow.inbox.chats("telegram") == [] and uow.outbox.chats("telegram") == []


# -- private chats only ------------------------------------------------------------------------
GROUP, CHANNEL_ID, MEMBER, A_BOT_ID = -100123, -100456, 6001, 7777
LINK = f"https://t.me/{botapi.BOT['username']}"
A_BOT = {"id": A_BOT_ID, "is_bot": True, "first_name": "Other", "username": "other_bot"}
FROM_THE_BOT = {"message_id": 3, "date": 0, "from": botapi.BOT, "chat": {"id": GROUP, "type": "supergroup"},
                "text": "How old are you?"}


def in_group(text: str | None, sender: dict[str, Any] | None = None, **parts: Any) -> dict[str, Any]:
    return message_update(GROUP, text, chat_type="supergroup", sender=sender or botapi.user(MEMBER), **parts)


def nobody_is_kept(tg: Harness) -> bool:
    with tg.service.database.unit_of_work() as uow:
        contacts = uow.session.scalar(select(func.count()).select_from(Contact))
        conversations = uow.session.scalar(select(func.count()).select_from(Conversation))
        deliveries = uow.session.scalar(select(func.count()).select_from(Delivery))
    return contacts == conversations == deliveries == 0


ADDRESSED = {
    "a command": lambda: in_group("/start"),
    "a command by name": lambda: in_group("/help@Sales_Assistant_Bot"),
    "a command in a basic group": lambda: message_update(GROUP, "/start", chat_type="group",
                                                         sender=botapi.user(MEMBER)),
    "a mention": lambda: in_group("what does @sales_assistant_bot do?"),
    "a reply to the bot": lambda: in_group("40", reply_to_message=FROM_THE_BOT),
    "a channel post with a command": lambda: message_update(CHANNEL_ID, "/start", chat_type="channel"),
}
@pytest.mark.parametrize("kind", list(ADDRESSED))
def test_outside_a_private_chat_the_bot_points_to_one_and_keeps_nothing(tg: Harness, kind: str) -> None:
    update = ADDRESSED[kind]()
    tg.run(lambda h: h.feed(update))
    [pointer] = tg.api.sent()
    post = kind == "a channel post with a command"  # from no person: in the default language
    assert pointer["chat_id"] == (CHANNEL_ID if post else GROUP) and pointer["text"].endswith(LINK)
    assert ("私聊" if post else "private chat") in pointer["text"] and "reply_markup" not in pointer
    message = update.get("message") or update["channel_post"]
    assert pointer["reply_parameters"]["message_id"] == message["message_id"]
    assert nobody_is_kept(tg)  # no contact, no conversation, not even the update's id


def test_the_pointer_is_in_the_members_language(tg: Harness) -> None:
    tg.run(lambda h: h.feed(message_update(GROUP, "/start", chat_type="supergroup",
                                           sender=botapi.user(MEMBER, "zh-hans"))))
    [pointer] = tg.api.sent()
    assert "私聊" in pointer["text"] and pointer["text"].endswith(LINK)


IGNORED = {
    "group chatter": lambda: in_group("I am 40"),
    "another bot's command": lambda: in_group("/start@other_bot"),
    "a mention of someone else": lambda: in_group("ask @alice"),
    "an edited command": lambda: in_group("/start", edited=True),
    "a sticker in a group": lambda: in_group(None, **botapi.STICKER),
    "a channel post": lambda: message_update(CHANNEL_ID, "New products this week", chat_type="channel"),
    "a bot in a private chat": lambda: message_update(A_BOT_ID, "/start", sender=A_BOT),
    "a bot in a group": lambda: in_group("/start", sender=A_BOT),
}


@pytest.mark.parametrize("kind", list(IGNORED))
def test_other_talk_outside_private_chats_and_bots_are_ignored(tg: Harness, kind: str) -> None:
    tg.run(lambda h: h.feed(IGNORED[kind]()))
    assert [method for method in tg.api.methods() if method != "getMe"] == []  # not a word
    assert nobody_is_kept(tg)


def test_a_keyboard_left_in_a_group_is_answered_with_the_pointer(tg: Harness) -> None:
    async def scenario(h: Harness) -> None:
        await h.feed(button_update(GROUP, "agree|1", chat_type="supergroup"))
        await asyncio.gather(*telegram_handlers.answering)

    tg.run(scenario)
    [answer] = [c.params for c in tg.api.calls if c.method == "answerCallbackQuery"]
    assert answer["text"].endswith(LINK) and tg.api.sent() == []
    assert nobody_is_kept(tg)


def test_a_press_on_no_message_changes_nothing(tg: Harness) -> None:
    """The bot sends no inline messages, so a press from one (no chat) is not a customer's."""
    tg.put("approach")
    query = {"id": "9", "from": botapi.user(CHAT), "chat_instance": "1", "data": "agree|1",
             "inline_message_id": "AAA"}
    update = {"update_id": 424242, "callback_query": query}

    async def scenario(h: Harness) -> None:
        await h.feed(update)
        await asyncio.gather(*telegram_handlers.answering)

    tg.run(scenario)
    assert tg.record()[1].state == "approach" and tg.api.sent() == []
    assert "answerCallbackQuery" in tg.api.methods()


def test_a_private_chat_is_served_as_before(tg: Harness) -> None:
    tg.run(lambda h: h.feed(message_update(CHAT, "hello @sales_assistant_bot")))
    assert len(tg.api.sent(CHAT)) >= 2 and not nobody_is_kept(tg)
