"""Every fact a message holds for the needs questions, not only the one asked: "I'm 41, married with
two kids" is an age, a family and (not yet) the children's ages.

A message is cut into parts (at commas, full stops, "and", "但是"...). A part is about the questions
whose cue words or synonyms (scripts_library/questions.yaml) it says; a part that says none is about
what the part before it was about, the first one about the question asked. Each question is then read
from its parts: numbers as people write them (digits, 万/k/m, number words in either language, birth
years, "none"), choices and yes/no from their synonyms and negations. A range ("20-30万") is not a
value: its midpoint is offered to confirm.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from decimal import Decimal
from typing import Any

from bot.flows.answers import (MULTIPLIERS, Amount, chinese_number, implausible, period_in, plain_number,
                               said_choice, said_choices)
from bot.library import NOT_AFTER_LATIN, NOT_BEFORE_LATIN, Library, Question, keyword_in, normalise

_PARTS = re.compile(r"[,，;；。!！?？\n、/]+|\.(?=\s)|(?<![\d])\.(?!\d)|\s+-\s+"
                    r"|\s+(?:and|but|also|plus|then|so|btw|n|&)\s+|但是|不过|而且|另外|还有|然后|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff\d])|(?<=\d)\s+(?=[\u4e00-\u9fff])")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_UNIT = "|".join(sorted(map(re.escape, MULTIPLIERS), key=len, reverse=True))
_DIGITS = re.compile(rf"(?<![A-Za-z0-9_.\-])(\d+(?:\.\d+)?)(?![\d.]*\.\d)\s*({_UNIT})?(?![a-z\d])",
                     re.IGNORECASE)
_HANZI = re.compile(r"[零〇一二两三四五六七八九十百千万亿点]+")
_RANGE = re.compile(rf"(\d+(?:\.\d+)?)\s*({_UNIT})?\s*(?:-|–|~|to|至|到)\s*(\d+(?:\.\d+)?)\s*({_UNIT})?",
                    re.IGNORECASE)
_BETWEEN = re.compile(r"\bbetween\s+(\d+(?:\.\d+)?\s*[a-z]{0,3})\s+and\s+(?=\d)")  # "between 45 and 50"
# "二三十万" (20-30万), "三四百" (300-400), "三十五六" (35-36)
_HANZI_RANGE = re.compile(r"([一二两三四五六七八九])([二三四五六七八九])(十|百|千|万)(万)?")
_HANZI_ONES_RANGE = re.compile(r"([一二三四五六七八九]?)十([一二三四五六七八])([二三四五六七八九])"
                               r"(?![十百千万])")
_NOT_BEFORE = ("not ", "not about ", "不是", "而不是")  # "是25万不是15万": the second is what it is not
# A number that counts people or things, not an age or an amount: "2 kids", "两个孩子", "1 policy".
_COUNT_AFTER = re.compile(r"^\s*(?:[个位名只份张]|(?:kids?|children|child|sons?|daughters?|boys?|girls?"
                          r"|of them"
                          r"|polic(?:y|ies)|\w+ polic(?:y|ies)|\w+ illness polic(?:y|ies))\b)")
_ONES = {"fourty": 40, "ninty": 90,  # as often typed
         "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
         "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
         "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "mil": 1_000_000}
NUMBER_WORDS = frozenset([*_ONES, *_TENS, *_SCALES])  # English number words read as digits
_FIRST, _ANY = "|".join([*_ONES, *_TENS, "a"]), "|".join([*_ONES, *_TENS, *_SCALES, "and"])
_NUMBER_WORD = re.compile(rf"\b(?:(?:{_FIRST})(?:[\s-]+(?:{_ANY}))*)\b", re.IGNORECASE)
# "single mum of three": the person as a parent, not their own parents (a cue of the parents question)
_SELF_AS_PARENT = re.compile(r"\bsingle\s+(?:mum|mom|mother|dad|father)\b", re.IGNORECASE)
_PARENT_OF = re.compile(r"\b(?:mum|mom|mother|dad|father|parent|mama|papa)\s+of\s+$")  # "mum of three": kids
_BORN_IN = re.compile(r"\b(?:born|in)\s+(?:in\s+)?$")  # "born 2015", "Mia in 2022": a child's year
# An amount's currency before it ("RM400", "S$2k", "£80"): the number is read as the amount.
_CURRENCY = re.compile(r"(?<![a-z])(?:rm|s\$|hk\$|nt\$|a\$|us\$|rmb|myr|sgd|hkd|usd|aud|gbp|£|\$|€|¥|￥)"
                       r"\s*(?=\d)", re.IGNORECASE)
_SINCE = re.compile(r"(?:in|since|from)\s+$")  # "bought back in 2018": a year, not an amount
# "the life one", "the little one": a thing or a child, not the number 1
_DETERMINER = re.compile(r"\b(?:the|this|that|each|every|which|any|other|life|afford|another|no|just|little|"
                         r"young|younger|big|older|eldest|youngest|baby)\s+$")
_UNITS = re.compile(r"[十百千万亿点]")
_MEASURE = re.compile(r"[个位岁歲万千百年月只名]")
_BORN = re.compile(r"(?:born|出生|生于|生的|年生)\D{0,14}((?:19|20)\d\d)|((?:19|20)\d\d)\s*年?(?:出生|生|的)")


@dataclass(frozen=True)
class AnswerWords:
    """How yes, no, none and a hedge are said (`answers:` in scripts_library/understanding.yaml)."""

    yes: tuple[str, ...]
    no: frozenset[str]
    none: tuple[str, ...]
    hedges: tuple[str, ...]


@lru_cache(maxsize=8)
def answer_words(library: Library) -> AnswerWords:
    said = library.understanding["answers"]
    return AnswerWords(tuple(said["yes"]), frozenset(said["no"]), tuple(said["none"]), tuple(said["hedges"]))


@dataclass
class Facts:
    """What a message says: values by question id, and values to confirm before they are kept (a
    range's midpoint; a "yes" said beside its opposite, or a treatment that may be one)."""

    values: dict[str, Any] = field(default_factory=dict)
    unsure: dict[str, Any] = field(default_factory=dict)
    hinted: set[str] = field(default_factory=set)  # found by a choice's words alone: never a correction


def facts_in(library: Library, text: str, asked: Question | None, answers: dict[str, Any]) -> Facts:
    shared: list[str] = []
    parts = _parts_by_question(library, text, asked, answers, shared)
    facts = Facts(hinted={q.id for q in library.questions if q.id in parts and (q.id in shared or not any(
        _cued(q, normalise(part)) for part in parts[q.id]))})
    unsure_choices: dict[str, Any] = {}  # "married" said: children are asked, but a partner is sure
    for question_id, said in parts.items():
        question = library.question(question_id)
        if not question.asked({**unsure_choices, **facts.values, **answers}):  # earlier answers stand
            continue
        joined = _with_period(" , ".join(said), question, text)
        if question.type == "choice" and (tied := said_choices(question, normalise(joined)))[1:]:
            unsure_choices[question_id] = tied[0]  # asked about later; what it implies is read now
        plain = _read(question, joined, answer_words(library)) if question.type == "number" else None
        if question.type == "number" and (middle := _range_middle(joined, question, plain)) is not None:
            facts.unsure[question_id] = middle
            continue
        if question.type == "yes_no" and _unsure_yes(question, joined):
            facts.unsure[question_id] = True
            continue
        value = _read(question, joined, answer_words(library))
        if value is not None:
            facts.values[question_id] = value
    unread = asked is not None and asked.id not in facts.values and asked.id not in facts.unsure
    if asked is not None and unread and (first := _leading_number(asked, text)) is not None:
        facts.values[asked.id] = first
    return facts


_LEADING = re.compile(r"^\s*(\d{1,3})(?![\d.,:/%])")


def _leading_number(asked: Question, text: str) -> int | None:
    """A number the message begins with answers the number question asked, when nothing else in it
    did ("42 married 2 kids 10 and 7": the age asked is 42), unless it counts something ("2 kids")."""
    found = _LEADING.match(text)
    if asked.type != "number" or asked.unit == "money" or found is None:
        return None
    if _COUNT_AFTER.match(text[found.end():]):
        return None
    number = int(found.group(1))
    low, high = asked.min, asked.max
    return number if (low is None or number >= low) and (high is None or number <= high) else None


def _with_period(said: str, question: Question, message: str) -> str:
    """An amount per period with none of its own takes the message's ("I make 4500 a month and my wife
    about 3k": hers is a month's too)."""
    if question.unit != "money" or question.per is None or period_in(normalise(said)) is not None:
        return said
    period = period_in(normalise(message))
    return f"{said} {'a month' if period == 'month' else 'a year'}" if period else said


def _parts_by_question(library: Library, text: str, asked: Question | None, answers: dict[str, Any],
                       shared: list[str]) -> dict[str, list[str]]:
    """Each question's parts of the message; `shared` is filled with the questions that no part was
    about on its own ("my main worry is cancer" is about the worry, not a health answer)."""
    text = _THOUSANDS.sub("", unicodedata.normalize("NFKC", text))
    text = _SELF_AS_PARENT.sub("single parent", _BETWEEN.sub(r"\1 to ", text))
    words = answer_words(library)
    cued: dict[str, list[str]] = {}
    uncued: dict[str, list[str]] = {}
    alone: set[str] = set()  # questions that a part was about on its own
    previous = [asked.id] if asked is not None else []
    announced: list[str] = []  # questions the part before named without answering ("重疾也有 五十万")
    for part in (p.strip() for p in _PARTS.split(text)):
        if not part:
            continue
        said = [q for q in library.questions if _said(q, normalise(part))]
        about = [q.id for q in said if _reads_here(q, part, asked, answers, words)]
        about = [q for q in _likely(library, part, about, words)
                 if not set(library.question(q).yields_to) & set(about)]
        if asked is not None and asked.id in about and asked.type == "number":  # its number is for it
            about = [q for q in about if q == asked.id or library.question(q).type != "number"]
        elif asked and about and all(q in answers for q in about) and _read(asked, part, words) is not None:
            about.append(asked.id)  # "she doesn't work": the partner's income asked, not the job
        # a part about nothing else that answers the question asked
        reads = not about and not announced and asked is not None and _read(asked, part, words) is not None
        about_asked = [asked.id] if reads and asked is not None else []
        alone.update(about if len(about) == 1 else [])
        for question_id in about or about_asked or previous:
            (cued if about or about_asked else uncued).setdefault(question_id, []).append(part)
        # what the next parts go on about: what this one said (and, if it answered nothing, what came before)
        spoken = [*about, *(q.id for q in said if q.id not in about)]
        previous = spoken if about else list(dict.fromkeys([*spoken, *previous]))
        announced = [q for q in spoken if q not in about]
    parts = {q: cued.get(q, []) + uncued.get(q, []) for q in dict.fromkeys([*cued, *uncued])}
    shared[:] = [q for q in parts if q not in alone]
    return parts


def _likely(library: Library, part: str, about: list[str], words: AnswerWords) -> list[str]:
    """Of several number questions a part is about, those its number is likely for ("老婆30": her age,
    not an income of 30), when it is likely for any."""
    numbers = [library.question(q) for q in about if library.question(q).type in ("number", "numbers")]
    if len(numbers) < 2:  # one question: nothing to choose
        return about

    def likely_for(question: Question) -> bool:  # "my wife have 3 kids 12 9": ages, not her income of 12
        value = _read(question, part, words)
        return bool(value) if question.type == "numbers" else not implausible(question, value)
    likely = [q.id for q in numbers if likely_for(q)]
    numbers_ids = [q.id for q in numbers]
    return [q for q in about if q not in numbers_ids or q in likely] if likely else about


def _reads_here(question: Question, part: str, asked: Question | None, answers: dict[str, Any],
                words: AnswerWords) -> bool:
    """A number question cued in a part takes it only if it finds its number there ("一个5岁" is no
    age), and, while another number is asked, only if it is not answered yet ("no income" answers
    the partner's income asked, not the customer's own, already given)."""
    if question.type not in ("number", "numbers"):
        return True
    if asked is not None and question.id != asked.id and asked.type == "number" and question.id in answers:
        return False
    return _read(question, part, words) is not None


def _cued(question: Question, text: str) -> bool:
    chinese, latin = _cue_matchers(question.cues)
    return any(cue in text for cue in chinese) or (latin is not None and latin.search(text) is not None)


@lru_cache(maxsize=256)
def _cue_matchers(cues: tuple[str, ...]) -> tuple[tuple[str, ...], re.Pattern[str] | None]:
    """A question's cues as looked for: Chinese ones as they are, Latin ones as whole words in one pattern."""
    chinese = tuple(normalise(c) for c in cues if not c.isascii())
    latin = [re.escape(normalise(c)) for c in cues if c.isascii()]
    if not latin:
        return chinese, None
    return chinese, re.compile(rf"{NOT_AFTER_LATIN}(?:{'|'.join(latin)}){NOT_BEFORE_LATIN}")


def _said(question: Question, text: str) -> bool:
    """The part is about the question: a cue word, or (for a choice with no cue there) one of its choices."""
    return _cued(question, text) or (question.cued_by_choices and said_choice(question, text) is not None)


def _read(question: Question, text: str, words: AnswerWords) -> Any:
    lowered = normalise(text)
    if question.type == "choice":
        return said_choice(question, lowered)
    if question.type == "yes_no":
        return _yes_no(question, lowered, words)
    if question.type == "numbers":
        said = _after_cue(question, _before_not(lowered))
        values = [v for v, counted in _numbers(said, question) if not counted]
        if re.search(r"twins|双胞胎", lowered) and len(values) == 1:
            values *= 2
        low, high = question.min or 0, question.max if question.max is not None else float("inf")
        fits = all(low <= v <= high for v in values) and len(values) <= (question.max_items or len(values))
        return values if values and fits else None
    return _number(question, lowered, words)


def _said_value(question: Question, text: str) -> Any:
    """The value (of a yes/no or number question) whose synonyms the text says most of."""
    best, covered = None, 0
    for value, by_locale in question.synonyms.items():
        words = [w for ws in by_locale.values() for w in ws]
        size = sum(len(w) for w in words if _says(w, text))
        if size > covered:
            best, covered = value, size
    return best


def mentions(question: Question, choice: Any, text: str) -> bool:
    """Whether the text says a word of `choice` without negating it ("not married" does not)."""
    lowered = normalise(text)
    words = [w for ws in question.synonyms.get(choice, {}).values() for w in ws]
    return any(keyword_in(w, lowered) and not re.search(rf"(?:not|no|n't)\s+{re.escape(normalise(w))}",
                                                         lowered) for w in words)


def _negated_before(text: str, word: str) -> bool:
    start = text.find(word)
    return start > 0 and text[start - 1] in "不没无未别"


# "有没有", "可不可以", "是不是": one question in the A-not-A form, which says no "no".
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])[不没]\1")


