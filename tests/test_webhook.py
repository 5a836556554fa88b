"""The bot as its own process, as anyone on the network may talk to it: bodies that are not
updates get 400 (Telegram sends a 5xx'd update again) and leave nothing of their content in the
log; a message too long to be an answer is refused and not kept; a token Telegram refuses at
start-up ends the process with a clear message that does not show it."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.botapi import BotApiServer, message_update
from tests.helpers import ROOT, SECRET, TOKEN, BotProcess, free_port, post_raw

PERSONAL = "Zhang-Wei-diabetes-4711"  # stands for what a customer wrote: it must never reach the log
CHAT = 7400
NOT_UPDATES = {
    "cut short": f'{{"update_id": 10, "message": {{"text": "{PERSONAL}'.encode(),
    "not UTF-8": b'{"text": "\xff\xfe' + PERSONAL.encode() + b'"}',
    "not an object": json.dumps([PERSONAL]).encode(),
    "no numeric update_id": json.dumps({"update_id": PERSONAL}).encode(),
    "not a message": json.dumps({"update_id": 11, "message": {"message_id": 1, "date": "today",
                                                              "chat": {"id": CHAT, "type": "private"},
                                                              "text": PERSONAL}}).encode(),
}


def test_bodies_that_are_not_updates_get_400_and_stay_out_of_the_log(tmp_path: Path) -> None:
    database = tmp_path / "webhook.sqlite3"
    with BotApiServer() as api:
        bot = BotProcess(api, database)
        bot.start()
        try:
            for what, body in NOT_UPDATES.items():
                assert post_raw(bot.port, body) == 400, what
            assert post_raw(bot.port, NOT_UPDATES["cut short"], secret="wrong") == 403  # the secret first
            # larger than any update: refused before it is read (400, or the connection closed on it)
            assert post_raw(bot.port, b'{"update_id": 12, "x": "' + b"a" * 2_000_000 + b'"}') in (400, None)
            assert api.api.sent() == []  # none of them was handled
            # the process goes on: a real update is answered; a text longer than an answer is refused
            bot.say(message_update(CHAT, "/start"), CHAT)
            refused = bot.say(message_update(CHAT, f"{PERSONAL} " * 400), CHAT)
            assert "too long" in refused[0]["text"]
        finally:
            output = bot.stop()
    assert "refused a webhook request" in output
    assert PERSONAL not in output and "CRITICAL" not in output and TOKEN not in output
    with sqlite3.connect(database) as connection:
        kept = connection.execute("SELECT count(*) FROM contact_events WHERE text LIKE ?", (f"%{PERSONAL}%",))
        assert kept.fetchone() == (0,)


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_a_token_telegram_refuses_ends_the_process_without_showing_it(tmp_path: Path, mode: str) -> None:
    port = free_port()
    webhook = ["--webhook-url", f"http://127.0.0.1:{port}/telegram", "--listen", "127.0.0.1",
               "--port", str(port)] if mode == "webhook" else []
    with BotApiServer(reject_token=True) as api:
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET,
               "DATABASE_URL": f"sqlite:///{tmp_path / 'token.sqlite3'}"}
        command = [sys.executable, "-m", "bot.cli", "run", "--base-url", api.base_url, *webhook]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                                check=False)
        assert api.api.methods()[:1] == ["getMe"]  # it was Telegram (here: our server) that refused it
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "refused the bot token" in output
    secret_half = TOKEN.split(":", 1)[1]
    assert secret_half not in output and quote(TOKEN, safe="") not in output


def test_a_traceback_at_start_up_does_not_show_the_token() -> None:
    """Whatever fails once logging is set up (in the main thread or another) is printed redacted."""
    script = f"""if True:
        import threading
        from bot.handlers.app import configure_logging

        def fail(where):
            raise RuntimeError(f"{{where}} could not reach http://127.0.0.1/bot{TOKEN}/getMe")

        configure_logging({TOKEN!r})
        worker = threading.Thread(target=fail, args=("a thread",))
        worker.start()
        worker.join()
        fail("the main thread")
    """
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 1
    assert "RuntimeError: a thread could not reach" in result.stderr
    assert "RuntimeError: the main thread could not reach" in result.stderr
    assert TOKEN.split(":", 1)[1] not in result.stderr + result.stdout
