"""Helpers shared by the test modules: a Telegram harness over the offline Bot API, and ways to
put a conversation at a stage directly."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from telegram import Update

from bot.flows.conversation import Talk
from bot.flows.messages import Inbound
from bot.flows.progress import Progress
from bot.flows.sale import Sale
from bot.library import Library, load_yaml
from bot.handlers.app import build_application
from bot.handlers.delivery import RetryingRateLimiter
from bot.service import SalesService, Sender
from storage.models import Contact, Conversation
from storage.unit_of_work import UnitOfWork
from tests.botapi import BotApiServer, FakeBotApi, OfflineRequest, value_of

TOKEN = "123456789:AAF-secret-test-token_abcdefghijklmnopq"
CHAT = 5001


class Harness:
    def __init__(self, service: SalesService) -> None:
        self.service = service
        self.api = FakeBotApi()
        self.request = OfflineRequest(self.api)
        self.app = build_application(service, TOKEN, request=self.request,
                                     rate_limiter=RetryingRateLimiter(backoff=0.01))

    def run(self, scenario: Callable[[Harness], Coroutine[Any, Any, None]]) -> None:
        async def main() -> None:
            async with self.app:
                await scenario(self)
        asyncio.run(main())

    async def feed(self, *updates: dict[str, Any]) -> None:
        """Process updates in order. A press built without its message's keyboard is a press on
        the chat's current question (FakeBotApi.on_current_message), as a person would make it."""
        for update in updates:
            await self.app.process_update(Update.de_json(self.api.on_current_message(update), self.app.bot))

    def record(self, chat: int = CHAT) -> tuple[Contact, Conversation, list[tuple[str, str]]]:
        """The chat's contact, its current conversation, and the conversation's log as (kind, text)."""
        with self.service.database.unit_of_work() as uow:
            contact = existing_contact(uow, "telegram", str(chat))
            conversation = current_conversation(uow, "telegram", str(chat))
            return contact, conversation, [(e.kind, e.text) for e in uow.events.of(conversation.id)]

    def put(self, state: str, answers: dict[str, Any] | None = None, chat: int = CHAT,
            **progress: Any) -> None:
        """Start a chat and move it to `state` directly."""
        self.service.handle(Sender("telegram", str(chat), locale="en"), Inbound("command", "start"))
        with self.service.database.unit_of_work() as uow:
            record = current_conversation(uow, "telegram", str(chat))
            record.state = state
            record.data = {"answers": answers or {}, "progress": {"greeted": True, **progress}}
            uow.commit()


def existing_contact(uow: UnitOfWork, channel: str, external_id: str) -> Contact:
    """A contact the test has made, so it must be there."""
    contact = uow.contacts.find(channel, external_id)
    assert contact is not None, f"no contact {channel}/{external_id}"
    return contact


def current_conversation(uow: UnitOfWork, channel: str, external_id: str) -> Conversation:
    """The current conversation of a contact the test has started, so it must be there."""
    conversation = uow.conversations.current(existing_contact(uow, channel, external_id))
    assert conversation is not None, f"no current conversation for {channel}/{external_id}"
    return conversation


def keyboard_data(params: dict[str, Any]) -> list[str]:
    """The callback data of a sent message's buttons, as Telegram sends them back ("no|7")."""
    rows = params.get("reply_markup", {}).get("inline_keyboard", [])
    return [b["callback_data"] for row in rows for b in row]


def keyboard_values(params: dict[str, Any]) -> list[str]:
    """The values of a sent message's buttons, without their question's number."""
    return [value_of(data) for data in keyboard_data(params)]


def sale_at(library: Library, state: str, answers: dict[str, Any] | None = None, locale: str = "en",
            **progress: Any) -> Sale:
    """A conversation put at `state` directly, as if the earlier part had happened."""
    return Sale(Talk(library, locale), state, dict(answers or {}), Progress(greeted=True, **progress))


