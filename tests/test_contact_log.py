"""The contact log and the conversation store, on SQLite and on PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest
from pytest_mock import MockerFixture
from sqlalchemy import inspect, text, update

from bot.flows.messages import Inbound
from bot.library import Library
from bot.service import SalesService, Sender
from alembic.config import Config
from alembic.script import ScriptDirectory
from storage.database import MIGRATIONS, Database, current_revision, migrate, newest_revision
from storage.models import ContactEvent, Conversation, Delivery, utcnow
from tests.helpers import current_conversation, existing_contact

ALICE = Sender("test", "alice", name="Alice", locale="en")


def log_of(db: Database, sender: Sender) -> list[tuple[str, str, str]]:
    with db.unit_of_work() as uow:
        record = current_conversation(uow, sender.channel, sender.external_id)
        return [(e.kind, e.stage, e.text) for e in uow.events.of(record.id)]


def deliver(service: SalesService, sender: Sender) -> None:
    """What a channel does after each message: send what waits in the outbox, and say so."""
    for item in service.pending(sender.channel, sender.external_id):
        service.sent(item.id)


def test_the_log_holds_every_inbound_outbound_and_transition_in_order(library: Library,
                                                                       database: Database) -> None:
    service = SalesService(library, database)
    sent = []
    for inbound in [Inbound("command", "start"), Inbound("choice", "agree"), Inbound("text", "abc"),
                    Inbound("text", "35")]:
        sent.append((inbound, service.handle(ALICE, inbound).replies))
        deliver(service, ALICE)
    expected = []
    for inbound, replies in sent:
        expected.append(("inbound", inbound.text))
        if inbound.text == "agree":
            expected += [("transition", "agree"), ("consent", "")]
        expected += [("outbound", reply.text) for reply in replies]
    log = log_of(database, ALICE)
    assert [(kind, text) for kind, _, text in log] == expected
    stages = [stage for kind, stage, _ in log if kind == "outbound"]
    assert stages[:2] == ["approach", "approach"] and set(stages[2:]) == {"needs"}


def test_replies_are_logged_when_sent_not_when_decided(library: Library, database: Database) -> None:
    service = SalesService(library, database)
    replies = service.handle(ALICE, Inbound("command", "start")).replies
    assert [kind for kind, _, _ in log_of(database, ALICE)] == ["inbound"]  # decided, not yet sent
    waiting = service.pending("test", "alice")
    assert [item.message.text for item in waiting] == [reply.text for reply in replies]
    service.sent(waiting[0].id)
    service.failed(waiting[1].id, "Forbidden: bot was blocked by the user", unreachable=True)
    service.sent(waiting[1].id)  # a failed message is not sent after all
    assert [(kind, text) for kind, _, text in log_of(database, ALICE)] == [
        ("inbound", "start"), ("outbound", replies[0].text)]
    assert service.pending("test", "alice") == []
    with database.unit_of_work() as uow:
        assert existing_contact(uow, "test", "alice").unreachable_since is not None
    service.handle(ALICE, Inbound("text", "hello"))  # writing again makes them reachable
    with database.unit_of_work() as uow:
        assert existing_contact(uow, "test", "alice").unreachable_since is None


def test_state_and_answers_survive_a_new_service_on_the_same_database(library: Library,
                                                                       database: Database) -> None:
    SalesService(library, database).handle(ALICE, Inbound("command", "start"))
    SalesService(library, database).handle(ALICE, Inbound("choice", "agree"))
    SalesService(library, database).handle(ALICE, Inbound("text", "41"))
    replies = SalesService(library, Database(database.url)).handle(ALICE, Inbound("command", "start")).replies
    assert "Welcome back" in replies[0].text
    assert replies[-1].text.endswith(library.text("en", "questions.occupation.prompt"))  # the same question
    with database.unit_of_work() as uow:
        record = current_conversation(uow, "test", "alice")
        assert record.state == "needs" and record.data["answers"] == {"age": 41}


def test_a_failing_message_saves_nothing(library: Library, database: Database, mocker: MockerFixture) -> None:
    service = SalesService(library, database)
    service.handle(ALICE, Inbound("command", "start"))
    before = log_of(database, ALICE)
    mocker.patch("bot.service.handle", side_effect=RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        service.handle(ALICE, Inbound("choice", "agree"))
    assert log_of(database, ALICE) == before  # the inbound line was rolled back with the rest


def test_contacts_are_per_channel_and_keep_their_start_payload(library: Library, database: Database) -> None:
    service = SalesService(library, database)
    service.handle(Sender("telegram", "7", locale="zh_CN", start_payload="R12"), Inbound("command", "start"))
    service.handle(Sender("console", "7", locale="en"), Inbound("command", "start"))
    with database.unit_of_work() as uow:
        telegram = existing_contact(uow, "telegram", "7")
        assert telegram.start_payload == "R12" and telegram.locale == "zh_CN"
        assert existing_contact(uow, "console", "7").locale == "en"


def test_migrations_create_the_schema_and_can_run_again(database: Database) -> None:
    migrate(database.engine)  # a second run changes nothing
    tables = set(inspect(database.engine).get_table_names())
    assert {"contacts", "conversations", "contact_events", "alembic_version"} <= tables
    with database.engine.connect() as connection:
        assert connection.execute(text("select version_num from alembic_version")).scalar() is not None


def test_a_migrated_database_is_known_at_its_newest_revision_without_alembic(database: Database) -> None:
    """Start-up skips Alembic when the schema is at the newest file's revision: the two must agree."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert newest_revision() == ScriptDirectory.from_config(config).get_current_head()
    assert current_revision(database.engine) == newest_revision()


