"""What a contact attempt does to the state: sent, suppressed, deferred, or the provider
unavailable.

`settle` records the outcome of one channel and says what comes next: done, the fallback
channel, or another try later. Nothing is ever dropped silently: every contact ends `sent` or
`suppressed` with its reason, and every try that did not send is an event (`send_failed`,
`send_deferred`). How long a contact keeps being tried is `outage.bound`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from config.compliance import rule_for_reason
from config.ladder import Channel
from workflows.account import clock, compliance, deadlines, outage
from workflows.account.actions import Contact, pending_contact, step_contact
from workflows.account.contact_policy import calls_in_period
from workflows.types import (
    AccountInput,
    AccountState,
    ContactRecord,
    ErrorType,
    EventRecord,
    SuppressReason,
)

SEND_FAILED = "send_failed"
SEND_DEFERRED = "send_deferred"


@dataclass(frozen=True)
class Sent:
    sent_at: datetime  # when the provider accepted it
    locale: str
    message_id: str
    deadline: date | None = None
    confirmed: bool = True  # False: treated as sent, the provider's acceptance unconfirmed
    content: str | None = None  # the rendered message's sha256 in the audit store
    validation_notice: bool = False  # it carried the us validation notice
    validation_period_ends: date | None = None


@dataclass(frozen=True)
class NotSent:
    """Suppressed before or by the send: a policy verdict, an unusable address, a template."""

    reason: str
    unusable: bool = False  # the channel stays unusable for this account from now on


@dataclass(frozen=True)
class Unavailable:
    """The provider could not take the message within the activity's retries (an outage)."""


@dataclass(frozen=True)
class Deferred:
    """The contact window the send was planned in closed before the provider took the message
    (a slow provider, a long queue): nothing was sent. The same send, with the same key, goes at
    the next window from `not_before` (the window's end); the send round is not used up."""

    not_before: datetime | None = None


Outcome = Sent | NotSent | Unavailable | Deferred


@dataclass(frozen=True)
class Next:
    kind: Literal["done", "fallback", "retry_later"]
    channel: Channel | None = None  # for "fallback"


DONE = Next("done")
RETRY_LATER = Next("retry_later")

# Activity error types that make a channel unusable for the account from now on.
UNUSABLE = {
    ErrorType.UNDELIVERABLE: SuppressReason.UNDELIVERABLE,
    ErrorType.OPTED_OUT: SuppressReason.OPTED_OUT,
}


def not_sent(
    error_type: str | None, window_end: datetime | None = None
) -> NotSent | Unavailable | Deferred:
    """A failed send activity, by its error type: an unusable address or channel, a template
    that does not render, the window closed first, or (anything else) the provider
    unavailable."""
    if error_type in UNUSABLE:
        return NotSent(UNUSABLE[error_type], unusable=True)
    if error_type == ErrorType.TEMPLATE:
        return NotSent(SuppressReason.TEMPLATE_ERROR)
    if error_type == ErrorType.NOT_LIMITED_CONTENT:
        return NotSent(SuppressReason.NOT_LIMITED_CONTENT)
    if error_type == ErrorType.OUTSIDE_WINDOW:
        return Deferred(window_end)
    return Unavailable()


def _deferred_until(account: AccountInput, deferred: Deferred, now: datetime) -> datetime:
    """Not before the end of the window the send was refused after. Without an end (the
    activity found no window open at the planned moment although the workflow's look-up did:
    tz or holiday data upgraded between the two), one send round's spacing later, so a
    disagreement costs a few rounds until the contact's bound, never a tight loop."""
    if deferred.not_before is None:
        return now + timedelta(minutes=account.ladder.send_rounds.spacing_minutes)
    return max(now, deferred.not_before)


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
    send_faults: bool = True,
) -> tuple[AccountState, Next]:
    """Record one channel's outcome; the state passed in is never changed.

    `send_faults=False` keeps the rules of accounts started before issue 10 (a deferral counts
    as a failed round; after the rounds and one try of the fallback, `send_failed`)."""
    state = state.model_copy(deep=True)
    if isinstance(outcome, Deferred) and not send_faults:
        outcome = Unavailable()
    if isinstance(outcome, Sent):
        _record_sent(state, contact, channel, outcome, workflow_id, fallback_for)
        return _done(state, contact, send_faults)
    if isinstance(outcome, Deferred):
        detail = {"step": contact.step, "channel": channel.value}
        state.events.append(EventRecord(at=now, type=SEND_DEFERRED, detail=detail))
        not_before = _deferred_until(account, outcome, now)
        outage.keep_trying(state, contact.step, channel, now, not_before)
        return state, RETRY_LATER
    if isinstance(outcome, NotSent):
        if outcome.unusable:
            state.unusable_channels[channel.value] = outcome.reason
        reason = outcome.reason
    elif send_faults:
        return _unavailable(state, account, contact, channel, now, fallback_for)
    else:
        rounds = state.send_rounds.get(contact.step, 0) + 1
        state.send_rounds[contact.step] = rounds
        state.events.append(EventRecord(at=now, type=SEND_FAILED, detail={"step": contact.step}))
        if rounds < account.ladder.send_rounds.rounds:
            spacing = timedelta(minutes=account.ladder.send_rounds.spacing_minutes)
            state.retry_not_before = now + spacing
            return state, RETRY_LATER
        reason = SEND_FAILED
        if not fallback_after_rounds:
            record_suppressed(state, contact, channel, reason, now, fallback_for)
            return state, DONE
    record_suppressed(state, contact, channel, reason, now, fallback_for)
    if contact.fallback is not None and fallback_for is None:
        return state, Next("fallback", contact.fallback)
    return _done(state, contact, send_faults)


