"""How the sale listens before any stage reads a message, and what it does with what it cannot
place: the common questions answered at any stage, a refusal of the whole sale taken, doubts left to
the objections, the optional model consulted, and a question nobody here can answer passed to the
agent as it was asked. Functions of the sale, like advice.py's."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.flows import model
from bot.flows.answers import Rejection, typed_answer
from bot.flows.intents import read
from bot.flows.messages import Button, Inbound, Reply
from bot.flows.model import ModelReading
from bot.flows.understanding import (contrasts, doubts, faq_topic, is_question, needs_a_person, negated,
                                     refuses, supposes)
from bot.library import keyword_in, normalise

if TYPE_CHECKING:
    from bot.flows.sale import Sale

# The moves only a clear yes makes: never read from a message that asks something or says no.
DECISIONS = frozenset({"agree", "confirm", "proceed", "accept", "resume"})


def answered_in_place(sale: Sale, text: str) -> bool:
    """A common question answered (then the question at hand again), or a refusal of the whole
    sale taken; else notes whether the message asks or says no, which no decision may be read
    from. An answer to the current needs question comes first."""
    library = sale.talk.library
    sale.typed, sale.asking = text, is_question(library, text)
    sale.refusing = negated(library, text) or contrasts(library, text)
    sale.doubting = doubts(library, text)
    own = sale.stage.answers_itself(sale, text)
    answer = own and sale.stage.reads_answers(sale, text)  # "my husband passed away" at family
    if not answer and needs_a_person(library, text):  # a complaint, a loss: a person answers, at any stage
        sale.talk.mark("complaint", sale.state)  # the contact log names it: a complaint, not a question
        pass_question(sale, text, told="handoff_complaint")
        return True
    if not own and not sale.asking and sale.stage.before_sale and refuses(library, text):
        return sale.fire("decline")
    answering = own or (not sale.asking and objects(sale, text))
    topic = None if answering else faq_topic(library, text, sale.asking)
    if topic:
        answer_faq(sale, topic)
    elif sale.asking and supposes(library, text):  # "what if I had diabetes?": no answer, a question
        pass_question(sale, text)
        return True
    return topic is not None


def answer_faq(sale: Sale, topic: str) -> None:
    """A common question's answer from the library, then the question or decision at hand again."""
    sale.talk.mark("faq", topic)
    sale.talk.say(f"faq.{topic}")
    sale.prompt()


def objects(sale: Sale, text: str) -> bool:
    """The message raises one of the method's objections where one can be raised: it is answered
    as such, not as a common question ("I already have social insurance, why this?")."""
    if "object" not in sale.machine.get_triggers(sale.state):
        return False
    lowered = normalise(text)
    return any(keyword_in(word, lowered) for words in sale.objections.values() for word in words)


def early_objection(sale: Sale, text: str) -> str | None:
    """A doubt raised during the questions ("I need to ask my husband first") that answers no
    question: the method answers it with the plan; now it gets a word, then the question again.
    The classifier is asked last: an answer ("35") never waits for it."""
    questionnaire, library = sale.questionnaire, sale.talk.library
    worded = len(re.findall(r"[a-z]+|[\u4e00-\u9fff]", normalise(text))) >= 4  # "200" is no doubt
    if questionnaire.progress.pending is not None or not worded:
        return None
    current = questionnaire.current
    facts = questionnaire.facts(text, current)
    answered = current.id in facts.values or not isinstance(typed_answer(sale.talk, current, text), Rejection)
    new = {q for q, v in facts.values.items() if q not in facts.hinted and sale.answers.get(q) != v
           and not (sale.answers.get(q) is not None and library.question(q).type == "choice")}  # as fill()
    # facts beside a doubt are no answer only in a question ("I have social insurance, why more?")
    if answered or facts.unsure or (new and not is_question(library, text)):
        return None
    meant = read(library, text).intent
    return meant if meant in sale.objections else None


def answer_early_objection(sale: Sale, objection: str) -> None:
    """Facts the message gives are kept, then the doubt gets its word and the question is asked again."""
    questionnaire = sale.questionnaire
    questionnaire.fill(questionnaire.facts(sale.typed, questionnaire.current), questionnaire.current, None)
    sale.talk.mark("objection", objection)
    sale.talk.say("needs/objection", objection=objection)
    sale.prompt()


def consult(sale: Sale, text: str) -> ModelReading | None:
    """The model's reading of a message the offline reader could not place, once per message."""
    if sale.interpreter is None or sale.consulted:
        return None
    sale.consulted = True
    asked = model.request(sale, text, sale.share_health)
    reading = model.validate(sale, sale.interpreter(asked), sale.share_health) if asked else None
    if reading is not None:
        sale.talk.mark("model", " ".join([reading.command or "", *reading.facts]).strip())
    return reading


def act(sale: Sale, reading: ModelReading) -> None:
    """Do what the model read, as if typed plainly: facts answer the questions, a decision is only
    offered as its button."""
    answered = reading.facts and sale.state == "needs"
    if answered and sale.questionnaire.take_facts(reading.facts, sale.typed):
        if not sale.trigger("needs_complete"):
            sale.questionnaire.ask_missing()
        return None
    kind, _, what = (reading.command or "").partition(":")
    if kind == "faq":
        return answer_faq(sale, what)
    if kind == "objection":
        return None if sale.fire("object", what) else sale.prompt()
    if kind == "agent":
        return sale.ask_for_agent()
    if kind in DECISIONS:
        return confirm_decision(sale, kind)
    if kind:
        return sale.stage.read(sale, Inbound("choice", kind), kind)
    return sale.prompt()


def answer_question(sale: Sale, text: str) -> None:
    """A message read as a question: the library's answer to a common one, else the agent's."""
    topic = faq_topic(sale.talk.library, text, asking=True)
    return answer_faq(sale, topic) if topic else pass_question(sale, text)


def pass_question(sale: Sale, text: str, prompt: bool = True, told: str = "handoff_question") -> None:
    """A question the sale cannot answer (or a complaint, `told` "handoff_complaint") goes to the
    agent as it was written; the customer is told."""
    library = sale.talk.library
    sale.talk.mark("handoff", sale.state)
    question = sale.written or text  # the agent reads the customer's own words
    sale.talk.send(Reply(library.text(library.agent_locale, "agent/question", reference=sale.reference,
                                      customer_name=sale.customer_name, question=question), to_agent=True))
    sale.talk.say(told if sale.agent_reachable() else "handoff_unreachable")
    if prompt:
        sale.prompt()


def confirm_decision(sale: Sale, action: str) -> None:
    """A decision read from a question ("where do I sign?") is offered as its button, to be
    pressed; from a message that says no or takes back, it is not offered at all."""
    if sale.refusing or action not in sale.stage.options(sale):
        return sale.not_understood()
    sale.talk.mark("unsure", action)
    sale.talk.say("errors.clarify", (Button(sale.stage.label(sale, action), action),))
    return None
