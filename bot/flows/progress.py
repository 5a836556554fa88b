"""Where a customer's conversation stands, besides the stage and the answers: stored as JSON."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from bot.flows.conversation import StoredAsJson


@dataclass
class Progress(StoredAsJson):
    greeted: bool = False  # the approach (who is selling, consent) has been said once
    consent: bool = False  # the customer agreed to the use of their answers
    question: str | None = None  # the needs question being asked
    failures: int = 0  # answers to that question not understood in a row
    pending: Any = None  # an unlikely answer to that question, waiting for "did you mean…?" to be confirmed
    editing: bool = False  # changing one answer from the summary, then back to it
    disclosed: bool = False  # the key terms were shown for the current answers
    variant: str = "standard"  # the plan variant last shown
    contacted: bool = False  # the lead went to an agent
    objection: str | None = None  # the doubt being answered
    paused_from: str | None = None  # the stage to resume
    misread: bool = False  # the last message was not understood
    # The number of the last message that asked something (Reply.asked): a button counts only
    # when it comes from that message, so an old message's "no" cannot answer a later question.
    asked: int = 0
    # What that message asked (stage, question, options): asked again unchanged, it keeps its number,
    # so the buttons of every copy of it still count.
    offered: str = ""


# A new conversation numbers its questions (Reply.asked, carried by every button) from a random
# point: after `/delete confirm` a person starts a new record, and a button of a message sent
# before it must not match a question of the new one by coming round to the same number.
FIRST_NUMBERS, FIRST_NUMBERS_SPAN = 1000, 10**9


def first_number() -> int:
    return FIRST_NUMBERS + secrets.randbelow(FIRST_NUMBERS_SPAN)
