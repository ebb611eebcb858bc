"""The Temporal Schedule that runs housekeeping: created once, kept in line with the settings.

A Schedule rather than cron: it lives in Temporal beside the workflows it starts, so every
worker host shares one (no host-local crontab to keep in step), ops see, pause and trigger it
in the UI or with `temporal schedule`, and overlap policy *skip* guarantees that a slow run is
never joined by a second one.

`ensure_housekeeping_schedule` is idempotent, so `dunning dev`, `dunning housekeeping schedule`
and a deploy step may all call it: it creates the schedule, or brings an existing one's
interval, task queue and overlap policy in line with the settings and leaves everything else
alone — a schedule ops paused stays paused.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from config.settings import Settings
from workflows.housekeeping_workflow import HOUSEKEEPING_WORKFLOW, RUN_TIMEOUT

HOUSEKEEPING_SCHEDULE_ID = "dunning-housekeeping"
# Each run's workflow id is this plus the scheduled time (Temporal appends it).
HOUSEKEEPING_WORKFLOW_ID = "dunning-housekeeping"

ScheduleOutcome = Literal["created", "updated", "unchanged"]


def housekeeping_interval(settings: Settings) -> timedelta:
    # Whole seconds: the server keeps intervals at second precision, and a fraction would make
    # every comparison with the stored schedule differ.
    return timedelta(seconds=max(1, round(settings.housekeeping_every_hours * 3600)))


def housekeeping_schedule(settings: Settings) -> Schedule:
    """The schedule the settings ask for."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            HOUSEKEEPING_WORKFLOW,
            id=HOUSEKEEPING_WORKFLOW_ID,
            task_queue=settings.task_queue,
            # A run stuck beyond this is ended so the next one is not skipped forever.
            execution_timeout=RUN_TIMEOUT * 2,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=housekeeping_interval(settings))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


def _in_line(current: Schedule, wanted: Schedule) -> bool:
    action, wanted_action = current.action, wanted.action
    assert isinstance(wanted_action, ScheduleActionStartWorkflow)
    return (
        isinstance(action, ScheduleActionStartWorkflow)
        and action.workflow == wanted_action.workflow
        and action.task_queue == wanted_action.task_queue
        and [interval.every for interval in current.spec.intervals]
        == [interval.every for interval in wanted.spec.intervals]
        and not current.spec.calendars
        and not current.spec.cron_expressions
        and current.policy.overlap == wanted.policy.overlap
    )


async def ensure_housekeeping_schedule(client: Client, settings: Settings) -> ScheduleOutcome:
    """Create the `dunning-housekeeping` schedule, or update an existing one to the settings."""
    wanted = housekeeping_schedule(settings)
    try:
        await client.create_schedule(HOUSEKEEPING_SCHEDULE_ID, wanted)
        return "created"
    except ScheduleAlreadyRunningError:
        pass
    outcome: ScheduleOutcome = "unchanged"

    def update(described: ScheduleUpdateInput) -> ScheduleUpdate | None:
        nonlocal outcome
        current = described.description.schedule
        if _in_line(current, wanted):
            outcome = "unchanged"
            return None
        outcome = "updated"
        current.action = wanted.action
        current.spec = wanted.spec
        current.policy.overlap = wanted.policy.overlap
        return ScheduleUpdate(schedule=current)  # its state (paused, note) is kept

    await client.get_schedule_handle(HOUSEKEEPING_SCHEDULE_ID).update(update)
    return outcome
