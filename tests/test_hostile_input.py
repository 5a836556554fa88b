"""What arrives is not always what Telegram would send: characters a database refuses, names and
texts longer than anything real. Each is handled where a message enters (`Channel.handle`), the
same for every channel, on SQLite and PostgreSQL. And long replies are cut where a reader would
pause."""
from __future__ import annotations

from typing import Any

import pytest

from bot.flows.messages import Inbound
from bot.handlers.channel import NAME_LENGTH, Channel, Limits, split_text
from bot.library import Library
from bot.service import SalesService, Sender
from storage.database import Database
from tests.helpers import current_conversation, existing_contact

CHANNEL = "test"


@pytest.fixture
def channel(library: Library, database: Database) -> Channel:
    return Channel(CHANNEL, SalesService(library, database), Limits(text=4096, options=8))


def logged(channel: Channel, who: str) -> list[tuple[str, str]]:
    with channel.service.database.unit_of_work() as uow:
        conversation = current_conversation(uow, CHANNEL, who)
        return [(e.kind, e.text) for e in uow.events.of(conversation.id)]


def state_of(channel: Channel, who: str) -> str:
    with channel.service.database.unit_of_work() as uow:
        return current_conversation(uow, CHANNEL, who).state


def answers_of(channel: Channel, who: str) -> dict[str, Any]:
    with channel.service.database.unit_of_work() as uow:
        answers: dict[str, Any] = current_conversation(uow, CHANNEL, who).data.get("answers", {})
        return answers


# -- characters a database refuses --------------------------------------------------------------
def test_nul_and_lone_surrogates_are_dropped_from_names_texts_buttons_and_arguments(channel: Channel) -> None:
    sender = Sender(CHANNEL, "nul", name="Wang\x00 Fang\ud800", locale="en", start_payload="ad\x00x")
    assert channel.handle(sender, Inbound("command", "start", "ad\x00x")).replies
    channel.handle(sender, Inbound("choice", "agr\x00ee"))  # a forged button
    channel.handle(sender, Inbound("text", "3\x005\udc00"))  # the age: 35
    assert channel.handle(sender, Inbound("command", "help\x00")).replies  # every later message too
    with channel.service.database.unit_of_work() as uow:
        contact = existing_contact(uow, CHANNEL, "nul")
        assert (contact.name, contact.start_payload) == ("Wang Fang", "adx")
        answers = current_conversation(uow, CHANNEL, "nul").data["answers"]
    assert answers["age"] == 35
    texts = [text for _, text in logged(channel, "nul")]
    assert "agree" in texts and "35" in texts
    assert not any("\x00" in text for text in texts)


def test_a_name_longer_than_the_contacts_table_holds_is_cut(channel: Channel) -> None:
    assert NAME_LENGTH
    sender = Sender(CHANNEL, "long-name", name="王" * 5000, locale="zh_CN")
    channel.handle(sender, Inbound("command", "start"))
    channel.handle(sender, Inbound("command", "help"))
    with channel.service.database.unit_of_work() as uow:
        assert existing_contact(uow, CHANNEL, "long-name").name == "王" * NAME_LENGTH


# -- texts longer than any answer -------------------------------------------------------------
@pytest.mark.parametrize("locale,refusal", [("en", "too long"), ("zh_CN", "太长")])
def test_a_text_longer_than_an_answer_is_refused_politely_and_not_kept(channel: Channel, locale: str,
                                                                       refusal: str) -> None:
    sender = Sender(CHANNEL, f"long-{locale}", locale=locale)
    channel.handle(sender, Inbound("command", "start"))
    question = channel.handle(sender, Inbound("choice", "agree")).replies[-1]
    state, answers = state_of(channel, sender.external_id), answers_of(channel, sender.external_id)
    longest = channel.longest_text
    for inbound in (Inbound("text", "x" * 2_000_000), Inbound("text", "x" * (longest + 1)),
                    Inbound("command", "script", "x" * longest), Inbound("choice", "x" * 100_000)):
        messages = channel.handle(sender, inbound).replies
        assert messages[0].text == channel.service.library.text(locale, "errors.too_long")
        assert refusal in messages[0].text and str(longest) in messages[0].text
        assert messages[-1].text == question.text  # and the question is asked again
    log = logged(channel, sender.external_id)
    assert max(len(text) for _, text in log) < longest  # nothing of them was written
    assert log.count(("inbound", "too_long")) == 4  # only that they came
    assert state_of(channel, sender.external_id) == state
    assert answers_of(channel, sender.external_id) == answers
    # a text of the longest length is read as any other
    replies = channel.handle(sender, Inbound("text", "3" * longest)).replies
    assert refusal not in replies[0].text
    assert ("inbound", "3" * longest) in logged(channel, sender.external_id)


