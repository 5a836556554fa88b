"""The plain values that cross between a channel and the sale: what came in, what goes out."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

InboundKind = Literal["text", "choice", "command", "unsupported"]


@dataclass(frozen=True)
class Inbound:
    """One message from the customer, whatever channel it came from.

    text: what was typed; choice: the value of a pressed button; command: start, help, cancel,
    restart, back, why, agent or lang (argument holds the rest, e.g. the locale);
    unsupported: anything the sale cannot read (a sticker, a photo), described in `text`.

    asked: for a choice, the number of the message whose button was pressed (`Reply.asked`); a
    channel that shows buttons always sets it, and a press counts only from the message that asked
    the current question. None: the caller cannot tell (code that calls the sale directly); then
    only the value is checked.
    """

    kind: InboundKind
    text: str = ""
    argument: str = ""
    asked: int | None = None
    # when the person wrote it, by the channel's clock (Telegram's), if the channel tells: a typed
    # message written before the current question reached them cannot be its answer (SalesService)
    written_at: datetime | None = None


@dataclass(frozen=True)
class Button:
    label: str
    value: str


@dataclass(frozen=True)
class Chart:
    """A bar chart as data (each channel draws it its own way): needed against covered."""

    title: str
    labels: tuple[str, ...]
    needed: tuple[int, ...]
    covered: tuple[int, ...]
    legend: tuple[str, str]
    note: str
    axis: str  # what the values are measured in, e.g. "CNY 10,000"
    kind: str = "bars"  # bars: needed against covered; line: one series over time


@dataclass(frozen=True)
class Reply:
    """A message to send. free_input: a typed answer is expected too, not only a button.
    to_agent: for the agent who takes over the lead, not for the customer.
    asked: the number the sale gave this message when it asks a question (it has options or
    expects a typed answer; see `Progress.asked`); a channel gives it back with each press of
    its buttons (`Inbound.asked`). None: not a question of the sale (nothing to bind to)."""

    text: str
    buttons: tuple[Button, ...] = ()
    free_input: bool = False
    chart: Chart | None = None
    to_agent: bool = False
    asked: int | None = None
    share: str | None = None  # a link to pass on: a channel adds a picture to scan and a way to forward it
    attachment: tuple[str, str] | None = None  # a file to give: its name and its text

    def to_json(self) -> dict[str, Any]:
        """As kept in the outbox until sent (see `from_json`)."""
        return {"text": self.text, "buttons": [[b.label, b.value] for b in self.buttons],
                "free_input": self.free_input, "chart": asdict(self.chart) if self.chart else None,
                "to_agent": self.to_agent, "asked": self.asked, "share": self.share,
                "attachment": list(self.attachment) if self.attachment else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        chart: dict[str, Any] | None = data.get("chart")
        if chart:  # JSON keeps the tuples as lists
            chart = {key: tuple(value) if isinstance(value, list) else value for key, value in chart.items()}
        attachment = data.get("attachment")
        return cls(data["text"], tuple(Button(label, value) for label, value in data.get("buttons", ())),
                   data.get("free_input", False), Chart(**chart) if chart else None,
                   data.get("to_agent", False), data.get("asked"), data.get("share"),
                   (attachment[0], attachment[1]) if attachment else None)

    @property
    def asks(self) -> bool:
        """A question to the customer: options to press or a typed answer expected."""
        return bool(self.buttons or self.free_input) and not self.to_agent


@dataclass(frozen=True)
class Step:
    """A change of stage, kept so that the contact log can record it."""

    trigger: str
    source: str
    dest: str


@dataclass(frozen=True)
class Mark:
    """Something worth a line in the contact log that is not a reply or a stage change."""

    kind: str
    detail: str = ""


Trail = list[Reply | Step | Mark]


def replies_of(trail: Trail) -> list[Reply]:
    return [item for item in trail if isinstance(item, Reply)]
