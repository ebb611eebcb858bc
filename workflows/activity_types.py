"""What the account workflow and its activities exchange: each activity's request and answer.

Plain pydantic models, like `workflows/types.py` (the input, the state and the events), kept
apart so each module reads in one sitting. Payloads are JSON without type paths, so a model's
module can move without touching recorded histories.
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel

from config.ladder import Channel, ContactWindow, Ladder
from workflows.types import (
    AccountInput,
    AuditEntry,
    ContactRecord,
    Debtor,
    EventRecord,
    Itemization,
    MessageDetails,
    Status,
)


class DateSpec(BaseModel):
    date: dt.date | None = None
    due_in_days: int | None = None


class ScheduleRequest(BaseModel):
    """Turn the debtor's local dates into instants (end of day + grace, reminder moments)."""

    now: AwareDatetime
    zones: tuple[str, ...]
    window: ContactWindow
    holidays: str | None
    grace_days: int
    days_before: int | None
    items: list[DateSpec]
    # Issue 12: as WindowRequest (reminders land on open days of the profile's calendar).
    jurisdiction: str = "none"
    region: str | None = None
    sunday_and_bank_holiday_contact: bool = False


class ScheduledDate(BaseModel):
    date: dt.date
    due_by: AwareDatetime
    reminder_at: AwareDatetime | None


class ScheduleAnswer(BaseModel):
    today: date
    items: list[ScheduledDate]


class ReplyRequest(BaseModel):
    text: str
    locale: str
    received_at: AwareDatetime
    zone: str


class ReplyClassification(BaseModel):
    kind: str
    promise_date: date | None = None
    amount: Decimal | None = None
    matched: str | None = None
    # For an opt-out: the channel the words name ("don't call me" → voicemail), whatever
    # channel the reply came on. None: the channel the reply came on.
    channel: Channel | None = None


class LadderDayStart(BaseModel):
    """The local moment a ladder day begins: `day` local calendar days (plus paused time) after
    the local midnight `due_at`, counted on the wall clock of the debtor's primary zone, so a
    DST change can never move a step to the day before."""

    due_at: AwareDatetime
    day: int
    paused_seconds: int = 0


class AuditBatch(BaseModel):
    """Workflow-decided audit records to append (the `record_audit` activity). `ladder` is
    given with the `opened` record: stored once, content-addressed."""

    account_id: str
    workflow_id: str
    entries: list[AuditEntry]
    ladder: Ladder | None = None
    debtor: Debtor | None = None  # with `opened`: stored as erasable content


class WindowRequest(BaseModel):
    not_before: AwareDatetime
    zones: tuple[str, ...]
    window: ContactWindow
    holidays: str | None
    # Issue 12: the profile's calendar rules (uk: Sundays and the region's bank holidays).
    jurisdiction: str = "none"
    region: str | None = None
    sunday_and_bank_holiday_contact: bool = False
    ladder_day: LadderDayStart | None = None  # not before this ladder day begins, either
    # Audit records to write first (issue 12): the look-up comes once per step anyway, so the
    # records of the step before cost no history event of their own.
    audit: AuditBatch | None = None


class SendRequest(MessageDetails):
    """One message to render and deliver, identified by an idempotency key."""

    idempotency_key: str
    at: AwareDatetime  # workflow time of the send: the message's date and deadline count from it
    account_id: str
    debtor: Debtor
    balance: Decimal
    currency: str
    days_past_due: int
    step: str
    channel: Channel
    template: str
    jurisdiction: str
    window: ContactWindow
    holidays: str | None
    deadline_days: int | None = None
    ladder: str = ""
    # Issue 12. The validation notice is owed: render it into this email or letter (us).
    validation_notice: bool = False
    itemization: Itemization | None = None
    ladder_version: int = 0
    # Write the audit record of this attempt (sent / unconfirmed, with its content).
    audit: bool = False
    workflow_id: str = ""
    sunday_and_bank_holiday_contact: bool = False  # uk: as WindowRequest


class SendReceipt(BaseModel):
    message_id: str
    locale: str
    deadline: date | None = None
    sent_at: AwareDatetime  # when the provider accepted it (or the activity's clock then)
    duplicate: bool = False  # the ledger already had this key: nothing was sent again
    confirmed: bool = True  # False: treated as sent, the provider's acceptance unconfirmed
    # Issue 12: the rendered message's sha256 in the audit store; the validation notice went
    # with it and its period ends on this local date.
    content: str | None = None
    validation_notice: bool = False
    validation_period_ends: date | None = None


class ClosedAccount(BaseModel):
    """An account reached a final status: its workflow id stays used beyond retention."""

    workflow_id: str
    account_id: str
    status: Status
    closed_at: AwareDatetime


class HandoffRequest(BaseModel):
    account_id: str
    debtor: Debtor
    balance: Decimal
    currency: str
    ladder_name: str
    ladder_version: int
    due_at: AwareDatetime
    handed_off_at: AwareDatetime
    contacts: list[ContactRecord]
    events: list[EventRecord]


def send_request(
    account: AccountInput,
    *,
    idempotency_key: str,
    at: datetime,
    balance: Decimal,
    days_past_due: int,
    step: str,
    channel: Channel,
    template: str,
    deadline_days: int | None = None,
    **message_fields: object,
) -> SendRequest:
    """The one way to build a SendRequest (the workflow and `dunning preview` share it)."""
    return SendRequest(
        idempotency_key=idempotency_key,
        at=at,
        account_id=account.account_id,
        debtor=account.debtor,
        balance=balance,
        currency=account.currency,
        days_past_due=days_past_due,
        step=step,
        channel=channel,
        template=template,
        jurisdiction=account.ladder.jurisdiction.value,
        ladder=account.ladder.name,
        window=account.ladder.contact_window,
        holidays=account.ladder.holidays,
        sunday_and_bank_holiday_contact=account.ladder.compliance.sunday_and_bank_holiday_contact,
        deadline_days=deadline_days,
        **message_fields,  # type: ignore[arg-type]
    )
