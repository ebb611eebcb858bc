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


def close(state: AccountState, now: datetime, status: Status) -> None:
    end_pause(state, now)
    state.status = status
    state.promise = None
    state.plan = None
    state.pending = []
    state.hold_until = None
    state.closed_at = now
    state.next_contact_at = None


def opening_state(account: AccountInput, now: datetime) -> AccountState:
    """A new account's state: its balance, and where it enters the ladder. An account that
    starts past some steps gets only the latest of them (and those sharing its day), never a
    burst of old steps."""
    state = AccountState(balance=account.balance, started_at=now)
    current_day = clock.ladder_day(account.due_at, now, 0, None)
    state.skipped_steps, state.next_step_index = clock.late_entry(account.ladder.steps, current_day)
    return state
