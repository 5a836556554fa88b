"""The sale as one table: its stages, the moves between them, and the options offered at each.

Read this file to see the whole sale. The behaviour behind each name (guards such as
`has_required_answers`, what is said on entering a stage) is in sale.py.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from transitions import Machine

from bot.flows.messages import Trail

STATES = [
    "approach",     # who is selling, what will happen, consent to use the answers
    "needs",        # fact-finding questions
    "summary",      # all answers shown back, to confirm or edit before anything is computed
    "proposal",     # the plan, most important cover first
    "objection",    # a doubt answered, then a fresh attempt to close
    "closing",      # key terms disclosed, then the request to apply
    "won",          # application: next steps
    "after_sales",  # policy service: queries, claims, renewals, complaints
    "referral",     # a satisfied client recommends friends
    "paused",       # the customer stopped; everything is kept for later
    "lost",         # the customer declined; a polite goodbye, can start again
]
BEFORE_SALE = ["approach", "needs", "summary", "proposal", "objection", "closing"]
RESUMABLE = BEFORE_SALE + ["won", "after_sales", "referral"]

# trigger, source(s), destination, and the guard or action that goes with it.
TRANSITIONS = [
    {"trigger": "agree", "source": "approach", "dest": "needs", "before": "record_consent"},
    {"trigger": "needs_complete", "source": "needs", "dest": "summary", "conditions": "has_required_answers"},
    {"trigger": "confirm", "source": "summary", "dest": "proposal", "conditions": "has_required_answers"},
    {"trigger": "edit", "source": "summary", "dest": "needs", "before": "start_editing"},
    {"trigger": "proceed", "source": ["proposal", "objection"], "dest": "closing"},
    {"trigger": "object", "source": ["proposal", "closing", "objection"], "dest": "objection", "before": "note_objection"},
    {"trigger": "review", "source": ["objection", "closing"], "dest": "proposal"},
    {"trigger": "accept", "source": "closing", "dest": "won", "conditions": "disclosures_shown"},
    {"trigger": "serve", "source": ["won", "after_sales", "referral"], "dest": "after_sales"},
    {"trigger": "refer", "source": ["won", "after_sales"], "dest": "referral"},
    {"trigger": "back", "source": "needs", "dest": "approach", "conditions": "at_first_question"},
    {"trigger": "back", "source": "summary", "dest": "needs", "before": "go_to_last_question"},
    {"trigger": "back", "source": "proposal", "dest": "summary"},
    {"trigger": "back", "source": ["objection", "closing"], "dest": "proposal"},
    {"trigger": "back", "source": "referral", "dest": "after_sales"},
    {"trigger": "decline", "source": BEFORE_SALE, "dest": "lost"},
    {"trigger": "pause", "source": RESUMABLE, "dest": "paused", "before": "remember_stage"},
    *({"trigger": "resume", "source": "paused", "dest": stage, "conditions": "paused_in"} for stage in RESUMABLE),
    {"trigger": "restart", "source": "*", "dest": "approach", "before": "forget_everything"},
]

# The options (buttons) each stage offers, in order. "objections" stands for every objection of
# the library; "questions" for the answers of the current question; "edits" for one button per
# answer to change it; "variants" for the other plan variants.
MENUS = {
    "approach": ["agree", "decline"],
    "needs": ["questions"],
    "summary": ["confirm", "edits"],
    "proposal": ["proceed", "contact", "variants", "objections", "decline"],
    "objection": ["proceed", "review", "decline"],
    "closing": ["accept", "review", "think", "family", "decline"],
    "won": ["serve", "refer"],
    "after_sales": ["policy", "claims", "renewal", "complaint", "refer"],
    "referral": ["serve"],
    "paused": ["resume", "restart"],
    "lost": ["restart"],
}

# What the simpler stages say on entry before asking what they ask (None: only the question).
# The others (approach, needs, summary, proposal, objection, closing) build their words in sale.py.
ENTRY_TALK = {"won": "won/application", "after_sales": None, "referral": "referral/invite", "lost": "lost/goodbye",
              "paused": "paused/paused"}

# One machine for every conversation: a conversation is added for the length of one message and
# removed again, so no per-user machine is ever built.
MACHINE = Machine(
    model=None,
    states=STATES,
    transitions=TRANSITIONS,
    initial="approach",
    auto_transitions=False,
    send_event=True,
    before_state_change="record_step",  # logged before the new stage speaks
    after_state_change="speak_on_entry",
)


@contextmanager
def attached(machine: Machine, model: Any, library: Any) -> Iterator[Trail]:
    """Put a conversation on a shared machine for one message, then take it off again.

    While attached the model can say things (its trail) and read the library; afterwards it is
    plain data again, ready to be saved.
    """
    plain = set(vars(model))
    model._library, model._trail = library, []
    machine.add_model(model, initial=model.state)
    try:
        yield model._trail
    finally:
        machine.remove_model(model)
        for name in set(vars(model)) - plain:  # unbind the machine's methods
            delattr(model, name)
