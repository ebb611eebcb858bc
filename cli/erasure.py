"""`dunning account erase`: a closed eu account's personal data, removed from everything we keep.

GDPR Art. 17 gives the debtor a right to erasure once the data is no longer needed; Art. 4(5)
lets us keep what the audit needs in pseudonymised form. So erasure removes every copy of the
debtor's name, addresses, numbers and words, and keeps the audit records (their bodies never
held personal data), their hashes and the account id, so the chain still verifies and still
proves what was done, only no longer to whom:

- the audit store: the contents (debtor, each rendered message, free texts) lose their bodies,
  tombstones keep their sha256 (`store.audit.erase`, which appends an `erased` record);
- the send ledger: the recipients of the account's keys (`dunning-<ID>/…`) are blanked;
- voicemail call scripts of the account are deleted;
- the local outbox's message files, the letters' PDFs and their manifest rows' addresses;
- the handoff exports (what went to the agency is the agency's to erase);
- Temporal: every run of the workflow, whose history carries the debtor in its input.

Refused, with nothing touched, unless the account is closed (collection is over) and its
profile enforces erasure (`config/compliance.py`): a us account keeps its records three years
(12 CFR 1006.100), uk and none provide no erasure. Running it again is harmless: whatever is
left (Temporal unreachable the first time) is erased then.

Each place is erased by cli/erasure_places.py; this module checks, asks and reports.

Exit codes: 0 erased everywhere, 1 refused or some place not reached (run it again), 2 bad id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from rich.console import Console

from cli.erasure_places import (
    Place,
    delete_history,
    erase_handoffs,
    erase_letters,
    erase_local,
    erase_outbox,
    letter_file_names,
    redact_manifest,
)
from config.compliance import RULES, RuleId, profile
from workflows.types import workflow_id_for

if TYPE_CHECKING:
    from temporalio.client import Client

    from config.settings import Settings
    from store.protocols import AuditRecord, Store

__all__ = [
    "ErasureReport",
    "Place",
    "closed_refusal",
    "delete_history",
    "erase_account",
    "erase_handoffs",
    "erase_letters",
    "erase_local",
    "erase_outbox",
    "jurisdiction_refusal",
    "letter_file_names",
    "redact_manifest",
    "run_erase",
    "started_jurisdiction",
    "workflow_status",
]


@dataclass
class ErasureReport:
    account_id: str
    places: list[Place] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(place.ok for place in self.places)


# ---- may it be erased? -------------------------------------------------------------------------


def jurisdiction_refusal(
    account_id: str, records: Sequence[AuditRecord], started_under: str | None = None
) -> str | None:
    """Why the account's profile forbids erasure (None: it enforces it). `started_under`: the
    jurisdiction in the workflow's own input, for an account that ran before the audit trail
    (no `opened` record)."""
    opened = next((record.body for record in records if record.kind == "opened"), None)
    if opened is None and started_under is not None:
        opened = {"jurisdiction": started_under}
    if opened is None:
        return (
            f"refused: no audit record opened account {account_id}, so its jurisdiction is "
            "unknown; nothing erased"
        )
    name = str(opened.get("jurisdiction") or "none")
    try:
        chosen = profile(name)
    except KeyError:
        return f"refused: account {account_id} has an unknown profile {name!r}; nothing erased"
    if chosen.enforces(RuleId.ERASURE):
        return None
    if chosen.enforces(RuleId.RECORD_RETENTION):
        retention = RULES[RuleId.RECORD_RETENTION]
        return (
            f"refused: account {account_id} is under the {chosen.name} profile ({chosen.title}): "
            f"its records are kept three years after the last activity "
            f"({retention.id.value}, {retention.citation}); nothing erased"
        )
    return (
        f"refused: account {account_id} is under the {chosen.name} profile ({chosen.title}), "
        f"which provides no erasure ({RuleId.ERASURE.value}, {RULES[RuleId.ERASURE].citation}, "
        "applies to eu accounts); nothing erased"
    )


async def workflow_status(client: Client | None, account_id: str) -> str | None:
    """The workflow's status, or None when Temporal cannot say (unreachable, no worker to
    answer the query in time, or the workflow is gone)."""
    if client is None:
        return None
    from temporalio.service import RPCError

    from workflows.types import AccountView

    handle = client.get_workflow_handle(workflow_id_for(account_id))
    try:
        view = await handle.query(
            "status", result_type=AccountView, rpc_timeout=timedelta(seconds=10)
        )
    except (TimeoutError, RPCError):
        return None
    return view.status.value


async def started_jurisdiction(client: Client | None, account_id: str) -> str | None:
    """The ladder's jurisdiction in the workflow's start input (None: Temporal cannot say)."""
    if client is None:
        return None
    from temporalio.service import RPCError

    from workflows.types import AccountInput

    handle = client.get_workflow_handle(workflow_id_for(account_id))
    try:
        history = await handle.fetch_history(rpc_timeout=timedelta(seconds=10))
    except (TimeoutError, RPCError):
        return None
    started = history.events[0].workflow_execution_started_event_attributes
    [account] = await client.data_converter.decode(started.input.payloads, [AccountInput])
    return str(account.ladder.jurisdiction.value)


async def closed_refusal(
    account_id: str, store: Store, records: Sequence[AuditRecord], client: Client | None
) -> str | None:
    """Why the account does not count as closed (None: it is). The store's registry and the
    audit's `closed` record are enough; Temporal is asked only when neither knows."""
    from workflows.types import Status

    registered = await asyncio.to_thread(store.accounts.get, workflow_id_for(account_id))
    if registered is not None and registered.closed_at is not None:
        return None
    if any(record.kind == "closed" for record in records):
        return None
    status = await workflow_status(client, account_id)
    if status is not None and Status(status).is_final:
        return None
    if status is not None:
        return (
            f"refused: account {account_id} is not closed (status {status}); only a closed "
            "account is erased; nothing erased"
        )
    return (
        f"refused: cannot tell that account {account_id} is closed (the store records no "
        "close and Temporal did not say); nothing erased"
    )


