"""The advice as the sale gives it: the plan with its chart, and the hand-off of a lead to an agent."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.flows.calculator import Analysis, analyse
from bot.flows.messages import Reply
from bot.flows.presenting import gap_chart, plan_context, summary_lines
from bot.flows.qualification import qualify

if TYPE_CHECKING:
    from bot.flows.sale import Sale


def analysis(sale: Sale) -> Analysis:
    return analyse(sale.answers, sale.talk.library.parameters)


def plan(sale: Sale, locale: str | None = None, of: Analysis | None = None) -> dict[str, Any]:
    """The shown plan variant as the templates read it."""
    return plan_context(sale.talk.library, locale or sale.talk.locale, of or analysis(sale),
                        sale.progress.variant, sale.answers)


def show_plan(sale: Sale, variant: str) -> None:
    sale.progress.variant = variant
    library, locale, computed = sale.talk.library, sale.talk.locale, analysis(sale)
    context = plan(sale, of=computed)
    sale.talk.mark("proposal", f"{variant} {context['total']}")
    sale.talk.send(Reply(sale.talk.text("proposal/plan", **context),
                         chart=gap_chart(library, locale, computed, sale.answers)))


def hand_off(sale: Sale, announce: bool) -> None:
    """Qualified leads go to the agent with a summary; the customer hears who calls and when."""
    sale.progress.contacted = True
    library, computed = sale.talk.library, analysis(sale)
    verdict = qualify(sale.answers, computed, library.parameters, consent=True)
    if verdict.qualified or not announce:
        locale = library.agent_locale
        lead = library.text(locale, "agent/lead", reference=sale.reference, customer_name=sale.customer_name,
                            lines=summary_lines(library, locale, sale.answers),
                            **plan(sale, locale, computed))
        sale.talk.send(Reply(lead, to_agent=True))
        sale.talk.mark("lead", ",".join(verdict.reasons) or "qualified")
    if announce and verdict.qualified:
        sale.talk.say("handoff_customer")
    elif announce:
        sale.talk.say("unqualified", reasons=" ".join(sale.talk.text(f"qualification.{key}")
                                                      for key in verdict.reasons))
