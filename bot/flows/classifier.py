"""A small text classifier for both languages at once: character n-grams (they work for Chinese
and English alike) and a linear model, trained at start from labelled examples in
scripts_library/. No network, no hosted model."""
from __future__ import annotations

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

    def classify(self, text: str) -> str:
        return str(self.model.predict([text])[0])

    def ranked(self, text: str) -> list[tuple[str, float]]:
        """Every label with its score (the margin of the linear model), best first."""
        scores = self.model.decision_function([text])[0]
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
