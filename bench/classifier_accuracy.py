"""Accuracy of the rehearsal's act classifier on the held-out examples, per act and per language.

Run: .venv/bin/python bench/classifier_accuracy.py   (target: at least 85 % overall in each language)
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.flows.acts import ACTS, ActClassifier
from bot.library import Library


def main() -> int:
    library = Library()
    classifier = ActClassifier(library.rehearsal["examples"])
    worst = 1.0
    for locale, heldout in library.rehearsal["heldout"].items():
        result = classifier.accuracy(heldout)
        sentences = sum(len(v) for v in heldout.values())
        print(f"{locale}: overall {result['overall']:.1%} on {sentences} held-out sentences")
        for act in ACTS:
            print(f"  {act:<17} {result['per_act'].get(act, 0):.0%}")
        worst = min(worst, result["overall"])
    print(f"lowest overall: {worst:.1%} (target 85%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
