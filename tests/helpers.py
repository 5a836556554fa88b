"""Helpers shared by the test modules: a Telegram harness over the offline Bot API, and ways to
put a conversation at a stage directly."""
from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, create_engine, inspect, text
from telegram import Update

from bot.flows.conversation import Talk
from bot.flows.messages import Inbound, Reply
from bot.flows.progress import Progress
from bot.flows.sale import Sale
from bot.library import Library, load_yaml
from bot.handlers.app import build_application
from bot.handlers.delivery import RetryingRateLimiter
from bot.service import SalesService, Sender
from storage.models import Contact, Conversation
from storage.unit_of_work import UnitOfWork
from tests.answering import question_of
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
            # what the turn started for other chats (an agent's, a referrer's) is done before the next
            # update, as the chat locks of the inbox path would order it
            await self.app.bot_data["updates"].settled()

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
        for item in self.service.pending("telegram", str(chat)):  # as if the greeting had been sent
            self.service.sent(item.id)
        with self.service.database.unit_of_work() as uow:
            record = current_conversation(uow, "telegram", str(chat))
            record.state = state
            record.data = {"answers": answers or {}, "progress": {"greeted": True, **progress}}
            uow.commit()


def agent_sender(service: SalesService, external_id: str, channel: str = "test",
                 locale: str = "en") -> Sender:
    """A sender the agency names an agent (as SALESBOT_AGENTS would): agents' commands are theirs."""
    service.desk.configured[external_id] = "agent"
    return Sender(channel, external_id, locale=locale)


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


def asked_question(service: SalesService, sender: Sender) -> str | None:
    with service.database.unit_of_work() as uow:
        record = current_conversation(uow, sender.channel, sender.external_id)
        return question_of(record.state, record.data)


def reach_question(service: SalesService, sender: Sender, question_id: str, where: str) -> None:
    """Skip the optional questions asked before `question_id` (one added since the test was written)."""
    for _ in service.library.questions:
        asked = asked_question(service, sender)
        if asked == question_id:
            return
        assert asked is not None, f"{where}: the questions are over before {question_id!r}"
        assert not service.library.question(asked).required, \
            f"{where}: {asked!r} is asked before {question_id!r} and cannot be skipped"
        service.handle(sender, Inbound("choice", "skip"))
    raise AssertionError(f"{where}: {question_id!r} is never asked")


def asks_next(library: Library, asked: str | None, expected: str,
              answers: dict[str, Any] | None = None) -> bool:
    """Whether `expected` is the question asked, or comes after only optional questions (one added
    since the test was written may be asked first), questions already answered and questions that
    do not apply."""
    order, answers = [q.id for q in library.questions], answers or {}
    if asked is None or asked not in order or expected not in order:
        return asked == expected
    passed = order[order.index(asked):order.index(expected)]
    between = [library.question(q) for q in passed if q not in answers]
    return asked == expected or (bool(between) and not any(q.required and q.asked(answers) for q in between))


def skip_to_the_end(service: SalesService, sender: Sender) -> list[Reply]:
    """Skip the optional questions still asked; their replies (the summary's among them)."""
    replies: list[Reply] = []
    for _ in service.library.questions:
        asked = asked_question(service, sender)
        if asked is None or service.library.question(asked).required:
            break
        replies += service.handle(sender, Inbound("choice", "skip")).replies
    return replies


