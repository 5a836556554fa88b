"""The console channel: the same sale in a terminal, options shown as numbers."""
from __future__ import annotations

import getpass
import logging
from datetime import datetime
from pathlib import Path
from typing import IO

from bot.charts import render_png
from bot.flows.messages import Button, Inbound, Reply
from bot.service import SalesService, Sender

log = logging.getLogger(__name__)
COMMANDS = {"start", "help", "cancel", "restart", "back", "why", "agent", "lang", "rehearse", "stop", "progress",
            "script", "delete"}


def parse_line(line: str, options: tuple[Button, ...], free_input: bool) -> Inbound:
    """A typed line as the sale reads it: /command, an option's number, or text.

    Where a typed answer is expected (a number, say) options are picked with '#2', so that
    an answer of 2 stays an answer.
    """
    line = line.strip()
    if line.startswith("/") and line[1:].split(" ")[0] in COMMANDS:
        command, _, argument = line[1:].partition(" ")
        return Inbound("command", command, argument.strip())
    number = line[1:] if line.startswith("#") else line if not free_input else ""
    if number.isdigit() and 1 <= int(number) <= len(options):
        return Inbound("choice", options[int(number) - 1].value)
    return Inbound("text", line)


def render(reply: Reply, output: Path) -> str:
    """A reply as terminal text: options numbered, a chart saved as a PNG file and its path shown."""
    marker = "#" if reply.free_input else ""
    lines = [f"[→ agent] {reply.text}" if reply.to_agent else reply.text]
    lines += [f"  {marker}{i}) {b.label}" for i, b in enumerate(reply.buttons, 1)]
    if reply.chart:
        output.mkdir(parents=True, exist_ok=True)
        path = output / f"chart-{datetime.now():%Y%m%d-%H%M%S-%f}.png"
        path.write_bytes(render_png(reply.chart))
        lines.append(f"[chart] {path}")
    return "\n".join(lines)


def _next_line(stdin: IO[str], stdout: IO[str]) -> str | None:
    while True:
        stdout.write("> ")
        stdout.flush()
        line = stdin.readline()
        if not line:
            return None
        if line.strip():
            return line


def chat(service: SalesService, locale: str | None, stdin: IO[str], stdout: IO[str], user: str | None = None,
         output: Path = Path("salesbot-output"), first: str = "start") -> None:
    """Talk until the input ends; the next run continues the same conversation."""
    sender = Sender("console", user or getpass.getuser(), locale=locale)
    replies = service.handle(sender, Inbound("command", first)).replies
    if locale and service.locale_of(sender) != locale:  # asked for another language than last time
        replies = service.handle(sender, Inbound("command", "lang", locale)).replies
    last = Reply("")
    while True:
        for reply in replies:
            print(render(reply, output), end="\n\n", file=stdout)
        last = replies[-1] if replies else last
        line = _next_line(stdin, stdout)
        if line is None:
            print(file=stdout)
            return
        try:
            replies = service.handle(sender, parse_line(line, last.buttons, last.free_input)).replies
        except Exception:  # noqa: BLE001 - nothing was saved (one transaction); say so and keep going
            log.exception("message could not be handled")
            apology = service.library.text(service.locale_of(sender) or "en", "errors.internal")
            replies = [Reply(apology, last.buttons, last.free_input)]  # the same options stand
