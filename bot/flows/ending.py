"""Where an agent stands when a rehearsal or a drill is over: every ending (a sale, a walk-out,
/stop) leaves a menu — the same again, another prospect, an objection drill, the progress chart —
and any message after the end gets that menu again rather than starting something else."""
from __future__ import annotations

from bot.flows.conversation import Talk
from bot.flows.messages import Button

ENDED = ("sold", "walked_out", "stopped", "drilled")
NEXT = ("again", "another", "drill", "progress")  # the values of the menu's buttons


def what_next(talk: Talk, key: str = "rehearsal.next", **context: object) -> None:
    """The menu after an ending, under the text `key`."""
    buttons = tuple(Button(talk.text(f"rehearsal.menu.{value}"), value) for value in NEXT)
    talk.say(key, buttons, **context)


def over(talk: Talk, score: int | None) -> None:
    """The answer to anything sent after the end (a line, /stop, /help): it is over, and the menu."""
    if score is None:
        what_next(talk, "rehearsal.over_unscored")
    else:
        what_next(talk, "rehearsal.over", total=score)
