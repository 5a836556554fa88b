"""A stand-in for Telegram's Bot API, offline: it records every call and answers like the real one.

Used two ways: in process, as a python-telegram-bot request layer (`OfflineRequest`), and over
HTTP on loopback (`BotApiServer`) for a bot running as a separate process.
"""
from __future__ import annotations

from typing_extensions import override

import asyncio
import copy
import itertools
import re
from email.parser import BytesParser
from email.policy import default
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from telegram import Bot
from telegram._utils.types import ODVInput  # the timeouts' type in BaseRequest.do_request
from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

BOT = {"id": 4242, "is_bot": True, "first_name": "Sales Assistant", "username": "sales_assistant_bot",
       "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200  # what the call was answered: 200, 429, a 5xx; 0 when the connection was dropped


@dataclass(frozen=True)
class ServerError:
    """A failure to give (FakeBotApi.fail): an HTTP error answer such as Telegram's 500, 502 or 503.
    The message was not delivered."""

    status: int = 500
    description: str = "Internal Server Error"


Failure = int | Exception | ServerError


@dataclass
class FakeBotApi:
    calls: list[Call] = field(default_factory=list)
    # method -> queue of failures to give first
    failures: dict[str, deque[Failure]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    lock: threading.RLock = field(default_factory=threading.RLock)  # re-entrant: see wait_until
    # chat -> the keyboard last sent or edited into it (kept across clear(): the current question)
    keyboards: dict[int, list[list[dict[str, Any]]]] = field(default_factory=dict)
    # chat -> the sendMessage calls answered 200, in order (what the person really got)
    _delivered: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # notified after every call, for waiting on what has been sent (wait_until)
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def fail(self, method: str, *failures: Failure) -> None:
        """Make the next calls of `method` fail: an int retry_after (429), a ServerError (a 5xx
        answer) or an Exception to raise (over HTTP: the connection is closed without an answer)."""
        with self.lock:
            self.failures.setdefault(method, deque()).extend(failures)

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            call = Call(method, params)
            self.calls.append(call)
            markup = params.get("reply_markup")
            if isinstance(markup, str):  # a form field, over HTTP
                markup = json.loads(markup)
            if method.startswith(("sendMessage", "editMessage")) and markup and "chat_id" in params:
                self.keyboards[int(params["chat_id"])] = markup["inline_keyboard"]
            pending = self.failures.get(method)
            failure = pending.popleft() if pending else None
            call.status = (0 if isinstance(failure, Exception) else 429 if isinstance(failure, int)
                           else failure.status if isinstance(failure, ServerError) else 200)
            if call.status == 200 and method == "sendMessage" and "chat_id" in params:
                self._delivered.setdefault(int(params["chat_id"]), []).append(params)
            self.changed.notify_all()
        if isinstance(failure, Exception):
            raise failure
        if isinstance(failure, int):
            return 429, {"ok": False, "error_code": 429,
                         "description": f"Too Many Requests: retry after {failure}",
                         "parameters": {"retry_after": failure}}
        if isinstance(failure, ServerError):
            return failure.status, {"ok": False, "error_code": failure.status,
                                    "description": failure.description}
        return 200, {"ok": True, "result": self.result(method, params)}

    SENT_MESSAGES = ("sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageReplyMarkup")

    def result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT
        if method == "getUpdates":
            return []
        if method in self.SENT_MESSAGES:  # the message, as Telegram gives it back
            chat = int(params.get("chat_id", 1))
            message = {"message_id": int(params.get("message_id") or next(self._ids)),
                       "date": int(time.time()), "chat": {"id": chat, "type": "private"}, "from": BOT,
                       "text": params.get("text", "")}
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            return message
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        return True  # answerCallbackQuery, sendChatAction, setMyCommands, setWebhook, deleteWebhook, ...

    # -- what tests look at --------------------------------------------------------------------
    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == "sendMessage"
                and (chat_id is None or int(c.params["chat_id"]) == chat_id)]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def delivered(self, chat_id: int) -> list[dict[str, Any]]:
        """The chat's sendMessage calls that were answered 200, in order: what the person got
        (sent() also lists the calls that were answered with an error)."""
        with self.lock:
            return list(self._delivered.get(chat_id, ()))

    def delivered_count(self) -> int:
        with self.lock:
            return sum(len(messages) for messages in self._delivered.values())

    def wait_while_working(self, condition: Callable[[], bool], quiet: float, longest: float) -> bool:
        """Wait until `condition` holds for as long as the bot keeps working: False only when no
        Bot API call came for `quiet` seconds (nothing is being done), or after `longest`. Patience
        follows the work left, so a loaded machine that is slow but busy never reads as stalled."""
        give_up = time.monotonic() + longest
        while True:
            calls = len(self.calls)
            if self.wait_until(condition, min(quiet, max(0.0, give_up - time.monotonic()))):
                return True
            if len(self.calls) == calls or time.monotonic() >= give_up:  # quiet, or far too long
                return False

    def wait_until(self, condition: Callable[[], bool], timeout: float, recheck: float = 0.5) -> bool:
        """Wait until `condition` holds (checked after every call, and every `recheck` seconds for
        what changes elsewhere); False when `timeout` passed first. The condition runs under the
        (re-entrant) lock, so calls cannot change what it looks at while it looks."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(min(remaining, recheck))
        return True

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()
            self._delivered.clear()

    def on_current_message(self, update: dict[str, Any]) -> dict[str, Any]:
        """A press built without its message's keyboard (`button_update(chat, "agree")`) as a
        press on the chat's current question: its button of that value, with that keyboard. Any
        other update, or a value the current question does not offer, is returned as it is."""
        query = update.get("callback_query")
        if not query or "reply_markup" in query.get("message", {}) or _NUMBERED.search(query["data"]):
            return update
        keyboard = self.keyboards.get(int(query["message"]["chat"]["id"]), [])
        data = next((b["callback_data"] for row in keyboard for b in row
                     if value_of(b["callback_data"]) == query["data"]), None)
        if data is None:
            return update
        pressed = copy.deepcopy(update)
        pressed["callback_query"]["data"] = data
        pressed["callback_query"]["message"]["reply_markup"] = {"inline_keyboard": keyboard}
        return pressed


_NUMBERED = re.compile(r"\|[0-9]+$")  # a button's callback data ends in its question's number: "no|7"


def value_of(data: str) -> str:
    """A button's value, without the number of the question that offered it."""
    return _NUMBERED.sub("", data)


def offline_api(bot: Bot) -> FakeBotApi | None:
    """The fake behind a bot built with `OfflineRequest`."""
    request = bot.request
    return request.api if isinstance(request, OfflineRequest) else None


def _decoded(key: str, value: Any) -> Any:
    """A form field as the Bot API reads it: JSON for objects, numbers for ids."""
    if not isinstance(value, str):
        return value
    if value[:1] in "[{" or (key.endswith("_id") and value.lstrip("-").isdigit()):
        return json.loads(value)
    return value


class OfflineRequest(BaseRequest):
    """python-telegram-bot's request layer, answered by a FakeBotApi instead of the network."""

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api
        self.gates: dict[tuple[str, int | None], asyncio.Event] = {}

    def hold(self, method: str, chat: int | None = None) -> asyncio.Event:
        """Calls of `method` (to one chat, or to any) wait — a slow Bot API — until the event
        returned is set."""
        return self.gates.setdefault((method, chat), asyncio.Event())

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self) -> float:
        return 1.0

    @override
    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        params = request_data.parameters if request_data else {}
        method = url.rsplit("/", 1)[-1]
        for gate in ((method, None), (method, params.get("chat_id"))):
            if gate in self.gates:
                await self.gates[gate].wait()
        status, body = self.api.answer(method, params)
        return status, json.dumps(body).encode()


