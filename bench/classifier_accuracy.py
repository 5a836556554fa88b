"""Accuracy of the two text classifiers on their held-out sentences (never used for training),
per label and per language: the rehearsal's act classifier (target 90 % overall) and the
customer-intent classifier (target 90 % overall, no intent under 75 %).

Run: .venv/bin/python bench/classifier_accuracy.py   (or `make accuracy`)
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.flows import intents
from bot.flows.acts import ACTS, ActClassifier
from bot.flows.classifier import TextClassifier
from bot.library import Library


def report(name: str, classifier: TextClassifier, heldout: dict[str, dict[str, list[str]]],
           labels: tuple[str, ...]) -> tuple[float, float]:
    """Prints the figures; returns the lowest overall and the lowest per-label accuracy."""
    worst_overall = worst_label = 1.0
    for locale, by_label in heldout.items():
        result = classifier.accuracy(by_label)
        sentences = sum(len(v) for v in by_label.values())
        print(f"{name}, {locale}: overall {result['overall']:.1%} on {sentences} held-out sentences")
        for label in labels:
            print(f"  {label:<18} {result['per_label'].get(label, 0):.0%}")
        worst_overall = min(worst_overall, result["overall"])
        worst_label = min(worst_label, *(result["per_label"].get(label, 0) for label in labels))
    return worst_overall, worst_label


def main() -> int:
    library = Library()
    acts, _ = report("agent acts", ActClassifier(library.rehearsal["examples"]),
                     library.rehearsal["heldout"], ACTS)
    labels = tuple(library.intents["intents"]["intents"])
    reader = intents.classifier(library)
    report("customer intents, development set (looked at while writing examples)", reader,
           library.intents["dev"], labels)
    overall, label = report("customer intents", reader, library.intents["heldout"], labels)
    print(f"agent acts: lowest overall {acts:.1%} (target 90%)")
    print(f"customer intents: lowest overall {overall:.1%} (target 90%), "
          f"lowest intent {label:.0%} (target 75%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
