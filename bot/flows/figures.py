"""The figures of scripts_library/parameters.yaml and agency.yaml as typed, validated models: a
misspelt, missing or mistyped figure stops `scripts check` and start-up with the key's path,
instead of a wrong plan later. The comments on each figure are in the YAML files.
"""
from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

COVER_KINDS = ("term_life", "critical_illness", "medical", "accident",
               "compulsory", "third_party", "own_damage")
ROLES = ("breadwinner", "partner", "child", "car")


Amount = Annotated[int, Field(ge=0)]  # money (or a count) that cannot be negative
Positive = Annotated[int, Field(gt=0)]
Share = Annotated[float, Field(ge=0, le=1)]


class Figures(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(Figures):
    age: int = Field(ge=18, le=99)
    occupation: str


class Needs(Figures):
    round_sums_to: Positive
    child_cover_until_age: int
    income_replacement_years: Amount
    education_per_child: Amount
    education_until_age: int
    critical_illness_income_years: Amount
    critical_illness_minimum: Amount
    child_critical_illness: Amount
    medical_sum: Positive
    medical_deductible: Amount
    social_medical_cap: Amount
    accident_income_multiple: Amount
    accident_minimum: Amount
    child_accident: Amount
    child_death_benefit_cap: dict[int, int] = Field(min_length=1)  # below this age (exclusive) -> cap
    partner_income_replacement_years: Amount
    parent_support_years: Amount
    parent_support_per_year: Amount
    car_compulsory_sum: Amount
    car_third_party_sum: Amount
    default_car_value: Positive


class Budget(Figures):
    share_of_household_income: Share
    smallest_share_of_need: Share
    high_loss_first: list[str]
    first_without_social_insurance: list[str]
    smallest_sum: dict[str, int]

    def smallest(self, kind: str) -> int:
        return self.smallest_sum.get(kind, 1)


class CoverLimit(Figures):
    min_age: int
    max_age: int
    max_sum: int | None = None


class PremiumWarning(Figures):
    payment_years: Positive
    share_of_sum: float = Field(gt=0)


class CarPremium(Figures):
    compulsory: int
    third_party: int
    own_damage_share: float
    own_damage_base: int


class PolicyTerms(Figures):
    waiting_period_days: int
    grace_period_days: int
    cooling_off_days: int


class QuestionnaireFigures(Figures):
    failures_before_way_out: Positive


class IntentFigures(Figures):
    sure_above: float
    ahead_by: float
    candidates: Positive
    longest: Positive


class InboundFigures(Figures):
    longest_text: int = Field(gt=0, le=4096)


AgeTable = dict[int, float]  # by age band: the first upper age not below the insured's age


def band(table: AgeTable, age: int) -> float:
    for upper in sorted(table):
        if age <= upper:
            return table[upper]
    return table[max(table)]


class Rates(Figures):
    """Yearly premium per 1 000 of cover, by age band."""

    term_life: AgeTable
    critical_illness: AgeTable
    accident: AgeTable


class Parameters(Figures):
    defaults: Defaults
    needs: Needs
    budget: Budget
    plan_order: dict[str, list[str]]
    occupation_class: dict[str, int]
    accident_class_factor: dict[int, float]
    worry_covers: dict[str, list[str]]
    cover_limits: dict[str, CoverLimit]
    premium_warning: PremiumWarning
    rates_per_thousand: Rates
    medical_premium: AgeTable
    car_premium: CarPremium
    policy_terms: PolicyTerms
    reminder_after_hours: float = Field(gt=0)
    agent_talk_hours: float = Field(gt=0)
    questionnaire: QuestionnaireFigures
    intents: IntentFigures
    inbound: InboundFigures

    @model_validator(mode="after")
    def _names_known(self) -> Parameters:
        """Every cover named in the plan order and the budget is a role.kind the calculator knows."""
        tiers = {"must", "essential", "standard", "comprehensive"}
        if unknown := set(self.plan_order) - tiers:
            raise ValueError(f"plan_order: unknown tiers {sorted(unknown)}")
        keys = [key for tier in self.plan_order.values() for key in tier] + self.budget.high_loss_first
        keys += self.budget.first_without_social_insurance
        for key in keys:
            role, _, kind = key.partition(".")
            if role not in ROLES or kind not in COVER_KINDS:
                raise ValueError(f"unknown cover {key!r} (roles {ROLES}, kinds {COVER_KINDS})")
        kinds = {kind for covers in self.worry_covers.values() for kind in covers}
        kinds |= set(self.cover_limits) | set(self.budget.smallest_sum)
        if unknown := kinds - set(COVER_KINDS):
            raise ValueError(f"unknown cover kinds {sorted(unknown)}")
        if self.defaults.occupation not in self.occupation_class:
            raise ValueError(f"defaults.occupation {self.defaults.occupation!r} has no occupation_class")
        return self


class Agency(Figures):
    """Who is selling, shown at the start of every conversation (remote sales must say this)."""

    agent_name: dict[str, str]
    company_name: dict[str, str]
    licence_number: str
    complaint_line: str
    regulator_hotline: str
    agent_locale: str

    @property
    def placeholder(self) -> bool:
        """The shipped example identity (a licence number of zeros): fit for a demonstration only."""
        return not self.licence_number.strip("0- ")


class FiguresError(ValueError):
    """A figures file that does not fit its model; the message names each wrong key."""


F = TypeVar("F", bound=Figures)


def load(model: type[F], data: Any, source: str) -> F:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        wrong = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in error.errors())
        raise FiguresError(f"{source}: {wrong}") from None