def _unsure_yes(question: Question, text: str) -> bool:
    """A yes/no answer that leans to yes but needs confirming: a "yes" word beside a "no" one ("no
    health issues. well I had a minor stroke"), or a word that may be a yes ("surgery last month")."""
    lowered = normalise(text)
    found = {value: [w for ws in by_locale.values() for w in ws if _says(w, lowered)]  # YAML's true and false
             for value, by_locale in question.synonyms.items()}
    # a word inside a longer word of the other answer is that one's ("have a car" in "don't have a car")
    def inside_the_other(word: str, value: Any) -> bool:
        return any(word in other for v, others in found.items() if v != value for other in others)
    said: set[Any] = {value for value, words in found.items()
                      if any(not inside_the_other(word, value) for word in words)}
    if said == {True, False}:
        return True
    if said == {True} and question.within_years and _before_the_window(lowered, question.within_years):
        return True  # "I had cancer 10 years ago", asked about the last 5: to be confirmed, not taken
    return not said and any(keyword_in(w, lowered) for w in question.confirm_yes)


def _before_the_window(text: str, years: int) -> bool:
    """The text puts what it says further back than the question asks about ("10 years ago", "in
    2012", "十年前"), and not as lasting since then ("since 2015", "一直")."""
    if re.search(r"\bsince\b|一直|至今|到现在", text):
        return False
    now = datetime.now(UTC).year
    ago = [int(n) for n in re.findall(r"(\d{1,2})\s*(?:years?|yrs?)\s+ago", text)]
    ago += [int(n) for said in re.findall(r"([一二两三四五六七八九十\d]{1,3})\s*年前", text)
            if (n := plain_number(said)) is not None]
    in_year = [now - int(y) for y in re.findall(r"\b(?:in|back in)\s+((?:19|20)\d\d)\b", text)]
    return any(span > years for span in ago + in_year)


