"""What the agent did in one message of a rehearsal (opened, built rapport, asked about a need,
answered an objection, closed...), learnt from the labelled examples in
scripts_library/rehearsal/examples.yaml. How a message reads in context (the objection being
raised) is reading.py."""
from __future__ import annotations

from bot.flows.classifier import TextClassifier

ACTS = ("opening", "rapport", "open_question", "need_question", "closed_question", "summarise",
        "check_understanding", "benefit", "product_talk", "acknowledge", "answer_objection",
        "propose_meeting", "trial_close", "assumptive_close", "direct_close", "bare_demand")


class ActClassifier(TextClassifier):
    def __init__(self, examples: dict[str, dict[str, list[str]]]) -> None:
        super().__init__(ACTS, examples)
