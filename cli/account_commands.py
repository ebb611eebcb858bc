"""`dunning accounts import` and `dunning account show`: the CLI side of the Temporal client."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from cli.tables import account_tables
from config.ladder_loader import (
    LadderError,
    LadderProblem,
    find_ladder,
    load_catalog,
    load_ladder,
)
from config.settings import Settings
from connection.temporal import connect, register_search_attributes
from intake.accounts_file import AccountsFileError, AccountsReader, count_records, read_accounts
from intake.bulk_start import ImportTally, start_rows
from intake.contact_keys import debtor_contact_keys
from intake.start import StartOutcome, start_account
from workflows.types import AccountInput, AccountView, workflow_id_for

if TYPE_CHECKING:
    from store.protocols import Store


def ladder_catalog(
    settings: Settings, ladder: str | None, skipped: list[LadderProblem] | None = None
):
    """All ladders by name, plus the one named by --ladder (a name or a file). A ladder that
    breaks its compliance profile is refused like a broken one (`skipped` collects why)."""
    templates, locale = settings.templates_dir, settings.default_locale
    catalog = load_catalog(
        settings.ladders_dir, templates_dir=templates, default_locale=locale, skipped=skipped
    )
    default = None
    if ladder is not None:
        path = find_ladder(ladder, settings.ladders_dir)
        if path.exists():
            chosen = load_ladder(path, templates_dir=templates, default_locale=locale)
            catalog[chosen.name] = chosen
            default = chosen.name
        elif ladder in catalog:
            default = ladder
        else:
            known = ", ".join(sorted(catalog)) or "none"
            raise LadderError(
                [LadderProblem(path, None, "(file)", f"no such ladder (known: {known})")]
            )
    return catalog, default


def load_accounts(file: Path, ladder: str | None, settings: Settings, now):
    """The ladders (plus --ladder) and the accounts file read against them, all in memory
    (preview; the import streams instead: `open_accounts`)."""
    catalog, default = ladder_catalog(settings, ladder)
    parsed = read_accounts(
        file,
        ladders=catalog,
        default_ladder=default,
        default_locale=settings.default_locale,
        now=now,
    )
    return catalog, default, parsed


def open_accounts(
    file: Path,
    ladder: str | None,
    settings: Settings,
    now,
    skipped: list[LadderProblem] | None = None,
) -> AccountsReader:
    catalog, default = ladder_catalog(settings, ladder, skipped)
    return AccountsReader(
        file,
        ladders=catalog,
        default_ladder=default,
        default_locale=settings.default_locale,
        now=now,
    )


async def connected(settings: Settings, err: Console) -> Client | None:
    try:
        return await connect(settings)
    except RuntimeError as exc:
        err.print(
            f"cannot reach Temporal at {settings.temporal_address} "
            f"(namespace {settings.temporal_namespace}): {exc}",
            markup=False,
        )
        return None


async def import_accounts(
    file: Path, ladder: str | None, settings: Settings, out: Console, err: Console
) -> int:
    """0: every row started or already running; 1: some rows refused, or the import stopped
    (Temporal or the store unreachable: the rows not reached can be imported by running it
    again); 2: unusable input.

    The file is streamed and `settings.import_concurrency` starts are in flight at once
    (`intake/bulk_start.py`). A row whose workflow id the store's registry records as closed is
    refused (the id is never reused, even after Temporal has forgotten the workflow); see
    `intake/start.py`.
    """
    from datetime import UTC, datetime

    skipped: list[LadderProblem] = []
    try:
        reader = open_accounts(file, ladder, settings, datetime.now(UTC), skipped)
    except (LadderError, AccountsFileError) as exc:
        err.print(str(exc), markup=False)
        return 2
    for problem in skipped:
        err.print(f"warning: ladder not loaded: {problem}", markup=False)
    with reader:
        for warning in reader.warnings:
            err.print(f"warning: {warning}", markup=False)
        store = await opened_store(settings, err)
        if store is None:
            return 1
        try:
            client = await connected(settings, err)
            if client is None:
                return 1
            tally = await _start_file(file, reader, client, store, settings, err)
        finally:
            await asyncio.to_thread(store.close)
    if tally.stopped:
        err.print(f"{file}:{tally.stopped}", markup=False)
    out.print(
        f"started {tally.started}, already started {tally.existing}, refused {tally.refused} "
        f"(of {tally.rows} rows{', then stopped' if tally.stopped else ''})"
    )
    return 1 if tally.refused or tally.stopped else 0


async def _start_file(
    file: Path, reader: AccountsReader, client: Client, store: Store, settings: Settings, err
) -> ImportTally:
    try:
        await register_search_attributes(client, settings.temporal_namespace)
    except RPCError as exc:  # e.g. Temporal Cloud: attributes are created in the console
        err.print(f"warning: could not register search attributes: {exc.message}", markup=False)
    secret = settings.link_secret.get_secret_value()

    async def start(account: AccountInput) -> StartOutcome:
        keys = debtor_contact_keys(secret, account.debtor)
        return await start_account(
            client, account, settings.task_queue, keys, registry=store.accounts
        )

    total = await asyncio.to_thread(count_records, file)
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("import", total=total)
        return await start_rows(
            reader,
            start,
            concurrency=settings.import_concurrency,
            report=lambda line: progress.console.print(f"{file}:{line}", markup=False),
            advance=lambda: progress.advance(task),
        )


async def opened_store(settings: Settings, err: Console) -> Store | None:
    """The shared store (`DUNNING_DATABASE_URL`), or None with one line saying why."""
    from store import StoreError, open_store

    try:
        return await asyncio.to_thread(
            open_store, settings.store_url, migrate=settings.database_auto_migrate
        )
    except StoreError as exc:
        err.print(f"store: {exc}", markup=False)
        return None


async def fetch_view(client: Client, account_id: str) -> AccountView:
    handle = client.get_workflow_handle(workflow_id_for(account_id))
    return await handle.query("status", result_type=AccountView)


async def show_account(account_id: str, settings: Settings, out: Console, err: Console) -> int:
    """The workflow's own view; once Temporal has forgotten the workflow (retention passed,
    or deleted), the audit store's records, which outlive it."""
    client = await connected(settings, err)
    if client is None:
        return 1
    try:
        view = await fetch_view(client, account_id)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return await show_from_audit(account_id, settings, out, err)
        raise
    for table in account_tables(view):
        out.print(table)
    return 0


