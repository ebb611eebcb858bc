"""The report as data: one pydantic model that the table, the JSON, the HTML file and the ops
console all render, so they can never disagree on a figure.

Money is Decimal (a string in JSON) and always comes with its currency: amounts in different
currencies are never added. Rates are floats in [0, 1] (ratios, never money), None when there
is nothing to divide by.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, Field

# Attribution keys for payments that no contact can explain.
BEFORE_ANY_CONTACT = "(before any contact)"
NO_VARIANT = "(no variant)"


class Period(BaseModel):
    """The payments, promises, plans, exposures and opt-outs counted: start <= at < end (an
    open side when None). `now`: when the report was made (what "pending" is relative to)."""

    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    now: AwareDatetime


class Count(BaseModel):
    key: str
    accounts: int


class Money(BaseModel):
    currency: str
    amount: Decimal


class Recovered(BaseModel):
    """Accepted payments in the period, in one currency."""

    currency: str
    amount: Decimal
    payments: int
    accounts: int


class AttributionRow(BaseModel):
    """Payments in one currency credited to one key (a step, a channel, a step's variant)."""

    key: str
    step: str | None = None  # variant rows: the step the variant belongs to
    variant: str | None = None
    currency: str
    amount: Decimal
    payments: int


class Attribution(BaseModel):
    """Each payment credited to the last contact SENT to its account before it (strictly
    earlier); payments before any sent contact have their own row (`BEFORE_ANY_CONTACT`), and
    contacts without a variant theirs (`NO_VARIANT`): each list sums, per currency, to the
    recovered total."""

    by_step: list[AttributionRow] = Field(default_factory=list)
    by_channel: list[AttributionRow] = Field(default_factory=list)
    by_variant: list[AttributionRow] = Field(default_factory=list)


class PromiseOutcomes(BaseModel):
    """Promises accepted in the period, by how they ended (as of `Period.now`). The kept rate
    is kept / (kept + broken): pending, replaced and cancelled promises said nothing yet."""

    accepted: int = 0
    kept: int = 0
    broken: int = 0
    pending: int = 0
    replaced: int = 0
    cancelled: int = 0
    kept_rate: float | None = None


class PlanOutcomes(BaseModel):
    """Plans accepted in the period, by how they ended. Completion rate: completed /
    (completed + defaulted)."""

    accepted: int = 0
    completed: int = 0
    defaulted: int = 0
    pending: int = 0
    cancelled: int = 0
    completion_rate: float | None = None


class StepRates(BaseModel):
    """Of the accounts sent a contact of this step in the period, how many opted out (of any
    channel) or disputed while that step's contact was the last one sent to them."""

    step: str
    exposed: int
    opted_out: int
    disputed: int
    opt_out_rate: float | None = None
    dispute_rate: float | None = None


class VariantArm(BaseModel):
    """One variant of a step: accounts sent it in the period, and those with a payment in the
    period credited to it."""

    variant: str
    exposed: int
    converted: int
    conversion_rate: float | None = None
    recovered: list[Money] = Field(default_factory=list)
    # Recovered / accounts in that currency exposed, to the currency's precision.
    recovered_per_exposed: list[Money] = Field(default_factory=list)
    # Wilson 95% interval of the conversion rate (None without exposure).
    rate_low: float | None = None
    rate_high: float | None = None


class VariantDifference(BaseModel):
    """Conversion rate of `variant` minus the control's, Newcombe's 95% interval, verdict."""

    variant: str
    control: str
    difference: float
    low: float
    high: float
    verdict: str


class VariantComparison(BaseModel):
    ladder: str
    step: str
    control: str
    arms: list[VariantArm]
    differences: list[VariantDifference]

    @property
    def name(self) -> str:
        """What the tables and charts call the experiment: a ladder's step."""
        return f"{self.ladder} / {self.step}"


class Report(BaseModel):
    period: Period
    accounts: int
    by_status: list[Count]
    by_ladder: list[Count]
    recovered: list[Recovered]
    attribution: Attribution
    promises: PromiseOutcomes
    plans: PlanOutcomes
    step_rates: list[StepRates]
    variants: list[VariantComparison]
