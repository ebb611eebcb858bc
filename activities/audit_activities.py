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

Idempotent: contents are stored once by their hash and the store skips a record it already
has under its key, so a retried activity (or a local activity run again as a normal one) adds
nothing. A different record under a key already there (`AuditConflict`: a workflow that decided
differently on a replay after a code change, a bug) is not lost: it is kept under
`<key>/conflict-<12 hex>` (the sha256 of its kind, `at` and body, so the same conflicting
record gets the same key on a retry) and a warning is logged; the trail shows both. The
workflow calls it by name ("record_audit"), as a local activity first; it returns None.

A worker without a store (tests, `dunning simulate`) registers it with `audit=None`: the
workflow's calls then succeed and record nothing, as `record_account_closed` does.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel
from temporalio import activity

from store.audit import canonical_json, iso_utc
from store.protocols import CONFLICT, AuditAppend, AuditConflict, AuditLog, AuditRecord
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


def model_json(model: BaseModel) -> bytes:
    """The store's canonical JSON (sorted keys, no spaces, UTF-8): the same ladder or debtor
    always has the same hash, so it is stored once however many accounts and retries name
    it."""
    return canonical_json(model.model_dump(mode="json")).encode()


def write_batch(audit: AuditLog, batch: AuditBatch) -> list[AuditRecord]:
    """Store the batch's contents, then append its records; returns the records as stored."""
    opened: dict[str, Any] = {}
    if any(entry.kind == OPENED for entry in batch.entries):
        # Stored only with an `opened` entry to name them: an unreferenced debtor would be
        # personal data no record accounts for.
        if batch.ladder is not None:
            opened["ladder"] = audit.put_content(model_json(batch.ladder), JSON)
        if batch.debtor is not None:
            opened["debtor"] = audit.put_content(
                model_json(batch.debtor), JSON, account_id=batch.account_id
            )
    records = [audit_append(audit, batch.account_id, entry, opened) for entry in batch.entries]
    return append_keeping_conflicts(audit, batch.account_id, records)


def append_keeping_conflicts(
    audit: AuditLog, account_id: str, records: list[AuditAppend]
) -> list[AuditRecord]:
    """`append` in one transaction; a record refused for its key (`AuditConflict`) is moved
    to its conflict key and the whole batch tried again, so the batch stays all or nothing.
    Each try moves one record: at most one try more than there are records."""
    for _ in range(len(records) + 1):
        try:
            return audit.append(account_id, records)
        except AuditConflict as conflict:
            refused = conflict.record
            if refused is None or refused not in records or CONFLICT in refused.key:
                raise  # not one this batch can move (or moved already and clashing again)
            moved = replace(refused, key=conflict_key(refused))
            records = list(records)
            records[records.index(refused)] = moved
            activity.logger.warning(
                "audit: account %s: key %r already holds a different record; this one is "
                "kept as %r",
                account_id,
                refused.key,
                moved.key,
            )
    raise AssertionError("unreachable: every try moves one record")  # pragma: no cover


def conflict_key(record: AuditAppend) -> str:
    """Where a record refused for its key is kept: the key, then 12 hex of the sha256 of its
    kind, `at` and body (canonical JSON), so a retry of the same record lands on the same key
    (and is skipped there) while a different one gets its own."""
    fields = {"kind": record.kind, "at": iso_utc(record.at), "body": record.body}
    digest = hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()
    return f"{record.key}{CONFLICT}{digest[:12]}"


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