def _unavailable(
    state: AccountState,
    account: AccountInput,
    contact: Contact,
    channel: Channel,
    now: datetime,
    fallback_for: Channel | None,
) -> tuple[AccountState, Next]:
    """A round the provider could not take. The primary gets the ladder's send rounds, then
    the fallback (if any) is tried at once; while the provider stays unavailable more rounds
    follow at the same spacing, on the fallback when there is one, until the contact's bound:
    then it is suppressed, `provider_unavailable`. No round is planned at or past the bound."""
    step = contact.step
    rounds = state.send_rounds.get(step, 0) + 1
    state.send_rounds[step] = rounds
    state.events.append(
        EventRecord(at=now, type=SEND_FAILED, detail={"step": step, "channel": channel.value})
    )
    entry = state.retrying.get(step)
    limit = outage.bound(state, account, step, entry.since if entry else now)
    next_round = now + timedelta(minutes=account.ladder.send_rounds.spacing_minutes)
    fallback_left = fallback_for is None and contact.fallback is not None
    if next_round < limit and (rounds < account.ladder.send_rounds.rounds or not fallback_left):
        outage.keep_trying(state, step, channel, now, next_round)
        return state, RETRY_LATER
    if fallback_left:
        record_suppressed(state, contact, channel, SEND_FAILED, now)
        if entry is None:
            outage.keep_trying(state, step, channel, now, now)  # the bound counts from here
        return state, Next("fallback", contact.fallback)
    record_suppressed(
        state, contact, channel, SuppressReason.PROVIDER_UNAVAILABLE, now, fallback_for
    )
    return _done(state, contact, True)


def _done(state: AccountState, contact: Contact, send_faults: bool) -> tuple[AccountState, Next]:
    if send_faults:
        outage.finished(state, contact.step)
    return state, DONE


def give_up(
    state: AccountState, account: AccountInput, contact: Contact, now: datetime
) -> AccountState:
    """The contact's bound has come with its provider still unavailable: suppressed
    (`provider_unavailable`) on the channel it had reached, and the account moves past it (a
    ladder step is done, a pending message dropped, a reminder marked as sent)."""
    state = state.model_copy(deep=True)
    channel, fallback_for = outage.resume(state, contact)
    record_suppressed(
        state, contact, channel, SuppressReason.PROVIDER_UNAVAILABLE, now, fallback_for
    )
    outage.finished(state, contact.step)
    steps = account.ladder.steps
    if state.next_step_index < len(steps) and steps[state.next_step_index].id == contact.step:
        state.next_step_index += 1
        return state
    if any(message.step == contact.step for message in state.pending):
        return deadlines.pending_sent(state, contact.step, now)
    return deadlines.reminder_sent(state, contact.step)


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
    compliance.count_sent(state, channel, sent.sent_at)
    if sent.validation_notice:
        compliance.notice_sent(state, sent.sent_at, sent.validation_period_ends)
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
            confirmed=sent.confirmed,
            content=sent.content,
            validation_notice=sent.validation_notice,
            variant=contact.variant,
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
            rule=rule_for_reason(str(reason)),
            variant=contact.variant,
        )
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
        outage.finished(state, contact.step)
        if compliance.is_verification(contact.step):
            compliance.verification_done(state, contact.step, False, now)
        return state
    for step in clock.due_group(account.ladder.steps, state.next_step_index):
        if step.is_handoff and keep_handoff:
            break
        contact = (
            step_contact(step, account)
            if not step.is_handoff
            else Contact(step.id, Channel.LETTER, "")
        )
        record_suppressed(state, contact, contact.channel, SuppressReason.NO_CONTACT_WINDOW, now)
        outage.finished(state, contact.step)
        state.next_step_index += 1
    return state
