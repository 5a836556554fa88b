"""The console channel: the same sale in a terminal, options shown as numbers.

The console needs no limits: every option gets its number, and long texts scroll.
"""
from __future__ import annotations

import getpass
import threading
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import IO

from bot.charts import render_png
from bot.qr import qr_png
from bot.flows.messages import Button, Inbound, Reply
from bot.handlers.channel import COMMAND_NAMES, Channel, Limits, command, outgoing
from bot.agency import AGENT_CHAT
from bot.service import SalesService, Sender
from bot.settings import Settings

log = logging.getLogger(__name__)
CHANNEL = "console"


def parse_line(line: str, options: tuple[Button, ...], free_input: bool, asked: int | None = None) -> Inbound:
    """A typed line as the sale reads it: /command, an option's number, or text.

    Where a typed answer is expected (a number, say) options are picked with '#2', so that
    an answer of 2 stays an answer. `options` are those of the last message, which asked
    question number `asked` (Reply.asked): a pick carries that number.
    """
    line = line.strip()
    if line.startswith("/") and line[1:].split(" ")[0] in COMMAND_NAMES:
        name, _, argument = line[1:].partition(" ")
        return command(name, argument)
    number = line[1:] if line.startswith("#") else line if not free_input else ""
    if number.isdigit() and 1 <= int(number) <= len(options):
        return Inbound("choice", options[int(number) - 1].value, asked=asked)
    return Inbound("text", line)


def show(message: Reply, output: Path) -> str:
    """One message as terminal text: options numbered; a chart, a link's QR code or a file saved
    and its path shown."""
    if message.share:  # the picture to scan, and the message to forward
        picture = saved(output, "qr", "png", qr_png(message.share))
        return f"[QR code] {picture}\n[forward] {message.text} {message.share}"
    marker = "#" if message.free_input else ""
    lines = [f"[→ agent] {message.text}" if message.to_agent else message.text] if message.text else []
    lines += [f"  {marker}{i}) {b.label}" for i, b in enumerate(message.buttons, 1)]
    if message.chart:
        lines.append(f"[chart] {saved(output, 'chart', 'png', render_png(message.chart))}")
    if message.attachment:
        name, content = message.attachment
        lines.append(f"[file] {saved(output, Path(name).stem, Path(name).suffix[1:], content.encode())}")
    return "\n".join(lines)


def saved(output: Path, kind: str, suffix: str, content: bytes) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    path = output / f"{kind}-{datetime.now().astimezone():%Y%m%d-%H%M%S-%f}.{suffix}"  # the person's clock
    path.write_bytes(content)
    return path


def render(reply: Reply, output: Path) -> str:
    """A reply as terminal text (see `show`)."""
    return "\n".join(show(message, output) for message in outgoing(reply, Limits()))


def _next_line(stdin: IO[str], stdout: IO[str]) -> str | None:
    while True:
        stdout.write("> ")
        stdout.flush()
        line = stdin.readline()
        if not line:
            return None
        if line.strip():
            return line


def deliver(channel: Channel, sender: Sender) -> list[Reply]:
    """Take the messages waiting for this person (and, in a terminal, for the agent too) from the
    outbox; they count as sent once they are printed."""
    waiting = channel.pending(sender.external_id) + channel.pending(AGENT_CHAT)
    for item in waiting:
        channel.service.sent(item.id)
    return [item.message for item in waiting]


def serve(service: SalesService, settings: Settings) -> int:
    """The console as a registered channel (`salesbot serve console`): a chat on this terminal."""
    chat(service, None, sys.stdin, sys.stdout, output=settings.output)
    return 0


def chat(service: SalesService, locale: str | None, stdin: IO[str], stdout: IO[str], user: str | None = None,
         output: Path = Path("salesbot-output"), first: str = "start", link_base: str = "",
         start_payload: str | None = None) -> None:
    """Talk until the input ends; the next run continues the same conversation."""
    # trained while the person reads the greeting; a message typed sooner waits for the training
    threading.Thread(target=service.prepare, name="prepare", daemon=True).start()
    channel = Channel(CHANNEL, service)
    sender = Sender(CHANNEL, user or getpass.getuser(), locale=locale, start_payload=start_payload,
                    link_base=link_base)
    channel.handle(sender, command(first))
    if locale and service.locale_of(sender) != locale:  # asked for another language than last time
        channel.handle(sender, command("lang", locale))
    messages = deliver(channel, sender)
    last = Reply("")
    while True:
        for message in messages:
            print(show(message, output), end="\n\n", file=stdout)
        # the options to pick from are those of the last message with text (a chart comes after it)
        last = next((m for m in reversed(messages) if m.text and not m.to_agent and not m.share), last)
        line = _next_line(stdin, stdout)
        if line is None:
            print(file=stdout)
            return
        try:
            inbound = parse_line(line, last.buttons, last.free_input, last.asked)
            channel.handle(sender, inbound)
            messages = deliver(channel, sender)
        except Exception:  # nothing was saved (one transaction); say so and keep going
            log.exception("message could not be handled")
            # the same options stand
            messages = [Reply(channel.apology(sender), last.buttons, last.free_input, asked=last.asked)]
