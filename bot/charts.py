"""Drawing the coverage-gap chart as a PNG (matplotlib, no screen), for any channel to send.

matplotlib is imported on the first chart, not at start: most messages draw none, and the bot
starts in a fraction of the time without it."""
from __future__ import annotations

import io
import textwrap
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from bot.flows.messages import Chart

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLOURS = ("#c0392b", "#27ae60")  # needed, already covered
UNIT = 10_000  # values are shown in tens of thousands (万)


_registering = threading.Lock()


@lru_cache(maxsize=1)
def _registered_family() -> tuple[str, ...]:
    import matplotlib

    matplotlib.use("Agg")  # no display; before anything else of matplotlib is imported
    import mplfonts
    from matplotlib import font_manager

    path = Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"
    font_manager.fontManager.addfont(str(path))
    return (font_manager.FontProperties(fname=str(path)).get_name(), "DejaVu Sans")


def font_family() -> list[str]:
    """The chart's fonts: the bundled Noto Sans CJK (registered once, under a lock, as charts are
    drawn from worker threads), then matplotlib's default for anything it lacks."""
    with _registering:
        return list(_registered_family())


def draw(chart: Chart) -> Figure:
    """The chart as a figure. Every text carries its own font, and nothing of matplotlib's
    process-wide settings (rcParams) is changed, so charts drawn at once in several threads do
    not change each other."""
    family = font_family()  # first: it loads matplotlib
    from matplotlib import font_manager, rcParams
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 4.5), dpi=100)
    axes = figure.subplots()
    axes.tick_params(labelfontfamily=family)  # the tick labels, also those made when drawing
    positions = list(range(len(chart.labels)))
    width = 0.38
    if chart.kind == "line":
        axes.plot(positions, list(chart.needed), marker="o", color=COLOURS[1])
        axes.set_ylim(0, 100)
        axes.set_xticks(positions, list(chart.labels), fontfamily=family)
        axes.set_ylabel(chart.axis, fontfamily=family)
        axes.set_title(chart.title, fontfamily=family)
        figure.tight_layout()
        return figure
    axes.bar([x - width / 2 for x in positions], [v / UNIT for v in chart.needed], width,
             label=chart.legend[0], color=COLOURS[0])
    axes.bar([x + width / 2 for x in positions], [v / UNIT for v in chart.covered], width,
             label=chart.legend[1], color=COLOURS[1])
    axes.set_xticks(positions, [textwrap.fill(label, 14) for label in chart.labels], fontfamily=family)
    axes.set_ylabel(chart.axis, fontfamily=family)
    axes.set_title(chart.title, fontfamily=family)
    axes.legend(prop=font_manager.FontProperties(family=family, size=rcParams["legend.fontsize"]))
    figure.text(0.99, 0.01, chart.note, ha="right", va="bottom", fontsize=8, color="#555555",
                fontfamily=family)
    figure.tight_layout(rect=(0, 0.04, 1, 1))  # room for the note below the labels
    return figure


def render_png(chart: Chart) -> bytes:
    buffer = io.BytesIO()
    draw(chart).savefig(buffer, format="png")
    return buffer.getvalue()
