"""The `housekeeping` activity: keep the shared store small, and say what looks stuck.

Run by the `Housekeeping` workflow on a Temporal Schedule (`connection/schedules.py`), not by
cron: one schedule for every worker, visible and pausable in the Temporal UI, never two runs at
once (overlap policy skip), and a missed run is simply the next one.

What one run does, every step idempotent (a retry or an overlapping manual run is harmless):

1. Prune what only matters for a while: settled send-ledger rows, voicemail call scripts and
   SendGrid `processed` events older than `store_retention_days`.
2. Report claims pending or in doubt for longer than `stuck_claim_minutes`: a worker died
   mid-send and nothing has retried since, or reconciliation keeps failing. One WARNING per
   claim with its idempotency key, channel, state and age — never an address or a name.
3. Record closed accounts the store's registry does not know yet. Accounts that closed before
   the workflow recorded its own close exist only in Temporal, and only until the namespace's
   retention deletes them; after that their id could be imported again. So each run lists
   closed `DunningAccount` workflows through visibility and records the missing ones, at most
   `backfill_limit` per run (the report says when more remain).

The activity is bound to a `Store` and a way to get a Temporal client, as `AccountActivities`
is bound to its transport; a worker registers what `housekeeping_activities` returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus

from config.settings import Settings
from store.protocols import Store
from workflows.search_attributes import STATUS
from workflows.types import WORKFLOW_ID_PREFIX

HOUSEKEEPING_ACTIVITY = "housekeeping"
# Closed account runs, newest first. A run that continued as new is not a close: the same id
# goes on running in its next run.
CLOSED_ACCOUNTS_QUERY = (
    'WorkflowType="DunningAccount" AND ExecutionStatus!="Running" '
    'AND ExecutionStatus!="ContinuedAsNew"'
)
BACKFILL_LIMIT = 500
HEARTBEAT_EVERY = 200  # listed workflows between heartbeats

ClientFactory = Callable[[], Awaitable[Client]]


class StuckClaim(BaseModel):
    """A send claimed long ago and still not settled (no contact data)."""

    idempotency_key: str
    channel: str
    state: str
    age_minutes: int


class HousekeepingReport(BaseModel):
    """What one run did: counts, and the keys of claims that look stuck."""

    ran_at: datetime
    retention_days: int
    pruned_ledger: int = 0
    pruned_call_scripts: int = 0
    pruned_email_events: int = 0
    stuck_after_minutes: int
    stuck: list[StuckClaim] = Field(default_factory=list)
    closed_listed: int = 0  # closed account workflows Temporal still knows
    closed_recorded: int = 0  # of those, newly recorded in the registry by this run
    closed_more: bool = False  # the per-run bound was reached: the next run records more

    @property
    def stuck_keys(self) -> list[str]:
        return [claim.idempotency_key for claim in self.stuck]


def fixed_client(client: Client) -> ClientFactory:
    """A factory for a client the caller already has (the worker's own)."""

    async def factory() -> Client:
        return client

    return factory


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class HousekeepingActivities:
    """Bound to one store and one Temporal client factory; a worker registers the method."""

    store: Store
    client_factory: ClientFactory
    retention: timedelta
    stuck_after: timedelta
    backfill_limit: int = BACKFILL_LIMIT
    clock: Callable[[], datetime] = field(default=utc_now)

    @activity.defn(name=HOUSEKEEPING_ACTIVITY)
    async def housekeeping(self) -> HousekeepingReport:
        now = self.clock()
        cutoff = now - self.retention
        report = HousekeepingReport(
            ran_at=now,
            retention_days=self.retention.days,
            stuck_after_minutes=int(self.stuck_after.total_seconds() // 60),
            # The store's methods are short blocking transactions: off the event loop.
            pruned_ledger=await asyncio.to_thread(self.store.ledger.prune, cutoff),
            pruned_call_scripts=await asyncio.to_thread(self.store.call_scripts.prune, cutoff),
            pruned_email_events=await asyncio.to_thread(self.store.email_events.prune, cutoff),
        )
        for entry in await asyncio.to_thread(self.store.ledger.stuck, now - self.stuck_after):
            age = int((now - entry.claimed_at).total_seconds() // 60)
            activity.logger.warning(
                "stuck send claim %s: channel %s, %s for %d minutes",
                entry.key,
                entry.channel,
                entry.state,
                age,
            )
            report.stuck.append(
                StuckClaim(
                    idempotency_key=entry.key,
                    channel=entry.channel,
                    state=entry.state,
                    age_minutes=age,
                )
            )
        await self._record_closed_accounts(report)
        activity.logger.info(
            "housekeeping: pruned %d ledger rows, %d call scripts, %d SendGrid events; "
            "%d stuck claims; %d closed accounts recorded",
            report.pruned_ledger,
            report.pruned_call_scripts,
            report.pruned_email_events,
            len(report.stuck),
            report.closed_recorded,
        )
        return report

    async def _record_closed_accounts(self, report: HousekeepingReport) -> None:
        """Record, up to the bound, closed account workflows the registry lacks."""
        client = await self.client_factory()
        async for execution in client.list_workflows(CLOSED_ACCOUNTS_QUERY):
            report.closed_listed += 1
            if report.closed_listed % HEARTBEAT_EVERY == 0:
                activity.heartbeat(report.closed_listed)
            if await asyncio.to_thread(self._record_if_missing, execution):
                report.closed_recorded += 1
                if report.closed_recorded >= self.backfill_limit:
                    report.closed_more = True
                    return

    def _record_if_missing(self, execution: WorkflowExecution) -> bool:
        """True when the close was not recorded and now is."""
        registry = self.store.accounts
        record = registry.get(execution.id)
        if record is not None and record.closed_at is not None:
            return False
        closed_at = execution.close_time or execution.start_time
        if record is None:  # started before the registry existed: keep its account id too
            account_id = execution.id.removeprefix(WORKFLOW_ID_PREFIX)
            registry.record_started(execution.id, account_id, execution.start_time)
        registry.record_closed(execution.id, closed_status(execution), closed_at)
        return True


def closed_status(execution: WorkflowExecution) -> str:
    """The account's final status (its `DunningStatus`) for a run that completed; how the run
    ended (`terminated`, `failed`, `timed_out`, `canceled`) for any other."""
    if execution.status == WorkflowExecutionStatus.COMPLETED:
        return execution.typed_search_attributes.get(STATUS) or "closed"
    if execution.status is None:
        return "closed"
    return execution.status.name.lower()


def housekeeping_activities(
    store: Store, settings: Settings, client: Client | ClientFactory
) -> list[Callable[..., Awaitable[HousekeepingReport]]]:
    """What a worker registers for the `Housekeeping` workflow (with `HOUSEKEEPING_WORKFLOWS`
    from `workflows/housekeeping_workflow.py`)."""
    factory = fixed_client(client) if isinstance(client, Client) else client
    bound = HousekeepingActivities(
        store=store,
        client_factory=factory,
        retention=timedelta(days=settings.store_retention_days),
        stuck_after=timedelta(minutes=settings.stuck_claim_minutes),
    )
    return [bound.housekeeping]
