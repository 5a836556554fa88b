"""Reading a typed answer to one question of the library, or saying what is wrong with it.

Amounts are read as people write them: "30万", "三十万", "3.5万", "30k", "1.2 million", "about
300,000", "¥300,000", "月薪两万" (a monthly figure, so ×12 for a yearly question). Choices are read
from their labels or from the synonyms of the library, also inside a sentence ("我在办公室上班").
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any


from bot.library import Library, Question, keyword_in, normalise, word_pattern

if TYPE_CHECKING:
    from bot.flows.conversation import Talk

# Multipliers people write after a number: 20万, 1.5k, 3m, 1.2 million.
MULTIPLIERS = {"万": 10_000, "萬": 10_000, "億": 100_000_000, "w": 10_000,
                "千": 1_000, "k": 1_000, "thousand": 1_000, "grand": 1_000, "百万": 1_000_000,
                "m": 1_000_000, "mn": 1_000_000, "mil": 1_000_000, "million": 1_000_000, "亿": 100_000_000,
                "bn": 1_000_000_000, "billion": 1_000_000_000}
# Words around a number that say nothing about its size (hedges, currency, units), before or after it.
_NOISE = ("about", "around", "approximately", "approx", "roughly", "almost", "nearly", "maybe", "some",
          "before tax", "pre-tax", "gross", "salary", "income", "cny", "rmb", "yuan", "¥", "years old",
          "years", "yrs", "yr", "i am", "i'm", "im", "my age is", "it is", "it's", "i earn", "i have",
          "我今年", "今年", "我有", "我",
          "大概", "大约", "约", "左右", "差不多", "上下", "将近", "接近", "估计", "可能", "税前", "工资",
          "收入", "薪水", "人民币", "块钱", "块", "元", "周岁", "岁", "歲", "人", "个", "個", "位")
# Words that say an amount is per month or per year.
_PERIODS = {
    "month": ("per month", "a month", "each month", "every month", "monthly", "/month", "/mo",
              "每个月", "每月", "一个月", "月薪", "月工资", "月收入", "月入", "/月"),
    "year": ("per year", "a year", "each year", "every year", "yearly", "annually", "annual", "per annum",
             "/year", "/yr", "p.a.", "每年", "一年", "全年", "年薪", "年收入", "年入", "/年"),
}
PERIOD_OF = {word: period for period, words in _PERIODS.items() for word in words}
_PERIOD_WORDS = sorted(PERIOD_OF, key=len, reverse=True)
_PER_YEAR = {"year": Decimal(1), "month": Decimal(12)}  # how many of each in a year

_EDGE_WORDS = "|".join(re.escape(w) for w in sorted([*_NOISE, *PERIOD_OF], key=len, reverse=True))
_EDGE = re.compile(rf"^(?:{_EDGE_WORDS})|(?:{_EDGE_WORDS})$")
_SUFFIX = "|".join(re.escape(m) for m in sorted(MULTIPLIERS, key=len, reverse=True))
_NUMBER = re.compile(rf"^(-?\d+(?:\.\d+)?)({_SUFFIX})?$")
_CHINESE = re.compile(r"^[\d.负零〇一二两三四五六七八九十百千万亿萬億兩點点壹贰叁肆伍陆柒捌玖拾佰仟]+$")


@dataclass(frozen=True)
class Rejection:
    """Why an answer was not accepted: a text key of the library and what it needs."""

    key: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Amount:
    """A number as written, and the period it was said to be for ("month", "year"), if any."""

    value: Decimal
    per: str | None = None

    def per_period(self, wanted: str | None) -> Decimal:
        """The value for a question asked per `wanted` period: 月薪两万 is 240 000 a year."""
        if wanted is None or self.per is None:
            return self.value
        return self.value * _PER_YEAR[self.per] / _PER_YEAR[wanted]


def parse_amount(text: str) -> Amount | None:
    """A number with its period, read from digits or Chinese numerals and the words around them."""
    cleaned = unicodedata.normalize("NFKC", text).strip().lower().replace(",", "")
    per = None
    while match := _EDGE.search(cleaned):  # strip hedges, currency and periods, before or after
        per = PERIOD_OF.get(match.group(0), per)
        cleaned = (cleaned[:match.start()] + cleaned[match.end():]).strip()
    value = plain_number(cleaned.replace(" ", ""))
    return None if value is None else Amount(value, per)


def period_in(text: str) -> str | None:
    """The period ("month", "year") a text names, its longest period word first."""
    return next((PERIOD_OF[word] for word in _PERIOD_WORDS if word in text), None)


def plain_number(text: str) -> Decimal | None:
    """A number written alone, in digits with a multiplier ("30k") or in Chinese numerals ("三十万")."""
    if len(text) > 40:  # no amount is written this long (and int() refuses thousands of digits)
        return None
    if match := _NUMBER.match(text):
        return Decimal(match.group(1)) * MULTIPLIERS.get(match.group(2) or "", 1)
    if not text or not _CHINESE.match(text) or text.isascii():
        return None
    for unit in ("", *sorted(MULTIPLIERS, key=len, reverse=True)):  # "三点五万": 三点五, then 万
        digits = text[:len(text) - len(unit)]
        if text.endswith(unit) and digits and (number := chinese_number(digits)) is not None:
            return number * MULTIPLIERS.get(unit, 1)
    return None


def chinese_number(text: str) -> Decimal | None:
    """Chinese numerals (一百二十万, 两万, 三点五), by cn2an."""
    try:
        import cn2an  # on the first Chinese numeral: it takes longer to import than the bot to start

        return Decimal(str(cn2an.cn2an(text, "smart")))
    except (ValueError, InvalidOperation, KeyError, IndexError):
        return None


def _plain(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(round(value, 2))


def parse_number(text: str) -> int | float | None:
    """The number a message gives, whatever period it names; None when there is none."""
    amount = parse_amount(text)
    return None if amount is None else _plain(amount.value)


def read_yes_no(text: str, yes_words: tuple[str, ...], no_words: tuple[str, ...]) -> bool | None:
    wanted = normalise(text)
    if wanted in {normalise(w) for w in yes_words} | {"yes"}:
        return True
    if wanted in {normalise(w) for w in no_words} | {"no"}:
        return False
    return None


def implausible(question: Question, value: Any) -> bool:
    """A number outside the question's plausible range, to be confirmed first (0, "none", never is)."""
    low, high = question.plausible
    if isinstance(value, bool) or not isinstance(value, int | float) or value == 0:
        return False
    return (low is not None and value < low) or (high is not None and value > high)


