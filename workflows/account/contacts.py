"""What a contact attempt does to the state: sent, suppressed, or the provider unavailable.

`settle` records the outcome of one channel and says what comes next: done, the fallback
channel, or another send round later. Nothing is ever dropped silently: every attempt that
does not send is a `suppressed` contact with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from config.ladder import Channel, Step
from workflows.account import clock
from workflows.account.actions import Contact
from workflows.account.contact_policy import calls_in_period
from workflows.types import (
    AccountInput,
    AccountState,
    ContactRecord,
    ErrorType,
    EventRecord,
    PendingMessage,
    SuppressReason,
)

SEND_FAILED = "send_failed"


@dataclass(frozen=True)
class Sent:
    sent_at: datetime
    locale: str
    message_id: str
    deadline: date | None = None


@dataclass(frozen=True)
class NotSent:
    """Suppressed before or by the send: a policy verdict, an unusable address, a template."""

    reason: str
    unusable: bool = False  # the channel stays unusable for this account from now on


@dataclass(frozen=True)
class Unavailable:
    """The provider could not take the message within the activity's retries (an outage)."""


Outcome = Sent | NotSent | Unavailable


@dataclass(frozen=True)
class Next:
    kind: Literal["done", "fallback", "retry_later"]
    channel: Channel | None = None  # for "fallback"


DONE = Next("done")

# Activity error types that make a channel unusable for the account from now on.
UNUSABLE = {
    ErrorType.UNDELIVERABLE: SuppressReason.UNDELIVERABLE,
    ErrorType.OPTED_OUT: SuppressReason.OPTED_OUT,
}


def not_sent(error_type: str | None) -> NotSent | Unavailable:
    """A failed send activity, by its error type: an unusable address or channel, a template
    that does not render, or (anything else) the provider unavailable."""
    if error_type in UNUSABLE:
        return NotSent(UNUSABLE[error_type], unusable=True)
    if error_type == ErrorType.TEMPLATE:
        return NotSent(SuppressReason.TEMPLATE_ERROR)
    return Unavailable()


def idempotency_key(workflow_id: str, state: AccountState, step: str, channel: Channel) -> str:
    """Workflow id + step + channel + the step's send round: one key per (step, round), so a
    retried activity never sends twice and a new round is a new message."""
    send_round = state.send_rounds.get(step, 0) + 1
    return f"{workflow_id}/{step}/{channel.value}/{send_round}"


def settle(
    state: AccountState,
    account: AccountInput,
    contact: Contact,
    channel: Channel,
    outcome: Outcome,
    now: datetime,
    *,
    workflow_id: str,
    fallback_for: Channel | None = None,
    fallback_after_rounds: bool = True,
) -> tuple[AccountState, Next]:
    """Record one channel's outcome; the state passed in is never changed."""
    state = state.model_copy(deep=True)
    if isinstance(outcome, Sent):
        _record_sent(state, contact, channel, outcome, workflow_id, fallback_for)
        return state, DONE
    if isinstance(outcome, NotSent):
        if outcome.unusable:
            state.unusable_channels[channel.value] = outcome.reason
        reason = outcome.reason
    else:
        rounds = state.send_rounds.get(contact.step, 0) + 1
        state.send_rounds[contact.step] = rounds
        state.events.append(EventRecord(at=now, type=SEND_FAILED, detail={"step": contact.step}))
        if rounds < account.ladder.send_rounds.rounds:
            spacing = timedelta(minutes=account.ladder.send_rounds.spacing_minutes)
            state.retry_not_before = now + spacing
            return state, Next("retry_later")
        reason = SEND_FAILED
        if not fallback_after_rounds:
            record_suppressed(state, contact, channel, reason, now, fallback_for)
            return state, DONE
    record_suppressed(state, contact, channel, reason, now, fallback_for)
    if contact.fallback is not None and fallback_for is None:
        return state, Next("fallback", contact.fallback)
    return state, DONE


def _record_sent(
    state: AccountState,
    contact: Contact,
    channel: Channel,
    sent: Sent,
    workflow_id: str,
    fallback_for: Channel | None,
) -> None:
    if channel == Channel.VOICEMAIL:
        # Only the calls that count toward the cap are kept: the state stays small.
        state.call_attempts = [*calls_in_period(state, sent.sent_at), sent.sent_at]
    state.contacts.append(
        ContactRecord(
            at=sent.sent_at,
            step=contact.step,
            channel=channel,
            template=contact.template,
            outcome="sent",
            locale=sent.locale,
            message_id=sent.message_id,
            idempotency_key=idempotency_key(workflow_id, state, contact.step, channel),
            deadline=sent.deadline,
            fallback_for=fallback_for,
        )
    )


def record_suppressed(
    state: AccountState,
    contact: Contact,
    channel: Channel,
    reason: str,
    now: datetime,
    fallback_for: Channel | None = None,
) -> None:
    """Changes `state` in place (callers hold a private copy)."""
    state.contacts.append(
        ContactRecord(
            at=now,
            step=contact.step,
            channel=channel,
            template=contact.template,
            outcome="suppressed",
            reason=str(reason),
            fallback_for=fallback_for,
        )
    )


def step_contact(step: Step) -> Contact:
    assert step.channel is not None and step.template is not None
    return Contact(step.id, step.channel, step.template, step.fallback, step.deadline_days)


def pending_contact(message: PendingMessage) -> Contact:
    return Contact(
        message.step, message.channel, message.template, details=message.message_details()
    )


def no_window(
    state: AccountState,
    account: AccountInput,
    now: datetime,
    *,
    pending: bool,
    keep_handoff: bool = True,
) -> AccountState:
    """The debtor's zones never share an open window: the message due (the first pending one,
    or each contact step of the ladder day) is recorded as suppressed, never dropped, and the
    account moves past it. A handoff needs no window and still runs (`keep_handoff=False` only
    for accounts that ran before that was so: their handoff was suppressed too)."""
    state = state.model_copy(deep=True)
    if pending:
        message = state.pending.pop(0)
        contact = pending_contact(message)
        record_suppressed(state, contact, contact.channel, SuppressReason.NO_CONTACT_WINDOW, now)
        return state
    for step in clock.due_group(account.ladder.steps, state.next_step_index):
        if step.is_handoff and keep_handoff:
            break
        contact = (
            step_contact(step) if not step.is_handoff else Contact(step.id, Channel.LETTER, "")
        )
        record_suppressed(state, contact, contact.channel, SuppressReason.NO_CONTACT_WINDOW, now)
        state.next_step_index += 1
    return state
