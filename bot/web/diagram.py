"""The sale's state machine as an SVG picture, drawn here from the machine itself.

Every edge comes from `MACHINE` (bot/flows/machine.py): its events and their transitions, so the
picture changes when the table does. No layout engine is needed (graphviz's `dot` is a system
program, not a pip package): the sale is nearly a line, so the stages stand in a row in the order of
STAGES, a move to the next stage is a straight arrow, a longer move forward an arc above, a move
back an arc below. The stages anyone can leave for (declined, paused) stand apart, joined to the row
by a bar; `restart`, which goes from every stage, starts from a box of its own.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from transitions import Machine

from bot.flows.machine import APART, MACHINE

SPACING, WIDTH, HEIGHT = 172, 124, 44  # between stage centres; a stage's box
ROW, LEFT = 230, 84  # the row's centre line; the first stage's centre
TOP_BAR, BOTTOM_BAR = 118, 340  # the bars joining the row to the stages apart
# The stages apart from the funnel, drawn apart from the row, above and below it in turn.
ASIDE = {name: ("top", "bottom")[i % 2] for i, name in enumerate(APART[::-1])}
STYLE = (  # each rule applies inside the diagram only, also when it stands in a page
    ".stage rect{fill:#eef4fb;stroke:#2c5d8f;stroke-width:1.5}",
    ".aside rect{fill:#fbeeee;stroke:#8f2c2c;stroke-width:1.5}",
    ".anywhere rect{fill:#fff;stroke:#777;stroke-dasharray:4 3}",
    ".name{font:600 13px sans-serif;fill:#1b2a38}",
    ".subtitle{font:11px sans-serif;fill:#4b5b6b}",
    ".label{font:11px sans-serif;fill:#333;paint-order:stroke;stroke:#fff;stroke-width:3px}",
    ".edge{fill:none;stroke:#555;stroke-width:1.3}",
    ".bar{fill:none;stroke:#999;stroke-width:1.3}",
    ".restart{fill:none;stroke:#777;stroke-dasharray:5 4;stroke-width:1.3}",
)


@dataclass
class Moves:
    """The machine's moves, grouped for drawing."""

    edges: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    into: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # aside stage -> source -> triggers
    out_of: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # aside stage -> dest -> triggers
    anywhere: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # dest -> triggers


def moves(machine: Machine) -> Moves:
    """Each (source, destination) with its triggers; a trigger that leaves every stage for the same
    destination is drawn once, from "any stage"."""
    states = list(machine.states)
    by_trigger: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name, event in machine.events.items():
        for source, transitions in event.transitions.items():
            for transition in transitions:
                by_trigger[(name, transition.dest or source)].add(source)
    found = Moves()
    for (trigger, dest), sources in by_trigger.items():
        if set(sources) == set(states) and len(states) > 2:
            found.anywhere[dest].append(trigger)
            continue
        for source in sorted(sources, key=states.index):
            if dest in ASIDE and source not in ASIDE:
                found.into.setdefault(dest, {}).setdefault(source, []).append(trigger)
            elif source in ASIDE and dest not in ASIDE:
                found.out_of.setdefault(source, {}).setdefault(dest, []).append(trigger)
            else:
                found.edges[(source, dest)].append(trigger)
    return found


def _text(x: float, y: float, words: str, css: str = "label", anchor: str = "middle") -> str:
    return (f'<text x="{x:.0f}" y="{y:.0f}" class="{css}" text-anchor="{anchor}">{escape(words)}</text>')


def _box(name: str, x: float, y: float, subtitle: str = "", css: str = "stage") -> str:
    corner = f'x="{x - WIDTH / 2:.0f}" y="{y - HEIGHT / 2:.0f}"'
    parts = [f'<g class="{css}" data-stage={quoteattr(name)}>',
             f'<rect {corner} width="{WIDTH}" height="{HEIGHT}" rx="8"/>',
             _text(x, y + (-2 if subtitle else 5), name, "name")]
    if subtitle:
        parts.append(_text(x, y + 14, subtitle, "subtitle"))
    parts.append("</g>")
    return "".join(parts)


Places = dict[str, tuple[float, float]]  # each stage's centre
TOP, BOTTOM = ROW - HEIGHT / 2, ROW + HEIGHT / 2  # the row's upper and lower edges


def _places(machine: Machine, found: Moves) -> tuple[list[str], Places]:
    """The stages of the row, left to right, and every stage's centre; a stage apart stands above
    or below the middle of the stages it is reached from."""
    row = [name for name in machine.states if name not in ASIDE]
    at = {name: (float(LEFT + SPACING * index), float(ROW)) for index, name in enumerate(row)}
    for aside, where in ASIDE.items():
        sources = list((found.into.get(aside) or {}).keys()) or row
        at[aside] = (sum(at[s][0] for s in sources) / len(sources), 42.0 if where == "top" else 420.0)
    return row, at


