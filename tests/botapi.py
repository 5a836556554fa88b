"""A stand-in for Telegram's Bot API, offline: it records every call and answers like the real one.

Used two ways: in process, as a python-telegram-bot request layer (`OfflineRequest`), and over
HTTP on loopback (`BotApiServer`) for a bot running as a separate process.
"""
from __future__ import annotations

import itertools
from email.parser import BytesParser
from email.policy import default
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from telegram._utils.types import ODVInput  # the timeouts' type in BaseRequest.do_request
from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

BOT = {"id": 4242, "is_bot": True, "first_name": "Sales Assistant", "username": "sales_assistant_bot",
       "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class FakeBotApi:
    calls: list[Call] = field(default_factory=list)
    # method -> queue of failures to give first
    failures: dict[str, deque[int | Exception]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, *failures: int | Exception) -> None:
        """Make the next calls of `method` fail: an int retry_after (429) or an Exception to raise."""
        self.failures.setdefault(method, deque()).extend(failures)

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append(Call(method, params))
            pending = self.failures.get(method)
            failure = pending.popleft() if pending else None
        if isinstance(failure, Exception):
            raise failure
        if isinstance(failure, int):
            return 429, {"ok": False, "error_code": 429,
                         "description": f"Too Many Requests: retry after {failure}",
                         "parameters": {"retry_after": failure}}
        return 200, {"ok": True, "result": self.result(method, params)}

    def result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT
        if method == "getUpdates":
            return []
        if method in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
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

    def clear(self) -> None:
        self.calls.clear()


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

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self) -> float:
        return 1.0

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        params = request_data.parameters if request_data else {}
        status, body = self.api.answer(url.rsplit("/", 1)[-1], params)
        return status, json.dumps(body).encode()


class BotApiServer:
    """The same fake over HTTP on 127.0.0.1, for a bot whose base URL points here."""

    def __init__(self, api: FakeBotApi | None = None) -> None:
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
                    status, answer = fake.answer(self.path.rsplit("/", 1)[-1], params)
                except NetworkError:
                    self.close_connection = True
                    return
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def __enter__(self) -> BotApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- updates as Telegram sends them ----------------------------------------------------------
_update_ids = itertools.count(1)


def user(user_id: int, language: str = "en") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Wang", "last_name": "Fang",
            "language_code": language}


def message_update(chat_id: int, text: str | None = None, language: str = "en", update_id: int | None = None,
                   edited: bool = False, **parts: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"message_id": next(_update_ids) + 500_000, "date": int(time.time()),
                               "chat": {"id": chat_id, "type": "private"}, "from": user(chat_id, language),
                               **parts}
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    if edited:
        message["edit_date"] = int(time.time())
    return {"update_id": update_id or next(_update_ids), ("edited_message" if edited else "message"): message}


def button_update(chat_id: int, data: str, message_id: int = 1, text: str = "question", language: str = "en",
                  keyboard: list[list[dict[str, Any]]] | None = None,
                  update_id: int | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"message_id": message_id, "date": int(time.time()), "text": text,
                               "chat": {"id": chat_id, "type": "private"}, "from": BOT}
    if keyboard:
        message["reply_markup"] = {"inline_keyboard": keyboard}
    return {"update_id": update_id or next(_update_ids),
            "callback_query": {"id": str(next(_update_ids)), "from": user(chat_id, language),
                               "chat_instance": "1", "data": data, "message": message}}


STICKER: dict[str, Any] = {"sticker": {"file_id": "s1", "file_unique_id": "u1", "type": "regular",
                                        "width": 512, "height": 512, "is_animated": False, "is_video": False}}
PHOTO: dict[str, Any] = {"photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 90, "height": 90}]}
VOICE: dict[str, Any] = {"voice": {"file_id": "v1", "file_unique_id": "u3", "duration": 2}}
DOCUMENT: dict[str, Any] = {"document": {"file_id": "d1", "file_unique_id": "u4", "file_name": "id.pdf"}}
LOCATION: dict[str, Any] = {"location": {"latitude": 31.23, "longitude": 121.47}}
