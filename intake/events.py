"""Send an event to an account's workflow and read the answer: the one way in for the CLI,
`dunning simulate` and (later) the webhook server.

An event goes as a Temporal update, so the caller learns at once whether it was accepted. A
malformed event is rejected by the update's validator (nothing recorded); an account that has
completed answers "closed"; an unknown account "no such account".
"""

from __future__ import annotations

import uuid

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from workflows.account_workflow import AccountWorkflow
from workflows.types import AccountEvent, EventResult, Status, workflow_id_for


class EventNotDelivered(Exception):
    """The event could not be put to the account (unknown account, malformed event)."""


async def send_event(client: Client, account_id: str, event: AccountEvent) -> EventResult:
    if event.event_id is None:
        event = event.model_copy(update={"event_id": f"{event.source}-{uuid.uuid4().hex}"})
    handle = client.get_workflow_handle_for(AccountWorkflow.run, workflow_id_for(account_id))
    try:
        return await handle.execute_update(AccountWorkflow.apply_event, event)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        raise EventNotDelivered(getattr(cause, "message", None) or str(cause)) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            if "completed" in exc.message or "closed" in exc.message:
                return EventResult(accepted=False, reason="account is closed", status=Status.CLOSED)
            raise EventNotDelivered(f"no account {account_id}") from None
        raise
