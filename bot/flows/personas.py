"""The rehearsal's prospects as the library describes them (scripts_library/rehearsal/personas.yaml):
who they are, how each one says things, and the figures their model lines and talk tracks use."""
from __future__ import annotations

import re
from typing import Any

from bot.flows.calculator import analyse
from bot.flows.conversation import Talk
from bot.flows.presenting import plan_context
from bot.library import Library, keyword_in, normalise

Persona = dict[str, Any]


def personas(library: Library) -> list[Persona]:
    found: list[Persona] = library.rehearsal["personas"]["personas"]
    return found


def persona_of(library: Library, persona_id: str) -> Persona:
    return next(p for p in personas(library) if p["id"] == persona_id)


def handling(library: Library) -> dict[str, dict[str, Any]]:
    """Objection id -> how it is answered (the `handling:` section)."""
    found: dict[str, dict[str, Any]] = library.rehearsal["personas"]["handling"]
    return found


def line(talk: Talk, persona: Persona, key: str, **context: Any) -> str:
    """What this persona says for `key`: their own line, else their awareness type's, else the
    generic one of `rehearsal.prospect` in the locale file."""
    own = persona.get("lines", {}).get(key, {}).get(talk.locale)
    if own:
        return str(own)
    typed = f"rehearsal.prospect.{key}_{persona['awareness']}"
    return talk.text(typed if talk.has(typed) else f"rehearsal.prospect.{key}", **context)


def mentions(word: str, text: str) -> bool:
    """`word` in the normalised text: an English word also with its usual endings (work, working,
    worked), a Chinese one unnegated."""
    word = normalise(word)
    if word.isascii():
        return re.search(rf"(?<![\w']){re.escape(word)}(?:s|es|ing|ed)?(?![\w'])", text) is not None
    return keyword_in(word, text)


def told(locale: str, topics_of: list[dict[str, Any]], asked: str) -> dict[str, Any] | None:
    """The first of `topics_of` (hidden needs or facts) whose topic words the normalised question has."""
    return next((item for item in topics_of if any(mentions(w, asked) for w in item["topics"][locale])),
                None)


def persona_plan(persona: Persona, library: Library, locale: str) -> dict[str, Any]:
    """The plan the persona's own answers lead to, so talk tracks render with their figures."""
    return plan_context(library, locale, analyse(persona["answers"], library.parameters), "standard",
                        persona["answers"])


def figures(persona: Persona, library: Library, locale: str) -> dict[str, Any]:
    """What model lines and talk tracks may name: the persona's plan and their own facts."""
    answers = persona["answers"]
    return {**persona_plan(persona, library, locale), "name": persona["name"][locale],
            "customer_name": persona["name"][locale], "about": persona["about"][locale],
            "age": answers["age"], "debts": answers.get("debts", 0),
            "children": len(answers.get("children_ages", [])), "savings": answers.get("savings", 0),
            "existing": answers.get("existing_life", 0) + answers.get("existing_critical_illness", 0),
            "deductible": library.parameters.needs.medical_deductible,
            "referral_code": "R0"}
