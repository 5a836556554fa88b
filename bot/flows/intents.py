"""What a customer's typed message means when it is not a direct answer: why are you asking, an
objection, a closing signal, a wish to buy or to wait... (scripts_library/intents/).

The classifier is trained once per set of examples and kept, so that every conversation shares it.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from weakref import WeakKeyDictionary

from bot.flows.classifier import TextClassifier
from bot.library import Library



@dataclass(frozen=True)
class Reading:
    """The likeliest meanings of a message, best first, and whether the best is clear enough."""

    likely: tuple[str, ...]
    sure: bool

    @property
    def intent(self) -> str | None:
        return self.likely[0] if self.sure and self.likely else None


@lru_cache(maxsize=4)
def _trained(labels: tuple[str, ...],
             examples: tuple[tuple[str, str, tuple[str, ...]], ...]) -> TextClassifier:
    as_dict: dict[str, dict[str, list[str]]] = {}
    for locale, label, texts in examples:
        as_dict.setdefault(locale, {})[label] = list(texts)
    return TextClassifier(labels, as_dict, latin_words=True)


_by_library: WeakKeyDictionary[Library, TextClassifier] = WeakKeyDictionary()
_training = threading.Lock()  # a second caller waits for the training under way instead of repeating it


def classifier(library: Library) -> TextClassifier:
    """The classifier of this library's examples: trained on first use, then shared by every
    message (looked up by the library) and by libraries with the same examples."""
    known = _by_library.get(library)
    if known is not None:
        return known
    with _training:
        known = _by_library.get(library)
        if known is not None:
            return known
        labels = tuple(library.intents["intents"]["intents"])
        examples = tuple((locale, label, tuple(map(str, texts)))
                         for locale, by_label in library.intents["examples"].items()
                         for label, texts in by_label.items())
        known = _by_library[library] = _trained(labels, examples)
    return known


@lru_cache(maxsize=256)  # a message is read by the sale and by its stage: classify it once
def read(library: Library, text: str) -> Reading:
    """What `text` likely means. Unsure when the best score is low or close to the next one."""
    settings = library.parameters.intents
    if not any(ch.isalnum() for ch in text) or len(text) > settings.longest:
        return Reading((), False)  # emoji or punctuation alone, or a text no chat message is: unread
    ranked = classifier(library).ranked(text)
    best, second = ranked[0][1], ranked[1][1]
    sure = best >= settings.sure_above and best - second >= settings.ahead_by
    return Reading(tuple(label for label, _ in ranked[: settings.candidates]), sure)
