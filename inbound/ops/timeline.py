"""One account's timeline for the account page: contacts, events (with their answers) and
milestones in time order, each sent contact with the message as rendered, read from the audit
store by the sha256 the send activity recorded on the contact (`ContactRecord.content`).

From the workflow's `status` view while Temporal has the workflow; once it is gone (retention
passed, or deleted), from the audit store's records, which outlive it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from store.protocols import AuditRecord, StoredContent, is_conflict_copy
from workflows.types import AccountView, ContactRecord, EventRecord

ContentLookup = Callable[[str], StoredContent | None]


@dataclass(frozen=True)
class Message:
    """A rendered message as the provider got it (None fields: not stored, or erased)."""

    channel: str | None = None
    to: str | None = None
    subject: str | None = None
    text: str | None = None
    template: str | None = None
    gone: str | None = None  # "erased" / "not in the audit store"


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # contact, event, milestone
    title: str  # step or event type
    outcome: str  # sent / suppressed / accepted / refused / milestone
    facts: dict[str, str] = field(default_factory=dict)
    message: Message | None = None


def message_from(sha256: str | None, lookup: ContentLookup | None) -> Message | None:
    if not sha256 or lookup is None:
        return None
    stored = lookup(sha256)
    if stored is None:
        return Message(gone="not in the audit store")
    if stored.body is None:
        return Message(gone=f"erased {stored.erased_at:%Y-%m-%d}" if stored.erased_at else "erased")
    try:
        document: Any = json.loads(stored.body)
    except ValueError:
        return Message(text=stored.body.decode("utf-8", errors="replace"))
    if not isinstance(document, dict):
        return Message(text=str(document))
    return Message(
        channel=document.get("channel"),
        to=document.get("to"),
        subject=document.get("subject"),
        text=document.get("text"),
        template=document.get("template"),
    )


def contact_entry(record: ContactRecord, lookup: ContentLookup | None) -> Entry:
    facts = {
        "channel": record.channel.value,
        "template": record.template,
        "variant": record.variant or "",
        "reason": record.reason or "",
        "rule": record.rule or "",
        "fallback for": record.fallback_for.value if record.fallback_for else "",
        "deadline": record.deadline.isoformat() if record.deadline else "",
        "confirmed": "" if record.confirmed or record.outcome != "sent" else "no",
    }
    return Entry(
        at=record.at,
        kind="contact",
        title=record.step,
        outcome=record.outcome,
        facts={key: value for key, value in facts.items() if value},
        message=message_from(record.content, lookup) if record.outcome == "sent" else None,
    )


def event_entry(record: EventRecord, is_event: Callable[[str], bool]) -> Entry:
    facts = {key: value for key, value in record.detail.items() if value}
    if record.reason:
        facts["reason"] = record.reason
    if is_event(record.type):
        outcome = "accepted" if record.accepted else "refused"
        kind = "event"
    else:
        outcome, kind = "milestone", "milestone"
    return Entry(at=record.at, kind=kind, title=record.type, outcome=outcome, facts=facts)


def from_view(view: AccountView, lookup: ContentLookup | None) -> list[Entry]:
    from workflows.types import EVENT_TYPES

    entries = [contact_entry(record, lookup) for record in view.contacts]
    entries += [event_entry(record, EVENT_TYPES.__contains__) for record in view.events]
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


def from_audit(records: list[AuditRecord], lookup: ContentLookup | None) -> list[Entry]:
    """The timeline of an account Temporal no longer has: its audit records. A conflict copy
    (a record refused for its key, kept under `<key>/conflict-...` for whoever investigates) is
    not the account's history: skipped, as the report and `account show` skip it."""
    entries = []
    for record in records:
        if is_conflict_copy(record.key):
            continue
        body = record.body
        if record.kind == "contact":
            facts = {
                key: str(body[key])
                for key in ("channel", "template", "variant", "reason", "rule")
                if body.get(key)
            }
            entries.append(
                Entry(
                    at=record.at,
                    kind="contact",
                    title=str(body.get("step", "")),
                    outcome=str(body.get("outcome", "")),
                    facts=facts,
                    message=message_from(body.get("content"), lookup)
                    if body.get("outcome") == "sent"
                    else None,
                )
            )
        elif record.kind in ("event", "milestone"):
            facts = {key: str(value) for key, value in (body.get("detail") or {}).items() if value}
            if body.get("reason"):
                facts["reason"] = str(body["reason"])
            outcome = (
                ("accepted" if body.get("accepted") else "refused")
                if record.kind == "event"
                else "milestone"
            )
            title = str(body.get("type", ""))
            entries.append(Entry(record.at, record.kind, title, outcome, facts))
        else:
            facts = {key: str(value) for key, value in body.items() if isinstance(value, str | int)}
            entries.append(Entry(record.at, "record", record.kind, record.kind, facts))
    return sorted(entries, key=lambda entry: entry.at, reverse=True)
