"""Housekeeping on a Temporal Schedule, on the real dev server: the activity
(activities/housekeeping.py), its workflow, the schedule (connection/schedules.py) and the CLI.

The store is a real SQLite store; its clock is set back to make rows old. Closed accounts come
from a stand-in `DunningAccount` workflow that sets `DunningStatus` and completes (or is
terminated, or continues as new), so visibility lists them as the real one would be listed.
"""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from temporalio import workflow
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow, ScheduleOverlapPolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import cli.account_commands as account_commands
from activities.housekeeping import (
    HousekeepingActivities,
    HousekeepingReport,
    StuckClaim,
    fixed_client,
    housekeeping_activities,
)
from cli.housekeeping_commands import ensure_schedule, report_lines, run_once
from config.settings import Settings
from connection.schedules import HOUSEKEEPING_SCHEDULE_ID, ensure_housekeeping_schedule
from store import CallScript, ProcessedEmail, SqlStore, open_store
from workflows import search_attributes as sa
from workflows.housekeeping_workflow import HOUSEKEEPING_WORKFLOWS, HousekeepingWorkflow

NOW = datetime.now(UTC).replace(microsecond=0)
LONG_AGO = NOW - timedelta(days=120)  # beyond the default 90 days' retention
LATELY = NOW - timedelta(days=3)


@workflow.defn(name="DunningAccount")
class StandInAccount:
    """Closes as the real account workflow does, as far as visibility can tell."""

    @workflow.run
    async def run(self, how: str) -> dict:
        if how == "continue":
            workflow.continue_as_new("wait")
        if how == "wait":
            await workflow.wait_condition(lambda: False)
        workflow.upsert_search_attributes([sa.STATUS.value_set(how)])
        return {"status": how}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(settings: Settings, clock: Clock) -> Iterator[SqlStore]:
    with open_store(settings.store_url, clock=clock) as opened:
        yield opened


def seed(store: SqlStore, clock: Clock) -> None:
    """Old and recent rows of every kind the run prunes, and two claims open for a while."""
    clock.now = LONG_AGO
    store.ledger.claim("old/sent", "email", "sendgrid", "h")
    store.ledger.record_sent("old/sent", "m-1", sent_at=LONG_AGO)
    store.ledger.claim("dunning-A-1/sms-reminder/1", "sms", "twilio", "h")  # stuck, pending
    store.call_scripts.save(CallScript("t-old", "A-1", "k", "en", "en-US", "Polly.Joanna", "x"))
    clock.now = NOW - timedelta(hours=3)
    store.ledger.claim("dunning-A-2/courtesy-email/1", "email", "sendgrid", "h")
    store.ledger.mark_in_doubt("dunning-A-2/courtesy-email/1")  # stuck, in doubt
    clock.now = LATELY
    store.ledger.claim("new/sent", "email", "sendgrid", "h")
    store.ledger.record_sent("new/sent", "m-2", sent_at=LATELY)
    store.call_scripts.save(CallScript("t-new", "A-1", "k", "en", "en-US", "Polly.Joanna", "x"))
    clock.now = NOW
    store.ledger.claim("just/now", "sms", "twilio", "h")  # pending, but not for long
    for event_id, when in (("e-old", LONG_AGO), ("e-new", LATELY)):
        store.email_events.record_processed(ProcessedEmail(f"k-{event_id}", "sg", when, event_id))


async def close_accounts(client: Client, queue: str, **hows: str) -> None:
    """Run stand-in accounts (`dunning-<id>`) to their end, and wait until visibility lists
    every one that closed."""
    for account_id, how in hows.items():
        # One to terminate waits: otherwise a busy worker may complete it first and the
        # terminate finds it already completed.
        handle = await client.start_workflow(
            "DunningAccount",
            "wait" if how == "terminate" else how,
            id=f"dunning-{account_id}",
            task_queue=queue,
        )
        if how == "terminate":
            await handle.terminate("test")
        elif how != "continue":
            await handle.result()
    closed = len(hows)  # a run that continued as new is closed too (ContinuedAsNew)
    query = 'WorkflowType="DunningAccount" AND ExecutionStatus!="Running"'
    for _ in range(200):
        if (await client.count_workflows(query)).count >= closed:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("visibility never listed the closed accounts")


