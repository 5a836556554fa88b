"""The evidence of each sale: every line of the contact log chained by hashes as it is written;
editing, deleting or reordering an entry is found and the conversation named; one sale exported
holds what the customer was sent, message for message."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from bot.cli import main
from bot.library import Library
from bot.service import SalesService, Sender
from storage.database import Database
from storage.models import EvidenceEntry
from bot.flows.messages import Inbound
from tests.answering import FAMILY_ANSWERS, answer_step
from tests.botapi import message_update
from tests.helpers import CHAT, Harness, asked_question, current_conversation

ALICE = Sender("test", "alice", locale="en")
BOB = Sender("test", "bob", locale="zh_CN")


def sold(service: SalesService) -> None:
    """Alice and Bob each go through the whole sale, typed and pressed, up to the application."""
    for sender in (ALICE, BOB):
        service.handle(sender, Inbound("command", "start"))
        service.handle(sender, Inbound("choice", "agree"))
        while (asked := asked_question(service, sender)) is not None:
            kind, value = answer_step(service.library, asked, FAMILY_ANSWERS)
            service.handle(sender, Inbound("choice" if kind == "press" else "text", value))
        for decision in ("confirm", "proceed", "accept"):
            service.handle(sender, Inbound("choice", decision))


def conversation_of(service: SalesService, sender: Sender) -> int:
    with service.database.unit_of_work() as uow:
        return current_conversation(uow, sender.channel, sender.external_id).id


def test_an_untouched_record_is_intact_and_every_log_line_is_in_it(library: Library,
                                                                    database: Database) -> None:
    service = SalesService(library, database)
    sold(service)
    assert service.evidence_problems() == {}
    entries, problem = service.evidence_of(conversation_of(service, ALICE))
    assert problem is None
    with database.unit_of_work() as uow:
        log = uow.events.of(conversation_of(service, ALICE))
    assert [(e["kind"], e["text"]) for e in entries] == [(e.kind, e.text) for e in log]


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
def test_an_edited_removed_or_reordered_entry_is_found_and_its_sale_named(
        library: Library, database: Database, tamper: str) -> None:
    service = SalesService(library, database)
    sold(service)
    victim, other = conversation_of(service, ALICE), conversation_of(service, BOB)
    with database.unit_of_work() as uow:
        rows = uow.session.scalars(select(EvidenceEntry).where(EvidenceEntry.conversation_id == victim)
                                   .order_by(EvidenceEntry.seq)).all()
        third, fourth = rows[2], rows[3]
        if tamper == "edit":  # e.g. the customer's answer to the health question changed afterwards
            entry = json.loads(third.entry)
            entry["text"] = entry["text"] + " (changed)"
            uow.session.execute(update(EvidenceEntry).where(EvidenceEntry.id == third.id)
                                .values(entry=json.dumps(entry)))
        elif tamper == "delete":
            uow.session.execute(delete(EvidenceEntry).where(EvidenceEntry.id == third.id))
        else:  # two entries swapped, their numbers too
            (a, a_seq), (b, b_seq) = (third.id, third.seq), (fourth.id, fourth.seq)
            uow.session.execute(update(EvidenceEntry).where(EvidenceEntry.id == a).values(seq=-1))
            uow.session.execute(update(EvidenceEntry).where(EvidenceEntry.id == b).values(seq=a_seq))
            uow.session.execute(update(EvidenceEntry).where(EvidenceEntry.id == a).values(seq=b_seq))
        uow.commit()
    broken = service.evidence_problems()
    assert list(broken) == [victim] and other not in broken


def test_the_cli_verifies_and_exports_a_sale_as_the_customer_received_it(
        library: Library, sqlite_database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    service = SalesService(library, sqlite_database)
    tg = Harness(service)

    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/start"))
        await h.feed(message_update(CHAT, "41"))  # not yet agreed: asked again

    tg.run(scenario)
    monkeypatch.setenv("DATABASE_URL", sqlite_database.url)
    monkeypatch.setenv("SALESBOT_OUTPUT", str(tmp_path))
    assert main(["audit", "verify"]) == 0
    with sqlite_database.unit_of_work() as uow:
        conversation = current_conversation(uow, "telegram", str(CHAT)).id
    assert main(["audit", "export", str(conversation)]) == 0
    exported = json.loads((tmp_path / f"evidence-{conversation}.json").read_text(encoding="utf-8"))
    sent = [e["text"] for e in exported["entries"] if e["kind"] == "outbound"]
    assert exported["intact"] and sent == [m["text"] for m in tg.api.delivered(CHAT)]
    page = (tmp_path / f"evidence-{conversation}.html").read_text(encoding="utf-8")
    intact = service.library.text(service.library.agent_locale, "audit.intact")
    assert intact in page and "&lt;" not in sent[0]
    with sqlite_database.unit_of_work() as uow:
        uow.session.execute(delete(EvidenceEntry).where(EvidenceEntry.conversation_id == conversation,
                                                        EvidenceEntry.seq == 2))
        uow.commit()
    capsys.readouterr()
    assert main(["audit", "verify"]) == 1
    assert f"conversation {conversation}: entry 2 is missing" in capsys.readouterr().out


def test_an_erased_person_leaves_no_evidence_and_the_rest_stays_intact(library: Library,
                                                                       database: Database) -> None:
    service = SalesService(library, database)
    sold(service)
    alice = conversation_of(service, ALICE)
    service.handle(ALICE, Inbound("command", "delete", "confirm"))
    assert service.evidence_of(alice)[0] == [] and service.evidence_problems() == {}
    assert service.evidence_of(conversation_of(service, BOB))[0]  # Bob's is kept
