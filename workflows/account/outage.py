"""A contact that could not go out yet: how long it keeps being tried, on which channel, and
what giving it up records.

A contact is *retrying* (`state.retrying[step]`) from its first round the provider could not
take (`Unavailable`) or its first send the window closed on (`Deferred`) until it ends sent or
suppressed. While retrying it continues on the channel it reached (its fallback, once the
primary's rounds are used up) and never past its **bound**:

- a ladder step: the moment the next later step of the ladder is due (`clock.step_moment`),
  so an outage never makes one step run into the next; the last step (nothing after it): a
  week after its first failure (`LAST_RESORT`);
- a promise or installment reminder: the promise's or installment's deadline (its date plus
  grace, end of day), when the deadline fires anyway and a reminder has no use;
- a pending message (broken promise, missed installment): the next ladder step's moment, but
  never before its configured send rounds have had their time (the next step may already be
  overdue when the ladder resumes); a week when the ladder has nothing left.

At the bound the contact is recorded as suppressed, `provider_unavailable`, and the account
moves on (`give_up`). Every function returns a new state; none changes the one it is given.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from config.ladder import Channel
from workflows.account import clock
from workflows.account.actions import Contact
from workflows.types import AccountInput, AccountState, RetryingSend

LAST_RESORT = timedelta(days=7)


def bound(state: AccountState, account: AccountInput, step: str, since: datetime) -> datetime:
    """The moment a contact retrying since `since` is given up (see the module's docstring)."""
    promise, plan = state.promise, state.plan
    if promise is not None and step == f"promise-{promise.number}-reminder":
        return promise.due_by
    if plan is not None:
        for installment in plan.installments:
            if step == f"plan-{plan.number}-installment-{installment.number}-reminder":
                return installment.due_by
    steps = account.ladder.steps
    index = next((i for i, s in enumerate(steps) if s.id == step), None)
    if index is not None:
        later = next((s for s in steps[index:] if s.day > steps[index].day), None)
        if later is None:
            return since + LAST_RESORT
        return clock.step_moment(account.due_at, later.day, state.paused_seconds)
    rounds = account.ladder.send_rounds
    configured = since + rounds.rounds * timedelta(minutes=rounds.spacing_minutes)
    group = clock.due_group(steps, state.next_step_index)
    if not group:
        return max(configured, since + LAST_RESORT)
    return max(configured, clock.step_moment(account.due_at, group[0].day, state.paused_seconds))


def bound_of(state: AccountState, account: AccountInput, step: str) -> datetime | None:
    """The bound of a retrying contact; None when the contact is not retrying."""
    entry = state.retrying.get(step)
    return None if entry is None else bound(state, account, step, entry.since)


def resume(state: AccountState, contact: Contact) -> tuple[Channel, Channel | None]:
    """The channel a contact (re)starts on, and the channel it stands in for as a fallback."""
    entry = state.retrying.get(contact.step)
    if entry is None or entry.channel == contact.channel:
        return contact.channel, None
    return entry.channel, contact.channel


def keep_trying(
    state: AccountState, step: str, channel: Channel, now: datetime, not_before: datetime
) -> None:
    """Changes `state` in place: the contact continues on `channel`, not before `not_before`."""
    entry = state.retrying.get(step)
    since = entry.since if entry is not None else now
    state.retrying[step] = RetryingSend(channel=channel, since=since)
    state.retry_not_before = not_before


def finished(state: AccountState, step: str) -> None:
    """Changes `state` in place: the contact ended (sent or suppressed)."""
    if state.retrying.pop(step, None) is not None and not state.retrying:
        state.retry_not_before = None