def workers(client: Client, settings: Settings, store: SqlStore, **bound) -> tuple[Worker, Worker]:
    """The housekeeping workflow (sandboxed, as on a real worker) and the stand-in accounts."""
    if bound:
        activities = [HousekeepingActivities(store=store, **bound).housekeeping]
    else:
        activities = housekeeping_activities(store, settings, client)
    return (
        Worker(
            client,
            task_queue=settings.task_queue,
            workflows=HOUSEKEEPING_WORKFLOWS,
            activities=activities,
        ),
        Worker(
            client,
            task_queue=f"{settings.task_queue}-accounts",
            workflows=[StandInAccount],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ),
    )


@pytest.fixture
def queued(settings: Settings) -> Settings:
    return settings.model_copy(update={"task_queue": f"hk-{uuid.uuid4().hex[:8]}"})


async def run_housekeeping(client: Client, settings: Settings) -> HousekeepingReport:
    return await client.execute_workflow(
        HousekeepingWorkflow.run, id=f"hk-{uuid.uuid4().hex[:8]}", task_queue=settings.task_queue
    )


async def test_a_run_prunes_old_rows_reports_stuck_claims_and_records_closed_accounts(
    dev_env, queued: Settings, store: SqlStore, clock: Clock, caplog: pytest.LogCaptureFixture
):
    client: Client = dev_env.client
    seed(store, clock)
    store.accounts.record_started("dunning-C-0", "C-0", LATELY)
    store.accounts.record_closed("dunning-C-0", "paid", LATELY)  # recorded by its workflow
    hk, accounts = workers(
        client,
        queued,
        store,
        client_factory=fixed_client(client),
        retention=timedelta(days=90),
        stuck_after=timedelta(hours=1),
        clock=lambda: NOW,
    )
    caplog.set_level(logging.WARNING)
    async with hk, accounts:
        await close_accounts(
            client,
            f"{queued.task_queue}-accounts",
            **{"C-0": "paid", "C-1": "paid", "C-2": "handed_off", "C-3": "terminate"},
            **{"C-4": "continue"},
        )
        report = await run_housekeeping(client, queued)

    assert (report.pruned_ledger, report.pruned_call_scripts, report.pruned_email_events) == (
        1,
        1,
        1,
    )
    assert [entry.key for entry in store.ledger.entries()] == [
        "dunning-A-1/sms-reminder/1",
        "new/sent",
        "dunning-A-2/courtesy-email/1",
        "just/now",
    ]
    assert store.call_scripts.get("t-old") is None and store.call_scripts.get("t-new")
    assert store.email_events.processed("k-e-old") is None and store.email_events.processed(
        "k-e-new"
    )
    assert report.stuck_keys == ["dunning-A-1/sms-reminder/1", "dunning-A-2/courtesy-email/1"]
    assert [(c.channel, c.state) for c in report.stuck] == [
        ("sms", "pending"),
        ("email", "in_doubt"),
    ]
    assert [c.age_minutes for c in report.stuck] == [120 * 24 * 60, 180]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    stuck_lines = [line for line in warnings if line.startswith("stuck send claim")]
    assert [line.split(" (")[0] for line in stuck_lines] == [
        "stuck send claim dunning-A-1/sms-reminder/1: channel sms, pending for 172800 minutes",
        "stuck send claim dunning-A-2/courtesy-email/1: channel email, in_doubt for 180 minutes",
    ]

    # C-0 was recorded already; C-4 continued as new and still runs: neither is recorded.
    assert (report.closed_listed, report.closed_recorded, report.closed_more) == (4, 3, False)
    records = {n: store.accounts.get(f"dunning-C-{n}") for n in range(5)}
    assert {n: (r.account_id, r.status) for n, r in records.items() if r} == {
        0: ("C-0", "paid"),
        1: ("C-1", "paid"),
        2: ("C-2", "handed_off"),
        3: ("C-3", "terminated"),
    }
    assert all(records[n].closed_at for n in range(4))


async def test_closed_accounts_are_recorded_a_bounded_number_per_run(
    dev_env, queued: Settings, store: SqlStore
):
    client: Client = dev_env.client
    hk, accounts = workers(
        client,
        queued,
        store,
        client_factory=fixed_client(client),
        retention=timedelta(days=90),
        stuck_after=timedelta(hours=1),
        backfill_limit=2,
    )
    async with hk, accounts:
        await close_accounts(
            client, f"{queued.task_queue}-accounts", **{f"B-{n}": "paid" for n in range(3)}
        )
        first = await run_housekeeping(client, queued)
        second = await run_housekeeping(client, queued)
        third = await run_housekeeping(client, queued)
    assert (first.closed_recorded, first.closed_more) == (2, True)
    assert (second.closed_recorded, second.closed_more) == (1, False)
    assert (third.closed_recorded, third.closed_listed) == (0, 3)
    assert all(store.accounts.get(f"dunning-B-{n}").status == "paid" for n in range(3))