def _says(word: str, text: str) -> bool:
    return keyword_in(word, text) or (not word.isascii() and word in text and not _negated_before(text, word))


def _yes_no(question: Question, text: str, said: AnswerWords) -> bool | None:
    first = (re.findall(r"[a-z']+", text[:12]) or [""])[0]
    if first in said.yes or first in said.no:  # "yes, bmw, maybe 180k now": the hedge is about the rest
        return first in said.yes
    if any(hedge in text for hedge in said.hedges):
        return None  # a hedge, not an answer
    if (value := _said_value(question, text)) is not None:
        return bool(value)
    text = _A_NOT_A.sub("", text)
    words = re.findall(r"[a-z']+|[\u4e00-\u9fff]", text)
    if any(w in said.no for w in words):
        return False
    if any(w in said.yes for w in words if w.isascii()) or text.startswith(said.yes):
        return True
    return None


def _before_not(text: str) -> str:
    """"4 and 9, not 4 and 6": what comes before what it is not."""
    cut = re.split(r"\bnot\b|不是|而不是", text, maxsplit=1)[0]
    return cut if re.search(r"\d|[一二两三四五六七八九十]", cut) else text


def _after_cue(question: Question, text: str) -> str:
    """The text from the question's first cue on, when numbers follow it ("I'm 41, 2 kids 3 and 6")."""
    starts = [found.start() for cue in question.cues if (found := re.search(re.escape(cue), text))]
    after = text[min(starts):] if starts else text
    return after if _DIGITS.search(after) or _HANZI.search(after) else text


