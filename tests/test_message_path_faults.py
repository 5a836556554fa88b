"""The message path when something goes wrong: nothing waits for training inside a turn, a turn
that fails for a passing reason keeps its update, a cosmetic call never fails a committed turn,
and start-up rides out a Bot API that is briefly away."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
from pytest_mock import MockerFixture

from bot.flows import acts, intents
from bot.handlers import app as app_module
from bot.service import SalesService
from storage.database import Database
from tests.botapi import message_update
from tests.conftest import TEST_PARAMETERS
from tests.helpers import CHAT, Harness, current_conversation
from bot.library import Library


def fresh_library() -> Library:
    """A library no classifier was trained for yet (the session's shared one has them)."""
    return Library(parameters=TEST_PARAMETERS)


def test_the_bot_trains_its_classifiers_before_it_accepts_any_update(mocker: MockerFixture,
                                                                     sqlite_database: Database) -> None:
    service = SalesService(fresh_library(), sqlite_database)
    trained_when_serving: list[bool] = []

    async def serve(app: Any, accept: Any, allowed_updates: Any = None) -> None:
        trained_when_serving.append(service.library in intents._by_library and "classifier" in vars(service))

    mocker.patch.object(app_module, "serve_polling", serve)
    args = argparse.Namespace(webhook_url=None, base_url=None, listen="127.0.0.1", port=0)
    assert app_module.run_telegram(service, "1:TOKEN", args) == 0
    assert trained_when_serving == [True]


def test_a_first_typed_message_does_not_wait_for_training(mocker: MockerFixture, sqlite_database: Database) -> None:
    service = SalesService(fresh_library(), sqlite_database)
    service.prepare()  # what the runners do before accepting updates

    def no_training(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a classifier was trained inside a turn")

    mocker.patch.object(intents, "_trained", no_training)
    mocker.patch.object(acts.ActClassifier, "__init__", no_training)
    reading = mocker.spy(intents, "classifier")
    tg = Harness(service)

    async def scenario(h: Harness) -> None:
        await h.feed(message_update(CHAT, "/start"))
        await h.feed(message_update(CHAT, "hmm ok then, why not"))

    tg.run(scenario)
    with service.database.unit_of_work() as uow:
        kinds = [e.kind for e in uow.events.of(current_conversation(uow, "telegram", str(CHAT)).id)]
    assert reading.call_count >= 1  # the message was read by the classifier
    assert kinds.count("inbound") == 2 and "error" not in kinds
    assert len(tg.api.delivered(CHAT)) >= 3  # the greeting, the consent question, the answer