class BotApiServer:
    """The same fake over HTTP on 127.0.0.1, for a bot whose base URL points here. reject_token:
    every call is answered 401 Unauthorized, as Telegram answers a token it does not know."""

    def __init__(self, api: FakeBotApi | None = None, reject_token: bool = False) -> None:
        self.api = api or FakeBotApi()
        fake = self.api

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                kind = self.headers.get("Content-Type", "")
                if kind.startswith("application/json"):
                    params = json.loads(body or b"{}")
                elif kind.startswith("multipart/form-data"):  # a file upload, e.g. sendPhoto
                    head = f"Content-Type: {kind}\r\n\r\n".encode()
                    message = BytesParser(policy=default).parsebytes(head + body)
                    params = {part.get_param("name", header="content-disposition"):
                              part.get_payload(decode=True) for part in message.iter_parts()}
                    params = {k: _decoded(k, v.decode()) if k != "photo" else v for k, v in params.items()}
                else:
                    params = {k: _decoded(k, v) for k, v in parse_qsl(body.decode())}
                try:
                    if reject_token:
                        with fake.lock:
                            fake.calls.append(Call(self.path.rsplit("/", 1)[-1], params, 401))
                        status, answer = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                    else:
                        status, answer = fake.answer(self.path.rsplit("/", 1)[-1], params)
                except NetworkError:
                    self.close_connection = True
                    return
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the bot died while we answered
                    self.close_connection = True

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self._handler = Handler
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.listening = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def __enter__(self) -> BotApiServer:
        self.thread.start()
        self.listening = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.listening:
            self.server.shutdown()
        self.server.server_close()
        self.listening = False

    # -- the server going away (fault injection) ------------------------------------------------
    def refuse_connections(self) -> None:
        """Close the listening socket: from now on a connection to the port is refused (calls
        already being answered are finished). accept_connections() opens it again."""
        if self.listening:
            self.server.shutdown()
            self.server.server_close()
            self.listening = False

    def accept_connections(self, timeout: float = 10) -> None:
        """Listen again, on the same port (the bot's base URL does not change)."""
        if self.listening:
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
                break
            except OSError:  # the port is briefly taken (by an outgoing connection's end): try again
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.listening = True

    @contextmanager
    def refusing(self) -> Iterator[None]:
        """Connections refused for the time of the with-block."""
        self.refuse_connections()
        try:
            yield
        finally:
            self.accept_connections()


