"""Charts drawn at once in several threads (Telegram draws them in worker threads) come out as
each would alone: every text carries its own font, and matplotlib's process-wide settings are
never changed."""
from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import matplotlib
import pytest
from matplotlib.text import Text

from bot.charts import draw, font_family, render_png
from bot.flows.calculator import analyse
from bot.flows.coaching import progress
from bot.flows.messages import Chart
from bot.flows.presenting import gap_chart
from bot.library import Library

FAMILY = {"age": 35, "occupation": "office", "family": "married_children", "annual_income": 300_000,
          "children_ages": [3, 7], "debts": 500_000, "existing_cover": "social_and_policies",
          "existing_life": 1_000_000, "existing_critical_illness": 0, "car": False}


@pytest.fixture(scope="module")
def charts(library: Library) -> list[Chart]:
    """A gap chart and a progress chart in each language."""
    scores = [(datetime(2026, 11, day, tzinfo=UTC), score) for day, score in ((20, 40), (22, 55), (25, 70))]
    found = []
    for locale in ("zh_CN", "en"):
        found.append(gap_chart(library, locale, analyse(FAMILY, library.parameters), FAMILY))
        chart = progress(library, locale, scores).chart
        assert chart is not None
        found.append(chart)
    return found


def texts_of(chart: Chart) -> list[Text]:
    """Every text element of the drawn chart, tick labels included (as they are when saved)."""
    figure = draw(chart)
    figure.canvas.draw()
    return [t for t in figure.findobj(Text) if t.get_text()]


def test_every_text_of_a_chart_carries_the_chart_font(charts: list[Chart]) -> None:
    family = font_family()
    with matplotlib.rc_context({"font.family": ["monospace"]}):  # whatever the process-wide setting
        for chart in charts:
            texts = texts_of(chart)
            assert any(t.get_text() == chart.title for t in texts)
            for text in texts:
                assert text.get_fontfamily() == family, text.get_text()


def test_charts_drawn_at_once_in_several_threads_are_the_same_as_drawn_alone(charts: list[Chart]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph (a CJK text drawn in a Latin font) fails
        alone = [render_png(chart) for chart in charts]
    font = dict(matplotlib.rcParams)
    rounds, threads = 2, 4
    start = threading.Barrier(threads)

    def draw_all(index: int) -> list[bytes]:
        start.wait(timeout=30)  # all threads draw at the same moment
        order = charts[index % len(charts):] + charts[:index % len(charts)]  # each thread its own order
        drawn = {id(chart): [render_png(chart) for _ in range(rounds)] for chart in order}
        return [png for chart in charts for png in drawn[id(chart)]]

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(draw_all, range(threads)))
    expected = [png for png in alone for _ in range(rounds)]
    for result in results:
        assert [len(png) for png in result] == [len(png) for png in expected]
        assert result == expected
    assert dict(matplotlib.rcParams) == font  # the process-wide settings are as they were
