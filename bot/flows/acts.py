"""What the agent did in one message (opened, asked an open question, answered an objection...):
a character n-gram classifier that works for Chinese and English alike, trained at start from
the labelled examples in scripts_library/rehearsal/examples.yaml. No network, no hosted model."""
from __future__ import annotations

from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import LinearSVC

ACTS = ("opening", "open_question", "closed_question", "summarise", "benefit", "product_talk", "acknowledge",
        "answer_objection", "trial_close", "ask_signature")


class ActClassifier:
    def __init__(self, examples: dict[str, dict[str, list[str]]]) -> None:
        """examples: locale -> act -> sentences; one model for all locales (n-grams tell them apart)."""
        texts = [text for by_act in examples.values() for act in ACTS for text in by_act.get(act, [])]
        labels = [act for by_act in examples.values() for act in ACTS for _ in by_act.get(act, [])]
        self.model: Pipeline = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=True, sublinear_tf=True),
            LinearSVC(C=0.8),
        )
        self.model.fit(texts, labels)

    def classify(self, text: str) -> str:
        return str(self.model.predict([text])[0])

    def accuracy(self, heldout: dict[str, list[str]]) -> dict[str, Any]:
        """Per act and overall share of held-out sentences classified right."""
        per_act = {}
        right = total = 0
        for act, texts in heldout.items():
            predicted = self.model.predict(texts) if texts else []
            hits = sum(1 for p in predicted if p == act)
            per_act[act] = hits / len(texts) if texts else 0.0
            right, total = right + hits, total + len(texts)
        return {"per_act": per_act, "overall": right / total if total else 0.0}