# -- updates as Telegram sends them ----------------------------------------------------------
_update_ids = itertools.count(1)


def user(user_id: int, language: str = "en") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Wang", "last_name": "Fang",
            "language_code": language}


def entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram marks in a text: a command at its start and @mentions."""
    command = text.split()[0] if text.startswith("/") else ""
    found = [{"type": "bot_command", "offset": 0, "length": len(command)}] if command else []
    return found + [{"type": "mention", "offset": m.start(), "length": len(m.group())}
                    for m in re.finditer(r"(?<![/\w])@\w+", text)]


def message_update(chat_id: int, text: str | None = None, language: str = "en", update_id: int | None = None,
                   edited: bool = False, chat_type: str = "private", sender: dict[str, Any] | None = None,
                   **parts: Any) -> dict[str, Any]:
    """A message as Telegram sends it; by default from a person in their private chat. For a group,
    `chat_type="supergroup"` and the `sender` (e.g. `user(7)`); `chat_type="channel"` is a channel
    post (no sender)."""
    message: dict[str, Any] = {"message_id": next(_update_ids) + 500_000, "date": int(time.time()),
                               "chat": {"id": chat_id, "type": chat_type}, **parts}
    if chat_type != "channel":
        message["from"] = sender or user(chat_id, language)
    if text is not None:
        message["text"] = text
        if found := entities(text):
            message["entities"] = found
    if edited:
        message["edit_date"] = int(time.time())
    kind = "channel_post" if chat_type == "channel" else "message"
    return {"update_id": update_id or next(_update_ids), (f"edited_{kind}" if edited else kind): message}


def button_update(chat_id: int, data: str, message_id: int = 1, text: str = "question", language: str = "en",
                  keyboard: list[list[dict[str, Any]]] | None = None,
                  update_id: int | None = None, chat_type: str = "private") -> dict[str, Any]:
    """A press of a button. With the `keyboard` of its message, `data` may be the button's value:
    the press is of that keyboard's button of that value (its data carries the question's number,
    see bot/handlers/telegram.py). Without a keyboard, `data` is sent as it is (an old or forged
    button), unless it is pressed through `FakeBotApi.on_current_message` (the test harness does)."""
    message: dict[str, Any] = {"message_id": message_id, "date": int(time.time()), "text": text,
                               "chat": {"id": chat_id, "type": chat_type}, "from": BOT}
    if keyboard:
        message["reply_markup"] = {"inline_keyboard": keyboard}
        data = next((b["callback_data"] for row in keyboard for b in row
                     if data in (b["callback_data"], value_of(b["callback_data"]))), data)
    return {"update_id": update_id or next(_update_ids),
            "callback_query": {"id": str(next(_update_ids)), "from": user(chat_id, language),
                               "chat_instance": "1", "data": data, "message": message}}


STICKER: dict[str, Any] = {"sticker": {"file_id": "s1", "file_unique_id": "u1", "type": "regular",
                                        "width": 512, "height": 512, "is_animated": False, "is_video": False}}
PHOTO: dict[str, Any] = {"photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 90, "height": 90}]}
VOICE: dict[str, Any] = {"voice": {"file_id": "v1", "file_unique_id": "u3", "duration": 2}}
DOCUMENT: dict[str, Any] = {"document": {"file_id": "d1", "file_unique_id": "u4", "file_name": "id.pdf"}}
LOCATION: dict[str, Any] = {"location": {"latitude": 31.23, "longitude": 121.47}}
