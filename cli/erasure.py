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

Exit codes: 0 erased everywhere, 1 refused or some place not reached (run it again), 2 bad id.
"""

from __future__ import annotations

import asyncio
import csv
import fcntl
import io
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from config.compliance import RULES, RuleId, profile
from workflows.types import workflow_id_for

if TYPE_CHECKING:
    from temporalio.client import Client

    from config.settings import Settings
    from store.protocols import AuditRecord, Store


@dataclass(frozen=True)
class Place:
    """One place personal data was kept, and what erasure did there."""

    name: str
    done: str
    ok: bool = True


@dataclass
class ErasureReport:
    account_id: str
    places: list[Place] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(place.ok for place in self.places)


# ---- may it be erased? -------------------------------------------------------------------------


def jurisdiction_refusal(account_id: str, records: Sequence[AuditRecord]) -> str | None:
    """Why the account's profile forbids erasure (None: it enforces it)."""
    opened = next((record.body for record in records if record.kind == "opened"), None)
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


def erase_local(account_id: str, store: Store, settings: Settings, now: datetime) -> list[Place]:
    """Everything but Temporal: the store and the files on this machine."""
    records = store.audit.records(account_id)
    letter_names = letter_file_names(account_id, records)
    places = [
        Place(
            "send ledger",
            f"{store.ledger.forget_recipients(workflow_id_for(account_id) + '/')} "
            "recipient(s) blanked",
        ),
        Place("call scripts", f"{store.call_scripts.forget_account(account_id)} deleted"),
        _files("outbox", erase_outbox, settings.outbox_dir, account_id),
        _files("letters", erase_letters, settings.letters_path, account_id, letter_names),
        _files("handoff exports", erase_handoffs, settings.handoff_dir, account_id),
    ]
    erased = store.audit.erase(account_id, now)
    places.insert(
        0,
        Place(
            "audit store",
            f"{erased} content(s) erased (debtor, messages, free texts); "
            f"{len(records)} record(s), their hashes and the account id kept",
        ),
    )
    return places


def _files(name: str, erase: Callable[..., Place], *args: object) -> Place:
    """A file that cannot be removed (permissions, a full disk) fails its place, not the rest."""
    try:
        return erase(*args)
    except OSError as exc:
        return Place(name, f"not erased: {exc}", ok=False)


async def delete_history(client: Client | None, workflow_id: str) -> Place:
    """Delete every run of the workflow (continue-as-new leaves one per run, each holding the
    debtor). "Not found" is success: retention or an earlier erase got there first."""
    if client is None:
        return Place("Temporal", f"not reached: the history of {workflow_id} is kept", ok=False)
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
    from temporalio.service import RPCError, RPCStatusCode

    run_ids: list[str] = []
    try:
        async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
            run_ids.append(execution.run_id)
    except RPCError:
        pass  # no visibility (the time-skipping server): the current run is deleted below
    deleted = 0
    for run_id in run_ids or [""]:  # "": the current run
        request = DeleteWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
        )
        try:
            await client.workflow_service.delete_workflow_execution(request)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                continue
            return Place("Temporal", f"history of {workflow_id} not deleted: {exc.message}", False)
        deleted += 1
    if not deleted:
        return Place("Temporal", f"no history of {workflow_id} left (already gone)")
    return Place("Temporal", f"history of {workflow_id} deleted ({deleted} run(s))")


def erase_outbox(outbox_dir: Path, account_id: str) -> Place:
    """The outbox keeps each message (recipient, text) as `<outbox>/<account>/<...>.json`."""
    from activities.channels.files import safe_name

    directory = outbox_dir / safe_name(account_id, 120)
    removed = 0
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if path.is_file() and _owner(path) in (account_id, None):
                path.unlink()
                removed += 1
        if not any(directory.iterdir()):
            directory.rmdir()
    return Place("outbox", f"{removed} message file(s) removed from {directory}")


