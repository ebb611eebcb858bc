"""The uk breathing space (the Debt Respite Scheme, SI 2020/1311) as events.

`breathing_space` holds the account for its days (60 for a standard one): no contact of any
kind (the contact policy suppresses it, reason `breathing_space`), the ladder clock stopped, a
promise or plan in force cancelled (their reminders would be contact). It ends on its own
(the hold's timer: `breathing_space_ended`) or by `breathing_space_end`. A payment is still
taken; a promise, plan, hold or resume is refused while it runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from config.compliance import RuleId, citation
from workflows.account import compliance
from workflows.account import transitions as t
from workflows.account.answers import Answer, refused
from workflows.account.events import BreathingSpace, BreathingSpaceEnd
from workflows.types import AccountInput, AccountState, Status


def refusal(state: AccountState, now: datetime) -> Answer | None:
    """Why a promise, plan, hold or resume is refused (None: it is not)."""
    until = state.breathing_space_until
    if until is not None and now < until:
        return refused(f"a breathing space runs until {until.date().isoformat()}")
    return None


def start(
    state: AccountState, account: AccountInput, event: BreathingSpace, now: datetime, _: object
) -> Answer:
    if not compliance.enforces(state, account, RuleId.BREATHING_SPACE):
        return refused(
            f"a breathing space is a uk rule ({citation(RuleId.BREATHING_SPACE)}); this "
            f"account's profile is {account.ladder.jurisdiction.value}"
        )
    if compliance.in_breathing_space(state, now):
        return refused("a breathing space is already running")
    until = now + timedelta(days=event.days)
    t.cancel_arrangements(state, now)
    state.pending = [m for m in state.pending if compliance.is_verification(m.step)]
    state.breathing_space_until = until
    t.forget_reminders(state)
    if state.status != Status.DISPUTED:
        state.hold_until = until
        t.pause(state, now, Status.HELD)
    return Answer(detail={"until": until.isoformat()})


def end(
    state: AccountState, account: AccountInput, event: BreathingSpaceEnd, now: datetime, _: object
) -> Answer:
    if not compliance.in_breathing_space(state, now):
        return refused("no breathing space is running")
    state.breathing_space_until = None
    if state.status == Status.HELD:
        state.hold_until = None
        t.resume_ladder(state, now)
    return Answer()


def expire(state: AccountState, now: datetime) -> None:
    """A breathing space whose end has passed before its timer fired (an event came first):
    it ends now, so the timer does not report it later. Changes `state` in place."""
    until = state.breathing_space_until
    if until is not None and now >= until:
        state.breathing_space_until = None
        t.milestone(state, now, "breathing_space_ended")
        if state.status == Status.HELD and state.hold_until == until:
            state.hold_until = None
            t.resume_ladder(state, now)


def ended(state: AccountState, now: datetime) -> bool:
    """The hold's timer fired at the end of a breathing space: record it and resume. Changes
    `state` in place; False when the hold was an ordinary one."""
    if state.breathing_space_until is None:
        return False
    state.breathing_space_until = None
    state.hold_until = None
    t.milestone(state, now, "breathing_space_ended")
    t.resume_ladder(state, now)
    return True