def _now(text: str) -> str:
    """What is true now, when a message also says what was ("bought for 200k, now about 120k")."""
    found = re.search(r"\b(?:now|today|currently)\b|现在|目前|如今", text)
    after = text[found.end():] if found else ""
    return after if _DIGITS.search(after) or _HANZI.search(after) else text


def _number(question: Question, text: str, words: AnswerWords) -> int | float | None:
    text = _now(text)
    found = _numbers(text, question)
    values = [v for v, counted in found if not counted or question.counts_people]
    if question.birth_year and (born := _birth_year_age(text)) is not None:
        values = [born]
    elif question.birth_year and len(values) == 1 and _NEXT_BIRTHDAY.search(text):
        values = [values[0] - 1]  # "sixty one next birthday", "明年就四十了"
    if question.sum and len(values) > 1:
        values = [sum(values)]
    for value in values:
        low, high = question.min, question.max
        if (low is None or value >= low) and (high is None or value <= high):
            return value
    may_be_none = (question.min or 0) <= 0
    if may_be_none and _begins_with_none(text, words):  # "none, both passed": no, not "both"
        return 0
    if question.synonyms and (value := _said_value(question, text)) is not None:
        return int(value)  # "both", "两边老人", "a housewife": said in words
    if may_be_none and _says_none(text, words):
        return 0
    return None


