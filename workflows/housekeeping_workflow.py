"""`Housekeeping`: the workflow a Temporal Schedule starts to run the `housekeeping` activity.

Why a workflow around a single activity: a Schedule starts workflows, not activities, and the
workflow gives each run a history (when it ran, what it reported, why it failed) in the
Temporal UI. Deterministic by construction: no clock, no I/O, one activity call whose retries
Temporal drives. Everything the run does is idempotent (see `activities/housekeeping.py`), so
a retry, a manual run beside a scheduled one, or a run after a skipped one is harmless.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.housekeeping import HOUSEKEEPING_ACTIVITY, HousekeepingReport

HOUSEKEEPING_WORKFLOW = "Housekeeping"
# Listing closed accounts pages through visibility; the activity heartbeats as it goes, so a
# worker that dies mid-run is noticed within the heartbeat timeout, not the whole hour.
RUN_TIMEOUT = timedelta(hours=1)
HEARTBEAT_TIMEOUT = timedelta(minutes=5)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=5,  # the next scheduled run tries again anyway
)


@workflow.defn(name=HOUSEKEEPING_WORKFLOW)
class HousekeepingWorkflow:
    """One housekeeping run; its result is the activity's report."""

    @workflow.run
    async def run(self) -> HousekeepingReport:
        return await workflow.execute_activity(
            HOUSEKEEPING_ACTIVITY,
            start_to_close_timeout=RUN_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RETRY,
            result_type=HousekeepingReport,
        )


# What a worker registers beside `AccountWorkflow` (with `housekeeping_activities(...)`).
HOUSEKEEPING_WORKFLOWS: list[type] = [HousekeepingWorkflow]
