"""The account's record of events: each event with its answer, before the milestones it
caused, and the answers remembered by `event_id` so a repeated event changes nothing."""

from __future__ import annotations

from datetime import datetime

from workflows.account.apply import Answer
from workflows.account.events import Event
from workflows.types import AccountEvent, AccountState, EventRecord, EventResult


def record_event(
    state: AccountState,
    event: Event | AccountEvent,
    answer: Answer,
    now: datetime,
    position: int,
) -> AccountState:
    """`position`: where the event began, so it stands before the milestones it caused."""
    state = state.model_copy(deep=True)
    _record(state, event, answer, now, position)
    return state


def _record(
    state: AccountState,
    event: Event | AccountEvent,
    answer: Answer,
    now: datetime,
    position: int,
) -> None:
    detail = dict(answer.detail)
    amount = getattr(event, "amount", None)
    channel = getattr(event, "channel", None)
    if amount is not None:
        detail.setdefault("amount", str(amount))
    if channel is not None:
        detail.setdefault("channel", channel.value)
    detail.setdefault("source", event.source)
    record = EventRecord(
        at=now,
        type=event.type,
        accepted=answer.accepted,
        reason=answer.reason,
        event_id=event.event_id,
        detail=detail,
    )
    # Never before a record already written to the audit store (the loop may have written a
    # milestone while this event's handler awaited an activity): it would never be written.
    state.events.insert(max(position, state.audited_events), record)


def first_answer(state: AccountState, event_id: str | None) -> EventResult | None:
    """The answer given the first time this event id was seen (a repeat changes nothing)."""
    if event_id is None or event_id not in state.seen_events:
        return None
    return state.seen_events[event_id].model_copy(update={"duplicate": True})


def answered(
    state: AccountState,
    event: AccountEvent,
    answer: Answer,
    now: datetime,
    position: int,
) -> tuple[AccountState, EventResult]:
    """Record an event with its answer (and remember it by id): the state and what the caller
    is told."""
    state = state.model_copy(deep=True)  # one copy for the record and the remembered answer
    _record(state, event, answer, now, position)
    result = EventResult(
        accepted=answer.accepted, reason=answer.reason, status=state.status, detail=answer.detail
    )
    if event.event_id:
        state.seen_events[event.event_id] = result
    return state, result
