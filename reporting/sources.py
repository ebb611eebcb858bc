"""Where a report's facts come from: a simulation's JSON document, or the live portfolio (the
audit store, plus Temporal visibility for the status of accounts still open).

Why the audit store and not the workflows: it keeps every contact and event of every account,
closed ones included, long after Temporal's retention has dropped their histories, and it is
read with one query instead of one workflow query per account. What it lacks is the current
status of an open account (its `closed` record is not written yet): that one search-attribute
listing of Temporal's visibility gives, and when Temporal cannot be reached the report still
comes out, those accounts marked `unknown`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, BaseModel, ValidationError

from reporting.facts import UNKNOWN_STATUS, AccountFacts
from store.protocols import is_conflict_copy
from workflows.types import WORKFLOW_ID_PREFIX, ContactRecord, EventRecord

if TYPE_CHECKING:
    from temporalio.client import Client

    from config.settings import Settings
    from store.audit import SqlAuditLog
    from store.protocols import AuditRecord

logger = logging.getLogger(__name__)

AUDIT_KINDS = ("opened", "contact", "event", "milestone", "closed")
RUNNING_ACCOUNTS_QUERY = 'WorkflowType="DunningAccount" AND ExecutionStatus="Running"'
TEMPORAL_TIMEOUT = 10.0  # seconds: connecting, and each page of the open accounts' listing


class SourceError(ValueError):
    """The facts cannot be read: says where (the field path, the account, the record)."""


# ---- a simulation's document ----------------------------------------------------------------


class _SimulatedLadder(BaseModel):
    name: str


class _SimulatedAccount(BaseModel):
    account_id: str
    ladder: _SimulatedLadder
    status: str
    balance: Decimal
    currency: str
    contacts: list[ContactRecord]
    events: list[EventRecord]


class _SimulationDocument(BaseModel):
    start: AwareDatetime
    accounts: list[_SimulatedAccount]


def _path(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def facts_from_simulation(document: Mapping[str, Any]) -> list[AccountFacts]:
    """The accounts of a `dunning simulate --format json` document. Raises SourceError naming
    the first field that is wrong (`accounts[3].events[0].at: Field required`)."""
    if not isinstance(document, Mapping):
        raise SourceError(
            f"(document): expected the JSON object `dunning simulate --format json` prints, "
            f"not {type(document).__name__}"
        )
    try:
        parsed = _SimulationDocument.model_validate(document)
    except ValidationError as exc:
        error = exc.errors()[0]
        hint = ""
        if error["loc"][-1:] == ("at",) and "events" in error["loc"]:
            hint = " (events carry `at` since issue 13: simulate again)"
        raise SourceError(f"{_path(error['loc'])}: {error['msg']}{hint}") from None
    return [
        AccountFacts(
            account_id=account.account_id,
            ladder=account.ladder.name,
            currency=account.currency,
            status=account.status,
            opened_at=parsed.start,
            balance=account.balance,
            contacts=account.contacts,
            events=account.events,
        )
        for account in parsed.accounts
    ]


# ---- the audit store ----------------------------------------------------------------------


def _account_facts(
    account_id: str, records: list[AuditRecord], statuses: Mapping[str, str]
) -> AccountFacts | None:
    """One account from its records; None when it has no `opened` record (nothing says which
    ladder or currency it runs)."""
    opened = next((record for record in records if record.kind == "opened"), None)
    if opened is None:
        return None
    closed = next((record for record in records if record.kind == "closed"), None)
    contacts: list[tuple[int, ContactRecord]] = []
    events: list[tuple[int, EventRecord]] = []
    where = ""
    try:
        where = f"{opened.key} (seq {opened.seq})"
        facts = AccountFacts(
            account_id=account_id,
            ladder=opened.body["ladder_name"],
            currency=opened.body["currency"],
            status=closed.body["status"] if closed else statuses.get(account_id, UNKNOWN_STATUS),
            opened_at=opened.at,
            opening_balance=Decimal(opened.body["balance"]),
            balance=Decimal(closed.body["balance"]) if closed else None,
        )
        for record in records:
            where = f"{record.key} (seq {record.seq})"
            body = record.body
            if record.kind == "contact":
                fields = {k: v for k, v in body.items() if k not in ("index", "citation")}
                contacts.append((body["index"], ContactRecord(at=record.at, **fields)))
            elif record.kind in ("event", "milestone"):
                event = EventRecord(
                    at=record.at,
                    type=body["type"],
                    accepted=body.get("accepted", True),
                    reason=body.get("reason"),
                    event_id=body.get("event_id"),
                    detail=body.get("detail") or {},
                )
                events.append((body["index"], event))
    except (KeyError, TypeError, ValueError, InvalidOperation, ValidationError) as exc:
        problem = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
        raise SourceError(f"audit record {account_id} {where}: {problem}") from None
    facts.contacts = [record for _, record in sorted(contacts, key=lambda item: item[0])]
    facts.events = [record for _, record in sorted(events, key=lambda item: item[0])]
    return facts


def facts_from_audit(log: SqlAuditLog, statuses: Mapping[str, str]) -> list[AccountFacts]:
    """Every account the audit store has opened. Status: the `closed` record's, else
    `statuses[account_id]` (the live one, from Temporal visibility), else `unknown`."""
    by_account: dict[str, list[AuditRecord]] = defaultdict(list)
    for record in log.records_of_kinds(AUDIT_KINDS):
        # A conflict copy repeats a key the account already has (a different body decided for
        # the same contact or event): counting it would count a payment twice.
        if not is_conflict_copy(record.key):
            by_account[record.account_id].append(record)
    portfolio = []
    for account_id in sorted(by_account):
        facts = _account_facts(account_id, by_account[account_id], statuses)
        if facts is not None:
            portfolio.append(facts)
    return portfolio


# ---- the live portfolio -------------------------------------------------------------------


async def live_statuses(client: Client) -> dict[str, str]:
    """account id -> DunningStatus of every running account workflow."""
    from workflows.search_attributes import STATUS

    statuses: dict[str, str] = {}
    # The timeout is per page (one RPC of 1,000 accounts), not for the whole listing: a large
    # portfolio takes many pages, each quick.
    listing = client.list_workflows(
        RUNNING_ACCOUNTS_QUERY, page_size=1000, rpc_timeout=timedelta(seconds=TEMPORAL_TIMEOUT)
    )
    async for execution in listing:
        if not execution.id.startswith(WORKFLOW_ID_PREFIX):
            continue
        status = execution.typed_search_attributes.get(STATUS)
        statuses[execution.id.removeprefix(WORKFLOW_ID_PREFIX)] = status or UNKNOWN_STATUS
    return statuses


async def _statuses_or_none(
    settings: Settings, client: Client | None, warn: Callable[[str], None]
) -> dict[str, str]:
    from temporalio.service import RPCError

    from connection.temporal import connect

    try:
        if client is None:
            client = await asyncio.wait_for(connect(settings), TEMPORAL_TIMEOUT)
        return await live_statuses(client)
    except (RPCError, RuntimeError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        warn(
            f"Temporal at {settings.temporal_address} could not be asked for the open "
            f"accounts' statuses ({' '.join(reason.split())}): they are reported as "
            f"{UNKNOWN_STATUS}"
        )
        return {}


async def load_portfolio(
    settings: Settings,
    client: Client | None,
    *,
    warn: Callable[[str], None] | None = None,
) -> list[AccountFacts]:
    """The live portfolio: the shared store's audit records (opened as the CLI opens it) and,
    for open accounts, their status from Temporal (`client`, or one connected from `settings`).
    Raises `store.StoreError` when the store cannot be read; an unreachable Temporal is only a
    warning (`warn`, default: this module's logger)."""
    from store import open_store

    def read() -> list[AccountFacts]:
        store = open_store(settings.store_url, migrate=settings.database_auto_migrate)
        try:
            return facts_from_audit(store.audit, {})
        finally:
            store.close()

    portfolio = await asyncio.to_thread(read)
    if any(facts.status == UNKNOWN_STATUS for facts in portfolio):
        statuses = await _statuses_or_none(settings, client, warn or logger.warning)
        for facts in portfolio:
            if facts.status == UNKNOWN_STATUS:
                facts.status = statuses.get(facts.account_id, UNKNOWN_STATUS)
    return portfolio


def configured_controls(settings: Settings) -> dict[tuple[str, str], str]:
    """The controls of the configured ladders (`DUNNING_LADDERS_DIR`): the live portfolio runs
    them. A catalog that does not load gives none (alphabetical controls), not a failed report."""
    from config.ladder_loader import LadderError, load_catalog
    from reporting.variants import controls_of

    try:
        return controls_of(load_catalog(settings.ladders_dir).values())
    except (LadderError, OSError):
        return {}
