"""What ops see: the status query's view, the Temporal UI's summary and search attributes."""

from __future__ import annotations

from datetime import datetime

from workflows.account import clock
from workflows.types import AccountInput, AccountState, AccountView


def ladder_day(state: AccountState, account: AccountInput, now: datetime) -> float:
    return clock.ladder_day(account.due_at, now, state.paused_seconds, state.paused_since)


def summary(
    state: AccountState, account: AccountInput, now: datetime, next_step: str | None
) -> str:
    """The workflow's current details in the Temporal UI (no personal data)."""
    details = f"{state.status.value}; ladder day {int(ladder_day(state, account, now))}"
    if next_step is not None and state.next_contact_at is not None:
        details += f"; next: {next_step} at {state.next_contact_at.isoformat(timespec='minutes')}"
    return details


def next_step(state: AccountState, account: AccountInput) -> str | None:
    """The id of the ladder step the account reaches next (None past the last one)."""
    steps = account.ladder.steps
    index = state.next_step_index
    return steps[index].id if index < len(steps) else None


def search_values(
    state: AccountState, account: AccountInput, now: datetime, *, with_step: bool = False
) -> dict[str, object]:
    """Status, ladder, next contact and days past due: what ops filter accounts by; with
    `with_step` (accounts run by the `ops-console` patch) also the next step, unset once the
    account is closed (a closed account has no next step, whatever its index says)."""
    values: dict[str, object] = {
        "status": state.status.value,
        "ladder": account.ladder.name,
        "next_contact": state.next_contact_at,
        "days_past_due": max(0, int(ladder_day(state, account, now))),
    }
    if with_step:
        values["step"] = None if state.status.is_final else next_step(state, account)
    return values


def account_view(
    state: AccountState, account: AccountInput, now: datetime, history_length: int
) -> AccountView:
    return AccountView(
        account_id=account.account_id,
        ladder_name=account.ladder.name,
        ladder_version=account.ladder.version,
        status=state.status,
        balance=state.balance,
        currency=account.currency,
        ladder_day=round(ladder_day(state, account, now), 4),
        due_at=account.due_at,
        zones=account.debtor.zones,
        locale=account.debtor.locale,
        next_contact_at=state.next_contact_at,
        next_step=next_step(state, account),
        contacts=state.contacts,
        events=state.events,
        skipped_steps=state.skipped_steps,
        unusable_channels=state.unusable_channels,
        promise=state.promise,
        plan=state.plan,
        hold_until=state.hold_until,
        history_length=history_length,
        runs=state.runs,
        as_of=now,
    )
