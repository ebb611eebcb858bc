"""Send an event to an account's workflow and read the answer: the one way in for the CLI,
`dunning simulate` and the webhook server.

An event goes as a Temporal update, so the caller learns at once whether it was accepted. A
malformed event is rejected by the update's validator (nothing recorded); an account whose
workflow has completed answers "account is closed"; an unknown account "no such account".

Whether a workflow has completed is asked of Temporal (describe), not read from the wording of
its error: the dev server says "workflow execution already completed", the time-skipping test
server "update <id> not found", both with status NOT_FOUND, as for an unknown workflow id.
"""

from __future__ import annotations

import uuid

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from workflows.account_workflow import AccountWorkflow
from workflows.types import AccountEvent, AccountView, EventResult, Status, workflow_id_for

ACCOUNT_CLOSED = "account is closed"
# The failure Temporal gives an update that was accepted by a run which then completed before
# answering it (it reaches the caller as WorkflowUpdateFailedError).
UPDATE_OUTLIVED_RUN = "AcceptedUpdateCompletedWorkflow"
# An update that met a run in the middle of continue-as-new is sent again (the event id makes
# the repeat harmless); more than this many tries is a failure.
ATTEMPTS = 3


class EventNotDelivered(Exception):
    """The event could not be put to the account (unknown account, malformed event)."""


class AccountClosed(Exception):
    """The account's workflow has completed: nothing can record the event any more."""

    def __init__(self, status: Status) -> None:
        super().__init__(ACCOUNT_CLOSED)
        self.status = status

    @property
    def result(self) -> EventResult:
        return EventResult(accepted=False, reason=ACCOUNT_CLOSED, status=self.status)


async def send_event(client: Client, account_id: str, event: AccountEvent) -> EventResult:
    """The workflow's answer; a completed account's refusal ("account is closed") is built here,
    since no workflow is left to record it."""
    try:
        return await deliver_event(client, account_id, event)
    except AccountClosed as closed:
        return closed.result


async def deliver_event(client: Client, account_id: str, event: AccountEvent) -> EventResult:
    """Like send_event, but raises AccountClosed when the account's workflow has completed, for a
    caller that records that refusal itself (`dunning simulate`)."""
    if event.event_id is None:
        event = event.model_copy(update={"event_id": f"{event.source}-{uuid.uuid4().hex}"})
    handle = client.get_workflow_handle_for(AccountWorkflow.run, workflow_id_for(account_id))
    for _ in range(ATTEMPTS):
        try:
            return await handle.execute_update(AccountWorkflow.apply_event, event)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if not (isinstance(cause, ApplicationError) and cause.type == UPDATE_OUTLIVED_RUN):
                # The validator refused the event (malformed): nothing was recorded.
                raise EventNotDelivered(getattr(cause, "message", None) or str(cause)) from None
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        status = await _execution_status(client, handle.id)
        if status is None:
            raise EventNotDelivered(f"no account {account_id}")
        if status != WorkflowExecutionStatus.RUNNING:
            raise AccountClosed(await _final_status(handle, status))
        # Running after all (a continue-as-new in between): send the event again.
    raise EventNotDelivered(f"account {account_id} did not take the event; try again")


async def _execution_status(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    """The status of the account's latest run; None when there is no such workflow.

    The raw DescribeWorkflowExecution call rather than `handle.describe()`: that one also decodes
    the search attributes, which fails on the time-skipping test server's datetime values."""
    request = DescribeWorkflowExecutionRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
    )
    try:
        answer = await client.workflow_service.describe_workflow_execution(request, retry=True)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return WorkflowExecutionStatus(answer.workflow_execution_info.status)


async def _final_status(
    handle: WorkflowHandle[AccountWorkflow, AccountView], status: WorkflowExecutionStatus
) -> Status:
    """The account's last status, from the workflow's result (it returns its AccountView)."""
    if status == WorkflowExecutionStatus.COMPLETED:
        try:
            return (await handle.result()).status
        except (WorkflowFailureError, RPCError):
            pass
    return Status.CLOSED  # terminated, failed or timed out: closed by hand
