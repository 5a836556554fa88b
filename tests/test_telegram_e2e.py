"""End to end: the bot as its own process in webhook mode, updates posted to it over HTTP on
loopback, and its Bot API base URL pointed at a recording server started here."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.botapi import BotApiServer, button_update, message_update

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "987654321:AAE2e-test-token_abcdefghijklmnopqrs"
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
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/telegram", data=json.dumps(update).encode(), method="POST",
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status: int = response.status  # urlopen() is typed Any
                return status
        except urllib.error.HTTPError as error:
            return error.code

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


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[BotProcess]:
    with BotApiServer() as api:
        process = BotProcess(api, tmp_path / "e2e.sqlite3")
        process.start()
        try:
            yield process
        finally:
            output = process.stop()
            assert TOKEN not in output  # the token never reaches the log


def press(bot: BotProcess, chat: int, value: str, language: str) -> list[dict[str, Any]]:
    # the question with the buttons comes last; a chart drawn before it can delay it on a busy machine
    wait_for(lambda: "reply_markup" in bot.api.api.sent(chat)[-1], "the question with buttons")
    last = bot.api.api.sent(chat)[-1]
    keyboard = last["reply_markup"]["inline_keyboard"]
    assert value in [b["callback_data"] for row in keyboard for b in row], (value, last["text"])
    return bot.say(button_update(chat, value, text=last["text"], keyboard=keyboard, language=language), chat)


SALE = [("press", "agree"), ("say", "35"), ("press", "office"), ("press", "no"),
        ("press", "married_children"), ("say", "3, 7"), ("say", "0"), ("say", "300000"), ("say", "100000"),
        ("say", "0"), ("say", "0"), ("press", "social_only"), ("press", "no"), ("say", "2000"),
        ("press", "illness"), ("press", "confirm"), ("press", "proceed"), ("press", "accept")]


@pytest.mark.parametrize("language,greeting,won",
                         [("en", "licence no.", "Next steps"), ("zh-hans", "执业证号", "接下来")])
def test_a_complete_sale_with_a_restart_in_the_middle(bot: BotProcess, language: str, greeting: str,
                                                      won: str) -> None:
    chat = 7100 if language == "en" else 7200
    assert greeting in bot.say(message_update(chat, "/start", language=language), chat)[0]["text"]
    for number, (kind, value) in enumerate(SALE):
        if number == 5:  # stop the process half-way through the questions and start a new one
            question = bot.api.api.sent(chat)[-1]["text"]
            bot.stop()
            bot.start()
            assert bot.api.api.sent(chat) == []  # the new process has said nothing yet
            replies = bot.say(message_update(chat, "/start", language=language), chat)
            assert replies[-1]["text"] == question  # the same question, where we stopped
        if kind == "press":
            press(bot, chat, value, language)
        else:
            bot.say(message_update(chat, value, language=language), chat)
    assert won in bot.api.api.sent(chat)[-2]["text"]
    assert "answerCallbackQuery" in bot.api.api.methods() and "editMessageText" in bot.api.api.methods()


def test_duplicates_stale_buttons_and_wrong_secrets(bot: BotProcess) -> None:
    chat = 7300
    start = message_update(chat, "/start", update_id=555_000)
    bot.say(start, chat)
    count = len(bot.api.api.sent(chat))
    assert bot.post(start) == 200  # Telegram delivering the same update again
    time.sleep(0.5)
    assert len(bot.api.api.sent(chat)) == count

    stale = bot.say(button_update(chat, "accept", text="old question",
                                  keyboard=[[{"text": "old", "callback_data": "accept"}]]), chat)
    assert "earlier message" in stale[0]["text"]
    assert "editMessageReplyMarkup" in bot.api.api.methods()  # the old buttons are removed

    calls = len(bot.api.api.calls)
    assert bot.post(message_update(chat, "/start"), secret="wrong") == 403
    assert bot.post(message_update(chat, "/start"), secret="") == 403
    time.sleep(0.3)
    assert len(bot.api.api.calls) == calls  # nothing was processed
