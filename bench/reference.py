"""The bare reference: what Temporal itself costs, measured beside dunning in the same run.

Absolute times on a shared 2-core machine mean little, so every bench row is a ratio against a
workflow that does nothing but what Temporal must do anyway:

- `BareStart`: one no-op activity (the import row: dunning's import starts a workflow that
  sends its first email);
- `BareLadder`: a timer and a no-op activity per ladder step, at the ladder's days (the
  simulate and history rows).

The workers and starters run as subprocesses (`python -m bench.reference worker|start|simulate`)
so that their CPU and memory are measured like dunning's own processes. This module is
imported by Temporal's workflow sandbox for every workflow run: keep it to temporalio and the
standard library.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Called after each no-op activity (the worker subcommand counts them); None: nothing.
on_activity_done: Callable[[], None] | None = None


@activity.defn
async def noop() -> None:
    if on_activity_done is not None:
        on_activity_done()


@workflow.defn
class BareStart:
    """Start, one no-op activity, done."""

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(noop, start_to_close_timeout=ACTIVITY_TIMEOUT)


@workflow.defn
class BareLadder:
    """For each step day: a timer until that day (counted from the start), a no-op activity."""

    @workflow.run
    async def run(self, days: list[int]) -> None:
        start = workflow.now()
        for day in days:
            wait = start + timedelta(days=day) - workflow.now()
            if wait > timedelta(0):
                await workflow.sleep(wait)
            await workflow.execute_activity(noop, start_to_close_timeout=ACTIVITY_TIMEOUT)


def reference_worker(client: Client, task_queue: str) -> Worker:
    """A worker for both bare workflows (SDK defaults, as dunning's worker has)."""
    return Worker(
        client, task_queue=task_queue, workflows=[BareStart, BareLadder], activities=[noop]
    )


def ladder_days(path: Path) -> list[int]:
    """The step days of a ladder file (the bare workflow fires at the same days)."""
    import yaml

    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [int(step["day"]) for step in document["steps"]]


async def start_many(
    client: Client,
    ids: Sequence[str],
    task_queue: str,
    concurrency: int,
    workflow_run: Callable,
    *args: object,
) -> None:
    """Start one workflow per id, at most `concurrency` starts in flight (as the import does)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(workflow_id: str) -> None:
        async with gate:
            await client.start_workflow(workflow_run, *args, id=workflow_id, task_queue=task_queue)

    await asyncio.gather(*(one(workflow_id) for workflow_id in ids))


async def connect(address: str) -> Client:
    return await Client.connect(address, data_converter=pydantic_data_converter)


async def serve(address: str, task_queue: str, marks_dir: Path, marks: set[int]) -> None:
    """Run the reference worker until killed; touch `marks_dir/done-<n>` when the n-th no-op
    activity has run, for each n in `marks` (the parent polls those files)."""
    global on_activity_done
    count = 0

    def done() -> None:
        nonlocal count
        count += 1
        if count in marks:
            (marks_dir / f"done-{count}").touch()

    on_activity_done = done
    client = await connect(address)
    async with reference_worker(client, task_queue):
        print(f"reference worker on {task_queue}", flush=True)
        await asyncio.Event().wait()


async def start(address: str, task_queue: str, prefix: str, count: int, concurrency: int) -> None:
    client = await connect(address)
    ids = [f"{prefix}-{index:06d}" for index in range(count)]
    await start_many(client, ids, task_queue, concurrency, BareStart.run)


async def simulate(count: int, days: int, steps: list[int], concurrency: int) -> dict:
    """`dunning simulate`'s shape with the bare workflow: a time-skipping server, a worker, N
    starts, skip `days`, read every result."""
    from temporalio.testing import WorkflowEnvironment

    from connection.temporal import bundled_binary

    ids = [f"bare-{index:06d}" for index in range(count)]
    async with (
        await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=bundled_binary("temporal-test-server"),
            data_converter=pydantic_data_converter,
        ) as env,
        reference_worker(env.client, "bare-simulate"),
    ):
        await start_many(env.client, ids, "bare-simulate", concurrency, BareLadder.run, steps)
        # As `dunning simulate` does: one skip, without the client's one-minute RPC timeout.
        from simulation.engine import advance_to

        await advance_to(env, await env.get_current_time() + timedelta(days=days))
        for workflow_id in ids:
            await env.client.get_workflow_handle(workflow_id).result()
    return {"accounts": count, "completed": len(ids)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("worker", help="run the reference worker until killed")
    serving.add_argument("--address", required=True)
    serving.add_argument("--task-queue", required=True)
    serving.add_argument("--marks-dir", type=Path, required=True)
    serving.add_argument("--marks", default="", help="comma-separated activity counts")
    starting = commands.add_parser("start", help="start N BareStart workflows")
    starting.add_argument("--address", required=True)
    starting.add_argument("--task-queue", required=True)
    starting.add_argument("--prefix", required=True)
    starting.add_argument("--count", type=int, required=True)
    starting.add_argument("--concurrency", type=int, default=32)
    simulating = commands.add_parser("simulate", help="N BareLadder workflows, time skipped")
    simulating.add_argument("--accounts", type=int, required=True)
    simulating.add_argument("--days", type=int, default=90)
    simulating.add_argument("--steps", default="1,5,10,15,30,45")
    simulating.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    if args.command == "worker":
        marks = {int(mark) for mark in args.marks.split(",") if mark}
        asyncio.run(serve(args.address, args.task_queue, args.marks_dir, marks))
    elif args.command == "start":
        asyncio.run(start(args.address, args.task_queue, args.prefix, args.count, args.concurrency))
    else:
        steps = [int(day) for day in args.steps.split(",")]
        summary = asyncio.run(simulate(args.accounts, args.days, steps, args.concurrency))
        print(json.dumps(summary))
    # As the dunning CLI does: skip interpreter finalisation, which the Temporal client's Rust
    # threads can outlive (an occasional abort after a run that succeeded).
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
