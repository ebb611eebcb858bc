"""Start account workflows: one per account, never two for the same account.

`id_reuse_policy=REJECT_DUPLICATE` refuses a second start even after the first has closed, so
re-importing a file never restarts dunning on an account that was paid or handed off.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows import search_attributes as sa
from workflows.account_workflow import AccountWorkflow
from workflows.types import AccountInput, workflow_id_for


@dataclass(frozen=True)
class StartOutcome:
    account_id: str
    started: bool
    reason: str | None = None


async def start_account(
    client: Client,
    account: AccountInput,
    task_queue: str,
    contact_keys: list[str] | None = None,
) -> StartOutcome:
    """Start the workflow; `contact_keys` (intake/contact_keys.py) let webhooks find it."""
    try:
        await client.start_workflow(
            AccountWorkflow.run,
            account,
            id=workflow_id_for(account.account_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=sa.initial(account.ladder.name, contact_keys)
            if account.search_attributes
            else None,
            static_summary=(
                f"Account {account.account_id} · ladder {account.ladder.name} "
                f"v{account.ladder.version}"
            ),
        )
    except WorkflowAlreadyStartedError:
        return StartOutcome(account.account_id, False, "already started (nothing duplicated)")
    return StartOutcome(account.account_id, True)