def run_transcript(service: SalesService, path: Path) -> None:
    """Send a transcript's steps (tests/conversations/README.md) and check what follows each."""
    transcript = load_yaml(path.read_text(encoding="utf-8"))
    sender = Sender("test", f"{path.parent.name}/{path.stem}", name=transcript.get("name", ""),
                    locale=transcript["locale"])
    if transcript.get("mode", "customer") != "customer":  # a rehearsal is an agent's
        service.desk.configured[sender.external_id] = "agent"
    if "given" in transcript:
        given(service, sender, transcript["given"])
    for number, step in enumerate(transcript["steps"], 1):
        if "at" in step:  # the step answers this question: optional ones before it are skipped
            reach_question(service, sender, str(step["at"]), f"{path.name}, step {number}")
        replies = service.handle(sender, inbound_of(step)).replies
        if step.get("state") not in ("needs", None) and transcript.get("mode", "customer") == "customer":
            replies += skip_to_the_end(service, sender)  # optional questions added since it was written
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
            if "asking" in step:
                asked = question_of(record.state, record.data)
                next_one = asks_next(service.library, asked, step["asking"], record.data["answers"])
                assert next_one, f"{where}: {asked!r} is asked"
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
    except OSError:
        return False
    return True


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class BotProcess:
    """The bot as its own process in webhook mode, on the database at `database`: a path (SQLite)
    or a SQLAlchemy URL (several processes may share a PostgreSQL one)."""

    def __init__(self, api: BotApiServer, database: Path | str, port: int | None = None) -> None:
        self.api = api
        self.port = port or free_port()
        self.database = database
        self.process: subprocess.Popen[str] | None = None
        self._output: IO[str] | None = None  # the running process's output, in a file (no pipe to fill)
        self.outputs: list[str] = []  # the output of each process run that has ended, in order

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.database}" if isinstance(self.database, Path) else self.database

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/telegram"

    def webhooks_set(self) -> int:
        """How many times a process on this port has registered its webhook with the Bot API."""
        with self.api.api.lock:
            return sum(1 for c in self.api.api.calls
                       if c.method == "setWebhook" and c.params.get("url") == self.webhook_url)

    def start(self, clear: bool = True, timeout: float = 20) -> None:
        """Start the process and wait until it takes updates. clear=False keeps what the Bot API
        recorded before (a restart that goes on with the same chats)."""
        registered = self.launch(clear)
        self.wait_ready(registered, timeout)

    def launch(self, clear: bool = True) -> int:
        """Start the process without waiting for it (for several started together); returns the
        count of webhook registrations to pass to wait_ready."""
        if clear:
            self.api.api.clear()
        registered = self.webhooks_set()
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
               "DATABASE_URL": self.database_url}
        self._output = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed in _ended)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--webhook-url", self.webhook_url,
             "--listen", "127.0.0.1", "--port", str(self.port), "--base-url", self.api.base_url],
            cwd=ROOT, env=env, stdout=self._output, stderr=subprocess.STDOUT, text=True)
        return registered

    def wait_ready(self, registered: int = 0, timeout: float = 20) -> None:
        """Wait until the process has registered its webhook and its server accepts connections."""
        process = self.process
        assert process is not None
        wait_for(lambda: self.webhooks_set() > registered or process.poll() is not None, "setWebhook",
                 timeout)
        assert process.poll() is None, self.output()
        # the webhook is registered before the server listens: wait until it accepts connections
        wait_for(lambda: accepts(self.port), "the webhook server to listen", timeout)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        """What the current (or last) process has printed so far."""
        if self._output is None:
            return ""
        self._output.flush()
        self._output.seek(0)
        return self._output.read()

    def _ended(self) -> str:
        output = self.output()
        if self._output is not None:
            self._output.close()
            self._output = None
        self.outputs.append(output)
        return output

    def stop(self) -> str:
        assert self.process
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=20)
        return self._ended()

    def kill(self) -> str:
        """SIGKILL: the process ends at once, whatever it was doing (a crash, a power cut)."""
        assert self.process
        self.process.kill()
        self.process.wait(timeout=20)
        return self._ended()

    def post(self, update: dict[str, Any], secret: str = SECRET) -> int:
        status = post_raw(self.port, json.dumps(update).encode(), secret)
        assert status is not None, "the webhook server closed the connection"
        return status

    def post_update(self, update: dict[str, Any], secret: str = SECRET) -> int | None:
        """Post an update as Telegram does, without judging the answer: its status, or None when
        the connection failed (no process listening, or it died while answering)."""
        return post_raw(self.port, json.dumps(update).encode(), secret)

    def say(self, update: dict[str, Any], chat: int) -> list[dict[str, Any]]:
        """Post an update and return the messages it produced, once all of them were sent."""
        before = len(self.api.api.sent(chat))
        assert self.post(update) == 200
        wait_for(lambda: self.handled(update["update_id"], chat), "the update handled and its replies sent")
        return self.api.api.sent(chat)[before:]

    def handled(self, update_id: int, chat: int) -> bool:
        """The update has left the inbox, was claimed as handled, and nothing waits in the chat's
        outbox: every reply it produced has been taken by the Bot API (the bot marks a message
        sent only after that)."""
        with _reading(self.database_url) as connection:
            def count(sql: str, **params: Any) -> int:
                return int(connection.execute(text(sql), params).scalar_one())
            return (count("SELECT count(*) FROM inbox WHERE delivery_id = :u", u=str(update_id)) == 0
                    and count("SELECT count(*) FROM deliveries WHERE delivery_id = :u", u=str(update_id)) == 1
                    and count("SELECT count(*) FROM outbox WHERE chat = :c AND status = 'pending'",
                              c=str(chat)) == 0)


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
    # refused, reset, or cut off in the middle of the answer (a process killed while answering)
    except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException):
        return None


