"""How long the sale takes to read a typed message as customers write it, against pressing a button,
in one interleaved run (the turn only: no database, no channel). The in-the-wild messages of
tests/wild/ are sent at their stage; each is followed by a button press at the same stage.

Run: .venv/bin/python bench/reading_speed.py
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wild import WILD, load_cases, sale_for
from bot.flows.messages import Inbound
from bot.flows.sale import handle
from bot.library import Library


def main() -> int:
    library = Library()
    cases = load_cases([WILD / "en.yaml", WILD / "zh.yaml"])
    for case in cases[:20]:  # warm up: converters, the classifier, compiled texts
        handle(sale_for(library, case), Inbound("text", str(case["text"])))
    typed, pressed = [], []
    for _ in range(3):
        for case in cases:
            sale = sale_for(library, case)
            start = time.perf_counter()
            handle(sale, Inbound("text", str(case["text"])))
            typed.append(time.perf_counter() - start)
            sale = sale_for(library, case)
            option = next(iter(sale.stage.options(sale)), "help")
            start = time.perf_counter()
            handle(sale, Inbound("choice", option))
            pressed.append(time.perf_counter() - start)
    for name, times in (("typed message", typed), ("button press", pressed)):
        times.sort()
        print(f"{name:<14} p50 {statistics.median(times) * 1000:6.2f} ms   "
              f"p99 {times[int(len(times) * 0.99)] * 1000:6.2f} ms   ({len(times)} turns)")
    print(f"typed / pressed, p50: {statistics.median(typed) / statistics.median(pressed):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
