"""The `record_audit` activity: write the workflow's audit records to the shared audit store.

The workflow decides what is recorded (`AuditEntry`: a key, a moment, a kind, a body without
personal data) and when; this activity only writes it, because the store is I/O and the
workflow may not touch it. One `AuditBatch` becomes one `AuditLog.append` call: one
transaction, so a batch is either in the chain entirely or not at all.

What is personal or large is stored apart, content-addressed (`put_content`), and the record's
body names it by sha256, so `account erase` can remove it without breaking the hash chain:
- an entry's free `text` (a reply, a dispute's reason) → `body["text"]`, about the account;
- the batch's `debtor` (who the account is about, as imported) → the `opened` entry's
  `body["debtor"]`, about the account;
- the batch's `ladder` (the rules the account runs) → the `opened` entry's `body["ladder"]`,
  about nobody: a ladder holds no personal data and is shared by every account that runs it.

Idempotent: contents are stored once by their hash and the store skips record keys it already
has, so a retried activity (or a local activity run again as a normal one) adds nothing. The
workflow calls it by name ("record_audit"), as a local activity first; it returns None.

A worker without a store (tests, `dunning simulate`) registers it with `audit=None`: the
workflow's calls then succeed and record nothing, as `record_account_closed` does.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from temporalio import activity

from store.protocols import AuditAppend, AuditLog, AuditRecord
from workflows.activity_types import AuditBatch
from workflows.types import AuditEntry

RECORD_AUDIT = "record_audit"
TEXT = "text/plain"
JSON = "application/json"
OPENED = "opened"


@dataclass
class AuditActivities:
    """Bound to the shared store's audit log; a worker registers the bound method."""

    audit: AuditLog | None = None  # None: nothing is recorded (no shared store)

    @activity.defn(name=RECORD_AUDIT)
    async def record_audit(self, batch: AuditBatch) -> None:
        """Append the batch's entries for its account (one transaction, in a thread: the
        store's calls are synchronous and must not block the worker's event loop)."""
        if self.audit is None or not batch.entries:
            return
        await asyncio.to_thread(write_batch, self.audit, batch)


def canonical_json(model: BaseModel) -> bytes:
    """Sorted keys and no spaces: the same ladder or debtor always has the same hash, so it is
    stored once however many accounts and retries name it."""
    data = model.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def write_batch(audit: AuditLog, batch: AuditBatch) -> list[AuditRecord]:
    """Store the batch's contents, then append its records; returns the records as stored."""
    opened: dict[str, Any] = {}
    if any(entry.kind == OPENED for entry in batch.entries):
        # Stored only with an `opened` entry to name them: an unreferenced debtor would be
        # personal data no record accounts for.
        if batch.ladder is not None:
            opened["ladder"] = audit.put_content(canonical_json(batch.ladder), JSON)
        if batch.debtor is not None:
            opened["debtor"] = audit.put_content(
                canonical_json(batch.debtor), JSON, account_id=batch.account_id
            )
    records = [audit_append(audit, batch.account_id, entry, opened) for entry in batch.entries]
    return audit.append(batch.account_id, records)


def audit_append(
    audit: AuditLog, account_id: str, entry: AuditEntry, opened: dict[str, Any]
) -> AuditAppend:
    """One entry → one record to append; its text goes to the content store first."""
    body = dict(entry.body)
    if entry.text is not None:
        body["text"] = audit.put_content(entry.text.encode(), TEXT, account_id=account_id)
    if entry.kind == OPENED:
        body.update(opened)
    return AuditAppend(key=entry.key, at=entry.at, kind=entry.kind, body=body)
