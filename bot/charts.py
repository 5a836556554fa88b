"""Drawing the coverage-gap chart as a PNG (matplotlib, no screen), for any channel to send."""
from __future__ import annotations

import io
import textwrap
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display; must precede any other matplotlib import
from matplotlib import font_manager
from matplotlib.figure import Figure

from bot.flows.messages import Chart

COLOURS = ("#c0392b", "#27ae60")  # needed, already covered
UNIT = 10_000  # values are shown in tens of thousands (万)


@lru_cache(maxsize=1)
def _font_family() -> list[str]:
    """Register the bundled Noto Sans CJK font once; Latin text falls back to the default."""
    import mplfonts

    path = Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"
    font_manager.fontManager.addfont(str(path))
    return [font_manager.FontProperties(fname=str(path)).get_name(), "DejaVu Sans"]


def draw(chart: Chart) -> Figure:
    figure = Figure(figsize=(7.5, 4.5), dpi=100)
    with matplotlib.rc_context({"font.family": _font_family()}):
        axes = figure.subplots()
        positions = range(len(chart.labels))
        width = 0.38
        if chart.kind == "line":
            axes.plot(list(positions), list(chart.needed), marker="o", color=COLOURS[1])
            axes.set_ylim(0, 100)
            axes.set_xticks(list(positions), list(chart.labels))
            axes.set_ylabel(chart.axis)
            axes.set_title(chart.title)
            figure.tight_layout()
            return figure
        axes.bar([x - width / 2 for x in positions], [v / UNIT for v in chart.needed], width,
                 label=chart.legend[0], color=COLOURS[0])
        axes.bar([x + width / 2 for x in positions], [v / UNIT for v in chart.covered], width,
                 label=chart.legend[1], color=COLOURS[1])
        axes.set_xticks(list(positions), [textwrap.fill(label, 14) for label in chart.labels])
        axes.set_ylabel(chart.axis)
        axes.set_title(chart.title)
        axes.legend()
        figure.text(0.99, 0.01, chart.note, ha="right", va="bottom", fontsize=8, color="#555555")
        figure.tight_layout(rect=(0, 0.04, 1, 1))  # room for the note below the labels
    return figure


def render_png(chart: Chart) -> bytes:
    figure = draw(chart)
    buffer = io.BytesIO()
    with matplotlib.rc_context({"font.family": _font_family()}):
        figure.savefig(buffer, format="png")
    return buffer.getvalue()
