"""What the audit store gets from the workflow: every contact attempt and every event with its
answer, as records derived from the state.

The state's `contacts` and `events` only ever grow at the end or, for an event, at a position
at or after the last one audited (an event stands before the milestones it caused, never
before anything already written). So "what is not yet in the audit store" is simply the tail
past `audited_contacts` / `audited_events`, and each record's key is its position in the
account's whole record (`contact:7`, `event:12`): a retried or repeated write adds nothing.

Bodies hold no personal data: free text (a dispute's reason, the words a reply matched) goes
in the entry's `text`, which the activity stores content-addressed so that erasure can remove
it without breaking the hash chain. The rendered messages are stored by the send activity
(the contact's `content`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from config.compliance import citation
from workflows.activity_types import AuditBatch
from workflows.types import (
    EVENT_TYPES,
    AccountInput,
    AccountState,
    AuditEntry,
    ContactRecord,
    EventRecord,
    utc_iso,
)

# Detail keys that may carry the debtor's own words.
FREE_TEXT = ("reason", "matched")
# At continue-as-new, audited records beyond these are dropped from the carried state.
# Generous: a worker without an audit store (simulate, tests) writes nothing, and the handoff
# export and `simulate` read the state's records; no real account comes near this.
KEEP_CONTACTS = 500
KEEP_EVENTS = 500


@dataclass(frozen=True)
class Written:
    """How far a batch reached: applied to whatever the state has become meanwhile."""

    contacts: int
    events: int
    keys: frozenset[str]


def opened(state: AccountState, account: AccountInput, workflow_id: str, now: datetime) -> None:
    """Queue the account's first record (ladder, version, profile, the debtor by reference).
    Changes `state` in place; only once per account."""
    if state.audit_started:
        return
    state.audit_started = True
    body: dict[str, Any] = {
        "workflow_id": workflow_id,
        "ladder_name": account.ladder.name,
        "ladder_version": account.ladder.version,
        "jurisdiction": account.ladder.jurisdiction.value,
        "currency": account.currency,
        "balance": str(account.balance),
        "due_at": utc_iso(account.due_at),
    }
    if account.itemization is not None:
        body["itemization"] = account.itemization.model_dump(mode="json")
    state.audit_pending.append(AuditEntry(key="opened", at=now, kind="opened", body=body))


def closed(state: AccountState, now: datetime) -> None:
    """Queue the final record. Changes `state` in place."""
    body = {"status": state.status.value, "balance": str(state.balance)}
    at = state.closed_at or now
    state.audit_pending.append(AuditEntry(key="closed", at=at, kind="closed", body=body))


def continued(state: AccountState, now: datetime) -> None:
    """Queue a record of the continue-as-new (the run it ends). Changes `state` in place."""
    key = f"continued:{state.runs}"
    state.audit_pending.append(
        AuditEntry(key=key, at=now, kind="continued", body={"run": state.runs})
    )


def batch(
    state: AccountState, account: AccountInput, workflow_id: str
) -> tuple[AuditBatch, Written] | None:
    """The records not yet written, or None when there are none (no activity is called), or
    the account is not run by the compliance rules."""
    if not state.compliance:
        return None
    contacts = state.contacts[state.audited_contacts :]
    events = state.events[state.audited_events :]
    if not (state.audit_pending or contacts or events):
        return None
    # In the order things happened: the opening first, a close or continue-as-new last.
    first = [entry for entry in state.audit_pending if entry.kind == "opened"]
    last = [entry for entry in state.audit_pending if entry.kind != "opened"]
    entries = [
        *first,
        *(
            contact_entry(record, state.contacts_trimmed + state.audited_contacts + offset)
            for offset, record in enumerate(contacts)
        ),
        *(
            event_entry(record, state.events_trimmed + state.audited_events + offset)
            for offset, record in enumerate(events)
        ),
        *last,
    ]
    opening = any(entry.kind == "opened" for entry in state.audit_pending)
    request = AuditBatch(
        account_id=account.account_id,
        workflow_id=workflow_id,
        entries=entries,
        ladder=account.ladder if opening else None,
        debtor=account.debtor if opening else None,
    )
    written = Written(
        len(state.contacts),
        len(state.events),
        frozenset(entry.key for entry in state.audit_pending),
    )
    return request, written


def written(state: AccountState, done: Written) -> None:
    """Mark a batch as written on the current state (events may have come in meanwhile:
    they stay for the next batch). Changes `state` in place."""
    state.audited_contacts = max(state.audited_contacts, done.contacts)
    state.audited_events = max(state.audited_events, done.events)
    state.audit_pending = [entry for entry in state.audit_pending if entry.key not in done.keys]


def trimmed(state: AccountState) -> None:
    """Before continue-as-new: drop audited records beyond the last few from the carried state
    (the audit store has them all). Changes `state` in place."""
    drop = max(0, min(state.audited_contacts, len(state.contacts) - KEEP_CONTACTS))
    if drop:
        del state.contacts[:drop]
        state.audited_contacts -= drop
        state.contacts_trimmed += drop
    drop = max(0, min(state.audited_events, len(state.events) - KEEP_EVENTS))
    if drop:
        del state.events[:drop]
        state.audited_events -= drop
        state.events_trimmed += drop


def contact_entry(record: ContactRecord, index: int) -> AuditEntry:
    # `variant` only when the step has variants: a record of a step without them keeps the
    # body it had before variants existed, so a batch rewritten by a newer worker (a task
    # retried across a deploy) matches what an older one already wrote.
    exclude = {"at"} if record.variant is not None else {"at", "variant"}
    body: dict[str, Any] = {
        "index": index,
        **record.model_dump(mode="json", exclude=exclude),
        "citation": citation(record.rule) if record.rule else None,
    }
    return AuditEntry(key=f"contact:{index}", at=record.at, kind="contact", body=body)


def event_entry(record: EventRecord, index: int) -> AuditEntry:
    detail = {key: value for key, value in record.detail.items() if key not in FREE_TEXT}
    words = {key: record.detail[key] for key in FREE_TEXT if record.detail.get(key)}
    body: dict[str, Any] = {
        "index": index,
        "type": record.type,
        "accepted": record.accepted,
        "reason": record.reason,
        "event_id": record.event_id,
        "detail": detail,
    }
    text = "\n".join(f"{key}: {value}" for key, value in sorted(words.items())) or None
    kind = "event" if record.type in EVENT_TYPES else "milestone"
    return AuditEntry(key=f"event:{index}", at=record.at, kind=kind, body=body, text=text)
