"""What passing a deadline does: the end of a hold, a promise or installment due, the end of
the ladder, the handoff. Each returns a new state; the one passed in is never changed."""

from __future__ import annotations

from datetime import datetime

from config.ladder import MessageRef
from workflows.account import compliance, respite
from workflows.account import transitions as t
from workflows.account.actions import Fire
from workflows.account.next_action import installment_details, pending_installment
from workflows.types import AccountInput, AccountState, EventRecord, PendingMessage, Status


def fire(
    state: AccountState,
    account: AccountInput,
    timer: Fire,
    now: datetime,
    *,
    plan_ends_without_installments: bool = True,
) -> AccountState:
    state = state.model_copy(deep=True)
    if timer.kind == "hold_ended" and respite.ended(state, now):
        pass
    elif timer.kind == "hold_ended":
        state.hold_until = None
        t.milestone(state, now, "hold_ended")
        t.resume_ladder(state, now)
    elif timer.kind == "promise_due":
        _promise_broken(state, account, now)
    elif timer.kind == "installment_due":
        _installment_missed(state, account, now, plan_ends_without_installments)
    elif timer.kind == "ladder_exhausted":
        # Every step has run and the ladder has no handoff: nothing is left to do.
        t.milestone(state, now, "ladder_exhausted")
        t.close(state, now, Status.CLOSED)
    return state


def _promise_broken(state: AccountState, account: AccountInput, now: datetime) -> None:
    """Not paid by the date plus grace: the broken message goes out at the next open window
    and the ladder resumes where it paused."""
    promise = state.promise
    assert promise is not None
    state.promise = None
    t.milestone(state, now, "promise_broken", promised=str(promise.amount), paid=str(promise.paid))
    _pend(
        state,
        account.ladder.promise.broken,
        f"promise-{promise.number}-broken",
        promise_amount=promise.amount,
        promise_date=promise.date,
    )
    t.resume_ladder(state, now)


def _pend(state: AccountState, message: MessageRef | None, step: str, **details: object) -> None:
    """Queue the ladder's message (if it has one) for the next open window."""
    if message is not None:
        state.pending.append(
            PendingMessage(
                step=step,
                channel=message.channel,
                template=message.template,
                **details,  # type: ignore[arg-type]
            )
        )


def _installment_missed(
    state: AccountState, account: AccountInput, now: datetime, ends_when_none_left: bool
) -> None:
    """The `missed` message at the next open window; after `default_after_missed` misses, or
    when no installment is left to keep, the plan ends and the ladder resumes."""
    plan = state.plan
    installment = pending_installment(state)
    assert plan is not None and installment is not None
    installment.outcome = "missed"
    plan.missed += 1
    t.milestone(state, now, "installment_missed", number=str(installment.number))
    _pend(
        state,
        account.ladder.plan.missed,
        f"plan-{plan.number}-installment-{installment.number}-missed",
        **installment_details(state, installment),
    )
    none_left = pending_installment(state) is None
    if plan.missed >= account.ladder.plan.default_after_missed or (
        ends_when_none_left and none_left
    ):
        state.plan = None
        t.milestone(state, now, "plan_default", missed=str(plan.missed))
        t.resume_ladder(state, now)


def step_done(state: AccountState) -> AccountState:
    state = state.model_copy(deep=True)
    state.next_step_index += 1
    return state


def handed_off(
    state: AccountState, account: AccountInput, step: str, reference: str, now: datetime
) -> AccountState:
    state = state.model_copy(deep=True)
    state.handoff_reference = reference
    state.events.append(EventRecord(at=now, type="handoff", detail={"step": step}))
    state.next_step_index = len(account.ladder.steps)
    t.close(state, now, Status.HANDED_OFF)
    return state


def reminder_sent(state: AccountState, step: str) -> AccountState:
    """Mark the promise or installment reminder as sent (whatever its outcome: once only)."""
    state = state.model_copy(deep=True)
    if state.promise is not None and step == f"promise-{state.promise.number}-reminder":
        state.promise.reminder_sent = True
    if state.plan is not None:
        for installment in state.plan.installments:
            if step == f"plan-{state.plan.number}-installment-{installment.number}-reminder":
                installment.reminder_sent = True
    return state


def pending_sent(state: AccountState, step: str, now: datetime | None = None) -> AccountState:
    """The pending message went (or was suppressed): it leaves the queue. A dispute's
    verification letter also decides whether collection resumes (only once it was sent)."""
    state = state.model_copy(deep=True)
    state.pending = [message for message in state.pending if message.step != step]
    if now is not None and compliance.is_verification(step):
        sent = any(c.step == step and c.outcome == "sent" for c in state.contacts)
        compliance.verification_done(state, step, sent, now)
    return state
