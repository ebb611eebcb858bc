"""`dunning housekeeping schedule` and `dunning housekeeping run`.

Housekeeping (pruning the shared store, reporting stuck send claims, recording closed accounts:
`activities/housekeeping.py`) runs as a Temporal Schedule. `schedule` creates it or brings it
in line with the settings (`DUNNING_HOUSEKEEPING_EVERY_HOURS`); safe to run on every deploy.
`run` starts one run now on the configured task queue, waits for a worker to do it and prints
the report: the workers do the work, so the CLI needs no access to the store.

Exit codes: 0 done, 1 Temporal unreachable or no worker answered in time, 2 bad settings.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from activities.housekeeping import HousekeepingReport
    from config.settings import Settings

housekeeping_app = typer.Typer(
    help="Prune the shared store and report stuck sends (a Temporal Schedule).",
    no_args_is_help=True,
)

out = Console()
err = Console(stderr=True, soft_wrap=True)


def _settings() -> Settings:
    from config.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        err.print(f"settings: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None


@housekeeping_app.command("schedule")
def schedule() -> None:
    """Create the `dunning-housekeeping` schedule, or update its interval (idempotent)."""
    raise typer.Exit(asyncio.run(ensure_schedule(_settings(), out, err)))


@housekeeping_app.command("run")
def run(
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for a worker to finish the run.", min=1)
    ] = 300.0,
) -> None:
    """Run housekeeping once now (on a worker) and print its report."""
    raise typer.Exit(asyncio.run(run_once(_settings(), wait, out, err)))


async def ensure_schedule(settings: Settings, out: Console, err: Console) -> int:
    from cli.account_commands import connected
    from connection.schedules import HOUSEKEEPING_SCHEDULE_ID, ensure_housekeeping_schedule

    client = await connected(settings, err)
    if client is None:
        return 1
    outcome = await ensure_housekeeping_schedule(client, settings)
    out.print(
        f"schedule {HOUSEKEEPING_SCHEDULE_ID} {outcome}: every "
        f"{settings.housekeeping_every_hours:g}h on task queue {settings.task_queue}",
        markup=False,
        highlight=False,
    )
    return 0


async def run_once(settings: Settings, wait: float, out: Console, err: Console) -> int:
    from cli.account_commands import connected
    from connection.schedules import HOUSEKEEPING_WORKFLOW_ID
    from workflows.housekeeping_workflow import RUN_TIMEOUT, HousekeepingWorkflow

    client = await connected(settings, err)
    if client is None:
        return 1
    workflow_id = f"{HOUSEKEEPING_WORKFLOW_ID}-manual-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
    handle = await client.start_workflow(
        HousekeepingWorkflow.run,
        id=workflow_id,
        task_queue=settings.task_queue,
        execution_timeout=RUN_TIMEOUT * 2,
    )
    try:
        report = await asyncio.wait_for(handle.result(), timeout=wait)
    except TimeoutError:
        err.print(
            f"no report within {wait:g}s: is a worker running on task queue "
            f"{settings.task_queue}? The run ({workflow_id}) goes ahead when one is.",
            markup=False,
            highlight=False,
        )
        return 1
    for line in report_lines(report):
        out.print(line, markup=False, highlight=False)
    return 0


def report_lines(report: HousekeepingReport) -> list[str]:
    """The report as ops read it: counts, then one line per stuck claim."""
    lines = [
        f"housekeeping at {report.ran_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
        f"pruned (older than {report.retention_days} days): {report.pruned_ledger} ledger rows, "
        f"{report.pruned_call_scripts} call scripts, "
        f"{report.pruned_email_events} SendGrid events",
        f"stuck claims (pending or in doubt over {report.stuck_after_minutes} minutes): "
        f"{len(report.stuck)}",
    ]
    lines += [
        f"  {claim.idempotency_key}  {claim.channel}  {claim.state}  {claim.age_minutes} min"
        for claim in report.stuck
    ]
    more = " (more remain: the next run records them)" if report.closed_more else ""
    lines.append(
        f"closed accounts recorded: {report.closed_recorded} "
        f"(of {report.closed_listed} closed workflows Temporal still lists){more}"
    )
    return lines
