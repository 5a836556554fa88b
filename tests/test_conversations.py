"""Conversation transcripts as data: each YAML file under tests/conversations/ is one test.

A transcript lists what the customer sends and, after each message, the stage the sale must be
in and fragments its replies must contain. Whoever edits a talk track can add a case here
without writing Python; see tests/conversations/README.md.
"""
from __future__ import annotations

from pathlib import Path
import pytest

from typing import Any

from bot.flows.wording import rendered_keys
from bot.library import Library, load_yaml
from bot.service import SalesService
from storage.database import Database
from tests.helpers import HERE, TRANSCRIPTS, run_transcript
from tests.conftest import TEST_PARAMETERS

class RecordingLibrary(Library):
    """The shipped library, noting every key rendered."""

    rendered: set[str]

    def text(self, locale: str, key: str, **context: Any) -> str:
        self.rendered.add(key)
        return super().text(locale, key, **context)


@pytest.fixture(scope="module")
def recording() -> RecordingLibrary:
    library = RecordingLibrary(parameters=TEST_PARAMETERS)
    library.rendered = set()
    return library


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[str(p.relative_to(HERE)) for p in TRANSCRIPTS])
def test_transcript(path: Path, recording: RecordingLibrary, sqlite_database: Database) -> None:
    """The transcript's steps, and every key it made the sale render is one `scripts check` insists on."""
    recording.rendered.clear()
    run_transcript(SalesService(recording, sqlite_database), path)
    rendered = {key for key in recording.rendered if not key.startswith(("rehearsal", "commands."))}
    assert rendered <= rendered_keys(recording), sorted(rendered - rendered_keys(recording))


def test_there_is_a_transcript_for_every_stage_in_every_language() -> None:
    covered: dict[str, set[str]] = {}
    for path in TRANSCRIPTS:
        transcript = load_yaml(path.read_text(encoding="utf-8"))
        if transcript.get("mode", "customer") != "customer":  # rehearsal transcripts have stages of their own
            continue
        stages = {step["state"] for step in transcript["steps"]}
        covered.setdefault(transcript["locale"], set()).update(stages)
    from bot.flows.machine import STATES

    for locale in ("en", "zh_CN"):
        reached = covered.get(locale, set())
        assert set(STATES) <= reached, f"{locale}: no transcript reaches {set(STATES) - reached}"
