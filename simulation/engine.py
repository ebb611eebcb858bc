"""`dunning simulate`: the real workflow and activities on Temporal's time-skipping test server.

Nothing is faked but the outbox (in memory) and the clock (skipped): the same workflow code, the
same activities, the same rendering run as in production, so what the simulation shows is what
the accounts will get. Events from the events file are applied at their `day` exactly as the
CLI or the webhook server would apply them.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.channels.outbox import MemoryOutbox
from cli.ladder_commands import validate_files
from config.compliance import citation
from config.ladder_loader import LadderError, load_catalog, load_ladder
from config.settings import Settings
from connection.temporal import bundled_binary, register_search_attributes, stderr_runtime
from intake.accounts_csv import format_money
from intake.accounts_file import AccountsFileError, read_accounts
from intake.events import ACCOUNT_CLOSED, AccountClosed, EventNotDelivered, deliver_event
from intake.start import start_account
from simulation.events_file import EventsFileError, TimedEvent, load_events
from simulation.settings import simulation_settings
from worker import build_worker
from workflows.types import (
    AccountInput,
    AccountView,
    ContactRecord,
    EventRecord,
    utc_iso,
    workflow_id_for,
)

DAY = timedelta(days=1)
MIN_DAYS, MAX_DAYS = 1, 3650


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


def parse_days(raw: str) -> int:
    """`--days` as a whole number of days within MIN_DAYS..MAX_DAYS."""
    try:
        days = int(raw.strip())
    except ValueError:
        raise SimulationInputError(f"--days {raw!r} is not a whole number of days") from None
    check_days(days)
    return days


def check_days(days: int) -> None:
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise SimulationInputError(f"--days {days}: simulate from {MIN_DAYS} to {MAX_DAYS} days")


def check_ladder(path: Path, settings: Settings) -> list[str]:
    """What `dunning ladder validate` checks (the same function): its first problem as the one
    line of a SimulationInputError (with how many more), else its warnings."""
    problems, warnings = validate_files([path], settings)
    if problems:
        more = len(problems) - 1
        suffix = f" (and {more} more: see dunning ladder validate {path})" if more else ""
        raise SimulationInputError(problems[0] + suffix)
    return warnings


def _day(at: datetime, start: datetime) -> float:
    return round((at - start) / DAY, 2)


def report(view: AccountView, start: datetime, late: Iterable[EventRecord] = ()) -> dict[str, Any]:
    """One account as the contract's JSON document shows it. `late`: events refused after the
    account's workflow completed, which no workflow could record."""
    zone = ZoneInfo(view.zones[0])
    return {
        "account_id": view.account_id,
        "ladder": {"name": view.ladder_name, "version": view.ladder_version},
        "status": view.status.value,
        "balance": format_money(view.balance, view.currency),
        "currency": view.currency,
        "contacts": [contact_entry(contact, start, zone) for contact in view.contacts],
        "events": [event_entry(event, start) for event in [*view.events, *late]],
    }


def event_entry(event: EventRecord, start: datetime) -> dict[str, Any]:
    """One event as CONTRACT section 5 shows it, plus when (UTC) and its details (a payment's
    amount, a milestone's figures) when it has any: what `dunning report` reads."""
    entry: dict[str, Any] = {
        "day": _day(event.at, start),
        "type": event.type,
        "accepted": event.accepted,
        "reason": event.reason,
        "at": utc_iso(event.at.astimezone(UTC).replace(microsecond=0)),
    }
    if event.detail:
        entry["detail"] = dict(event.detail)
    return entry


