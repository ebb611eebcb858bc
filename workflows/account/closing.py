"""Record a closed account in the store's registry, so its workflow id is never used again.

Temporal forgets a closed workflow after the namespace's retention; the registry does not
(intake/start.py refuses an id it records as closed). Accounts run by the current rules record
it with a local activity: one marker in history instead of an activity's three events and the
workflow task after them. A local activity retried for long costs history (each backoff past a
minute is a timer and a workflow task), so it gets two minutes; when the store is down longer,
a regular activity takes over and retries for free until it is back.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.activity_types import ClosedAccount

ACTIVITY = "record_account_closed"
LOCAL_ATTEMPT = timedelta(seconds=30)
LOCAL_BUDGET = timedelta(minutes=2)


async def record_closed(request: ClosedAccount, *, local_first: bool) -> None:
    if local_first:
        try:
            await workflow.execute_local_activity(
                ACTIVITY,
                request,
                start_to_close_timeout=LOCAL_ATTEMPT,
                schedule_to_close_timeout=LOCAL_BUDGET,
            )
            return
        except ActivityError:
            workflow.logger.warning("recording the close locally failed; retrying as an activity")
    await workflow.execute_activity(
        ACTIVITY,
        request,
        start_to_close_timeout=timedelta(minutes=1),
        summary="record the account closed",
    )
