"""Start account workflows: one per account, never two for the same account, ever.

Two guards, because each alone has a gap:
- `id_reuse_policy=REJECT_DUPLICATE` refuses a second start while Temporal still knows the
  first run, even after it closed, so re-importing a file never restarts dunning on an account
  that was paid or handed off. But Temporal forgets a closed workflow once the namespace's
  retention has passed, and then it would accept the id again.
- The store's account registry (`store.protocols.AccountRegistry`) remembers every workflow id
  beyond that retention. An id recorded as closed is refused before Temporal is asked; any
  other id is recorded as started, then started. The record comes first so that no workflow
  runs without one: a start that fails after it (Temporal unreachable) leaves a record that is
  not closed, and the next import starts the id again, since Temporal does not know it.

`dunning simulate` and the tests pass no registry: a simulation is an isolated run on its own
server and must not mark real ids as used.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from store.protocols import AccountRecord, AccountRegistry
from workflows import search_attributes as sa
from workflows.account_workflow import AccountWorkflow
from workflows.types import AccountInput, workflow_id_for

ALREADY_STARTED = "already started (nothing duplicated)"


@dataclass(frozen=True)
class StartOutcome:
    account_id: str
    started: bool
    reason: str | None = None
    # True when the id was refused for good (closed before: never reused); False for a start
    # or an account that is already running, which a second import may safely meet.
    refused: bool = False


def closed_reason(record: AccountRecord) -> str:
    """The per-row message for an id the registry records as closed."""
    assert record.closed_at is not None
    day = record.closed_at.astimezone(UTC).date().isoformat()
    return (
        f"closed on {day} as {record.status or 'closed'}; the workflow id "
        f"{record.workflow_id} is never reused"
    )


async def start_account(
    client: Client,
    account: AccountInput,
    task_queue: str,
    contact_keys: list[str] | None = None,
    *,
    registry: AccountRegistry | None = None,
    now: datetime | None = None,
) -> StartOutcome:
    """Start the workflow; `contact_keys` (intake/contact_keys.py) let webhooks find it.

    With a `registry`, an id recorded as closed is refused (nothing started) and a new id is
    recorded (started at `now`, default the wall clock) before it is started.
    """
    workflow_id = workflow_id_for(account.account_id)
    if registry is not None:
        record = await asyncio.to_thread(registry.get, workflow_id)
        if record is not None and record.closed_at is not None:
            return StartOutcome(account.account_id, False, closed_reason(record), refused=True)
        if record is None:
            await asyncio.to_thread(
                registry.record_started,
                workflow_id,
                account.account_id,
                now or datetime.now(UTC),
            )
    try:
        await client.start_workflow(
            AccountWorkflow.run,
            account,
            id=workflow_id,
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
        return StartOutcome(account.account_id, False, ALREADY_STARTED)
    return StartOutcome(account.account_id, True)