# -- what a bot process left in its database, read with plain SQL (for the process tests) ----------
@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A new, empty schema on the PostgreSQL server at base_url, dropped afterwards: the URL of a
    database whose tables are made there."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield f"{base_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _json(value: Any) -> Any:
    """A JSON column as read without the ORM: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str | bytes) else value


@contextmanager
def _reading(url: str) -> Iterator[Connection]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


@dataclass
class ChatRecord:
    """One Telegram chat as its database has it: the customer conversation's stage and answers,
    and the texts of the contact log's outbound events, in order."""

    state: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    outbound: list[str] = field(default_factory=list)


def chat_records(url: str) -> dict[int, ChatRecord]:
    """Every Telegram chat in the database at url, by chat id."""
    records: dict[int, ChatRecord] = {}
    with _reading(url) as connection:
        rows = connection.execute(text(
            "SELECT c.external_id, v.state, v.data FROM contacts c"
            " JOIN conversations v ON v.contact_id = c.id"
            " WHERE c.channel = 'telegram' AND v.mode = 'customer' ORDER BY v.id"))
        for external_id, state, data in rows:  # the newest conversation last
            record = records.setdefault(int(external_id), ChatRecord())
            record.state, record.answers = state, dict((_json(data) or {}).get("answers", {}))
        rows = connection.execute(text(
            "SELECT c.external_id, e.text FROM contact_events e"
            " JOIN conversations v ON v.id = e.conversation_id JOIN contacts c ON c.id = v.contact_id"
            " WHERE c.channel = 'telegram' AND e.kind = 'outbound' ORDER BY e.id"))
        for external_id, said in rows:
            records.setdefault(int(external_id), ChatRecord()).outbound.append(said)
    return records


def inbound_update_ids(url: str) -> Counter[int]:
    """How many inbound events of the contact log carry each update_id (detail.update_id): how
    many times each update was handled."""
    handled: Counter[int] = Counter()
    with _reading(url) as connection:
        for (detail,) in connection.execute(text("SELECT detail FROM contact_events WHERE kind = 'inbound'")):
            update_id = (_json(detail) or {}).get("update_id")
            if update_id is not None and str(update_id).isdigit():
                handled[int(update_id)] += 1
    return handled


def claimed_deliveries(url: str) -> set[int]:
    """The Telegram update ids in the deliveries table (updates the bot began to handle)."""
    with _reading(url) as connection:
        rows = connection.execute(text("SELECT delivery_id FROM deliveries WHERE channel = 'telegram'"))
        return {int(d) for (d,) in rows if str(d).isdigit()}


def unsent_outbox(url: str) -> dict[int, Counter[str]]:
    """Per chat, the texts of outbox messages not yet recorded as sent ('pending' or 'failed'):
    read right after a crash, the messages that may reach the person twice (sent before the crash,
    sent again after it). Empty when the database has no outbox table."""
    unsent: dict[int, Counter[str]] = {}
    with _reading(url) as connection:
        if not inspect(connection).has_table("outbox"):
            return unsent
        rows = connection.execute(text("SELECT * FROM outbox WHERE status <> 'sent'")).mappings()
        for row in rows:
            if row.get("kind", "message") != "message" or not str(row.get("chat", "")).lstrip("-").isdigit():
                continue
            message = _json(row.get("payload")) or {}
            said = row.get("text", message.get("text") if isinstance(message, dict) else None)
            if said is not None:
                unsent.setdefault(int(row["chat"]), Counter())[said] += 1
    return unsent


def tracebacks(outputs: list[str]) -> list[str]:
    """Each error logged with a traceback in the processes' outputs: its last exception and the
    project's innermost frames ("NetworkError: ... (at bot/handlers/telegram.py:130 send > ...)")."""
    found = []
    for output in outputs:
        for block in output.split("Traceback (most recent call last):")[1:]:
            if "The above exception was" in block or "During handling of the above exception" in block:
                continue  # the cause of the next one: each error is counted once, as its last exception
            lines = [line for line in block.splitlines() if line.strip()]
            error = next((line for line in lines if not line.startswith(" ")), "a traceback")
            ours = [m for m in _FRAME.finditer(block) if m["path"].startswith(str(ROOT))
                    and "site-packages" not in m["path"]]
            where = " > ".join(f"{Path(m['path']).relative_to(ROOT)}:{m['line']} {m['function']}"
                               for m in ours[-3:])
            where = f" (at {where})" if where else ""
            found.append(error + where)
    return found


_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)')
