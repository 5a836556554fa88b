"""The console channel, including a conversation continued by a new process."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pytest_mock import MockerFixture

from bot.cli import main
from bot.flows.messages import Button, Inbound
from bot.flows.questionnaire import asked
from bot.handlers.console import chat, parse_line
from bot.library import Library
from bot.service import SalesService, Sender
from bot.settings import Settings, SettingsError
from storage.database import Database
from tests.helpers import existing_contact, given
from tests.conftest import frozen_library

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = (Button("Yes", "yes"), Button("No", "no"))


def test_numbers_pick_options_unless_a_typed_answer_is_expected() -> None:
    assert parse_line("2", OPTIONS, free_input=False) == Inbound("choice", "no")
    assert parse_line("2", OPTIONS, free_input=True) == Inbound("text", "2")
    assert parse_line("#1", OPTIONS, free_input=True) == Inbound("choice", "yes")
    assert parse_line("9", OPTIONS, free_input=False) == Inbound("text", "9")
    assert parse_line("/lang en", OPTIONS, free_input=False) == Inbound("command", "lang", "en")
    assert parse_line("/nonsense", OPTIONS, free_input=False) == Inbound("text", "/nonsense")


def run_chat(database: Path, typed: str, *args: str, command: str = "chat") -> str:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    done = subprocess.run([sys.executable, "-m", "bot.cli", command, *args], input=typed, capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def progress(library: Library, locale: str, n: int, answers: dict[str, Any]) -> str:
    """'Question n of N' as the sale says it, N being the questions that apply given the answers."""
    return library.text(locale, "progress", n=n, total=len(asked(library.questions, answers)))


def test_a_new_process_continues_at_the_same_question(tmp_path: Path, library: Library) -> None:
    database = tmp_path / "chat.sqlite3"
    answers = {"age": 35, "occupation": library.question("occupation").choices[2]}  # '35', then option 3
    first = run_chat(database, "1\n35\n3\n", "--lang", "en")
    assert progress(library, "en", 3, answers) in first
    second = run_chat(database, "")
    assert "Welcome back" in second and progress(library, "en", 3, answers) in second
    third = run_chat(database, "2\n")  # health: no
    assert progress(library, "en", 4, {**answers, "health": False}) in third


def test_the_console_speaks_chinese(tmp_path: Path, library: Library) -> None:
    out = run_chat(tmp_path / "zh.sqlite3", "1\n", "--lang", "zh_CN")
    assert "执业证号" in out and progress(library, "zh_CN", 1, {}) in out


def test_a_failing_message_gets_an_apology_and_the_chat_goes_on(tmp_path: Path,
                                                                 mocker: MockerFixture) -> None:
    import io

    from bot.handlers.console import chat
    from bot.service import SalesService, Turn
    from storage.database import Database

    service = SalesService(frozen_library(), Database(f"sqlite:///{tmp_path / 'c.sqlite3'}"))
    real = service.handle
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Turn:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    mocker.patch.object(service, "handle", side_effect=flaky)
    out = io.StringIO()
    chat(service, "en", io.StringIO("1\n1\n"), out, user="tester", output=tmp_path)
    assert "something went wrong on our side" in out.getvalue()
    assert "Question 1 of" in out.getvalue()  # the same input worked the next time


# -- settings, read once by the cli ------------------------------------------------------------
def test_settings_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.database_url == "sqlite:///salesbot.sqlite3"
    assert settings.output == Path("salesbot-output")
    assert settings.telegram_bot_token is None and settings.telegram_webhook_secret is None
    assert settings.telegram_agent_chat_id is None and settings.telegram_api_base_url is None
    assert settings.library is None  # the installed scripts_library/
    names = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_AGENT_CHAT_ID",
             "TELEGRAM_API_BASE_URL", "DATABASE_URL", "SALESBOT_LIBRARY", "SALESBOT_OUTPUT")
    blank = dict.fromkeys(names, " ")
    assert Settings.from_env(blank) == settings  # set but empty counts as unset


def test_settings_from_the_environment() -> None:
    settings = Settings.from_env({
        "TELEGRAM_BOT_TOKEN": "123:secret-token", "TELEGRAM_WEBHOOK_SECRET": "hook-secret",
        "TELEGRAM_AGENT_CHAT_ID": "-100123", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot",
        "DATABASE_URL": "postgresql+psycopg://u@h/db", "SALESBOT_LIBRARY": "/srv/words",
        "SALESBOT_OUTPUT": "out"})
    assert settings.telegram_bot_token == "123:secret-token"
    assert settings.telegram_webhook_secret == "hook-secret"
    assert settings.telegram_agent_chat_id == -100123
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081/bot"
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.library == Path("/srv/words") and settings.output == Path("out")
    assert "secret" not in repr(settings)  # logging the settings never logs a secret
    with pytest.raises(SettingsError, match="TELEGRAM_AGENT_CHAT_ID"):
        Settings.from_env({"TELEGRAM_AGENT_CHAT_ID": "@agents"})


def test_the_flood_limit_is_telegrams_unless_set() -> None:
    assert Settings.from_env({}).telegram_max_rate == 30
    assert Settings.from_env({"TELEGRAM_MAX_MESSAGES_PER_SECOND": "0"}).telegram_max_rate == 0
    assert Settings.from_env({"TELEGRAM_MAX_MESSAGES_PER_SECOND": "100"}).telegram_max_rate == 100
    for wrong in ("-1", "fast", "nan", "inf"):
        with pytest.raises(SettingsError, match="TELEGRAM_MAX_MESSAGES_PER_SECOND"):
            Settings.from_env({"TELEGRAM_MAX_MESSAGES_PER_SECOND": wrong})


def test_the_cli_refuses_unusable_settings(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TELEGRAM_AGENT_CHAT_ID", "not-a-number")
    assert main(["scripts", "check"]) == 2
    assert "TELEGRAM_AGENT_CHAT_ID" in capsys.readouterr().err


def test_the_referral_loop_can_be_tried_in_the_console(tmp_path: Path, library: Library) -> None:
    """A client's /invite shows the same link as Telegram would and saves the QR picture; a friend
    starting with its code (`salesbot chat --start CODE`) is credited to the client."""
    service = SalesService(library, Database(f"sqlite:///{tmp_path / 'loop.sqlite3'}"))
    base = "https://t.me/sales_bot?start="
    given(service, Sender("console", "client", locale="en"), {"state": "after_sales"})
    out = io.StringIO()
    chat(service, "en", io.StringIO("/invite\n"), out, user="client", output=tmp_path, link_base=base)
    [code] = re.findall(re.escape(base) + r"([A-Za-z0-9_-]{16,})", out.getvalue())[:1]
    [picture] = re.findall(r"\[QR code\] (\S+)", out.getvalue())
    assert Path(picture).read_bytes().startswith(b"\x89PNG")
    chat(service, "en", io.StringIO(""), io.StringIO(), user="friend", output=tmp_path, link_base=base,
         start_payload=code)
    with service.database.unit_of_work() as uow:
        friend = existing_contact(uow, "console", "friend")
        referral = uow.agency.referral_of(friend)
        client = existing_contact(uow, "console", "client")
        assert referral is not None and referral.referrer_contact_id == client.id


def test_whoever_runs_salesbot_rehearse_practises_and_a_customer_chat_cannot(tmp_path: Path,
                                                                            library: Library) -> None:
    menu = library.text("en", "rehearsal.ask_persona")[:40]
    assert menu in run_chat(tmp_path / "r.sqlite3", "", "--lang", "en", command="rehearse")
    said = run_chat(tmp_path / "c.sqlite3", "/rehearse\n4\n", "--lang", "en")
    assert library.text("en", "agency.agents_only") in said and menu not in said
