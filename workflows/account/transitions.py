"""The state changes that events, deadlines and sends share: pause, resume, close, milestones.

Each takes the state (already a private copy: see `apply` and `fire`) and `now`, and changes it
in place.
"""

from __future__ import annotations

from datetime import datetime

from workflows.account import clock
from workflows.types import AccountInput, AccountState, EventRecord, Status

# While paused the ladder stops counting days (paused days never count toward ladder days).
PAUSED = (Status.PROMISED, Status.PLAN, Status.HELD, Status.DISPUTED)


def milestone(state: AccountState, now: datetime, kind: str, **detail: str) -> None:
    state.events.append(EventRecord(at=now, type=kind, detail=detail))


def pause(state: AccountState, now: datetime, status: Status) -> None:
    if state.paused_since is None:
        state.paused_since = now
    state.status = status


def end_pause(state: AccountState, now: datetime) -> None:
    if state.paused_since is not None:
        paused = now - state.paused_since
        state.paused_seconds += max(0, int(paused.total_seconds()))
        state.paused_since = None


def resume_ladder(state: AccountState, now: datetime) -> None:
    end_pause(state, now)
    state.status = Status.CEASED if state.contact_ceased else Status.ACTIVE
    forget_reminders(state)


def cancel_arrangements(state: AccountState, now: datetime) -> None:
    """A dispute or a breathing space cancels a running promise or plan (recorded)."""
    if state.promise is not None:
        milestone(state, now, "promise_cancelled")
        state.promise = None
    if state.plan is not None:
        milestone(state, now, "plan_cancelled")
        state.plan = None


def forget_reminders(state: AccountState) -> None:
    """A promise or plan that ended takes its reminders with it: one that was still being
    retried (an outage) is no longer due, so it leaves `retrying` (and the retry time with
    it, once nothing else is retrying). Its broken or missed message, if any, is pending and
    stays."""
    due = _reminders_still_due(state)
    for step in [s for s in state.retrying if _is_reminder(s) and s not in due]:
        del state.retrying[step]
    if not state.retrying:
        state.retry_not_before = None


def _is_reminder(step: str) -> bool:
    return step.startswith(("promise-", "plan-")) and step.endswith("-reminder")


def _reminders_still_due(state: AccountState) -> set[str]:
    due = set()
    if state.promise is not None:
        due.add(f"promise-{state.promise.number}-reminder")
    if state.plan is not None:
        plan = state.plan
        due |= {
            f"plan-{plan.number}-installment-{i.number}-reminder"
            for i in plan.installments
            if i.outcome == "pending"
        }
    return due


def close(state: AccountState, now: datetime, status: Status) -> None:
    end_pause(state, now)
    state.status = status
    state.promise = None
    state.plan = None
    state.pending = []
    state.hold_until = None
    state.closed_at = now
    state.next_contact_at = None
    state.retrying = {}
    state.retry_not_before = None


def opening_state(account: AccountInput, now: datetime) -> AccountState:
    """A new account's state: its balance, and where it enters the ladder. An account that
    starts past some steps gets only the latest of them (and those sharing its day), never a
    burst of old steps."""
    state = AccountState(balance=account.balance, started_at=now)
    current_day = clock.ladder_day(account.due_at, now, 0, None)
    state.skipped_steps, state.next_step_index = clock.late_entry(account.ladder.steps, current_day)
    return state
