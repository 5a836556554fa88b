"""The advice as the sale gives it: the plan with its chart, and a lead sent to an agent."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from bot.flows.calculator import VARIANTS, Analysis, analyse
from bot.flows.messages import Reply
from bot.flows.presenting import gap_chart, lead_context, plan_context
from bot.flows.qualification import TOLD, Qualification, qualify

if TYPE_CHECKING:
    from bot.flows.sale import Sale


# The analysis of each live sale for its current answers: a stage asks for it several times a message.
_computed: WeakKeyDictionary[Sale, tuple[str, Analysis]] = WeakKeyDictionary()


def analysis(sale: Sale) -> Analysis:
    answers = repr(sorted(sale.answers.items()))
    known = _computed.get(sale)
    if known is None or known[0] != answers:
        known = _computed[sale] = (answers, analyse(sale.answers, sale.talk.library.parameters))
    return known[1]


def plan(sale: Sale, locale: str | None = None, of: Analysis | None = None) -> dict[str, Any]:
    """The shown plan variant as the templates read it."""
    return plan_context(sale.talk.library, locale or sale.talk.locale, of or analysis(sale),
                        sale.progress.variant, sale.answers)


def has_plan(sale: Sale) -> bool:
    """The shown plan has covers that cost something: there is something to accept."""
    return analysis(sale).plans[sale.progress.variant].total > 0


def show_plan(sale: Sale, variant: str) -> None:
    sale.progress.variant = variant
    library, locale, computed = sale.talk.library, sale.talk.locale, analysis(sale)
    context = plan(sale, of=computed)
    sale.talk.mark("proposal", f"{variant} {context['total']}")
    sale.talk.send(Reply(sale.talk.text("proposal/plan", **context),
                         chart=gap_chart(library, locale, computed, sale.answers)))


def verdict(sale: Sale, of: Analysis | None = None) -> Qualification:
    """The four marks; the customer who is sent to an agent has agreed to be contacted."""
    return qualify(sale.answers, of or analysis(sale), consent=True, assessed=sale.questionnaire.complete)


def why_contact(sale: Sale) -> str:
    """Why a customer who asks to be contacted about the plan is sent: a condition or an age that
    needs an agent says more than the request itself."""
    reasons = verdict(sale).reasons
    return next((why for why in ("health", "age") if why in reasons), "contact")


def send_lead(sale: Sale, why: str) -> Qualification:
    """The lead, for the agent: in the agent's language, headed by the verdict and why it was sent."""
    update, sale.progress.contacted = sale.progress.contacted, True  # a second lead updates the first
    computed = analysis(sale)
    judged = verdict(sale, computed)
    context = lead_context(sale.talk.library, computed, sale.progress.variant, sale.answers, judged, why)
    lead = sale.talk.library.text(sale.talk.library.agent_locale, "agent/lead", reference=sale.reference,
                                  customer_name=sale.customer_name, update=update, **context)
    sale.talk.send(Reply(lead, to_agent=True))
    sale.talk.mark("lead", f"{why}: {'qualified' if judged.qualified else ','.join(judged.reasons)}")
    return judged


def refer_to_agent(sale: Sale, why: str) -> None:
    """Send the lead (whatever the verdict: the customer asked, and the agent decides) and tell the
    customer honestly when they will hear back and what the agent will look at."""
    told = [reason for reason in send_lead(sale, why).reasons if reason in TOLD]
    if not sale.agent_reachable():
        sale.talk.say("handoff_unreachable")
    elif told:
        sale.talk.say("unqualified", reasons=" ".join(sale.talk.text(f"qualification.{r}") for r in told))
    else:
        sale.talk.say("handoff_customer", plan=has_plan(sale) and sale.questionnaire.complete)


def explain_covers(sale: Sale) -> None:
    """A customer asks for a cover: what each plan variant holds, and what is not offered here."""
    computed = analysis(sale)
    library, locale = sale.talk.library, sale.talk.locale
    variants = [plan_context(library, locale, computed, variant, sale.answers) for variant in VARIANTS]
    shown = plan(sale, of=computed)
    sale.talk.say("proposal/covers", variants=variants, declined=shown["declined"],
                  left_out=shown["left_out"])
