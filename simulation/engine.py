"""`dunning simulate`: the real workflow and activities on Temporal's time-skipping test server.

Nothing is faked but the outbox (in memory) and the clock (skipped): the same workflow code, the
same activities, the same rendering run as in production, so what the simulation shows is what
the accounts will get. Events from the events file are applied at their `day` exactly as the
CLI or the webhook server would apply them.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.transports.outbox import MemoryOutbox
from config.ladder_loader import LadderError, load_catalog, load_ladder
from config.settings import Settings
from connection.temporal import bundled_binary, register_search_attributes, stderr_runtime
from intake.accounts_csv import AccountsFileError, format_money, read_accounts
from intake.events import EventNotDelivered, send_event
from intake.start import start_account
from simulation.events_file import EventsFileError, TimedEvent, load_events
from worker import build_worker
from workflows.types import AccountInput, AccountView, utc_iso, workflow_id_for

DAY = timedelta(days=1)


class SimulationInputError(Exception):
    """Bad input: one line naming the file, the line and what is wrong."""


@dataclass(frozen=True)
class SimulationRequest:
    ladder: Path
    accounts: Path
    events: Path | None = None
    days: int = 120
    start: datetime | None = None


def parse_start(raw: str | None, now: datetime) -> datetime:
    """`--start` as an aware UTC instant; it must not be in the past."""
    if raw is None:
        return now.replace(microsecond=0)
    try:
        start = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise SimulationInputError(f"--start {raw!r} is not an ISO date-time") from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    start = start.astimezone(UTC)
    if start < now - timedelta(minutes=1):
        raise SimulationInputError(f"--start {raw} is in the past")
    return start


def _day(at: datetime, start: datetime) -> float:
    return round((at - start) / DAY, 2)


def report(view: AccountView, start: datetime) -> dict[str, Any]:
    """One account as the contract's JSON document shows it."""
    zone = ZoneInfo(view.zones[0])
    return {
        "account_id": view.account_id,
        "ladder": {"name": view.ladder_name, "version": view.ladder_version},
        "status": view.status.value,
        "balance": format_money(view.balance, view.currency),
        "currency": view.currency,
        "contacts": [
            {
                "day": _day(contact.at, start),
                "at": utc_iso(contact.at.astimezone(UTC).replace(microsecond=0)),
                "local": contact.at.astimezone(zone).replace(microsecond=0).isoformat(),
                "step": contact.step,
                "channel": contact.channel.value,
                "template": contact.template,
                "locale": contact.locale,
                "outcome": contact.outcome,
                "reason": contact.reason,
            }
            for contact in view.contacts
        ],
        "events": [
            {
                "day": _day(event.at, start),
                "type": event.type,
                "accepted": event.accepted,
                "reason": event.reason,
            }
            for event in view.events
        ],
    }


async def advance_to(env: WorkflowEnvironment, moment: datetime) -> None:
    """Skip the test server's clock to `moment`, firing every timer on the way."""
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now)


async def query_view(client: Client, account_id: str) -> AccountView:
    handle: WorkflowHandle = client.get_workflow_handle(workflow_id_for(account_id))
    return await handle.query("status", result_type=AccountView)


def load_inputs(
    request: SimulationRequest, settings: Settings, start: datetime
) -> tuple[list[tuple[int, AccountInput]], list[dict[str, Any]]]:
    try:
        ladder = load_ladder(request.ladder)
        catalog = load_catalog(settings.ladders_dir)
        catalog[ladder.name] = ladder
    except LadderError as exc:
        raise SimulationInputError(str(exc.problems[0])) from None
    try:
        accounts = read_accounts(
            request.accounts,
            ladders=catalog,
            default_ladder=ladder.name,
            default_locale=settings.default_locale,
            now=start,
        )
    except AccountsFileError as exc:
        raise SimulationInputError(str(exc)) from None
    rejected = [
        {"line": problem.line, "account_id": problem.account_id, "reason": problem.message}
        for problem in accounts.problems
    ]
    return accounts.accounts, rejected


async def apply_scripted(
    client: Client, timed: TimedEvent, known: set[str], path: Path | None
) -> None:
    """Apply one scripted event as the CLI would; refusals are recorded by the workflow."""
    if timed.account_id not in known:
        raise SimulationInputError(
            f"{path}:{timed.line}: account: unknown account {timed.account_id}"
        )
    try:
        await send_event(client, timed.account_id, timed.event)
    except EventNotDelivered as exc:
        raise SimulationInputError(f"{path}:{timed.line}: {timed.event.type}: {exc}") from None


async def simulate(request: SimulationRequest, settings: Settings) -> dict[str, Any]:
    start = request.start or datetime.now(UTC).replace(microsecond=0)
    if request.days < 0:
        raise SimulationInputError("--days must not be negative")
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=bundled_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
        runtime=stderr_runtime(),
    ) as env:
        await register_search_attributes(env.client, "default")
        await advance_to(env, start)
        accounts, rejected = load_inputs(request, settings, start)
        try:
            events = load_events(request.events) if request.events else []
        except EventsFileError as exc:
            raise SimulationInputError(str(exc)) from None
        outbox = MemoryOutbox()
        task_queue = f"simulate-{uuid.uuid4().hex[:8]}"
        with tempfile.TemporaryDirectory(prefix="dunning-handoff-") as handoff_dir:
            async with build_worker(
                env.client,
                settings,
                transport=outbox,
                handoff_dir=Path(handoff_dir),
                task_queue=task_queue,
            ):
                for _, account in accounts:
                    await start_account(env.client, account, task_queue)
                known = {account.account_id for _, account in accounts}
                for timed in events:
                    if timed.day > request.days:
                        break
                    await advance_to(env, start + timed.day * DAY)
                    await apply_scripted(env.client, timed, known, request.events)
                await advance_to(env, start + request.days * DAY)
                views = [
                    await query_view(env.client, account.account_id) for _, account in accounts
                ]
    document: dict[str, Any] = {
        "start": utc_iso(start),
        "accounts": [report(view, start) for view in views],
    }
    if rejected:
        document["rejected"] = rejected
    return document
