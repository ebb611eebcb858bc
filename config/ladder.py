"""The ladder language: what ops staff may write in `config/ladders/*.yaml`.

Every model forbids unknown fields, so a typo such as `chanel:` is an error, not a silently
ignored line. A validated `Ladder` travels in the workflow input: a running account never
re-reads YAML and keeps the version it started with.
"""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

StepId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
TemplateName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    VOICEMAIL = "voicemail"
    LETTER = "letter"


# Template files: templates/<channel>/<template>.<locale>.<ext> (the renderer reads them, the
# ladder checks look for them).
EXTENSIONS: dict[Channel, str] = {
    Channel.EMAIL: "html",
    Channel.SMS: "txt",
    Channel.VOICEMAIL: "txt",
    Channel.LETTER: "txt",
}


class Jurisdiction(StrEnum):
    US = "us"
    UK = "uk"
    EU = "eu"
    NONE = "none"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContactWindow(_Strict):
    """Hours and weekdays during which the debtor may be contacted, in the debtor's zone."""

    start: time
    end: time
    days: tuple[Weekday, ...] = Field(min_length=1)

    @field_validator("days")
    @classmethod
    def _no_repeats(cls, days: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if len(set(days)) != len(days):
            raise ValueError("a weekday is listed twice")
        return days

    @model_validator(mode="after")
    def _start_before_end(self) -> ContactWindow:
        if self.start >= self.end:
            raise ValueError("start must be before end (windows do not cross midnight)")
        return self

    @property
    def weekday_numbers(self) -> tuple[int, ...]:
        return tuple(WEEKDAYS.index(day) for day in self.days)


class Variant(_Strict):
    """One wording of an A/B/n step: its template and its share of the step's accounts.

    Which variant an account gets is `config/variants.py`'s deterministic hash, so the weights
    and the order of a step's variants are part of the assignment: changing them moves running
    accounts to another wording (adding a new step with variants does not)."""

    template: TemplateName
    weight: int = Field(default=1, ge=1, le=1000)


class Step(_Strict):
    """One rung of the ladder: a contact on a channel, or the handoff."""

    id: StepId
    day: int = Field(ge=0, le=3650)
    channel: Channel | None = None
    template: TemplateName | None = None
    # A/B/n: each account gets one of these templates (`config/variants.py`). Left out of the
    # serialized step when absent, so a ladder without variants travels exactly as before.
    variants: tuple[Variant, ...] | None = Field(default=None, exclude_if=lambda v: v is None)
    deadline_days: int | None = Field(default=None, ge=1, le=365)
    fallback: Channel | None = None
    action: Literal["contact", "handoff"] = "contact"

    @model_validator(mode="after")
    def _shape(self) -> Step:
        if self.action == "handoff":
            extra = [
                name
                for name in ("channel", "template", "variants", "deadline_days", "fallback")
                if getattr(self, name) is not None
            ]
            if extra:
                raise ValueError(f"a handoff step takes no {', '.join(extra)}")
            return self
        if self.channel is None:
            raise ValueError("a contact step needs a channel")
        if self.template is not None and self.variants is not None:
            raise ValueError(
                "@variants: a step takes a template or variants, not both (remove template:)"
            )
        if self.template is None and self.variants is None:
            raise ValueError("a contact step needs a template (or variants)")
        if self.variants is not None:
            self._check_variants(self.variants)
        if self.fallback == self.channel:
            raise ValueError("fallback must differ from channel")
        return self

    @staticmethod
    def _check_variants(variants: tuple[Variant, ...]) -> None:
        if len(variants) < 2:
            raise ValueError(
                "@variants: list at least two variants (for one wording write template: instead)"
            )
        seen: set[str] = set()
        for index, variant in enumerate(variants):
            if variant.template in seen:
                raise ValueError(
                    f"@variants.{index}.template: template {variant.template!r} is listed twice "
                    "(each variant needs its own template)"
                )
            seen.add(variant.template)

    @property
    def is_handoff(self) -> bool:
        return self.action == "handoff"

    @property
    def templates(self) -> tuple[str, ...]:
        """Every template the step may send: its template, or each variant's (none for the
        handoff). For checks that must hold whichever variant an account gets."""
        if self.variants is not None:
            return tuple(variant.template for variant in self.variants)
        return (self.template,) if self.template is not None else ()


class MessageRef(_Strict):
    """A message outside the ladder (promise reminder, missed installment, ...)."""

    channel: Channel
    template: TemplateName


class Reminder(MessageRef):
    days_before: int = Field(ge=0, le=30)


class PromisePolicy(_Strict):
    grace_days: int = Field(default=0, ge=0, le=30)
    max_days: int = Field(default=30, ge=1, le=365)
    reminder: Reminder | None = None
    broken: MessageRef | None = None


class PlanPolicy(_Strict):
    max_installments: int = Field(default=6, ge=1, le=60)
    grace_days: int = Field(default=0, ge=0, le=30)
    reminder: Reminder | None = None
    missed: MessageRef | None = None
    default_after_missed: int = Field(default=1, ge=1, le=60)


class ComplianceLimits(_Strict):
    """The ladder's own limits within its profile (`config/compliance.py`). None: the profile's
    default (us: 3 texts per 7 days; uk: 3 contacts per 7 days; otherwise no cap)."""

    texts_per_7_days: int | None = Field(default=None, ge=1, le=50)
    contacts_per_7_days: int | None = Field(default=None, ge=1, le=50)
    # uk: Sundays and the debtor's bank holidays are closed unless this says so explicitly.
    sunday_and_bank_holiday_contact: bool = False


class DisputePolicy(_Strict):
    """The verification sent after a dispute within the validation period is validated
    (us, 12 CFR 1006.38): a letter, so there is a record of what was sent and where."""

    verification: MessageRef = MessageRef(channel=Channel.LETTER, template="verification")


class SendRounds(_Strict):
    """A send the provider could not take (an outage past the activity's retries) is tried again
    in later rounds, this far apart; after the last round the step's fallback channel is tried,
    and rounds go on until the next step is due, when the step is recorded as suppressed
    (`provider_unavailable`; `workflows/account/outage.py`)."""

    rounds: int = Field(default=3, ge=1, le=10)
    spacing_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)


