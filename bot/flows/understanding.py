"""What a typed message is, before any stage reads it: the same text in plain Simplified Chinese
(Traditional and Cantonese read too), whether it asks something, says no, refuses the whole sale,
or asks one of the common questions the library answers (scripts_library/understanding.yaml).
Pure functions of the text and the library's words."""
from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import Any

from bot.flows.slots import NUMBER_WORDS
from bot.library import Library, normalise, word_pattern


@cache
def _to_simplified() -> Any:
    import opencc  # loaded on the first message: most starts never need it

    return opencc.OpenCC("t2s")


def plain(library: Library, text: str) -> str:
    """The text as it is read: Latin words misspelt by one letter mended ("marred" is "married"),
    Cantonese words in Mandarin, Traditional characters Simplified, full-width forms folded."""
    text = _LATIN_WORD.sub(lambda word: _mended(library, word.group(0)), text)
    if text.isascii():
        return text
    for word, mandarin in _cantonese(library):
        text = text.replace(word, mandarin)
    return unicodedata.normalize("NFKC", str(_to_simplified().convert(text)))


_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’]{3,}")  # "haven't": no slip of "have"
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@lru_cache(maxsize=4096)  # words recur: each is looked at once
def _mended(library: Library, word: str) -> str:
    """The one word of the library's vocabulary a word one typing slip away stands for (a letter
    missing, extra, wrong or two swapped); the word itself when it is known, or the slip is not
    clear (two words as near)."""
    known = _vocabulary(library)
    lowered = word.lower()
    if lowered in known:
        return word
    splits = [(lowered[:i], lowered[i:]) for i in range(len(lowered) + 1)]
    edits = {a + b[1:] for a, b in splits if b}  # a letter extra, swapped, wrong, missing
    edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    edits |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    edits |= {a + c + b for a, b in splits for c in _LETTERS}
    near = [candidate for candidate in edits if candidate in known and len(candidate) >= 4]
    return near[0] if len(near) == 1 else word


@cache
def _vocabulary(library: Library) -> frozenset[str]:
    """Every Latin word the library reads: its words, the questions' and objections' words, and
    the customer examples the classifier learns from."""
    texts: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                collect(key)
                collect(item)
        elif isinstance(value, list | tuple):
            for item in value:
                collect(item)

    collect([library.understanding, library.intents.get("examples", {}), dict(library.keywords)])
    collect([[q.cues, q.synonyms, q.choices] for q in library.questions])
    collect([o.keywords for o in library.objections])
    words = {w for text in texts for w in re.findall(r"[a-z']+", text.lower())}
    return frozenset(words | NUMBER_WORDS)


@cache
def _cantonese(library: Library) -> list[tuple[str, str]]:
    words: dict[str, str] = library.understanding["cantonese"]
    return sorted(words.items(), key=lambda item: -len(item[0]))


def _latin_word(word: str, text: str) -> bool:
    pattern = word_pattern(word)[1]  # compiled once per word (library.py)
    return pattern is not None and pattern.search(text) is not None


def contains(words: list[str], text: str) -> list[str]:
    """The words of the list that the normalised text says (whole words in Latin script)."""
    return [w for w in words if w in text and (not w.isascii() or _latin_word(w, text))]


def is_question(library: Library, text: str) -> bool:
    lowered = unicodedata.normalize("NFKC", text).strip().lower()
    if "?" in lowered:
        return True
    words = library.understanding["question"]
    return bool(_opening(tuple(words["starts"])).match(lowered) or contains(words["anywhere"], lowered))


@cache
def _opening(words: tuple[str, ...]) -> re.Pattern[str]:
    """The words a question begins with, as one pattern."""
    return re.compile(rf"(?:{'|'.join(map(re.escape, words))})\b")


def negated(library: Library, text: str) -> bool:
    """The message says no somewhere ("no", "not interested", "没有", "不要")."""
    lowered = normalise(text)
    for phrase in library.understanding["not_negations"]:
        lowered = lowered.replace(phrase, " ")
    words = library.understanding["negations"]
    latin = any(_latin_word(w, lowered) for w in words["latin"]) or "n't" in lowered
    return latin or any(w in lowered for w in words["chinese"])


def contrasts(library: Library, text: str) -> bool:
    """The message takes back what it said first ("that makes sense, but...")."""
    return bool(contains(library.understanding["contrast"], normalise(text)))


def doubts(library: Library, text: str) -> bool:
    """The message hedges ("I guess", "应该吧"): it says no clear yes."""
    return bool(contains(library.understanding["doubts"], normalise(text)))


def not_read(library: Library, text: str) -> bool:
    """The message says the terms were not read ("I haven't read it", "条款我没看")."""
    return bool(contains(library.understanding["not_read"], normalise(text)))


def supposes(library: Library, text: str) -> bool:
    """The message supposes ("what if I had diabetes?", "如果我不讲会怎样"): it states no fact."""
    return bool(contains(library.understanding["suppositions"], normalise(text)))


def needs_a_person(library: Library, text: str) -> bool:
    """A complaint, distress or a loss ("this is ridiculous", "我要投诉", "he passed away")."""
    return bool(contains(library.understanding["to_a_person"], normalise(text)))


def refuses(library: Library, text: str) -> bool:
    """The message turns the whole sale down ("not interested", "算了", "unsubscribe")."""
    lowered = normalise(text)
    return any(contains(list(words), lowered) for words in library.understanding["refusals"].values())


def faq_topic(library: Library, text: str, asking: bool) -> str | None:
    """The common question the message asks (a statement counts only for topics marked so); the
    topic whose words cover most of the message wins."""
    lowered = normalise(text)
    best, covered = None, 0
    for topic, spec in library.understanding["faq"].items():
        if not asking and not spec.get("statements"):
            continue
        found = sum(len(w) for w in contains(spec["words"], lowered))
        if found > covered:
            best, covered = topic, found
    return best