HERE = Path(__file__).with_name("conversations")  # transcripts of conversations
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
        record = current_conversation(uow, sender.channel, sender.external_id)
        record.state = setup["state"]
        record.data = {"answers": setup.get("answers", {}),
                       "progress": {"greeted": True, **setup.get("progress", {})}}
        uow.commit()


def run_transcript(service: SalesService, path: Path) -> None:
    """Send a transcript's steps (tests/conversations/README.md) and check what follows each."""
    transcript = load_yaml(path.read_text(encoding="utf-8"))
    sender = Sender("test", f"{path.parent.name}/{path.stem}", name=transcript.get("name", ""),
                    locale=transcript["locale"])
    if "given" in transcript:
        given(service, sender, transcript["given"])
    for number, step in enumerate(transcript["steps"], 1):
        replies = service.handle(sender, inbound_of(step)).replies
        said = "\n".join([r.text for r in replies] + [b.label for r in replies for b in r.buttons])
        where = f"{path.name}, step {number} ({step})"
        mode = transcript.get("mode", "customer")  # a rehearsal's transcript checks the rehearsal's state
        with service.database.unit_of_work() as uow:
            contact = existing_contact(uow, sender.channel, sender.external_id)
            record = uow.conversations.current(contact, mode)
            assert record is not None, f"{where}: no {mode} conversation\nreplies:\n{said}"
            assert record.state == step["state"], f"{where}: stage is {record.state}\nreplies:\n{said}"
            for name, value in step.get("answers", {}).items():
                assert record.data["answers"].get(name) == value, f"{where}: answer {name}"
        for fragment in step.get("expect", []):
            assert str(fragment) in said, f"{where}: {fragment!r} not in the replies:\n{said}"
        for fragment in step.get("never", []):
            assert str(fragment) not in said, f"{where}: {fragment!r} should not be said:\n{said}"


# -- the bot as its own process (webhook mode), for the end-to-end tests --------------------------
ROOT = Path(__file__).resolve().parents[1]
SECRET = "e2e-secret_123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]  # getsockname() is typed Any
        return port


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class BotProcess:
    def __init__(self, api: BotApiServer, database: Path) -> None:
        self.api = api
        self.port = free_port()
        self.database = database
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.api.api.clear()
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
               "DATABASE_URL": f"sqlite:///{self.database}"}
        self.process = process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--webhook-url", f"http://127.0.0.1:{self.port}/telegram",
             "--listen", "127.0.0.1", "--port", str(self.port), "--base-url", self.api.base_url],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None  # stdout=PIPE
        wait_for(lambda: "setWebhook" in self.api.api.methods() or process.poll() is not None, "setWebhook")
        assert process.poll() is None, process.stdout.read()
        # the webhook is registered before the server listens: wait until it accepts connections
        wait_for(lambda: accepts(self.port), "the webhook server to listen")

    def stop(self) -> str:
        assert self.process
        self.process.send_signal(signal.SIGINT)
        output, _ = self.process.communicate(timeout=20)
        return output

    def post(self, update: dict[str, Any], secret: str = SECRET) -> int:
        status = post_raw(self.port, json.dumps(update).encode(), secret)
        assert status is not None, "the webhook server closed the connection"
        return status

    def say(self, update: dict[str, Any], chat: int) -> list[dict[str, Any]]:
        """Post an update and return the messages it produced, once they stop coming."""
        before = len(self.api.api.sent(chat))
        assert self.post(update) == 200
        wait_for(lambda: len(self.api.api.sent(chat)) > before, "a reply")
        settled = -1
        while settled != len(self.api.api.sent(chat)):
            settled = len(self.api.api.sent(chat))
            time.sleep(0.15)
        return self.api.api.sent(chat)[before:]


def post_raw(port: int, body: bytes, secret: str = SECRET) -> int | None:
    """The status of a POST of these bytes; None when the server closed the connection first."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/telegram", data=body, method="POST",
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status: int = response.status  # urlopen() is typed Any
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError):
        return None