# Ids the account generates for messages outside the ladder (`promise-2-reminder`,
# `plan-1-installment-3-missed`): a step id may not look like one, so no two messages of an
# account can ever share an idempotency key.
RESERVED_STEP_ID = re.compile(r"^(promise|plan|dispute)-[0-9]+(-|$)")


# US debt-collection rules (FDCPA 15 U.S.C. 1692c(a)(1)): no contact before 8am or after 9pm.
US_EARLIEST = time(8, 0)
US_LATEST = time(21, 0)


class Ladder(_Strict):
    """A whole ladder as validated from YAML."""

    name: StepId
    version: int = Field(ge=1)
    description: str = ""
    jurisdiction: Jurisdiction = Jurisdiction.NONE
    holidays: str | None = Field(default=None, pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
    contact_window: ContactWindow
    min_balance: Decimal = Field(default=Decimal("0.00"), ge=0)
    steps: tuple[Step, ...] = Field(min_length=1)
    promise: PromisePolicy = PromisePolicy()
    plan: PlanPolicy = PlanPolicy()
    send_rounds: SendRounds = SendRounds()
    compliance: ComplianceLimits = ComplianceLimits()
    dispute: DisputePolicy = DisputePolicy()

    @field_validator("min_balance", mode="before")
    @classmethod
    def _no_float_money(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError('write money as a quoted decimal string, e.g. "10.00"')
        return value

    @model_validator(mode="after")
    def _steps_are_coherent(self) -> Ladder:
        # Messages start with "@<path>:" so the loader can point at the exact line.
        seen: set[str] = set()
        for index, step in enumerate(self.steps):
            if RESERVED_STEP_ID.match(step.id):
                raise ValueError(
                    f"@steps.{index}.id: step id {step.id!r} is reserved (promise-N-…, "
                    "plan-N-… and dispute-N-… name the messages of promises, payment plans "
                    "and dispute verifications)"
                )
            if step.id in seen:
                raise ValueError(f"@steps.{index}.id: step id {step.id!r} is used twice")
            seen.add(step.id)
            if index and step.day < self.steps[index - 1].day:
                raise ValueError(f"@steps.{index}.day: steps must be listed in order of day")
        for index, step in enumerate(self.steps[:-1]):
            if step.is_handoff:
                raise ValueError(f"@steps.{index}.action: the handoff step must be the last step")
        if self.jurisdiction == Jurisdiction.US and (
            self.contact_window.start < US_EARLIEST or self.contact_window.end > US_LATEST
        ):
            raise ValueError(
                "@contact_window: a us ladder's window must stay within 08:00-21:00 "
                "(FDCPA 15 U.S.C. 1692c(a)(1))"
            )
        return self

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def messages(self) -> list[tuple[str, Channel, str]]:
        """Every (where, channel, template) this ladder can send, for template checks: each
        variant of an A/B/n step and its fallback count as messages of their own
        (`steps.<id>.variants.<n>`, `steps.<id>.variants.<n>.fallback`).

        The dispute verification letter is listed only where the profile sends it (us, 12 CFR
        1006.38): other ladders never send it, so they need not ship its templates."""
        found: list[tuple[str, Channel, str]] = []
        for step in self.steps:
            if step.channel is None:
                continue
            if step.variants is None and step.template is not None:
                found.append((f"steps.{step.id}", step.channel, step.template))
                if step.fallback is not None:
                    found.append((f"steps.{step.id}.fallback", step.fallback, step.template))
            for index, variant in enumerate(step.variants or ()):
                # A variant's fallback sends the same wording on the fallback channel.
                where = f"steps.{step.id}.variants.{index}"
                found.append((where, step.channel, variant.template))
                if step.fallback is not None:
                    found.append((f"{where}.fallback", step.fallback, variant.template))
        for where, ref in (
            ("promise.reminder", self.promise.reminder),
            ("promise.broken", self.promise.broken),
            ("plan.reminder", self.plan.reminder),
            ("plan.missed", self.plan.missed),
        ):
            if ref is not None:
                found.append((where, ref.channel, ref.template))
        # Imported here: config.compliance names the ladder's channels (config.ladder).
        from config.compliance import RuleId, profile

        if profile(self.jurisdiction.value).enforces(RuleId.DISPUTE_VERIFICATION):
            verification = self.dispute.verification
            found.append(("dispute.verification", verification.channel, verification.template))
        return found
