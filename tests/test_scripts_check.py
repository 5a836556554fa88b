"""`salesbot scripts check` passes on the shipped library and names what breaks in a bad one."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.library import Library, LibraryError, default_library_path

ROOT = Path(__file__).resolve().parents[1]


def check(library: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "bot.cli", "scripts", "check"] + (["--library", str(library)] if library else [])
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=60)


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
