"""The account workflow's vocabulary: its input, its state, and what its activities take and give.

These are plain pydantic models with no I/O, shared by the workflow (through the sandbox
pass-through), the activities, the CLI and the tests. Money is Decimal (serialised as a string),
every timestamp is timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from config.ladder import Channel, Ladder
from workflows.compliance_types import AuditEntry, Itemization

WORKFLOW_ID_PREFIX = "dunning-"


def workflow_id_for(account_id: str) -> str:
    return f"{WORKFLOW_ID_PREFIX}{account_id}"


class Status(StrEnum):
    ACTIVE = "active"
    PROMISED = "promised"
    PLAN = "plan"
    DISPUTED = "disputed"
    HELD = "held"
    CEASED = "ceased"
    PAID = "paid"
    HANDED_OFF = "handed_off"
    CLOSED = "closed"

    @property
    def is_final(self) -> bool:
        return self in (Status.PAID, Status.HANDED_OFF, Status.CLOSED)


class SuppressReason(StrEnum):
    """Why a contact did not go out (the contract's `reason`)."""

    NO_ADDRESS = "no_address"
    OPTED_OUT = "opted_out"
    UNDELIVERABLE = "undeliverable"
    CEASED = "ceased"
    DISPUTED = "disputed"
    NO_CONTACT_WINDOW = "no_contact_window"
    TEMPLATE_ERROR = "template_error"
    CALL_CAP = "call_cap"
    # The provider stayed unavailable until the contact's bound (the next step's moment, ...).
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    # Compliance profiles (config/compliance.py): the contact's `rule` names the rule.
    TEXT_CAP = "text_cap"
    CONTACT_CAP = "contact_cap"
    BREATHING_SPACE = "breathing_space"
    # us: a text before the validation notice, with no email or letter due within 5 days.
    VALIDATION_NOTICE_FIRST = "validation_notice_first"
    NOT_LIMITED_CONTENT = "not_limited_content"  # us voicemail, 12 CFR 1006.2(j)


class ErrorType(StrEnum):
    """ApplicationError types raised by activities and understood by the workflow."""

    UNDELIVERABLE = "Undeliverable"
    OPTED_OUT = "OptedOut"  # the provider says the recipient unsubscribed (Twilio 21610)
    TEMPLATE = "TemplateError"
    NO_CONTACT_WINDOW = "NoContactWindow"
    # The contact window the send was planned in closed before the provider took the message:
    # nothing was sent (details: the window's end, ISO 8601).
    OUTSIDE_WINDOW = "OutsideWindow"
    # A us voicemail whose text discloses a debt (not a limited-content message): not sent.
    NOT_LIMITED_CONTENT = "NotLimitedContent"
    # The audit store could not take the records a window look-up carried: look up again
    # without them (they are written later).
    AUDIT_UNAVAILABLE = "AuditUnavailable"


class Debtor(BaseModel):
    """Who we contact and how. `zones` is resolved once, at intake, and never again."""

    name: str
    email: str | None = None
    phone: str | None = None  # E.164
    address: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None  # ISO 3166 alpha-2
    locale: str = "en"
    zones: tuple[str, ...] = Field(min_length=1)
    # GB only: the nation whose bank holidays apply (ENG, SCT, WLS, NIR), from the postcode;
    # None when unknown (every nation's bank holidays are then closed).
    region: str | None = None

    @property
    def primary_zone(self) -> str:
        return self.zones[0]

    def postal_lines(self) -> tuple[str, ...]:
        """The address block of a letter: name, street, postal code and city, country."""
        if not (self.address and self.city):
            return ()
        town = " ".join(part for part in (self.postal_code, self.city) if part)
        return tuple(part for part in (self.name, self.address, town, self.country) if part)

    def address_for(self, channel: Channel) -> str | None:
        if channel == Channel.EMAIL:
            return self.email
        if channel in (Channel.SMS, Channel.VOICEMAIL):
            return self.phone
        if self.address and self.city:
            return ", ".join(
                part for part in (self.address, self.postal_code, self.city, self.country) if part
            )
        return None


class ContactRecord(BaseModel):
    """One contact attempt: sent, or suppressed with a reason."""

    at: AwareDatetime
    step: str
    channel: Channel
    template: str
    outcome: Literal["sent", "suppressed"]
    reason: str | None = None
    locale: str | None = None
    message_id: str | None = None
    idempotency_key: str | None = None
    deadline: date | None = None
    fallback_for: Channel | None = None
    # Sent contacts only: False when the provider's acceptance could not be confirmed.
    confirmed: bool = True
    # Suppressed by a compliance rule: its id (config/compliance.py RuleId).
    rule: str | None = None
    # Sent contacts: the rendered message's sha256 in the audit store, and whether it carried
    # the validation notice (us).
    content: str | None = None
    validation_notice: bool = False
    # The step's template variant (A/B/n) this contact used, when the step has variants.
    variant: str | None = None


class EventRecord(BaseModel):
    """An event applied to the account (accepted or refused) or one of its milestones."""

    at: AwareDatetime
    type: str
    accepted: bool = True
    reason: str | None = None
    event_id: str | None = None
    detail: dict[str, str] = Field(default_factory=dict)


EventType = Literal[
    "payment",
    "promise",
    "plan",
    "dispute",
    "dispute_resolved",
    "opt_out",
    "cease",
    "bankruptcy",
    "deceased",
    "hold",
    "resume",
    "delivery_failed",
    "reply",
    "conversation",  # a person answered a call (Regulation F: no call for 7 days after)
    "breathing_space",  # uk Debt Respite Scheme: no contact, ladder clock stopped (60 days)
    "breathing_space_end",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]


class InstallmentSpec(BaseModel):
    amount: Decimal
    due_in_days: int | None = None
    date: dt.date | None = None


class AccountEvent(BaseModel):
    """Something the debtor, ops or a provider did. `event_id` makes it idempotent."""

    event_id: str | None = None
    type: EventType
    amount: Decimal | None = None
    due_in_days: int | None = None
    date: dt.date | None = None
    installments: list[InstallmentSpec] | None = None
    reason: str | None = None
    outcome: Literal["validated", "upheld"] | None = None
    channel: Channel | None = None
    code: str | None = None
    text: str | None = None
    days: int | None = None
    received_on: dt.date | None = None  # dispute: when it arrived (debtor's local date)
    source: str = "ops"

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value  # Twilio codes are numbers

    @field_validator("amount", mode="before")
    @classmethod
    def _no_float_money(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError('write money as a decimal string, e.g. "20.00"')
        return value


class EventResult(BaseModel):
    accepted: bool
    reason: str | None = None
    status: Status
    duplicate: bool = False
    detail: dict[str, str] = Field(default_factory=dict)


class PromiseState(BaseModel):
    number: int
    amount: Decimal
    date: dt.date
    due_by: AwareDatetime  # end of date + grace_days, debtor's zone
    reminder_at: AwareDatetime | None = None
    reminder_sent: bool = False
    paid: Decimal = Decimal("0")


class Installment(BaseModel):
    number: int
    amount: Decimal
    date: dt.date
    due_by: AwareDatetime
    reminder_at: AwareDatetime | None = None
    reminder_sent: bool = False
    outcome: Literal["pending", "kept", "missed"] = "pending"


class PlanState(BaseModel):
    number: int
    installments: list[Installment]
    paid: Decimal = Decimal("0")
    missed: int = 0


class MessageDetails(BaseModel):
    """What a message outside the ladder speaks of: a promise or an installment."""

    promise_amount: Decimal | None = None
    promise_date: date | None = None
    installment_amount: Decimal | None = None
    installment_date: date | None = None
    installment_number: int | None = None
    installment_count: int | None = None

    def message_details(self) -> dict[str, Any]:
        """Only the promise/installment fields that are set (for subclasses too)."""
        return self.model_dump(include=set(MessageDetails.model_fields), exclude_none=True)


class PendingMessage(MessageDetails):
    """A message outside the ladder (broken promise, missed installment) due at the next window."""

    step: str
    channel: Channel
    template: str


class RetryingSend(BaseModel):
    """A contact not yet sent nor suppressed that is tried again later (its provider was
    unavailable, or the window closed first): the channel it continues on, and since when."""

    channel: Channel
    since: AwareDatetime


class AccountState(BaseModel):
    """Everything the workflow knows; carried across continue-as-new."""

    status: Status = Status.ACTIVE
    balance: Decimal
    next_step_index: int = 0
    paused_seconds: int = 0
    paused_since: AwareDatetime | None = None
    contacts: list[ContactRecord] = Field(default_factory=list)
    events: list[EventRecord] = Field(default_factory=list)
    skipped_steps: list[str] = Field(default_factory=list)
    unusable_channels: dict[str, str] = Field(default_factory=dict)
    step_attempts: dict[str, int] = Field(default_factory=dict)
    next_contact_at: AwareDatetime | None = None
    started_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    handoff_reference: str | None = None
    runs: int = 1
    promise: PromiseState | None = None
    plan: PlanState | None = None
    hold_until: AwareDatetime | None = None
    contact_ceased: bool = False
    pending: list[PendingMessage] = Field(default_factory=list)
    seen_events: dict[str, EventResult] = Field(default_factory=dict)
    promises: int = 0
    plans: int = 0
    call_attempts: list[AwareDatetime] = Field(default_factory=list)  # the last 7 days' calls
    last_conversation_at: AwareDatetime | None = None
    # Send rounds of each step whose provider stayed unavailable, and the earliest moment the
    # next round may start: state, so that continue-as-new keeps them.
    send_rounds: dict[str, int] = Field(default_factory=dict)
    retry_not_before: AwareDatetime | None = None
    retrying: dict[str, RetryingSend] = Field(default_factory=dict)  # by step
    # True for accounts run by issue 12's compliance rules (set once, at the first task, from
    # the workflow's patch): the pure rules read it here.
    compliance: bool = False
    # Compliance (issue 12): the last 7 days' texts and sent contacts (the caps), the
    # validation notice (us), a dispute's verification, a breathing space (uk).
    text_attempts: list[AwareDatetime] = Field(default_factory=list)
    contact_attempts: list[AwareDatetime] = Field(default_factory=list)
    validation_notice_at: AwareDatetime | None = None
    first_communication_at: AwareDatetime | None = None  # us: the notice is due 5 days after
    validation_period_ends: date | None = None
    verification_owed: bool = False  # a dispute within the validation period (us)
    verifications: int = 0
    breathing_space_until: AwareDatetime | None = None
    # Audit entries decided by the workflow and not yet written (flushed by an activity).
    audit_pending: list[AuditEntry] = Field(default_factory=list)
    audit_started: bool = False  # the `opened` record is written (or pending)
    audited_contacts: int = 0  # how many of `contacts` are in the audit store
    audited_events: int = 0
    # Records dropped from `contacts` / `events` at continue-as-new once audited (the audit
    # store has them all): keeps the carried state bounded and the audit keys stable.
    contacts_trimmed: int = 0
    events_trimmed: int = 0


class AccountInput(BaseModel):
    """The workflow's input: the account, the ladder it runs (a snapshot), and carried state."""

    account_id: str
    debtor: Debtor
    balance: Decimal = Field(gt=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    due_at: AwareDatetime  # the instant ladder day 0 began (local midnight of the due date)
    ladder: Ladder
    search_attributes: bool = True
    # Continue-as-new once history passes this many events (well before Temporal's limits).
    history_limit: int = Field(default=2_000, ge=50)
    # us validation notice figures (None on accounts started before issue 12: balance at start).
    itemization: Itemization | None = None
    state: AccountState | None = None  # set only when continuing as new


class AccountView(BaseModel):
    """What the `status` query returns: the whole state plus derived figures."""

    account_id: str
    ladder_name: str
    ladder_version: int
    status: Status
    balance: Decimal
    currency: str
    ladder_day: float
    due_at: AwareDatetime
    zones: tuple[str, ...]
    next_contact_at: AwareDatetime | None
    next_step: str | None
    locale: str = "en"  # the debtor's: webhook answers are written in it
    contacts: list[ContactRecord]
    events: list[EventRecord]
    skipped_steps: list[str]
    unusable_channels: dict[str, str]
    promise: PromiseState | None = None
    plan: PlanState | None = None
    hold_until: AwareDatetime | None = None
    history_length: int
    runs: int
    as_of: AwareDatetime  # workflow time of the last task: ladder_day is measured then


def utc_iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
