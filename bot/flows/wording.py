"""Every library text the sale renders, derived from the stages, the questions and the plan rules,
so that `salesbot scripts check` finds a missing text before a customer does."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.flows.calculator import PEOPLE, VARIANTS
from bot.flows.machine import STAGES
from bot.flows.presenting import KEYS as PLAN_KEYS
from bot.flows.qualification import REASONS
from bot.flows.stage import SAYINGS, Stage, display_key
from bot.library import SOURCE_LOCALES, Library, LibraryError

# Texts said by the sale whatever the stage or the answers.
ALWAYS = (
    "progress", "skipped", "why_general", "handoff_customer", "unqualified", "lang_switched",
    "reminder", "common/help", "common/welcome_back", "approach/greeting", "needs/intro", "summary/summary",
    "proposal/plan", "proposal/covers",
    "closing/disclosure", "agent/lead", "buttons.edit", "buttons.yes", "buttons.no",
    "buttons.skip", "buttons.agent", "chart.title", "chart.needed", "chart.covered", "chart.note",
    "chart.axis",
    "privacy.explain", "privacy.erased", "confirm_value.ask", "confirm_value.year", "confirm_value.month",
    *(f"errors.{name}" for name in (
        "number", "number_range", "choice", "yes_no", "numbers", "text_empty", "text_long", "required",
        "third_failure", "not_understood", "unsupported", "stale_button", "nothing_to_go_back_to",
        "unknown_command", "edited", "internal", "clarify", "still_not_understood", "too_long",
        "private_only", "choice_which")),
    "closing/not_read", "closing/check", "common/relayed", "agent/customer_wrote",
    "referral/invite", "noted", "handoff_question", "handoff_complaint", "needs/objection", "agent/question",
    # the agency around the sale (bot/agency.py): links, referrals, roles, a customer's own data
    *(f"agency.{name}" for name in (
        "agents_only", "managers_only", "invite", "invite_share", "not_client", "named", "anonymous",
        "referrals", "thanks.answered", "thanks.client", "agent_told", "milestone.answered",
        "milestone.client", "agent_link", "campaign", "dashboard", "no_dashboard", "agent_invite",
        "welcome_agent", "mydata", "buttons.named", "buttons.anonymous", "buttons.forward")),
    *PLAN_KEYS,  # the plan's phrases, the worry notes and the lead's words (bot/flows/presenting.py)
)


def stage_keys(stage: Stage) -> set[str]:
    keys = {f"buttons.{value}" for value in stage.menu} | {stage.display_key}
    if stage.says:
        keys.add(stage.says)
    if type(stage).prompt is Stage.prompt:  # the stage asks with its own template
        keys.add(f"{stage.name}/ask")
    return keys


def rendered_keys(library: Library) -> set[str]:
    """The keys each locale must have for the sale to run."""
    keys = set(ALWAYS) | {display_key(None)}
    for stage in STAGES.values():
        keys |= stage_keys(stage)
    for question in library.questions:
        keys |= {f"questions.{question.id}.{part}" for part in ("prompt", "why", "label")}
        keys |= {f"choices.{question.id}.{choice}" for choice in question.choices}
    keys |= set(SAYINGS.values())
    keys |= {f"faq.{topic}" for topic in library.understanding["faq"]}
    for objection in library.objections:
        keys |= {f"objection/{objection.id}", f"buttons.{objection.id}"}
        keys |= {f"buttons.follow_up.{option}" for option in objection.follow_up}
        keys |= {"objection/share"} if objection.share else set()
    keys |= {f"variants.{v}" for v in VARIANTS} | {f"buttons.variant:{v}" for v in VARIANTS}
    keys |= {f"qualification.{reason}" for reason in REASONS}
    keys |= {f"people.{person}" for person in PEOPLE}
    for key in (k for tier in library.parameters.plan_order.values() for k in tier):
        kind = key.split(".")[1]
        keys |= {f"reasons.{key}", f"covers.{kind}", f"exclusions.{kind}"}
    for topic in STAGES["after_sales"].menu:
        keys.add(f"after_sales/{topic}" if topic != "refer" else "buttons.refer")
    return keys


def option_values(library: Library) -> set[str]:
    """Every value a button of the sale can carry."""
    values = {value for stage in STAGES.values() for value in stage.menu}
    values |= {"yes", "no", "skip", "agent", "contact", "proceed", "decline"}
    values |= {choice for question in library.questions for choice in question.choices}
    values |= {f"edit:{question.id}" for question in library.questions}
    values |= {o.id for o in library.objections} | {f"variant:{v}" for v in VARIANTS}
    return values


def answer_problems(library: Library, answers: dict[str, Any], where: str) -> list[str]:
    """Answers that name no question of the library, or a choice the question does not have."""
    questions = {q.id: q for q in library.questions}
    problems = []
    for question_id, value in answers.items():
        question = questions.get(question_id)
        if question is None:
            problems.append(f"{where}: no question {question_id!r}")
        elif question.choices and value is not None and value not in question.choices:
            problems.append(f"{where}: {value!r} is not a choice of {question_id!r}")
    return problems


def transcript_problems(library: Library, transcript: dict[str, Any], name: str) -> list[str]:
    """What a conversation transcript (tests/conversations/) uses that the library no longer has."""
    problems = answer_problems(library, transcript.get("given", {}).get("answers", {}), f"{name} (given)")
    stages, options = set(STAGES), option_values(library)
    if transcript.get("mode") == "rehearsal":  # an agent's rehearsal: its own stages and buttons
        from bot.flows.rehearsal import STATE_NAMES, rehearsal_options

        stages, options = set(STATE_NAMES), rehearsal_options(library)
    for number, step in enumerate(transcript.get("steps", []), 1):
        where = f"{name}, step {number}"
        if "press" in step and str(step["press"]) not in options:
            problems.append(f"{where}: no button has the value {step['press']!r}")
        if "at" in step and not any(q.id == step["at"] for q in library.questions):
            problems.append(f"{where}: no question {step['at']!r}")
        if step.get("state") not in stages:
            problems.append(f"{where}: no stage {step.get('state')!r}")
        problems += answer_problems(library, step.get("answers", {}), where)
    return problems


def library_problems(library: Library, required: Iterable[str] = ()) -> list[str]:
    """Render every text in every locale with the sample data, and insist on the `required`
    keys (those the code renders); return the problems found."""
    problems = []
    keys = {locale: {k for (loc, k) in library.texts if loc == locale} for locale in SOURCE_LOCALES}
    for locale in SOURCE_LOCALES:
        for other in SOURCE_LOCALES:
            for key in sorted(keys[other] - keys[locale]):
                problems.append(f"{locale}: {key!r} is missing (it exists in {other})")
        for key in sorted(keys[locale]):
            try:
                library.text(locale, key, **library.samples)
            except LibraryError as error:
                problems.append(str(error))
        absent = sorted(key for key in set(required) if not library.has(locale, key))
        missing = _missing_words(library, locale) + absent
        problems += [f"{locale}: {key} is missing" for key in missing]
    return problems

def _missing_words(library: Library, locale: str) -> list[str]:
    missing = [f"keywords for objection {o.id!r}" for o in library.objections if not o.keywords.get(locale)]
    for persona in library.rehearsal.get("personas", {}).get("personas", []):
        texts = [persona["name"], persona["about"], persona["signals"]]
        texts += [need[part] for need in persona["hidden_needs"] for part in ("topics", "reveal", "miss")]
        if any(locale not in text for text in texts):
            missing.append(f"rehearsal/personas.yaml: a text of persona {persona['id']!r}")
        missing += [f"objection {o['id']!r} of persona {persona['id']!r}" for o in persona["objections"]
                    if not library.has(locale, f"rehearsal.prospect.objection_{o['id']}")]
    return missing