def _begins_with_none(text: str, words: AnswerWords) -> bool:
    bare = re.sub(r"[\s.!。！~]+", " ", text).strip()
    return bare in words.none or re.match(r"^(?:zero|nil|none|nothing)\b", bare) is not None


def _says_none(text: str, words: AnswerWords) -> bool:
    bare = re.sub(r"[\s.!。！~]+", " ", text).strip()
    if _begins_with_none(text, words) or re.match(r"^no\b", bare):
        return True
    return bool(re.search(r"\b(?:no|zero|none|nothing|without any)\b|没有|^无|^零|^没|一分钱?都?没", bare))


_HANZI_DIGITS = str.maketrans("零〇一二三四五六七八九", "00123456789")


_NEXT_BIRTHDAY = re.compile(r"next birthday|\bturning\b|\bwill be\b|明年就|明年满|下个月就|下个月满|马上就")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = rf"({'|'.join(_MONTHS)})[a-z]*\.?"
_DATES = (  # a date of birth: (pattern, groups of year, month, day)
    (re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+((?:19|20)\d\d)\b"), (3, 1, 2)),
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH},?\s+((?:19|20)\d\d)\b"), (3, 2, 1)),
    (re.compile(r"\b((?:19|20)\d\d)\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})"), (1, 2, 3)),
)


