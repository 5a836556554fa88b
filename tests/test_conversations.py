"""Conversation transcripts as data: each YAML file under tests/conversations/ is one test.

A transcript lists what the customer sends and, after each message, the stage the sale must be
in and fragments its replies must contain. Whoever edits a talk track can add a case here
without writing Python; see tests/conversations/README.md.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.flows.messages import Inbound
from bot.library import load_yaml
from bot.service import SalesService, Sender

HERE = Path(__file__).with_name("conversations")
TRANSCRIPTS = sorted(HERE.rglob("*.yaml"))


def inbound_of(step: dict[str, Any]) -> Inbound:
    if "say" in step:
        return Inbound("text", str(step["say"]))
    if "press" in step:
        return Inbound("choice", str(step["press"]))
    if "command" in step:
        command, _, argument = str(step["command"]).partition(" ")
        return Inbound("command", command, argument)
    if "send" in step:  # something that is not text, e.g. a sticker
        return Inbound("unsupported", str(step["send"]))
    raise ValueError(f"a step needs say, press, command or send: {step}")


def given(service: SalesService, sender: Sender, setup: dict[str, Any]) -> None:
    """Put the conversation at a stage directly, as if the earlier part had happened."""
    service.handle(sender, Inbound("command", "start"))
    with service.database.unit_of_work() as uow:
        contact = uow.contacts.find(sender.channel, sender.external_id)
        record = uow.conversations.current(contact)
        record.state = setup["state"]
        record.data = {"answers": setup.get("answers", {}), "progress": {"greeted": True, **setup.get("progress", {})}}
        uow.commit()


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[str(p.relative_to(HERE)) for p in TRANSCRIPTS])
def test_transcript(path: Path, service: SalesService) -> None:
    transcript = load_yaml(path.read_text(encoding="utf-8"))
    sender = Sender("test", path.stem, name=transcript.get("name", ""), locale=transcript["locale"])
    if "given" in transcript:
        given(service, sender, transcript["given"])
    for number, step in enumerate(transcript["steps"], 1):
        replies = service.handle(sender, inbound_of(step)).replies
        said = "\n".join([r.text for r in replies] + [b.label for r in replies for b in r.buttons])
        where = f"{path.name}, step {number} ({step})"
        with service.database.unit_of_work() as uow:
            record = uow.conversations.current(uow.contacts.find(sender.channel, sender.external_id))
            assert record.state == step["state"], f"{where}: stage is {record.state}\nreplies:\n{said}"
            for name, value in step.get("answers", {}).items():
                assert record.data["answers"].get(name) == value, f"{where}: answer {name}"
        for fragment in step.get("expect", []):
            assert str(fragment) in said, f"{where}: {fragment!r} not in the replies:\n{said}"
        for fragment in step.get("never", []):
            assert str(fragment) not in said, f"{where}: {fragment!r} should not be said:\n{said}"


def test_there_is_a_transcript_for_every_stage_in_every_language() -> None:
    covered: dict[str, set[str]] = {}
    for path in TRANSCRIPTS:
        transcript = load_yaml(path.read_text(encoding="utf-8"))
        stages = {step["state"] for step in transcript["steps"]}
        covered.setdefault(transcript["locale"], set()).update(stages)
    from bot.flows.machine import STATES

    for locale in ("en", "zh_CN"):
        assert set(STATES) <= covered.get(locale, set()), f"{locale}: no transcript reaches {set(STATES) - covered.get(locale, set())}"
