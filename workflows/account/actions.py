"""What the account does next, as data: the workflow runs it, the property tests inspect it.

An `Action` says when (`at`, and whether it must wait for an open contact window and for the
local start of a ladder day) and what (`do`). Nothing here runs anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from config.ladder import Channel, Step
from config.variants import variant_for
from workflows.types import AccountInput, PendingMessage


@dataclass(frozen=True)
class Contact:
    """One message of one step: its channel, and the fallback for when that cannot reach.

    `variant`: the template variant (A/B/n) of the step this account got, when the step has
    variants; `template` is then that variant's template, on the channel and the fallback."""

    step: str
    channel: Channel
    template: str
    fallback: Channel | None = None
    deadline_days: int | None = None
    details: dict[str, Any] = field(default_factory=dict)  # promise / installment figures
    variant: str | None = None


def step_contact(step: Step, account: AccountInput) -> Contact:
    """The contact of a ladder step for this account. A step with variants sends the one the
    account is assigned: a hash of (ladder, step, account), so a replay sends the same."""
    assert step.channel is not None
    if step.variants is None:
        assert step.template is not None
        return Contact(step.id, step.channel, step.template, step.fallback, step.deadline_days)
    variant = variant_for(account.ladder.name, step, account.account_id)
    assert variant is not None
    return Contact(
        step.id, step.channel, variant, step.fallback, step.deadline_days, variant=variant
    )


def pending_contact(message: PendingMessage) -> Contact:
    return Contact(
        message.step, message.channel, message.template, details=message.message_details()
    )


@dataclass(frozen=True)
class SendSteps:
    """The ladder steps due on one ladder day, sent one after the other (the handoff, if among
    them, is always the last)."""

    steps: tuple[str, ...]


@dataclass(frozen=True)
class SendPending:
    """A message outside the ladder (broken promise, missed installment), due at once."""

    step: str


@dataclass(frozen=True)
class SendReminder:
    """A promise or installment reminder, at a moment already inside a window."""

    contact: Contact


@dataclass(frozen=True)
class GiveUp:
    """A contact whose provider stayed unavailable until its bound (the next step's moment, a
    promise's or installment's date): recorded as suppressed (`provider_unavailable`), and the
    account moves on. Needs no window: nothing is sent."""

    contact: Contact


TimerKind = Literal["hold_ended", "promise_due", "installment_due", "ladder_exhausted"]


@dataclass(frozen=True)
class Fire:
    """A deadline passes (end of hold, promise or installment due): the state changes, nothing
    is sent by it directly."""

    kind: TimerKind
    number: int | None = None


@dataclass(frozen=True)
class Action:
    at: datetime
    label: str
    do: SendSteps | SendPending | SendReminder | Fire | GiveUp
    needs_window: bool = True
    ladder_day: int | None = None  # not before this ladder day begins locally (see clock)
    # A contact being retried: if its window opens only at or after this moment, do not send;
    # plan again at this moment instead (the model then gives the contact up).
    not_after: datetime | None = None