def _date_of_birth_age(text: str) -> int | None:
    """The age from a whole date of birth ("dec 20 1985", "1985-12-20", "1985年12月20日")."""
    today = datetime.now(UTC).date()
    for pattern, (y, m, d) in _DATES:
        if found := pattern.search(text):
            month = found.group(m)
            month_number = _MONTHS.index(month[:3]) + 1 if not month.isdigit() else int(month)
            day = int(found.group(d))
            if not (1 <= month_number <= 12 and 1 <= day <= 31):
                return None
            return today.year - int(found.group(y)) - ((today.month, today.day) < (month_number, day))
    return None


# a year of birth in two digits: '86, 86年的, born in 86
_SHORT_YEAR = re.compile(r"(?:^|\D)'(\d\d)\b|(?:^|\D)(\d\d)年(?:出生|生|的)|\bborn\s+(?:in\s+)?(\d\d)\b")


def _birthday_to_come(text: str) -> int:
    """1 when the text gives a birthday ("生日12月20号") later this year than today: a year less."""
    found = re.search(r"(\d{1,2})\s*月\s*(\d{1,2})", text)
    today = datetime.now(UTC)
    return int(found is not None and (int(found.group(1)), int(found.group(2))) > (today.month, today.day))


def _birth_year_age(text: str) -> int | None:
    if (exact := _date_of_birth_age(text)) is not None:
        return exact
    year = datetime.now(UTC).year
    # Taiwan's calendar: 民国74年 and 74年次 are 1985
    if found := re.search(r"民国\s*(\d{2,3})\s*年|(\d{2,3})\s*年次", text):
        return year - 1911 - int(found.group(1) or found.group(2)) - _birthday_to_come(text)
    text = re.sub(r"[零〇一二三四五六七八九]{2,4}(?=年)", lambda m: m.group(0).translate(_HANZI_DIGITS), text)
    if found := _BORN.search(text):
        return year - int(found.group(1) or found.group(2))
    if found := _SHORT_YEAR.search(text):
        short = int(found.group(1) or found.group(2) or found.group(3))
        return year - (1900 + short if short > year % 100 else 2000 + short)
    return None


def _numbers(text: str, question: Question) -> list[tuple[int | float, bool]]:
    """The numbers a text says, in order, each with whether it counts people ("two kids")."""
    text = _CURRENCY.sub(" ", _approximately(_words_to_digits(text)))
    per = period_in(text)
    found: list[tuple[int, int | float, bool]] = []
    for match in _DIGITS.finditer(text):
        found.append(_token(text, match, Decimal(match.group(1)), match.group(2), question, per))
    for match in _HANZI.finditer(text):
        word = match.group(0)
        elder = text[max(match.start() - 1, 0)] == "老"  # "老二": the second child
        if elder and len(word) > 1 and _MEASURE.match(text, match.end()):
            word = word[1:]  # "老二三岁": the second child is 3
        elif len(word) == 1 and (elder or not _MEASURE.match(text, match.end())):
            continue  # "两边", "一下", "老二": not a number
        if len(word) > 1 and not _UNITS.search(word) and not text.startswith("年", match.end()):
            continue  # "老二四岁": digits side by side without a unit are no number
        number = _hanzi(word)
        if number is not None:
            found.append(_token(text, match, number, None, question, per))
    return [(value, counted) for start, value, counted in sorted(found) if start >= 0]