async def show_from_audit(account_id: str, settings: Settings, out: Console, err: Console) -> int:
    """`account show` for an account Temporal no longer knows: its audit records, or the usual
    "no account" when the store has none either (or cannot be read)."""
    from cli.tables import audit_account_tables

    records = []
    store = await opened_store(settings, err)
    if store is not None:
        try:
            records = await asyncio.to_thread(store.audit.records, account_id)
        finally:
            await asyncio.to_thread(store.close)
    if not records:
        err.print(f"no account {account_id}", markup=False)
        return 1
    out.print(
        f"from the audit store: the workflow {workflow_id_for(account_id)} is gone from "
        "Temporal (retention passed or deleted)",
        markup=False,
        highlight=False,
    )
    for table in audit_account_tables(account_id, records):
        out.print(table)
    return 0


async def post_event(
    account_id: str, event_fields: dict, settings: Settings, out: Console, err: Console
) -> int:
    """Send one event; print accepted or the reason it was refused. 0 accepted, 1 otherwise."""
    from pydantic import ValidationError

    from intake.events import EventNotDelivered, send_event
    from workflows.types import AccountEvent

    try:
        event = AccountEvent.model_validate({"source": "cli", **event_fields})
    except ValidationError as exc:
        first = exc.errors()[0]
        err.print(f"{'.'.join(map(str, first['loc']))}: {first['msg']}", markup=False)
        return 2
    client = await connected(settings, err)
    if client is None:
        return 1
    try:
        result = await send_event(client, account_id, event)
    except EventNotDelivered as exc:
        err.print(f"refused: {exc}", markup=False)
        return 1
    if result.accepted:
        extra = ", ".join(f"{key} {value}" for key, value in result.detail.items() if value)
        suffix = " (duplicate: already applied)" if result.duplicate else ""
        out.print(
            f"accepted: {event.type}; status {result.status.value}"
            + (f"; {extra}" if extra else "")
            + suffix,
            markup=False,
        )
        return 0
    err.print(f"refused: {result.reason}", markup=False)
    return 1


def parse_installment(text: str) -> dict:
    """`2027-01-15:50.00` or `7:50.00` (due in 7 days) → an installment."""
    when, _, amount = text.partition(":")
    if not amount:
        raise ValueError(f"installment {text!r}: write DATE:AMOUNT or DAYS:AMOUNT")
    key = "due_in_days" if when.isdigit() else "date"
    return {key: when, "amount": amount}
