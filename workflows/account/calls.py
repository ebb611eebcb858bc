"""The activities the account workflow calls, each with its options, in one place.

The workflow file says *when* each runs; this module says *how*: which timeouts and retries,
local or not, and how an activity's failure becomes something the account model understands
(`contacts.not_sent`, no window). Changing an option here changes the command Temporal records,
so it goes behind a patch like any other change of the command sequence.

The close of an account is recorded in the store's registry so its workflow id is never used
again (Temporal forgets a closed workflow after retention; intake/start.py asks the registry).
Accounts on the current rules record it with a local activity: one marker in history instead of
an activity's three events and the workflow task after them. A local activity retried for long
costs history (each backoff past a minute is a timer and a workflow task), so it gets two
minutes; when the store is down longer, a regular activity takes over and retries for free.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import MetricCounter
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.account import contacts, metrics
from workflows.activity_errors import error_type, window_end
from workflows.activity_options import (
    LOOKUP_RETRY,
    SEND_HEARTBEAT,
    SEND_RETRY,
    SEND_SCHEDULE_TO_CLOSE,
    SEND_START_TO_CLOSE,
    WINDOW_LOOKUP_TIMEOUT,
)
from workflows.activity_types import (
    AuditBatch,
    ClosedAccount,
    HandoffRequest,
    ReplyClassification,
    ReplyRequest,
    ScheduleAnswer,
    ScheduleRequest,
    SendReceipt,
    SendRequest,
    WindowRequest,
)
from workflows.types import AccountState, ErrorType

CLOSE_LOCAL_ATTEMPT = timedelta(seconds=30)
CLOSE_LOCAL_BUDGET = timedelta(minutes=2)
AUDIT_BUDGET = timedelta(minutes=10)


class AuditNotWritten(Exception):
    """The window look-up could not write the audit records it carried (the store is down)."""


async def next_open_moment(request: WindowRequest) -> datetime | None:
    """The next open contact window at or after the request's moment; None when there is none
    (the debtor's zones never share one)."""
    try:
        return await workflow.execute_local_activity(
            "next_contact_time",
            request,
            result_type=datetime,
            start_to_close_timeout=WINDOW_LOOKUP_TIMEOUT,
        )
    except (ActivityError, ApplicationError) as err:
        if error_type(err) == ErrorType.AUDIT_UNAVAILABLE:
            raise AuditNotWritten from None
        if error_type(err) != ErrorType.NO_CONTACT_WINDOW:
            raise
    return None


async def next_open_moment_writing(request: WindowRequest) -> tuple[datetime | None, bool]:
    """`next_open_moment`, writing the audit records the request carries first; when the
    store could not take them, looked up again without them. (moment, records written)."""
    try:
        return await next_open_moment(request), request.audit is not None
    except AuditNotWritten:
        return await next_open_moment(request.model_copy(update={"audit": None})), False


async def send_message(request: SendRequest, summary: str) -> contacts.Outcome:
    try:
        receipt = await workflow.execute_activity(
            "send_message",
            request,
            result_type=SendReceipt,
            start_to_close_timeout=SEND_START_TO_CLOSE,
            schedule_to_close_timeout=SEND_SCHEDULE_TO_CLOSE,
            heartbeat_timeout=SEND_HEARTBEAT,
            retry_policy=SEND_RETRY,
            summary=summary,
        )
    except ActivityError as err:
        if error_type(err) == ErrorType.TEMPLATE:
            workflow.logger.error("%s: %s", summary, err.cause)
        return contacts.not_sent(error_type(err), window_end(err))
    return contacts.Sent(
        receipt.sent_at,
        receipt.locale,
        receipt.message_id,
        receipt.deadline,
        receipt.confirmed,
        receipt.content,
        receipt.validation_notice,
        receipt.validation_period_ends,
    )


async def export_handoff(request: HandoffRequest) -> str:
    return await workflow.execute_activity(
        "export_handoff",
        request,
        result_type=str,
        start_to_close_timeout=timedelta(minutes=1),
        summary="export for the agency",
    )


async def schedule_dates(request: ScheduleRequest) -> ScheduleAnswer:
    return await workflow.execute_local_activity(
        "schedule_dates",
        request,
        result_type=ScheduleAnswer,
        start_to_close_timeout=WINDOW_LOOKUP_TIMEOUT,
        retry_policy=LOOKUP_RETRY,
    )


async def classify_reply(request: ReplyRequest) -> ReplyClassification:
    return await workflow.execute_activity(
        "classify_reply",
        request,
        result_type=ReplyClassification,
        start_to_close_timeout=timedelta(seconds=30),
        summary="classify a reply",
    )


async def record_account_closed(request: ClosedAccount, *, local_first: bool) -> None:
    await _record("record_account_closed", request, "record the account closed", local_first)


async def record_audit(batch: AuditBatch, *, patient: bool = False) -> bool:
    """Append the workflow's audit records (issue 12) with a local activity (two minutes at
    most). False when the store is down: the records stay in the state for the next write, so
    a contact or a handler's answer waits at most that long. `patient` (the last write, before
    the workflow completes): then an activity for AUDIT_BUDGET; the caller tries again after."""
    try:
        if patient:
            await _record("record_audit", batch, "write the audit records", True, AUDIT_BUDGET)
        else:
            await _local("record_audit", batch)
    except (ActivityError, ApplicationError):
        workflow.logger.warning("the audit store is unavailable; the records are kept")
        return False
    return True


async def _record(
    name: str,
    request: object,
    summary: str,
    local_first: bool,
    bounded: timedelta | None = None,
) -> None:
    if local_first:
        try:
            await _local(name, request)
            return
        except (ActivityError, ApplicationError):  # as next_open_moment: either may arrive
            workflow.logger.warning("%s: failed locally; retrying as an activity", name)
    await workflow.execute_activity(
        name,
        request,
        start_to_close_timeout=timedelta(minutes=1),
        schedule_to_close_timeout=bounded,
        summary=summary,
    )


async def _local(name: str, request: object) -> None:
    """A record written by a local activity: one marker in history, two minutes at most."""
    await workflow.execute_local_activity(
        name,
        request,
        start_to_close_timeout=CLOSE_LOCAL_ATTEMPT,
        schedule_to_close_timeout=CLOSE_LOCAL_BUDGET,
    )


class Metrics:
    """The account's counters on the workflow's metric meter (`README`, "Metrics").

    Emitting a metric is not a command: nothing is recorded in history, and the meter drops
    every count while the workflow replays, so a replayed task counts nothing twice.
    """

    def __init__(self, state: AccountState) -> None:
        self._tally = metrics.Tally(state)
        self._counters: dict[str, MetricCounter] = {}

    def count_new_records(self, state: AccountState) -> None:
        """Count the contacts and events `state` gained since the last call."""
        self._add(self._tally.new(state))

    def count_duplicate(self, event_type: str) -> None:
        self._add({metrics.duplicate_count(event_type): 1})

    def _add(self, counts: Mapping[metrics.Count, int]) -> None:
        for count, value in sorted(counts.items()):
            counter = self._counters.get(count.name)
            if counter is None:
                counter = workflow.metric_meter().create_counter(
                    count.name, metrics.DESCRIPTIONS[count.name]
                )
                self._counters[count.name] = counter
            counter.add(value, count.attributes)