def _token(text: str, match: re.Match[str], number: Decimal, unit: str | None, question: Question,
           per: str | None) -> tuple[int, int | float, bool]:
    after = text[match.end():]
    before = text[:match.start()]
    year = question.unit == "money" and 1950 <= number <= 2035 and not unit and _SINCE.search(before)
    past = re.search(r"(?:ago|years ago|年前)", after[:8]) or after.startswith(("年级", "年級")) or year
    if before.endswith(_NOT_BEFORE) or past or after.startswith("后") or _PARENT_OF.search(before):
        return (-1, 0, True)  # what it is not, a date in the past, a generation ("七零后"), "mum of three"
    number *= MULTIPLIERS.get((unit or "").lower(), 1)
    counted = bool(_COUNT_AFTER.match(after))
    if counted and question.unit == "money":
        if re.match(r"\s*[a-z]", after):
            return (-1, 0, True)  # "3 kids": no amount
        counted = False  # "年薪四十个": an amount, as people say it (below)
    if question.unit == "money":
        if re.match(r"\s*个", after) and number < 1000:  # "年薪四十个": 40万, as people say it
            number *= 10_000
        if re.match(r"\s*(?:个月|months?\b)", after):
            return (-1, 0, True)
        number = Amount(number, per).per_period(question.per)
    elif question.type == "numbers" and re.match(r"\s*(?:个月|months?\b)", after):
        number = Decimal(0)  # a baby of 8 months is 0
    elif question.type == "numbers" and number > 0 and re.search(r"\bturn(?:s|ing)\s+$", before):
        number -= 1  # "the little one turns two in January": one now
    elif question.type == "numbers" and 1990 <= number <= datetime.now(UTC).year and (
            after.startswith("年") or _BORN_IN.search(before)):
        number = datetime.now(UTC).year - number  # "老大2015年的", "Jayden was born 2015": born then
    plain = int(number) if number == number.to_integral_value() else float(round(number, 2))
    return (match.start(), plain, counted)


_TEN_THOUSAND_AND = re.compile(r"(?<![零〇一二两三四五六七八九十百千\d])"  # "万五" alone, not "三万五"
                               r"万([一二两三四五六七八九])(?![十百千万\d])")


def _approximately(text: str) -> str:
    """"二十来万", "十来岁": about the number, read as the number; "万五" (as said: 一万五) is 15 000."""
    text = _TEN_THOUSAND_AND.sub(r"一万\1", text)
    return re.sub(r"(?<=[十百千万\d])来(?=[万千百岁块元个])", "", text)


def _hanzi(text: str) -> Decimal | None:
    if text in ("一", "点", "十") or text.endswith("点"):
        return None if text != "十" else Decimal(10)
    return plain_number(text)


# "half a million", "a quarter of a million", "a million and a half"
_FRACTION = re.compile(r"\b(half|a quarter|quarter)\s+(?:of\s+)?an?\s+(million|mil|thousand)\b"
                       r"|\ba\s+(million|mil|thousand)\s+and\s+a\s+half\b")
_FRACTIONS = {"half": 0.5, "a quarter": 0.25, "quarter": 0.25}


def _fractions(text: str) -> str:
    def value(match: re.Match[str]) -> str:
        scale = _SCALES.get(match.group(2) or match.group(3) or "", 1_000_000)
        share = 1.5 if match.group(3) else _FRACTIONS[match.group(1)]
        return str(int(share * scale))

    return _FRACTION.sub(value, text)


def _words_to_digits(text: str) -> str:
    """English number words as digits: "forty-one" is 41, "two hundred thousand" 200000."""
    text = _fractions(text)

    def value(match: re.Match[str]) -> str:
        words = re.split(r"[\s-]+", match.group(0).lower())
        pronoun = words[0] == "one" and (re.match(r"\s+(?:is|of)\b", text[match.end():])
                                         or _DETERMINER.search(text[:match.start()]))
        if words == ["a"] or pronoun:
            return match.group(0)  # "a", "one is five", "the life one": not a number
        said: list[int] = []  # "twelve nine and five": three numbers, not 26
        total = current = 0
        for word in words:
            if word in ("and", "a"):
                current = current or (1 if word == "a" else 0)
            elif word in _ONES or word in _TENS:
                value = _ONES.get(word) or _TENS.get(word, 0)
                units = current % 100
                if units and (units % 10 or units < 20 or word in _TENS):  # a number of its own
                    said.append(total + current)
                    total = current = 0
                current += value
            elif word == "hundred":
                current = (current or 1) * 100
            else:
                total, current = total + (current or 1) * _SCALES[word], 0
        return " ".join(str(n) for n in [*said, total + current])

    return _NUMBER_WORD.sub(value, text)