def contact_entry(contact: ContactRecord, start: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """One contact as CONTRACT section 5 shows it; `confirmed` on sent contacts only (false when
    the provider's acceptance could not be confirmed)."""
    entry: dict[str, Any] = {
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
    if contact.variant is not None:
        entry["variant"] = contact.variant
    if contact.outcome == "sent":
        entry["confirmed"] = contact.confirmed
        if contact.validation_notice:
            entry["validation_notice"] = True
    elif contact.rule is not None:
        # The compliance rule that suppressed it, and where the law says so.
        entry["rule"] = contact.rule
        entry["citation"] = citation(contact.rule)
    return entry


# How long one skip may take in real time: a few thousand accounts firing every timer of
# months of ladder. `env.sleep` would give up after the client's default RPC timeout (about a
# minute), which a simulation of a few hundred accounts on a busy machine already exceeds.
SKIP_TIMEOUT = timedelta(hours=6)


async def advance_to(env: WorkflowEnvironment, moment: datetime) -> None:
    """Skip the test server's clock to `moment`, firing every timer on the way."""
    now = await env.get_current_time()
    if moment > now:
        request = SleepRequest()
        request.duration.FromTimedelta(moment - now)
        await env.client.test_service.unlock_time_skipping_with_sleep(request, timeout=SKIP_TIMEOUT)


async def query_view(client: Client, account_id: str) -> AccountView:
    handle: WorkflowHandle = client.get_workflow_handle(workflow_id_for(account_id))
    return await handle.query("status", result_type=AccountView)


def load_inputs(
    request: SimulationRequest, settings: Settings, start: datetime
) -> tuple[list[tuple[int, AccountInput]], list[dict[str, Any]]]:
    try:
        ladder = load_ladder(request.ladder)
        # Other ladders the rows may name are held to their compliance profile too.
        catalog = load_catalog(
            settings.ladders_dir,
            templates_dir=settings.templates_dir,
            default_locale=settings.default_locale,
        )
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


async def start_all(
    client: Client, accounts: list[AccountInput], task_queue: str, concurrency: int
) -> None:
    """Start every account, `concurrency` at a time (each start is a round trip): as the import
    does (`DUNNING_IMPORT_CONCURRENCY`), without its registry or its per-row reporting, since
    every row here was already read and a refused start is a bug to raise."""
    gate = asyncio.Semaphore(concurrency)

    async def one(account: AccountInput) -> None:
        async with gate:
            await start_account(client, account, task_queue)

    await asyncio.gather(*(one(account) for account in accounts))


async def apply_scripted(
    client: Client, timed: TimedEvent, known: set[str], path: Path | None
) -> AccountClosed | None:
    """Apply one scripted event as the CLI would; refusals are recorded by the workflow, except
    on an account whose workflow has completed: that refusal is returned for the caller to
    report."""
    if timed.account_id not in known:
        raise SimulationInputError(
            f"{path}:{timed.line}: account: unknown account {timed.account_id}"
        )
    try:
        await deliver_event(client, timed.account_id, timed.event)
    except AccountClosed as closed:
        return closed
    except EventNotDelivered as exc:
        raise SimulationInputError(f"{path}:{timed.line}: {timed.event.type}: {exc}") from None
    return None


async def simulate(
    request: SimulationRequest, settings: Settings, warn: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Bad input (the ladder as `ladder validate` sees it, the accounts file, the events file,
    --days) is refused before the test server starts. `warn` gets the ladder's warnings."""
    start = request.start or datetime.now(UTC).replace(microsecond=0)
    check_days(request.days)
    for warning in check_ladder(request.ladder, settings):
        if warn is not None:
            warn(warning)
    accounts, rejected = load_inputs(request, settings, start)
    try:
        events = load_events(request.events) if request.events else []
    except EventsFileError as exc:
        raise SimulationInputError(str(exc)) from None
    late: dict[str, list[EventRecord]] = {}
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=bundled_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
        runtime=stderr_runtime(),
    ) as env:
        await register_search_attributes(env.client, "default")
        await advance_to(env, start)
        outbox = MemoryOutbox()
        task_queue = f"simulate-{uuid.uuid4().hex[:8]}"
        with tempfile.TemporaryDirectory(prefix="dunning-handoff-") as handoff_dir:
            async with build_worker(
                env.client,
                simulation_settings(settings),
                transport=outbox,
                handoff_dir=Path(handoff_dir),
                task_queue=task_queue,
            ):
                await start_all(
                    env.client,
                    [account for _, account in accounts],
                    task_queue,
                    settings.import_concurrency,
                )
                known = {account.account_id for _, account in accounts}
                for timed in events:
                    if timed.day > request.days:
                        break
                    moment = start + timed.day * DAY
                    await advance_to(env, moment)
                    closed = await apply_scripted(env.client, timed, known, request.events)
                    if closed is not None:
                        late.setdefault(timed.account_id, []).append(
                            EventRecord(
                                at=moment,
                                type=timed.event.type,
                                accepted=False,
                                reason=ACCOUNT_CLOSED,
                                event_id=timed.event.event_id,
                            )
                        )
                await advance_to(env, start + request.days * DAY)
                views = [
                    await query_view(env.client, account.account_id) for _, account in accounts
                ]
    document: dict[str, Any] = {
        "start": utc_iso(start),
        "accounts": [report(view, start, late.get(view.account_id, ())) for view in views],
    }
    if rejected:
        document["rejected"] = rejected
    return document
