"""The console channel, including a conversation continued by a new process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.console import parse_line
from bot.flows.messages import Button, Inbound

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = (Button("Yes", "yes"), Button("No", "no"))


def test_numbers_pick_options_unless_a_typed_answer_is_expected() -> None:
    assert parse_line("2", OPTIONS, free_input=False) == Inbound("choice", "no")
    assert parse_line("2", OPTIONS, free_input=True) == Inbound("text", "2")
    assert parse_line("#1", OPTIONS, free_input=True) == Inbound("choice", "yes")
    assert parse_line("9", OPTIONS, free_input=False) == Inbound("text", "9")
    assert parse_line("/lang en", OPTIONS, free_input=False) == Inbound("command", "lang", "en")
    assert parse_line("/nonsense", OPTIONS, free_input=False) == Inbound("text", "/nonsense")


def run_chat(database: Path, typed: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    done = subprocess.run([sys.executable, "-m", "bot.cli", "chat", *args], input=typed, capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_new_process_continues_at_the_same_question(tmp_path: Path) -> None:
    database = tmp_path / "chat.sqlite3"
    first = run_chat(database, "1\n35\n3\n", "--lang", "en")
    assert "Question 3 of 12" in first
    second = run_chat(database, "")
    assert "Welcome back" in second and "Question 3 of 12" in second
    third = run_chat(database, "2\n")
    assert "Question 4 of 12" in third


def test_the_console_speaks_chinese(tmp_path: Path) -> None:
    out = run_chat(tmp_path / "zh.sqlite3", "1\n", "--lang", "zh_CN")
    assert "执业证号" in out and "第 1 题，共 12 题" in out


def test_a_failing_message_gets_an_apology_and_the_chat_goes_on(tmp_path: Path, mocker) -> None:  # type: ignore[no-untyped-def]
    import io

    from bot.console import chat
    from bot.library import Library
    from bot.service import SalesService
    from storage.database import Database

    service = SalesService(Library(), Database(f"sqlite:///{tmp_path / 'c.sqlite3'}"))
    real = service.handle
    calls = {"n": 0}

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    mocker.patch.object(service, "handle", side_effect=flaky)
    out = io.StringIO()
    chat(service, "en", io.StringIO("1\n1\n"), out, user="tester", output=tmp_path)
    assert "something went wrong on our side" in out.getvalue()
    assert "Question 1 of" in out.getvalue()  # the same input worked the next time