# Amounts said roughly: "a couple hundred thousand", "late 30s", "三十多岁", "20几万".
_ROUGH = re.compile(r"\b(?:a\s+)?(couple(?:\s+of)?|few)\s+(hundred|thousand|million|k)(?:\s+(thousand|k))?\b")
_ROUGHLY = {"couple": (2, 3), "couple of": (2, 3), "few": (2, 5)}
_DECADE = re.compile(r"\b(early|mid|late)[\s-]*(\d)0'?s\b")
_DECADE_PART = {"early": (0, 3), "mid": (4, 6), "late": (7, 9)}
# "三十多" 31-39; "三十出头" a little more than 30 ("二十来万" is read as 20万: _approximately)
_MORE_THAN = re.compile(r"(\d+|[一二两三四五六七八九]?十|[一二两三四五六七八九])(多|几|出头)(万|千|百|k)?")


def _rough(lowered: str) -> tuple[Decimal, Decimal, Decimal] | None:
    """The range a roughly said number spans, and the number a plain reading takes from it
    ("三十多" reads as 30), if the text says one."""
    if found := _ROUGH.search(lowered):
        low, high = _ROUGHLY[found.group(1)]
        scale = Decimal(_SCALES.get(found.group(2), 1_000)) * (1_000 if found.group(3) else 1)
        return low * scale, high * scale, scale
    if found := _DECADE.search(lowered):
        first, last = _DECADE_PART[found.group(1)]
        tens = int(found.group(2)) * 10
        return Decimal(tens + first), Decimal(tens + last), Decimal(tens)
    if (found := _MORE_THAN.search(lowered)) and (number := plain_number(found.group(1))) is not None:
        step = Decimal(10 if number >= 10 and number % 10 == 0 else 1)  # "三十多": 31-39; "5多万": 5-6万
        if found.group(2) == "出头":
            step /= 2
        scale = Decimal(MULTIPLIERS.get(found.group(3) or "", 1))
        return number * scale, (number + step) * scale, number * scale
    return None


def _range_middle(text: str, question: Question, read: Any = None) -> float | None:
    """The middle of a range the text gives; `read`: what a plain reading took from it, which a
    rough number ("三十多") must be the source of (else it is another number: "做了三十多年")."""
    lowered = _BETWEEN.sub(r"\1 to ", normalise(text))
    rough = _rough(lowered)
    if rough is not None and (read is None or read == rough[2] or rough[0] <= read <= rough[1]):
        low, high = rough[:2]
    elif found := _RANGE.search(lowered):
        unit = found.group(4) or found.group(2)
        low = Decimal(found.group(1)) * MULTIPLIERS.get((found.group(2) or unit or "").lower(), 1)
        high = Decimal(found.group(3)) * MULTIPLIERS.get((unit or "").lower(), 1)
    elif found := _HANZI_RANGE.search(lowered):
        units = {"十": 10, "百": 100, "千": 1000, "万": 10_000}
        scale = units[found.group(3)] * (10_000 if found.group(4) else 1)
        low, high = (chinese_number(found.group(i)) or Decimal(0) for i in (1, 2))
        low, high = low * scale, high * scale
    elif found := _HANZI_ONES_RANGE.search(lowered):
        tens = (chinese_number(found.group(1)) or Decimal(1)) * 10
        low, high = (tens + (chinese_number(found.group(i)) or Decimal(0)) for i in (2, 3))
    else:
        return None
    if not 0 < low < high:
        return None
    per = period_in(lowered)
    middle = (low + high) / 2
    if question.unit == "money":
        middle = Amount(middle, per).per_period(question.per)
    elif question.type in ("number", "numbers"):  # an age or a count: whole ("三十出头" is 32)
        return int(middle)
    return int(middle) if middle == int(middle) else float(middle)