# -- long replies cut where a reader pauses ---------------------------------------------------
def check_parts(text: str, parts: list[str], limit: int) -> None:
    assert all(0 < len(part) <= limit for part in parts), [len(p) for p in parts]
    assert all(part == part.strip() for part in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())  # nothing lost but the spaces at a cut


def test_a_long_text_is_cut_after_a_paragraph() -> None:
    paragraphs = ["First plan. It covers your life. " * 3, "Second plan. It covers illness. " * 3,
                  "Third plan. " * 5]
    text = "\n\n".join(p.strip() for p in paragraphs)
    parts = split_text(text, 250)
    check_parts(text, parts, 250)
    assert parts == [paragraphs[0].strip() + "\n\n" + paragraphs[1].strip(), paragraphs[2].strip()]


def test_a_long_english_paragraph_is_cut_after_a_sentence_not_inside_a_number() -> None:
    text = ("Term life insurance for you costs about CNY 21,530 a year. It pays 1.5 million if you die. "
            "The cover lasts until 65! Is that enough? ") * 3
    parts = split_text(text, 100)
    check_parts(text, parts, 100)
    assert all(part.endswith((".", "!", "?")) for part in parts)
    assert not any(part.endswith(("21,530", "1.", "CNY")) for part in parts)


def test_a_long_chinese_paragraph_is_cut_after_a_full_stop() -> None:
    sentence = "您的定期寿险保额为三百五十万元，每年保费约两千四百元。重疾险保额九十万元！要不要看看方案？"
    text = "“" + sentence * 4 + "。”" + sentence  # also a closing quote after the full stop
    parts = split_text(text, 80)
    check_parts(text, parts, 80)
    assert all(part.endswith(("。", "！", "？", "。”")) for part in parts)


def test_without_sentences_a_text_is_cut_after_a_line_then_between_words_then_anywhere() -> None:
    lines = "\n".join(["- cover 1 000 000 for the breadwinner"] * 6)
    assert all(part.startswith("- cover") for part in split_text(lines, 100))
    words = "word " * 60
    parts = split_text(words, 42)
    check_parts(words, parts, 42)
    assert all(part.endswith("word") for part in parts)
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_text("保险" * 10, 7) == ["保险保险保险保", "险保险保险保险", "保险保险保险"]


def test_no_part_is_empty_and_short_texts_are_left_alone() -> None:
    text = "\n\n\n" + " " * 30 + "A sentence. " * 10
    parts = split_text(text, 20)
    check_parts(text, parts, 20)
    assert split_text("", 10) == [""] and split_text("short", 10) == ["short"]
    assert split_text(" " * 30, 10) == [" " * 10] and split_text("x", None) == ["x"]
    assert split_text("Ends exactly here. Then more", 18) == ["Ends exactly here.", "Then more"]


def test_the_family_proposal_is_cut_at_a_paragraph(service: SalesService) -> None:
    from tests.test_self_service import FAMILY, run_questionnaire

    sender = Sender(CHANNEL, "family", locale="en")
    run_questionnaire(service, sender, FAMILY["en"])
    proposal = max((r.text for r in service.handle(sender, Inbound("choice", "confirm")).replies), key=len)
    assert len(proposal) > 4096  # else this test shows nothing
    parts = split_text(proposal, 4096)
    check_parts(proposal, parts, 4096)
    for part in parts:
        assert proposal[proposal.index(part) + len(part):].startswith(("\n\n", "")), part[-40:]
        assert part.endswith((".", ")", "?", "!")), part[-40:]