def _move(source: float, dest: float, label: str, stays: bool) -> list[str]:
    """A move along the row: a loop over a stage that stays, a straight arrow to the next stage,
    else a curve above (forwards) or below (backwards)."""
    if stays:
        sx = source + WIDTH / 2 - 18
        return [f'<path class="edge" marker-end="url(#arrow)" d="M{sx - 16:.0f},{TOP:.0f} '
                f'C{sx - 22:.0f},{TOP - 34:.0f} {sx + 26:.0f},{TOP - 34:.0f} {sx + 8:.0f},{TOP:.0f}"/>',
                _text(sx - 2, TOP - 30, label)]
    distance = (dest - source) / SPACING
    if distance == 1:
        start, end = source + WIDTH / 2, dest - WIDTH / 2
        return [f'<path class="edge" marker-end="url(#arrow)" '
                f'd="M{start:.0f},{ROW - 6:.0f} L{end:.0f},{ROW - 6:.0f}"/>',
                _text((source + dest) / 2, TOP - 6, label)]
    above = distance > 0
    edge_y = TOP if above else BOTTOM
    lift = (26 + 14 * abs(distance)) * (-1 if above else 1)
    sx, dx = source + (10 if above else -10), dest + (-10 if above else 10)
    bend = edge_y + lift * 1.3
    return [f'<path class="edge" marker-end="url(#arrow)" d="M{sx:.0f},{edge_y:.0f} '
            f'C{sx:.0f},{bend:.0f} {dx:.0f},{bend:.0f} {dx:.0f},{edge_y:.0f}"/>',
            _text((sx + dx) / 2, edge_y + lift * 0.975 + (4 if above else 10), label)]


def _aside(aside: str, where: str, row: list[str], at: Places, found: Moves) -> list[str]:
    """A stage apart: a bar joining the row's stages it is reached from or leads to, and its arrow."""
    into, out_of = found.into.get(aside, {}), found.out_of.get(aside, {})
    members = [s for s in row if s in into or s in out_of]
    if not members:
        return []
    bar = TOP_BAR if where == "top" else BOTTOM_BAR
    edge_y = TOP if where == "top" else BOTTOM
    out = []
    for member in members:
        ends = ' marker-start="url(#arrow)"' if member in out_of else ""
        x = at[member][0]
        out.append(f'<path class="bar"{ends} d="M{x:.0f},{edge_y:.0f} L{x:.0f},{bar:.0f}"/>')
    first, last = at[members[0]][0], at[members[-1]][0]
    out.append(f'<path class="bar" d="M{first:.0f},{bar:.0f} L{last:.0f},{bar:.0f}"/>')
    x, y = at[aside]
    aside_edge = y + (HEIGHT / 2 if where == "top" else -HEIGHT / 2)
    ends = ' marker-start="url(#arrow)"' if out_of else ""
    out.append(f'<path class="edge" marker-end="url(#arrow)"{ends} '
               f'd="M{x:.0f},{bar:.0f} L{x:.0f},{aside_edge:.0f}"/>')
    words = " / ".join(dict.fromkeys([t for ts in into.values() for t in ts]
                                     + [t for ts in out_of.values() for t in ts]))
    out.append(_text(x + 8, (bar + aside_edge) / 2 + 4, words, anchor="start"))
    return out


def _anywhere(dest_x: float, triggers: list[str]) -> list[str]:
    """Moves allowed from any stage (a restart): a box of their own with one arrow."""
    bx, by = LEFT, 420
    return [_box("any stage", bx, by, css="anywhere"),
            f'<path class="restart" marker-end="url(#arrow)" d="M{bx:.0f},{by - HEIGHT / 2:.0f} '
            f'L{dest_x - 22:.0f},{BOTTOM + 2:.0f}"/>',
            _text(bx + 8, (by + BOTTOM) / 2 + 30, ", ".join(triggers), anchor="start")]


def sale_svg(labels: Mapping[str, str] | None = None, title: str = "",
             machine: Machine = MACHINE, element_id: str | None = None) -> str:
    """The diagram as an SVG document (also fit to stand inside an HTML page). labels: a second
    line under each stage's name (its name in a language), if given."""
    labels = labels or {}
    found = moves(machine)
    row, at = _places(machine, found)
    width, height = LEFT * 2 + SPACING * (len(row) - 1), 470
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" class="sale-diagram"'
           + (f' id={quoteattr(element_id)}' if element_id else "") + ">",
           f"<title>{escape(title)}</title>",
           "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" "
           "markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/>"
           "</marker></defs>",
           "<style>" + "".join(f".sale-diagram {rule}" for rule in STYLE) + "</style>"]
    for (source, dest), triggers in found.edges.items():
        out += _move(at[source][0], at[dest][0], ", ".join(dict.fromkeys(triggers)), source == dest)
    for aside, where in ASIDE.items():
        out += _aside(aside, where, row, at, found)
    for dest, triggers in found.anywhere.items():
        out += _anywhere(at[dest][0], triggers)
    for name in machine.states:
        out.append(_box(name, *at[name], labels.get(name, ""), "stage aside" if name in ASIDE else "stage"))
    out.append("</svg>")
    return "\n".join(out)
