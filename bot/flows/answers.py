"""Reading a typed answer to one question of the library, or saying what is wrong with it."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.library import Question, normalise

# Multipliers people write after a number: 20万, 1.5k, 3m.
_MULTIPLIERS = {"万": 10_000, "w": 10_000, "千": 1_000, "k": 1_000, "m": 1_000_000, "百万": 1_000_000,
                "亿": 100_000_000}
_NUMBER = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(百万|万|千|亿|k|w|m)?$")
_CURRENCY = re.compile(r"^(cny|rmb|¥|￥)|(元|块|块钱|cny|rmb|岁|years? old|yrs?|人|个)$")


@dataclass(frozen=True)
class Rejection:
    """Why an answer was not accepted: a text key of the library and what it needs."""

    key: str
    context: dict[str, Any] = field(default_factory=dict)


def parse_number(text: str) -> float | None:
    cleaned = unicodedata.normalize("NFKC", text).strip().lower().replace(",", "").replace(" ", "")
    previous = None
    while previous != cleaned:  # strip currency and unit words, before or after
        previous, cleaned = cleaned, _CURRENCY.sub("", cleaned).strip()
    match = _NUMBER.match(cleaned)
    if not match:
        return None
    value = float(match.group(1)) * _MULTIPLIERS.get(match.group(2) or "", 1)
    return value


def read_answer(question: Question, text: str, yes_words: tuple[str, ...], no_words: tuple[str, ...],
                choice_labels: dict[str, str]) -> Any | Rejection:
    """The value of an answer to `question`, or a Rejection naming what is expected."""
    reader = _READERS[question.type]
    return reader(question, text, yes_words=yes_words, no_words=no_words, choice_labels=choice_labels)


def _read_number(question: Question, text: str, **_: Any) -> float | int | Rejection:
    value = parse_number(text)
    limits = {"min": question.min, "max": question.max}
    if value is None:
        return Rejection("errors.number", limits)
    too_low = question.min is not None and value < question.min
    if too_low or (question.max is not None and value > question.max):
        return Rejection("errors.number_range", limits)
    return int(value) if value == int(value) else value


def _read_numbers(question: Question, text: str, **_: Any) -> list[int | float] | Rejection:
    separated = re.split(r"[,，、;；\s]+|和|and", unicodedata.normalize("NFKC", text))
    parts = [part for part in separated if part.strip()]
    limits = {"min": question.min, "max": question.max, "max_items": question.max_items}
    read = [parse_number(part) for part in parts]
    values = [v for v in read if v is not None]
    low, high = question.min or 0, question.max if question.max is not None else float("inf")
    if not values or len(values) < len(read) or (question.max_items and len(values) > question.max_items):
        return Rejection("errors.numbers", limits)
    if any(v < low or v > high for v in values):
        return Rejection("errors.numbers", limits)
    return [int(v) if v == int(v) else v for v in values]


def _read_choice(question: Question, text: str, choice_labels: dict[str, str], **_: Any) -> str | Rejection:
    wanted = normalise(text)
    for choice in question.choices:
        if wanted in (choice, normalise(choice_labels[choice])):
            return choice
    listing = "; ".join(choice_labels[c] for c in question.choices)
    return Rejection("errors.choice", {"choices": listing})


def _read_yes_no(question: Question, text: str, yes_words: tuple[str, ...], no_words: tuple[str, ...],
                 **_: Any) -> bool | Rejection:
    wanted = normalise(text)
    if wanted in {normalise(w) for w in yes_words} | {"yes"}:
        return True
    if wanted in {normalise(w) for w in no_words} | {"no"}:
        return False
    return Rejection("errors.yes_no")


def _read_text(question: Question, text: str, **_: Any) -> str | Rejection:
    answer = " ".join(text.split())
    if not any(ch.isalnum() for ch in answer):  # empty, or only emoji and punctuation
        return Rejection("errors.text_empty")
    if question.max_length and len(answer) > question.max_length:
        return Rejection("errors.text_long", {"max_length": question.max_length})
    return answer


_READERS: dict[str, Callable[..., Any]] = {
    "number": _read_number, "numbers": _read_numbers, "choice": _read_choice, "yes_no": _read_yes_no,
    "text": _read_text,
}
