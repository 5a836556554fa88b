"""`salesbot scripts check` passes on the shipped library and names what breaks in a bad one."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.flows.wording import transcript_problems
from bot.library import Library, LibraryError, default_library_path, load_yaml
from tests.helpers import TRANSCRIPTS

ROOT = Path(__file__).resolve().parents[1]


def check(library: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "bot.cli", "scripts", "check"]
    args += ["--library", str(library)] if library else []
    env = {k: v for k, v in os.environ.items() if k != "SALESBOT_PARAMETERS"}  # the copy's own figures
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=60, env=env, check=False)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "library"
    shutil.copytree(default_library_path(), target)
    return target


def test_the_shipped_library_passes() -> None:
    done = check()
    assert done.returncode == 0, done.stderr
    assert "every template renders" in done.stdout


def test_a_missing_variable_is_named_with_its_file(copy: Path) -> None:
    track = copy / "templates" / "zh_CN" / "objection" / "expensive.j2"
    track.write_text(track.read_text(encoding="utf-8") + "{{ monthly_cost }}", encoding="utf-8")
    done = check(copy)
    assert done.returncode == 1
    assert "templates/zh_CN/objection/expensive.j2" in done.stderr and "monthly_cost" in done.stderr


def test_a_syntax_error_is_named_with_its_file_and_line(copy: Path) -> None:
    (copy / "templates" / "en" / "won" / "ask.j2").write_text("Hello\n{% if %}", encoding="utf-8")
    done = check(copy)
    assert done.returncode == 1 and "templates/en/won/ask.j2, line 2" in done.stderr


def test_a_text_missing_in_one_locale_is_reported(copy: Path) -> None:
    (copy / "templates" / "en" / "referral" / "invite.j2").unlink()
    done = check(copy)
    assert done.returncode == 1 and "en: 'referral/invite' is missing" in done.stderr


def test_rendering_a_broken_text_at_run_time_names_the_file(copy: Path) -> None:
    (copy / "templates" / "en" / "lost" / "goodbye.j2").write_text("Bye {{ nobody }}", encoding="utf-8")
    library = Library(copy)
    with pytest.raises(LibraryError, match="templates/en/lost/goodbye.j2: 'nobody' is undefined"):
        library.text("en", "lost/goodbye")


def test_a_question_without_its_label_in_both_locales_is_reported(copy: Path) -> None:
    for locale in ("en", "zh_CN"):
        strings = copy / "locales" / f"{locale}.yaml"
        lines = strings.read_text(encoding="utf-8").splitlines()
        start = lines.index("  occupation:")  # the first such key is under questions:
        label = next(i for i in range(start, len(lines)) if lines[i].startswith("    label:"))
        strings.write_text("\n".join(lines[:label] + lines[label + 1:]) + "\n", encoding="utf-8")
    done = check(copy)
    assert done.returncode == 1 and "en: questions.occupation.label is missing" in done.stderr


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.name for p in TRANSCRIPTS])
def test_transcripts_use_only_questions_answers_and_buttons_that_exist(library: Library, path: Path) -> None:
    assert transcript_problems(library, load_yaml(path.read_text(encoding="utf-8")), path.name) == []


def test_a_transcript_with_a_removed_answer_id_is_caught(library: Library) -> None:
    transcript = {"given": {"state": "proposal", "answers": {"dependants": 2, "family": "married"}},
                  "steps": [{"press": "edit:dependants", "state": "needs"},
                            {"press": "office", "state": "nowhere"}]}
    problems = transcript_problems(library, transcript, "old.yaml")
    assert "old.yaml (given): no question 'dependants'" in problems
    assert "old.yaml, step 1: no button has the value 'edit:dependants'" in problems
    assert "old.yaml, step 2: no stage 'nowhere'" in problems and len(problems) == 3


@pytest.mark.parametrize(("change", "named"), [
    (("  round_sums_to: 10000", "  round_sum_to: 10000"), "needs.round_sums_to: Field required"),
    (("medical_deductible: 10000", "medical_deductible: ten thousand"), "needs.medical_deductible"),
    (("[breadwinner.accident,", "[breadwinner.acident,"), "unknown cover 'breadwinner.acident'"),
    (("cooling_off_days: 15", "cooling_off_days: 15\n  cooling_of_days: 9"), "policy_terms.cooling_of_days"),
])
def test_a_wrong_figure_stops_the_check_and_the_start_naming_its_key(copy: Path, change: tuple[str, str],
                                                                      named: str) -> None:
    figures = copy / "parameters.yaml"
    text = figures.read_text(encoding="utf-8")
    assert change[0] in text
    figures.write_text(text.replace(change[0], change[1]), encoding="utf-8")
    done = check(copy)
    assert done.returncode == 1 and named in done.stderr
    with pytest.raises(LibraryError, match="parameters.yaml"):
        Library(copy)


def test_a_missing_agency_fact_is_named(copy: Path) -> None:
    agency = copy / "agency.yaml"
    text = agency.read_text(encoding="utf-8")
    agency.write_text(text.replace("licence_number:", "licence:"), encoding="utf-8")
    done = check(copy)
    assert done.returncode == 1 and "licence_number: Field required" in done.stderr


def test_a_library_and_figures_named_relative_to_the_working_folder_are_found() -> None:
    env = {**os.environ, "SALESBOT_PARAMETERS": "tests/parameters.yaml"}
    command = [sys.executable, "-m", "bot.cli", "scripts", "check", "--library", "scripts_library"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60, env=env, check=False)
    assert done.returncode == 0, done.stderr



@pytest.mark.parametrize("command", [["run"], ["web", "--port", "1"]])
def test_the_example_identity_is_refused_to_customers_unless_this_is_a_demonstration(
        command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot import cli

    monkeypatch.delenv("SALESBOT_DEMO", raising=False)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    assert cli.main(command) == 2
    assert "example identity" in capsys.readouterr().err


DEMO_WORDS = {"en": "This is a demonstration", "zh_CN": "这是演示版本", "zh_Hant": "這是演示版本"}


def test_a_demonstration_says_so_in_every_greeting_and_a_real_identity_does_not() -> None:
    library = Library()
    assert library.agency.placeholder and library.demo
    for locale, words in DEMO_WORDS.items():
        assert words in library.text(locale, "approach/greeting", customer_name="", referrer="")
    library.agency = library.agency.model_copy(update={"licence_number": "202400110000123"})
    library.demo, library._agency_context = library.agency.placeholder, {}
    for locale, words in DEMO_WORDS.items():
        greeting = library.text(locale, "approach/greeting", customer_name="", referrer="")
        assert "202400110000123" in greeting and words not in greeting
