"""How many history events one account costs through the example ladder (issue 11: ≤ 100 per
account, ≤ 12 per step), against a bare workflow doing a timer and an activity per step.

History size is what Temporal stores, replays after a cache eviction and sends to the worker,
so it bounds both the server's storage and the worker's replay time per account. One account
(days_past_due 0, every contact, no events) runs to completion through the real worker
(`worker.build_worker` with an in-memory outbox) on the time-skipping server; every run of its
workflow (continue-as-new included) is counted, by event type. The bare `BareLadder` workflow
runs the same step days beside it.

Per step, two figures: the total divided by the steps (what one account costs, start and close
spread over its steps), and the *marginal* cost of a step: a second account runs the example
ladder with its five contacts repeated once more (11 steps instead of 6), and the difference
is divided by the five steps added. The marginal cost is what grows with a longer ladder.

    .venv/bin/python -m bench.history_size
"""

from __future__ import annotations

import csv
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench.common import LADDER, Row, core_runtime, print_table, write_accounts
from bench.processes import output_to, run_main
from bench.reference import BareLadder, ladder_days, reference_worker

GOAL_TOTAL, GOAL_PER_STEP = 100, 12


async def history_events(client: Client, workflow_id: str) -> Counter[str]:
    """Events of every run of the workflow, latest run back to the first, by type."""
    counts: Counter[str] = Counter()
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        counts.update(
            EventType.Name(event.event_type).removeprefix("EVENT_TYPE_") for event in history.events
        )
        started = history.events[0].workflow_execution_started_event_attributes
        if not started.continued_execution_run_id:
            return counts
        run_id = started.continued_execution_run_id
        counts["(runs)"] += 1


def longer(ladder):  # type: ignore[no-untyped-def]
    """The ladder with its contact steps repeated after the last one, then the handoff."""
    contacts = [step for step in ladder.steps if not step.is_handoff]
    handoff = ladder.steps[-1]
    last = contacts[-1].day
    again = [
        step.model_copy(update={"id": f"{step.id}-again", "day": last + 1 + index * 4})
        for index, step in enumerate(contacts)
    ]
    moved = handoff.model_copy(update={"day": again[-1].day + 15})
    return ladder.model_copy(update={"steps": (*contacts, *again, moved)})


async def run_both(tmp: Path) -> tuple[Counter[str], Counter[str], int, int, int]:
    from activities.channels.outbox import MemoryOutbox
    from config.ladder_loader import load_catalog
    from config.settings import load_settings
    from connection.temporal import bundled_binary, register_search_attributes
    from intake.accounts_csv import build_account
    from intake.contact_keys import debtor_contact_keys
    from intake.start import start_account
    from worker import build_worker
    from workflows.types import workflow_id_for

    settings = load_settings(data_dir=tmp, task_queue=f"bench-history-{uuid.uuid4().hex[:8]}")
    steps = ladder_days(LADDER)
    with (write_accounts(tmp / "one.csv", 1, "H", days_past_due=0)).open(encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    with output_to(tmp / "test-server.log"):
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=bundled_binary("temporal-test-server"),
            data_converter=pydantic_data_converter,
            runtime=core_runtime(tmp / "core.log")[0],
        )
    async with env:
        client = env.client
        await register_search_attributes(client, "default")
        catalog = load_catalog(settings.ladders_dir)
        account = build_account(
            row,
            ladders=catalog,
            default_ladder="consumer-standard",
            default_locale=settings.default_locale,
            now=await env.get_current_time(),
        )
        long_ladder = longer(catalog["consumer-standard"])
        long_account = account.model_copy(
            update={"account_id": f"{account.account_id}-long", "ladder": long_ladder}
        )
        long_days = [step.day for step in long_ladder.steps]
        keys = debtor_contact_keys(settings.link_secret.get_secret_value(), account.debtor)
        async with (
            build_worker(client, settings, transport=MemoryOutbox(), handoff_dir=tmp / "handoff"),
            reference_worker(client, "bench-bare-history"),
        ):
            await start_account(client, account, settings.task_queue, keys)
            await start_account(client, long_account, settings.task_queue, keys)
            bare = await client.start_workflow(
                BareLadder.run, steps, id="bare-history", task_queue="bench-bare-history"
            )
            bare_long = await client.start_workflow(
                BareLadder.run, long_days, id="bare-long", task_queue="bench-bare-history"
            )
            # Past the handoff and the week a closed account keeps answering.
            await env.sleep(timedelta(days=max(long_days) + 15))
            workflow_id = workflow_id_for(account.account_id)
            long_id = workflow_id_for(long_account.account_id)
            for handle in (client.get_workflow_handle(workflow_id), bare):
                await handle.result()
            long_total = _total(await history_events(client, long_id))
            bare_long_total = _total(await history_events(client, bare_long.id))
            return (
                await history_events(client, workflow_id),
                await history_events(client, bare.id),
                len(steps),
                long_total,
                bare_long_total,
            )


def _total(counts: Counter[str]) -> int:
    return counts.total() - counts["(runs)"]


def breakdown(counts: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.most_common())


async def measure() -> list[Row]:
    with TemporaryDirectory(prefix="bench-history-") as tmp:
        mine, bare, steps, long_total, bare_long_total = await run_both(Path(tmp))
    total, bare_total = _total(mine), _total(bare)
    marginal, bare_marginal = (long_total - total) / 5, (bare_long_total - bare_total) / 5
    return [
        Row(
            row="history events / account",
            size=f"{steps} steps",
            dunning=str(total),
            reference=str(bare_total),
            ratio=f"{total / bare_total:.2f}",
            goal=f"≤ {GOAL_TOTAL}",
            met=total <= GOAL_TOTAL,
        ),
        Row(
            row="history events / step",
            size=f"{steps} steps",
            dunning=f"{total / steps:.1f}",
            reference=f"{bare_total / steps:.1f}",
            ratio=f"{total / bare_total:.2f}",
            goal=f"≤ {GOAL_PER_STEP}",
            met=total / steps <= GOAL_PER_STEP,
            notes=[
                f"marginal cost of a step (11 steps vs 6): dunning {marginal:.1f}, reference "
                f"{bare_marginal:.1f} ({long_total} and {bare_long_total} events at 11 steps)",
                f"dunning ({mine['(runs)'] + 1} run(s)): {breakdown(mine - Counter(['(runs)']))}",
                f"reference: {breakdown(bare)}",
            ],
        ),
    ]


def main() -> None:
    rows = run_main(measure())
    print_table(rows, "history events, example ladder, no events (time-skipping server)")


if __name__ == "__main__":
    main()
