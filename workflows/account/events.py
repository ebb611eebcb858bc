"""Events as one discriminated union of typed models, one per event type.

The wire format stays `AccountEvent` (one flat model: scripts, webhooks and recorded histories
use it); `typed_event` turns it into the model of its type, which names its own required fields
and bounds every number, so a malformed event is rejected before it reaches the account and no
value can overflow a date or a timer inside the workflow.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from config.ladder import Channel
from workflows.types import AccountEvent

# Bounds: far beyond any real use, well inside what dates and timers can hold.
MAX_AMOUNT = Decimal("1000000000000")  # 10^12 in the account's currency
MAX_DAYS = 3650  # ten years: holds, promises and installments
MAX_INSTALLMENTS = 120
MAX_TEXT = 5000
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)

Days = Annotated[int, Field(ge=0, le=MAX_DAYS)]
LocalDate = Annotated[dt.date, Field(ge=EARLIEST_DATE, le=LATEST_DATE)]
ShortText = Annotated[str, Field(max_length=MAX_TEXT)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str | None = None
    source: str = "ops"


class _Dated(BaseModel):
    """A local date, given as a date or as days from today (one of the two)."""

    due_in_days: Days | None = None
    date: LocalDate | None = None

    @model_validator(mode="after")
    def _one_date(self) -> _Dated:
        if self.date is None and self.due_in_days is None:
            raise ValueError("needs date or due_in_days")
        return self


class Payment(_Event):
    type: Literal["payment"]
    # A payment of 0 or less is a business refusal (recorded), not a malformed event.
    amount: Annotated[Decimal, Field(le=MAX_AMOUNT, ge=-MAX_AMOUNT)]


class Promise(_Event, _Dated):
    type: Literal["promise"]
    amount: Annotated[Decimal, Field(le=MAX_AMOUNT, ge=-MAX_AMOUNT)] | None = None


class InstallmentSpec(_Dated):
    model_config = ConfigDict(frozen=True)
    amount: Annotated[Decimal, Field(le=MAX_AMOUNT, ge=-MAX_AMOUNT)]


class Plan(_Event):
    type: Literal["plan"]
    installments: list[InstallmentSpec] = Field(max_length=MAX_INSTALLMENTS)


class Dispute(_Event):
    type: Literal["dispute"]
    reason: ShortText | None = None
    # The debtor's local date a mailed dispute arrived (us: is it within the validation
    # period?); None: when it is entered.
    received_on: LocalDate | None = None


class DisputeResolved(_Event):
    type: Literal["dispute_resolved"]
    outcome: Literal["validated", "upheld"]


class OptOut(_Event):
    type: Literal["opt_out"]
    channel: Channel


class Cease(_Event):
    type: Literal["cease"]


class Bankruptcy(_Event):
    type: Literal["bankruptcy"]


class Deceased(_Event):
    type: Literal["deceased"]


class Hold(_Event):
    type: Literal["hold"]
    # Below 1 is a business refusal (recorded); above the bound is malformed.
    days: Annotated[int, Field(le=MAX_DAYS, ge=-MAX_DAYS)]


class Resume(_Event):
    type: Literal["resume"]


class DeliveryFailed(_Event):
    type: Literal["delivery_failed"]
    channel: Channel
    code: Annotated[str, Field(max_length=64)] | None = None


class Reply(_Event):
    type: Literal["reply"]
    text: ShortText
    channel: Channel | None = None


class Conversation(_Event):
    type: Literal["conversation"]


class BreathingSpace(_Event):
    """uk Debt Respite Scheme: no contact and the ladder clock stopped for `days` (60 for a
    standard breathing space; a mental health crisis one lasts until ended by event)."""

    type: Literal["breathing_space"]
    days: Annotated[int, Field(ge=1, le=MAX_DAYS)] = 60


class BreathingSpaceEnd(_Event):
    type: Literal["breathing_space_end"]


Event = Annotated[
    Payment
    | Promise
    | Plan
    | Dispute
    | DisputeResolved
    | OptOut
    | Cease
    | Bankruptcy
    | Deceased
    | Hold
    | Resume
    | DeliveryFailed
    | Reply
    | Conversation
    | BreathingSpace
    | BreathingSpaceEnd,
    Field(discriminator="type"),
]
_EVENT = TypeAdapter(Event)


class MalformedEvent(ValueError):
    """The event cannot be applied as written (nothing is recorded): say what is wrong."""


def typed_event(event: AccountEvent) -> Event:
    """The typed model of a wire event, or MalformedEvent naming each wrong field."""
    try:
        return _EVENT.validate_python(event.model_dump(exclude_none=True))
    except ValidationError as exc:
        missing: list[str] = []
        problems: list[str] = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"][1:])
            if error["type"] == "missing":
                missing.append(where)
            elif error["type"] == "value_error" and not where:
                problems.append(str(error["msg"]).removeprefix("Value error, "))
            else:
                problems.append(f"{where or 'event'}: {error['msg']}")
        if missing:
            problems.insert(0, f"needs {', '.join(missing)}")
        raise MalformedEvent(f"{event.type} {'; '.join(problems)}") from None
