"""Conversation transcripts as data: each YAML file under tests/conversations/ is one test.

A transcript lists what the customer sends and, after each message, the stage the sale must be
in and fragments its replies must contain. Whoever edits a talk track can add a case here
without writing Python; see tests/conversations/README.md.
"""
from __future__ import annotations

from pathlib import Path
import pytest

from bot.library import load_yaml
from bot.service import SalesService
from tests.helpers import HERE, TRANSCRIPTS, run_transcript

@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[str(p.relative_to(HERE)) for p in TRANSCRIPTS])
def test_transcript(path: Path, service: SalesService) -> None:
    run_transcript(service, path)


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
