"""Ladder-day arithmetic, pure and deterministic (safe inside workflow code).

The *ladder day* is the number of days since the account fell due, not counting paused days.
It is measured from `due_at`, the instant the due date began in the debtor's zone, which intake
computes once with the tz database so that the workflow never needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from config.ladder import Step

DAY = timedelta(days=1)


def paused_total(paused_seconds: int, paused_since: datetime | None, now: datetime) -> timedelta:
    """Paused time so far, including a pause still running."""
    total = timedelta(seconds=paused_seconds)
    if paused_since is not None and now > paused_since:
        total += now - paused_since
    return total


def ladder_day(
    due_at: datetime, now: datetime, paused_seconds: int, paused_since: datetime | None
) -> float:
    return (now - due_at - paused_total(paused_seconds, paused_since, now)) / DAY


def step_moment(due_at: datetime, day: int, paused_seconds: int) -> datetime:
    """When the ladder day reaches `day`, given the pauses so far (before the contact window)."""
    return due_at + day * DAY + timedelta(seconds=paused_seconds)


def late_entry(steps: Sequence[Step], current_day: float) -> tuple[list[str], int]:
    """An account that starts past some steps gets only the latest of them, never a burst.

    Returns the ids of the steps skipped and the index of the first step still to run (the first
    of the latest passed day, so every step sharing that day still goes out).
    """
    passed = [index for index, step in enumerate(steps) if step.day <= current_day]
    if not passed:
        return [], 0
    latest_day = steps[passed[-1]].day
    first = next(index for index in passed if steps[index].day == latest_day)
    return [step.id for step in steps[:first]], first


def due_group(steps: Sequence[Step], index: int) -> list[Step]:
    """The next step and every following step that shares its day."""
    if index >= len(steps):
        return []
    day = steps[index].day
    group = []
    for step in steps[index:]:
        if step.day != day:
            break
        group.append(step)
    return group