# ---- erasing -----------------------------------------------------------------------------------


async def erase_account(
    account_id: str,
    store: Store,
    settings: Settings,
    *,
    client: Client | None,
    now: datetime | None = None,
) -> ErasureReport:
    """Erase everywhere (the checks above were passed). Temporal first: should it be out of
    reach, the rest is still erased and the report says to run again."""
    report = ErasureReport(account_id)
    report.places.append(await delete_history(client, workflow_id_for(account_id)))
    report.places += await asyncio.to_thread(
        erase_local, account_id, store, settings, now or datetime.now(UTC)
    )
    return report


# ---- the command -------------------------------------------------------------------------------


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


async def run_erase(
    account_id: str,
    settings: Settings,
    out: Console,
    err: Console,
    *,
    confirm: Callable[[str], bool] | None = None,
) -> int:
    """Check, ask (unless `confirm` is None: --yes), erase, print each place."""
    from cli.account_commands import opened_store
    from intake.accounts_csv import ACCOUNT_ID
    from store import StoreError

    if not ACCOUNT_ID.match(account_id):  # it names files: no path may hide in it
        _say(err, f"account_id {account_id!r} may hold only letters, digits, . _ -")
        return 2
    store = await opened_store(settings, err)
    if store is None:
        return 1
    try:
        return await _checked_erase(account_id, store, settings, out, err, confirm)
    except StoreError as exc:  # the store went away midway: what is done stays done
        _say(err, f"store: {' '.join(str(exc).split())}; run the erase again")
        return 1
    finally:
        await asyncio.to_thread(store.close)


async def _checked_erase(
    account_id: str,
    store: Store,
    settings: Settings,
    out: Console,
    err: Console,
    confirm: Callable[[str], bool] | None,
) -> int:
    from cli.account_commands import connected

    records = await asyncio.to_thread(store.audit.records, account_id)
    client = None
    started_under = None
    if not any(record.kind == "opened" for record in records):
        # An account that ran before the audit trail: its workflow's input says its profile.
        client = await connected(settings, err)
        started_under = await started_jurisdiction(client, account_id)
    refusal = jurisdiction_refusal(account_id, records, started_under)
    if refusal is None:
        client = client or await connected(settings, err)
        refusal = await closed_refusal(account_id, store, records, client)
    if refusal is not None:
        _say(err, refusal)
        return 1
    question = (
        f"Erase the personal data of account {account_id} from the audit store, the send "
        "ledger, call scripts, outbox, letters, handoff exports and Temporal?"
    )
    if confirm is not None and not confirm(question):
        _say(err, "not erased")
        return 1
    report = await erase_account(account_id, store, settings, client=client)
    for place in report.places:
        _say(out if place.ok else err, f"{place.name}: {place.done}")
    if not report.ok:
        _say(err, f"incomplete: run `dunning account erase {account_id} --yes` again")
        return 1
    _say(out, f"erased: account {account_id}'s personal data; its audit chain is kept")
    return 0
