"""`apply(state, account, event, now, schedule) -> (state, Answer)`: what an event does.

Every event gets an answer: accepted, or refused with a reason (a refused event changes
nothing). Business errors are refusals, never exceptions. Promises and plans name local dates,
which only an activity can turn into instants (tz data): `needs_schedule` says which dates to
look up, and `apply` takes the answer.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from workflows.account import compliance, respite
from workflows.account import transitions as t
from workflows.account.answers import Answer, refused
from workflows.account.events import (
    Bankruptcy,
    BreathingSpace,
    BreathingSpaceEnd,
    Cease,
    Conversation,
    Deceased,
    DeliveryFailed,
    Dispute,
    DisputeResolved,
    Event,
    Hold,
    OptOut,
    Payment,
    Plan,
    Promise,
    Reply,
    Resume,
)
from workflows.activity_types import DateSpec, ScheduleAnswer
from workflows.types import (
    AccountInput,
    AccountState,
    Installment,
    PlanState,
    PromiseState,
    Status,
    SuppressReason,
)

__all__ = ["Answer", "ScheduleNeeded", "apply", "needs_schedule", "refused"]


@dataclass(frozen=True)
class ScheduleNeeded:
    """Local dates to turn into deadlines and reminder moments (the `schedule_dates` look-up)."""

    items: list[DateSpec]
    grace_days: int
    days_before: int | None


def needs_schedule(
    state: AccountState, account: AccountInput, event: Event, now: datetime
) -> Answer | ScheduleNeeded | None:
    """Before any look-up: a refusal, the dates to look up, or None (apply at once)."""
    if state.status.is_final:
        return refused(f"account is closed ({state.status.value})")
    if isinstance(event, Promise | Plan | Hold | Resume):
        in_respite = respite.refusal(state, now)
        if in_respite is not None:
            return in_respite
    if isinstance(event, Promise):
        return _promise_precheck(state, account, event)
    if isinstance(event, Plan):
        return _plan_precheck(state, account, event)
    return None


def apply(
    state: AccountState,
    account: AccountInput,
    event: Event,
    now: datetime,
    schedule: ScheduleAnswer | None = None,
) -> tuple[AccountState, Answer]:
    """The new state and the answer. The state passed in is never changed."""
    before = needs_schedule(state, account, event, now)
    if isinstance(before, Answer):
        return state, before
    if isinstance(before, ScheduleNeeded) and schedule is None:
        raise ValueError(f"{event.type} needs its dates scheduled first")
    new = state.model_copy(deep=True)
    respite.expire(new, now)
    answer = _HANDLERS[type(event)](new, account, event, now, schedule)
    return (new, answer) if answer.accepted else (state, answer)


# ---- money ----------------------------------------------------------------------------------


def _payment(
    state: AccountState, account: AccountInput, event: Payment, now: datetime, _: object
) -> Answer:
    amount = event.amount
    if amount <= 0:
        return refused("amount must be greater than 0")
    detail: dict[str, str] = {}
    if amount > state.balance:
        detail["overpaid"] = str(amount - state.balance)
    remaining = state.balance - amount
    # Never below zero, in the balance's own precision ("0.00", not "0").
    state.balance = remaining if remaining >= 0 else Decimal(0).quantize(state.balance)
    if state.promise is not None:
        state.promise.paid += amount
    if state.plan is not None:
        state.plan.paid += amount
    if state.promise is not None and state.promise.paid >= state.promise.amount:
        t.milestone(state, now, "promise_kept", paid=str(state.promise.paid))
        state.promise = None
        t.resume_ladder(state, now)
    if state.plan is not None:
        _credit_installments(state, now)
    if state.balance <= account.ladder.min_balance:
        t.close(state, now, Status.PAID)
    return Answer(detail=detail)


def _credit_installments(state: AccountState, now: datetime) -> None:
    plan = state.plan
    assert plan is not None
    due = Decimal(0)
    for installment in plan.installments:
        due += installment.amount
        if installment.outcome == "pending" and plan.paid >= due:
            installment.outcome = "kept"
            t.milestone(state, now, "installment_kept", number=str(installment.number))
    if all(installment.outcome != "pending" for installment in plan.installments):
        state.plan = None
        t.milestone(state, now, "plan_completed")
        t.resume_ladder(state, now)


# ---- promises and plans ----------------------------------------------------------------------


def _promise_amount(state: AccountState, event: Promise) -> Decimal:
    return event.amount if event.amount is not None else state.balance


def _promise_precheck(
    state: AccountState, account: AccountInput, event: Promise
) -> Answer | ScheduleNeeded:
    if state.status == Status.DISPUTED:
        return refused("the account is disputed")
    if state.plan is not None:
        return refused("a payment plan is running")
    amount = _promise_amount(state, event)
    if amount <= 0:
        return refused("amount must be greater than 0")
    if amount > state.balance:
        return refused(f"amount {amount} is more than the balance {state.balance}")
    policy = account.ladder.promise
    return ScheduleNeeded(
        [DateSpec(date=event.date, due_in_days=event.due_in_days)],
        policy.grace_days,
        policy.reminder.days_before if policy.reminder else None,
    )


def _promise(
    state: AccountState,
    account: AccountInput,
    event: Promise,
    now: datetime,
    schedule: ScheduleAnswer | None,
) -> Answer:
    assert schedule is not None
    policy = account.ladder.promise
    when = schedule.items[0]
    if when.date < schedule.today:
        return refused(f"the date {when.date} is in the past")
    if (when.date - schedule.today).days > policy.max_days:
        return refused(f"the date {when.date} is more than {policy.max_days} days away")
    amount = _promise_amount(state, event)
    if state.status == Status.HELD:
        state.hold_until = None
    state.promises += 1
    state.promise = PromiseState(
        number=state.promises,
        amount=amount,
        date=when.date,
        due_by=when.due_by,
        reminder_at=when.reminder_at,
    )
    t.pause(state, now, Status.PROMISED)
    return Answer(detail={"date": when.date.isoformat(), "amount": str(amount)})


def _plan_precheck(
    state: AccountState, account: AccountInput, event: Plan
) -> Answer | ScheduleNeeded:
    policy = account.ladder.plan
    specs = event.installments
    if state.status == Status.DISPUTED:
        return refused("the account is disputed")
    if not specs:
        return refused("a plan needs at least one installment")
    if len(specs) > policy.max_installments:
        return refused(f"more than {policy.max_installments} installments")
    if any(spec.amount <= 0 for spec in specs):
        return refused("every installment must be greater than 0")
    total = sum((spec.amount for spec in specs), Decimal(0))
    if total < state.balance:
        return refused(f"the installments sum to {total}, below the balance {state.balance}")
    return ScheduleNeeded(
        [DateSpec(date=spec.date, due_in_days=spec.due_in_days) for spec in specs],
        policy.grace_days,
        policy.reminder.days_before if policy.reminder else None,
    )


def _plan(
    state: AccountState,
    account: AccountInput,
    event: Plan,
    now: datetime,
    schedule: ScheduleAnswer | None,
) -> Answer:
    assert schedule is not None
    dates = [item.date for item in schedule.items]
    if dates[0] < schedule.today:
        return refused(f"the first installment date {dates[0]} is in the past")
    if any(later <= earlier for earlier, later in itertools.pairwise(dates)):
        return refused("installment dates must be in increasing order")
    if state.promise is not None:
        t.milestone(state, now, "promise_replaced")
        state.promise = None
    state.hold_until = None
    state.plans += 1
    state.plan = PlanState(
        number=state.plans,
        installments=[
            Installment(
                number=index,
                amount=spec.amount,
                date=item.date,
                due_by=item.due_by,
                reminder_at=item.reminder_at,
            )
            for index, (spec, item) in enumerate(
                zip(event.installments, schedule.items, strict=True), 1
            )
        ],
    )
    t.pause(state, now, Status.PLAN)
    total = sum((spec.amount for spec in event.installments), Decimal(0))
    return Answer(detail={"installments": str(len(event.installments)), "total": str(total)})


# ---- disputes, opt-outs, closing -------------------------------------------------------------


def _dispute(
    state: AccountState, account: AccountInput, event: Dispute, now: datetime, _: object
) -> Answer:
    if state.status == Status.DISPUTED:
        return refused("already disputed")
    t.cancel_arrangements(state, now)
    state.pending = []
    state.hold_until = None
    t.pause(state, now, Status.DISPUTED)
    return Answer(
        detail={
            "reason": event.reason or "",
            **compliance.dispute_opened(state, account, now, event.received_on),
        }
    )


def _dispute_resolved(
    state: AccountState, account: AccountInput, event: DisputeResolved, now: datetime, _: object
) -> Answer:
    if state.status != Status.DISPUTED:
        return refused("the account is not disputed")
    if event.outcome == "upheld":
        t.close(state, now, Status.CLOSED)
    elif state.verification_owed:
        why = compliance.queue_verification(state, account)
        if why is not None:
            return refused(why)
        return Answer(detail={"outcome": event.outcome, "verification": "queued"})
    else:
        compliance.resume(state, now)
    return Answer(detail={"outcome": event.outcome})


def _opt_out(
    state: AccountState, account: AccountInput, event: OptOut, now: datetime, _: object
) -> Answer:
    state.unusable_channels[event.channel.value] = SuppressReason.OPTED_OUT
    return Answer()


def _delivery_failed(
    state: AccountState, account: AccountInput, event: DeliveryFailed, now: datetime, _: object
) -> Answer:
    state.unusable_channels.setdefault(event.channel.value, SuppressReason.UNDELIVERABLE)
    return Answer(detail={"code": event.code or ""})


def _conversation(
    state: AccountState, account: AccountInput, event: Conversation, now: datetime, _: object
) -> Answer:
    """A person answered one of our calls: no further call for 7 days."""
    state.last_conversation_at = now
    return Answer()


def _cease(
    state: AccountState, account: AccountInput, event: Cease, now: datetime, _: object
) -> Answer:
    if state.contact_ceased:
        return refused("contact has already ceased")
    state.contact_ceased = True
    compliance.dropped(state, now)
    state.pending = []
    if state.status == Status.ACTIVE:
        state.status = Status.CEASED
    return Answer()


def _closes(
    state: AccountState, account: AccountInput, event: Event, now: datetime, _: object
) -> Answer:
    t.close(state, now, Status.CLOSED)
    return Answer()


# ---- ops holds -------------------------------------------------------------------------------


def _hold(
    state: AccountState, account: AccountInput, event: Hold, now: datetime, _: object
) -> Answer:
    if event.days < 1:
        return refused("days must be at least 1")
    if state.status not in (Status.ACTIVE, Status.CEASED):
        return refused(f"cannot hold an account that is {state.status.value}")
    state.hold_until = now + timedelta(days=event.days)
    t.pause(state, now, Status.HELD)
    return Answer(detail={"until": state.hold_until.isoformat()})


def _resume(
    state: AccountState, account: AccountInput, event: Resume, now: datetime, _: object
) -> Answer:
    if state.status != Status.HELD:
        return refused("the account is not on hold")
    state.hold_until = None
    t.resume_ladder(state, now)
    return Answer()


def _reply(
    state: AccountState, account: AccountInput, event: Reply, now: datetime, _: object
) -> Answer:
    raise ValueError("a reply is classified first; apply the event it means (see replies)")


_HANDLERS = {
    Payment: _payment,
    Promise: _promise,
    Plan: _plan,
    Dispute: _dispute,
    DisputeResolved: _dispute_resolved,
    OptOut: _opt_out,
    DeliveryFailed: _delivery_failed,
    Conversation: _conversation,
    Cease: _cease,
    Bankruptcy: _closes,
    Deceased: _closes,
    Hold: _hold,
    Resume: _resume,
    Reply: _reply,
    BreathingSpace: respite.start,
    BreathingSpaceEnd: respite.end,
}