def read_answer(question: Question, text: str, yes_words: tuple[str, ...], no_words: tuple[str, ...],
                choice_labels: dict[str, str]) -> Any | Rejection:
    """The value of an answer to `question`, or a Rejection naming what is expected."""
    reader = _READERS[question.type]
    return reader(question, text, yes_words=yes_words, no_words=no_words, choice_labels=choice_labels)


def _read_number(question: Question, text: str, **_: Any) -> float | int | Rejection:
    amount = parse_amount(text)
    limits = {"min": question.min, "max": question.max}
    if amount is None:
        return Rejection("errors.number", limits)
    value = _plain(amount.per_period(question.per))
    too_low = question.min is not None and value < question.min
    if too_low or (question.max is not None and value > question.max):
        return Rejection("errors.number_range", limits)
    return value


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
    return values


def _read_choice(question: Question, text: str, choice_labels: dict[str, str], **_: Any) -> str | Rejection:
    wanted = normalise(text)
    for choice in question.choices:
        if wanted == normalise(choice_labels[choice]):
            return choice
    tied = said_choices(question, wanted)
    if wanted in question.choices and not _asked_about(question, tied):  # "married" typed: a word, not a name
        return wanted
    if tied and not _asked_about(question, tied):
        return tied[0]
    listing = "; ".join(choice_labels[c] for c in (tied or question.choices))
    return Rejection("errors.choice_which" if tied else "errors.choice", {"choices": listing})


def said_choice(question: Question, text: str) -> str | None:
    """The choice whose synonyms (any language) cover most of the normalised text: "married with
    two kids" is married_children ("married" + "kids"), not married; a tie goes to the choice whose
    synonyms are listed first, or to none where the question asks about such a tie."""
    tied = said_choices(question, text)
    return tied[0] if tied and not _asked_about(question, tied) else None


def _asked_about(question: Question, tied: list[str]) -> bool:
    return len(tied) > 1 and set(tied) <= set(question.ask_on_tie)


def said_choices(question: Question, text: str) -> list[str]:
    """The choices whose synonyms cover most of the text, in the order they are listed."""
    covered = {choice: len(_covered(words, text)) for choice, words in question.synonyms.items()}
    best = max(covered.values(), default=0)
    return [c for c, size in covered.items() if best and size == best and c in question.choices]


def _covered(words: dict[str, tuple[str, ...]], text: str) -> set[int]:
    """The positions of `text` covered by any of a choice's words (of any locale); a word not in the
    text at all is passed over first, cheaply (a choice has dozens of words)."""
    said = [word for locale_words in words.values() for word in locale_words if word in text]  # normalised
    return {i for word in said for i in _spans(word, text)}


def _spans(word: str, text: str) -> set[int]:
    """The positions of `text` that `word` covers, where it is said as library.keyword_in reads it
    (a whole word in Latin script; unnegated in Chinese)."""
    if not keyword_in(word, text):
        return set()
    word, whole_word = word_pattern(word)
    found = whole_word.finditer(text) if whole_word is not None else re.finditer(re.escape(word), text)
    return {i for match in found for i in range(match.start(), match.end())}


def _read_yes_no(_question: Question, text: str, yes_words: tuple[str, ...], no_words: tuple[str, ...],
                 **_: Any) -> bool | Rejection:
    meant = read_yes_no(text, yes_words, no_words)
    return Rejection("errors.yes_no") if meant is None else meant


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


def answer_text(library: Library, locale: str, question: Question, value: Any) -> str:
    if value is None:
        return library.text(locale, "skipped")
    if question.type == "choice":
        return library.text(locale, f"choices.{question.id}.{value}")
    if question.type == "yes_no":
        return library.text(locale, f"buttons.{'yes' if value else 'no'}")
    if question.type == "numbers":
        return ", ".join(str(v) for v in value)
    if question.unit == "money":
        return library.money(locale, value)
    return str(value)


def typed_answer(talk: Talk, question: Question, text: str) -> Any:
    """The value `text` gives `question` in the talk's language, or a Rejection saying what is expected."""
    words = talk.library.keywords[talk.locale]
    labels = {choice: talk.text(f"choices.{question.id}.{choice}") for choice in question.choices}
    return read_answer(question, text, words["yes"], words["no"], labels)


def yes_or_no(talk: Talk, text: str) -> bool | None:
    words = talk.library.keywords[talk.locale]
    return read_yes_no(text, words["yes"], words["no"])