def test_a_delivery_is_handled_once(library: Library, database: Database) -> None:
    service = SalesService(library, database)
    first = service.handle(ALICE, Inbound("command", "start"), delivery_id="1001")
    again = service.handle(ALICE, Inbound("command", "start"), delivery_id="1001")
    assert first.replies and again.duplicate and not again.replies
    assert [kind for kind, _, _ in log_of(database, ALICE)].count("inbound") == 1


def test_a_failed_delivery_can_be_handled_when_it_comes_again(library: Library, database: Database,
                                                               mocker: MockerFixture) -> None:
    service = SalesService(library, database)
    mocker.patch("bot.service.handle", side_effect=RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        service.handle(ALICE, Inbound("command", "start"), delivery_id="2002")
    mocker.stopall()
    assert service.handle(ALICE, Inbound("command", "start"), delivery_id="2002").replies


def test_delete_on_request_erases_the_contact_and_their_record(library: Library, database: Database) -> None:
    service = SalesService(library, database)
    service.handle(ALICE, Inbound("command", "start"))
    service.handle(ALICE, Inbound("choice", "agree"))
    service.handle(ALICE, Inbound("text", "41"))
    asked = service.handle(ALICE, Inbound("command", "delete")).replies[0].text
    assert "/delete confirm" in asked
    with database.unit_of_work() as uow:
        assert uow.contacts.find("test", "alice") is not None  # nothing is deleted without confirmation
    done = service.handle(ALICE, Inbound("command", "delete", "confirm")).replies[0].text
    assert "has been deleted" in done
    with database.unit_of_work() as uow:
        assert uow.contacts.find("test", "alice") is None
        assert uow.session.query(ContactEvent).count() == 0 and uow.session.query(Conversation).count() == 0
    fresh = service.handle(ALICE, Inbound("command", "start")).replies
    assert "Welcome back" not in fresh[0].text  # a new start, nothing remembered


def test_old_delivery_records_are_dropped_recent_ones_kept(library: Library, database: Database) -> None:
    service = SalesService(library, database)
    service.handle(ALICE, Inbound("command", "start"), delivery_id="old")
    service.handle(ALICE, Inbound("command", "help"), delivery_id="new")
    with database.unit_of_work() as uow:
        three_days_ago = utcnow() - timedelta(days=3)
        uow.session.execute(update(Delivery).where(Delivery.delivery_id == "old").values(at=three_days_ago))
        uow.commit()
    assert service.forget_old_records() == 1
    assert service.handle(ALICE, Inbound("command", "help"), delivery_id="new").duplicate  # still guarded
