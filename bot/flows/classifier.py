"""A small text classifier for both languages at once: character n-grams (they work for Chinese
and English alike) and a linear model, trained at start from labelled examples in
scripts_library/. No network, no hosted model."""
from __future__ import annotations

import math
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


class TextClassifier:
    def __init__(self, labels: tuple[str, ...], examples: dict[str, dict[str, list[str]]],
                 c: float = 0.8, latin_words: bool = False) -> None:
        """examples: locale -> label -> sentences; one model for all locales (n-grams tell them apart).
        latin_words: English words and word pairs as features too (Chinese has no spaces to split at)."""
        # scikit-learn is imported when a classifier is first trained (the first typed message),
        # not at start: a second of start-up that commands and buttons never need
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline, make_union
        from sklearn.svm import LinearSVC

        pairs = [(text, label) for by_label in examples.values() for label in labels
                 for text in by_label.get(label, [])]
        features: Any = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=True,
                                        sublinear_tf=True)
        if latin_words:
            words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), lowercase=True, sublinear_tf=True,
                                    token_pattern=r"[a-zA-Z']+")
            features = make_union(features, words)
        self.model: Pipeline = make_pipeline(features, LinearSVC(C=c))
        self.model.fit([text for text, _ in pairs], [label for _, label in pairs])

    def _scores(self, text: str) -> Any:
        """The linear model's margins for one message, from the fitted vocabularies and weights: the
        same numbers as `model.decision_function`, without the library's per-call checks, which
        cost ten times the arithmetic for one short message."""
        import numpy

        columns: list[int] = []
        values: list[float] = []
        for offset, vectorizer, analyse in self._vectorizers:
            counts: dict[str, int] = {}
            for term in analyse(text):
                counts[term] = counts.get(term, 0) + 1
            found = [(vectorizer.vocabulary_[t], n) for t, n in counts.items() if t in vectorizer.vocabulary_]
            weights = [(1 + math.log(n)) * vectorizer.idf_[j] for j, n in found]  # sublinear tf x idf
            norm = math.sqrt(sum(w * w for w in weights)) or 1.0  # each vectorizer's row has length 1
            columns += [offset + j for j, _ in found]
            values += [w / norm for w in weights]
        svc = self.model[-1]
        return svc.coef_[:, columns] @ numpy.array(values) + svc.intercept_

    @cached_property
    def _vectorizers(self) -> list[tuple[int, Any, Any]]:
        """Each vectorizer of the model, where its columns start, and how it splits a text."""
        features = self.model[0]
        parts = [part for _, part in getattr(features, "transformer_list", [("", features)])]
        offsets = [sum(len(p.vocabulary_) for p in parts[:i]) for i in range(len(parts))]
        return [(offset, part, part.build_analyzer()) for offset, part in zip(offsets, parts, strict=True)]

    def classify(self, text: str) -> str:
        return str(self.model.predict([text])[0])

    def ranked(self, text: str) -> list[tuple[str, float]]:
        """Every label with its score (the margin of the linear model), best first."""
        scores = self._scores(text)
        labels = self.model.classes_
        return sorted(((str(label), float(score)) for label, score in zip(labels, scores, strict=True)),
                      key=lambda pair: -pair[1])

    def accuracy(self, heldout: dict[str, list[str]]) -> dict[str, Any]:
        """Per label and overall share of held-out sentences classified right."""
        per_label = {}
        right = total = 0
        for label, texts in heldout.items():
            predicted = self.model.predict(texts) if texts else []
            hits = sum(1 for p in predicted if p == label)
            per_label[label] = hits / len(texts) if texts else 0.0
            right, total = right + hits, total + len(texts)
        return {"per_label": per_label, "overall": right / total if total else 0.0}
