"""`next_action(state, account, now)`: what the account does next, from the state alone.

Order: a message already due (broken promise, missed installment), then the pause in force
(hold, promise, plan), then the ladder. A disputed account waits for `dispute_resolved` (ops
must answer it); every other open account always has an action with a time.
"""

from __future__ import annotations

from datetime import datetime

from workflows.account import clock, compliance, outage
from workflows.account.actions import (
    Action,
    Contact,
    Fire,
    GiveUp,
    SendPending,
    SendReminder,
    SendSteps,
    pending_contact,
    step_contact,
)
from workflows.types import AccountInput, AccountState, Installment, Status


def next_action(
    state: AccountState,
    account: AccountInput,
    now: datetime,
    *,
    legacy: bool = False,
    send_faults: bool = True,
) -> Action | None:
    """None for a closed account or a disputed one (which waits for its resolution); the
    property tests check that no other state ever answers None. `send_faults=False` for
    accounts started before issue 10's rules (a late reminder then went without a window)."""
    if state.status.is_final:
        return None
    if state.status == Status.DISPUTED and not compliance.waiting_for_verification(state):
        return None
    if state.pending:
        message = state.pending[0]
        action = _not_before_retry(state, Action(now, message.step, SendPending(message.step)))
        return _retrying(state, account, action, pending_contact(message), now)
    if state.status == Status.HELD and state.hold_until is not None:
        return Action(state.hold_until, "end of hold", Fire("hold_ended"), needs_window=False)
    if state.promise is not None:
        return _promise_action(state, account, now, send_faults)
    if state.plan is not None:
        installment = pending_installment(state)
        # A plan always has an installment pending (it ends when none is left; see deadlines).
        if installment is None:
            return None
        if legacy:
            return _installment_action(state, account, installment)
        return _plan_action(state, account, installment, now, send_faults)
    steps = clock.due_group(account.ladder.steps, state.next_step_index)
    if not steps:
        if legacy:
            return None  # before the account model, an exhausted ladder waited for events
        return Action(now, "ladder exhausted", Fire("ladder_exhausted"), needs_window=False)
    earliest = clock.step_moment(account.due_at, steps[0].day, state.paused_seconds)
    action = Action(
        max(now, earliest),
        steps[0].id,
        SendSteps(tuple(step.id for step in steps)),
        needs_window=not all(step.is_handoff for step in steps),
        ladder_day=steps[0].day,
    )
    action = _not_before_retry(state, action)
    if steps[0].is_handoff:
        return action
    return _retrying(state, account, action, step_contact(steps[0], account), now)


def _not_before_retry(state: AccountState, action: Action) -> Action:
    """A send round that failed is not tried again before its spacing has passed. (Under the
    send-faults rules the retry time is the retrying contact's alone: see `_retrying`.)"""
    retry = state.retry_not_before
    if state.retrying:
        return action
    if retry is not None and action.needs_window and retry > action.at:
        return Action(retry, action.label, action.do, action.needs_window, action.ladder_day)
    return action


def _retrying(
    state: AccountState, account: AccountInput, action: Action, contact: Contact, now: datetime
) -> Action:
    """A contact being tried again (`state.retrying`): at the next window from its retry time,
    never at or past its bound; once the bound has come, it is given up (see `outage`)."""
    bound = outage.bound_of(state, account, contact.step)
    if bound is None:
        return action
    if now >= bound:
        return Action(now, action.label, GiveUp(contact), needs_window=False)
    retry = state.retry_not_before
    at = max(action.at, retry) if retry is not None else action.at
    return Action(at, action.label, action.do, True, action.ladder_day, not_after=bound)


def pending_installment(state: AccountState) -> Installment | None:
    if state.plan is None:
        return None
    return next((i for i in state.plan.installments if i.outcome == "pending"), None)


def _promise_action(
    state: AccountState, account: AccountInput, now: datetime, send_faults: bool
) -> Action:
    promise = state.promise
    assert promise is not None
    reminder = account.ladder.promise.reminder
    if reminder and promise.reminder_at is not None and not promise.reminder_sent:
        contact = Contact(
            step=f"promise-{promise.number}-reminder",
            channel=reminder.channel,
            template=reminder.template,
            details={"promise_amount": promise.amount, "promise_date": promise.date},
        )
        # The reminder moment already is an open window (the schedule look-up chose it).
        action = Action(
            promise.reminder_at, "promise reminder", SendReminder(contact), needs_window=False
        )
        return _reminder(state, account, action, now, send_faults)
    return Action(promise.due_by, "promise due", Fire("promise_due"), needs_window=False)


def installment_details(state: AccountState, installment: Installment) -> dict[str, object]:
    assert state.plan is not None
    return {
        "installment_amount": installment.amount,
        "installment_date": installment.date,
        "installment_number": installment.number,
        "installment_count": len(state.plan.installments),
    }


def _plan_action(
    state: AccountState,
    account: AccountInput,
    first: Installment,
    now: datetime,
    send_faults: bool,
) -> Action:
    """The earliest of: the first pending installment falling due, and the reminder of any
    pending installment (a later installment's reminder may come before an earlier one's
    deadline, which runs on through its grace days)."""
    due = _installment_action(state, account, first, remind=False)
    if account.ladder.plan.reminder is None:
        return due
    reminders = [
        _reminder(
            state, account, _installment_action(state, account, installment), now, send_faults
        )
        for installment in state.plan.installments  # type: ignore[union-attr]
        if installment.outcome == "pending"
        and installment.reminder_at is not None
        and not installment.reminder_sent
    ]
    # A reminder given up at its bound (the installment's deadline) goes before that deadline.
    given_up = [action for action in reminders if isinstance(action.do, GiveUp)]
    if given_up:
        return given_up[0]
    return min([*reminders, due], key=lambda action: action.at)


def _reminder(
    state: AccountState, account: AccountInput, action: Action, now: datetime, send_faults: bool
) -> Action:
    """A reminder goes at the moment the schedule look-up chose in an open window. Once that
    moment has passed (the account was busy: another contact's send rounds, a deferral), it
    goes at the next open window from now, like any contact: never late and outside hours."""
    if not isinstance(action.do, SendReminder):
        return action
    retried = _retrying(state, account, action, action.do.contact, now)
    if retried is not action or not send_faults or action.at >= now:
        return retried
    return Action(now, action.label, action.do, needs_window=True)


def _installment_action(
    state: AccountState, account: AccountInput, installment: Installment, *, remind: bool = True
) -> Action:
    plan = state.plan
    assert plan is not None
    reminder = account.ladder.plan.reminder
    if (
        remind
        and reminder
        and installment.reminder_at is not None
        and not installment.reminder_sent
    ):
        contact = Contact(
            step=f"plan-{plan.number}-installment-{installment.number}-reminder",
            channel=reminder.channel,
            template=reminder.template,
            details=installment_details(state, installment),
        )
        return Action(
            installment.reminder_at,
            f"installment {installment.number} reminder",
            SendReminder(contact),
            needs_window=False,
        )
    return Action(
        installment.due_by,
        f"installment {installment.number} due",
        Fire("installment_due", installment.number),
        needs_window=False,
    )
