"""The places an account's personal data is kept, and how erasure empties each of them.

`dunning account erase` (cli/erasure.py) decides whether an account may be erased and asks; this
module does the erasing, one `Place` per place: the send ledger's recipients, the voicemail call
scripts, the audit store's contents (`erase_local`), the local outbox's message files, the
letters' PDFs and their manifest rows' addresses, the handoff exports, and the workflow's
history in Temporal (`delete_history`). A place that fails says so in its `Place` and does not
stop the others: running the erase again finishes the job.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

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