async def test_the_schedule_is_created_once_kept_in_line_and_runs_housekeeping(
    dev_env, queued: Settings, store: SqlStore
):
    client: Client = dev_env.client
    assert await ensure_housekeeping_schedule(client, queued) == "created"
    assert await ensure_housekeeping_schedule(client, queued) == "unchanged"
    handle = client.get_schedule_handle(HOUSEKEEPING_SCHEDULE_ID)
    described = (await handle.describe()).schedule
    assert [i.every for i in described.spec.intervals] == [timedelta(hours=24)]
    assert described.policy.overlap == ScheduleOverlapPolicy.SKIP

    await handle.pause(note="ops are looking")
    every_six = queued.model_copy(update={"housekeeping_every_hours": 6.0})
    assert await ensure_housekeeping_schedule(client, every_six) == "updated"
    described = (await handle.describe()).schedule
    assert [i.every for i in described.spec.intervals] == [timedelta(hours=6)]
    assert described.state.paused and described.state.note == "ops are looking"
    await handle.unpause()

    hk, _ = workers(client, queued, store)
    async with hk:
        await handle.trigger()
        for _ in range(200):
            recent = (await handle.describe()).info.recent_actions
            if recent:
                break
            await asyncio.sleep(0.05)
        action = recent[0].action
        assert isinstance(action, ScheduleActionExecutionStartWorkflow)
        assert action.workflow_id.startswith(HOUSEKEEPING_SCHEDULE_ID + "-")
        report = await client.get_workflow_handle(
            action.workflow_id, result_type=HousekeepingReport
        ).result()
    assert report.retention_days == 90 and report.stuck == []


async def test_the_cli_schedules_and_runs_housekeeping_and_prints_the_report(
    dev_env, queued: Settings, store: SqlStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
):
    client: Client = dev_env.client

    async def connected(_settings, _err):
        return client

    monkeypatch.setattr(account_commands, "connected", connected)
    seed(store, clock)
    text, errors = io.StringIO(), io.StringIO()
    out, err = Console(file=text, width=300), Console(file=errors, width=300)
    assert await ensure_schedule(queued, out, err) == 0
    assert text.getvalue() == (
        f"schedule dunning-housekeeping created: every 24h on task queue {queued.task_queue}\n"
    )
    text.truncate(0)
    text.seek(0)
    hk, _ = workers(client, queued, store)
    async with hk:
        assert await run_once(queued, 60, out, err) == 0
    printed = text.getvalue().splitlines()
    assert printed[1:] == [
        "pruned (older than 90 days): 1 ledger rows, 1 call scripts, 1 SendGrid events",
        "stuck claims (pending or in doubt over 60 minutes): 2",
        printed[3],
        printed[4],
        "closed accounts recorded: 0 (of 0 closed workflows Temporal still lists)",
    ]
    assert printed[3].startswith("  dunning-A-1/sms-reminder/1  sms  pending  ")
    assert errors.getvalue() == ""

    assert await run_once(queued, 1, out, err) == 1  # no worker any more
    assert "is a worker running on task queue" in errors.getvalue()


def test_the_report_names_each_stuck_claim_and_whether_more_remain():
    report = HousekeepingReport(
        ran_at=datetime(2038, 1, 4, 6, tzinfo=UTC),
        retention_days=30,
        stuck_after_minutes=45,
        stuck=[StuckClaim(idempotency_key="k/1", channel="sms", state="in_doubt", age_minutes=50)],
        closed_listed=900,
        closed_recorded=500,
        closed_more=True,
    )
    assert report_lines(report) == [
        "housekeeping at 2038-01-04 06:00:00 UTC",
        "pruned (older than 30 days): 0 ledger rows, 0 call scripts, 0 SendGrid events",
        "stuck claims (pending or in doubt over 45 minutes): 1",
        "  k/1  sms  in_doubt  50 min",
        "closed accounts recorded: 500 (of 900 closed workflows Temporal still lists) "
        "(more remain: the next run records them)",
    ]