def _owner(path: Path) -> str | None:
    """The account a stored message belongs to (None: unreadable, e.g. a stray temp file)."""
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["account_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def letter_file_names(account_id: str, records: Sequence[AuditRecord]) -> set[str]:
    """The PDF names of the account's letters, from their idempotency keys (the printer's own
    naming): exact, where a prefix would also match account `A.1`'s letters for account `A`."""
    from activities.channels.files import key_digest, safe_name

    names = set()
    for record in records:
        body = record.body
        if record.kind == "contact" and body.get("channel") == "letter":
            key, step = body.get("idempotency_key"), body.get("step")
            if key and step:
                digest = key_digest(str(key), 12)
                names.add(f"{safe_name(account_id, 80)}.{safe_name(str(step), 80)}.{digest}.pdf")
    return names


def erase_letters(letters_dir: Path, account_id: str, known_names: set[str]) -> Place:
    """The PDFs (named from the audit, or listed for the account in a day's manifest), and the
    address columns of the account's manifest rows."""
    removed = redacted = 0
    if letters_dir.is_dir():
        for day in sorted(p for p in letters_dir.iterdir() if p.is_dir()):
            listed, blanked = redact_manifest(day, account_id)
            redacted += blanked
            for name in known_names | listed:
                pdf = day / name
                if pdf.is_file():
                    pdf.unlink()
                    removed += 1
    return Place("letters", f"{removed} PDF(s) removed, {redacted} manifest row(s) without address")


def redact_manifest(day: Path, account_id: str) -> tuple[set[str], int]:
    """Blank the recipient lines of the account's rows in the day's manifest, in place, under
    the printer's exclusive lock; returns the files those rows list and how many rows changed.

    Rows keep their count and order; their byte offsets change, so the append checkpoint is
    reset to 0, which the manifest's appender reads as "rebuild the markers from the start"
    (`activities/channels/letters/manifest.py`): slower once, never wrong.
    """
    from activities.channels.letters.manifest import CHECKPOINT, INDEX_DIR
    from activities.channels.letters.printer import MANIFEST

    manifest = day / MANIFEST
    if not manifest.is_file():
        return set(), 0
    with open(manifest, "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        data = handle.read()
        whole = data[: data.rfind(b"\n") + 1]  # a row torn by a crash is the appender's
        reader = csv.DictReader(io.StringIO(whole.decode("utf-8"), newline=""))
        columns = list(reader.fieldnames or [])
        rows = list(reader)
        ours = [row for row in rows if row.get("account_id") == account_id]
        files = {row["file"] for row in ours if row.get("file")}
        blank = [name for name in columns if name.startswith("recipient_")]
        changed = [row for row in ours if any(row.get(name) for name in blank)]
        if not changed:
            return files, 0
        for row in changed:
            row.update(dict.fromkeys(blank, ""))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        handle.seek(0)
        handle.truncate()
        handle.write(text.getvalue().encode("utf-8") + data[len(whole) :])
        handle.flush()
        os.fsync(handle.fileno())
        checkpoint = day / INDEX_DIR / CHECKPOINT
        if checkpoint.parent.is_dir():
            temporary = checkpoint.with_name(f"{CHECKPOINT}.{os.getpid()}.erase.tmp")
            temporary.write_text("0\n", encoding="ascii")
            os.replace(temporary, checkpoint)
    return files, len(changed)


def erase_handoffs(handoff_dir: Path, account_id: str) -> Place:
    """`write_handoff` writes `<handoff dir>/<UTC date>/<account>.json`: debtor included."""
    removed = 0
    if handoff_dir.is_dir():
        for path in sorted(handoff_dir.glob(f"*/{account_id}.json")):
            path.unlink()
            removed += 1
    return Place("handoff exports", f"{removed} file(s) removed from {handoff_dir}")


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
    refusal = jurisdiction_refusal(account_id, records)
    client = None
    if refusal is None:
        client = await connected(settings, err)
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
