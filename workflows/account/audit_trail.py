"""The account workflow's writes of its audit trail (issue 12), and its counters beside them.

Apart from the shell (`workflows/account_workflow.py`) so the shell reads as the ladder it
runs. Both follow what the state recorded: the audit trail writes the records not yet in the
audit store, the counters (`README`, "Metrics") count those not yet counted, and both happen
where the workflow is about to wait, so a task's records are counted in that task.

The shell is passed, not its state: a handler replaces `shell.state` while a write awaits its
activity, and a write is marked on the state as it is after the await.
"""

from __future__ import annotations

from typing import Protocol

from temporalio import workflow

from workflows.account import audit, calls
from workflows.account.publishing import Publisher
from workflows.types import AccountInput, AccountState


class Shell(Protocol):
    state: AccountState
    input: AccountInput


async def flush(shell: Shell, metrics: calls.Metrics, *, patient: bool = False) -> bool:
    """Count the new records, then write those not yet in the audit store (one local activity,
    only when there are some). Events applied meanwhile stay for the next flush."""
    metrics.count_new_records(shell.state)
    pending = audit.batch(shell.state, shell.input, workflow.info().workflow_id)
    if pending is None:
        return True
    request, done = pending
    if not await calls.record_audit(request, patient=patient):
        return False  # they stay for the next flush
    audit.written(shell.state, done)
    return True


async def continue_as_new(shell: Shell, metrics: calls.Metrics, publisher: Publisher) -> None:
    """Records not written yet travel in the state; only written ones are trimmed. Everything
    is counted first: the next run counts only what it records itself."""
    if shell.state.compliance:
        audit.continued(shell.state, workflow.now())
        await flush(shell, metrics)
    await workflow.wait_condition(workflow.all_handlers_finished)
    metrics.count_new_records(shell.state)
    audit.trimmed(shell.state)
    publisher.flush()
    workflow.continue_as_new(shell.input.model_copy(update={"state": shell.state}))


async def complete(shell: Shell, metrics: calls.Metrics, publisher: Publisher) -> None:
    """Before the run completes: every record written (a handler's, or the store was down),
    every handler finished."""
    while not (await flush(shell, metrics, patient=True) and workflow.all_handlers_finished()):
        await workflow.wait_condition(workflow.all_handlers_finished)
    publisher.flush()
