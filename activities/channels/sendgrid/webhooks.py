"""What SendGrid's webhooks say, as events: Inbound Parse (email replies) and the Event Webhook
(bounces, drops, unsubscribes, spam reports; and `processed`, SendGrid's word that it accepted
a message, which the send ledger reconciles emails in doubt with).

Pure parsing, no HTTP: the webhook server (`inbound/routes/sendgrid.py`) checks the signature,
finds the account and applies what these functions return. Event ids come from SendGrid's own
ids (`sg_event_id`, the reply's `Message-ID`), so a retried webhook is applied once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from activities.channels.sendgrid.email_text import reply_text
from config.ladder import Channel
from store.protocols import ProcessedEmail
from workflows.types import AccountEvent


@dataclass(frozen=True)
class InboundEmail:
    sender: str
    text: str  # the debtor's own words, quoted history removed; may be empty
    message_id: str

    def reply_event(self) -> AccountEvent:
        return AccountEvent(
            event_id=f"sendgrid-inbound:{self.message_id}",
            type="reply",
            channel=Channel.EMAIL,
            text=self.text,
            source="sendgrid",
        )


def inbound_email(values: Mapping[str, str], limit: int) -> InboundEmail | None:
    """An Inbound Parse post's text fields → the reply; None without a sender address."""
    sender = parseaddr(values.get("from", ""))[1]
    if "@" not in sender:
        return None
    text = reply_text(values.get("text"), values.get("html"), limit)
    message_id = _header(values.get("headers", ""), "Message-ID")
    if message_id is None:  # the same reply posted again still gets the same event id
        fallback = f"{sender}\n{values.get('subject', '')}\n{text}"
        message_id = hashlib.sha256(fallback.encode()).hexdigest()[:32]
    return InboundEmail(sender, text, message_id)


def email_event(item: dict[str, Any]) -> AccountEvent | None:
    """A SendGrid event → ours: hard bounces and drops make email unusable, unsubscribes and
    spam reports opt the debtor out of email; everything else is only information."""
    kind = item.get("event")
    event_id = item.get("sg_event_id")
    if not isinstance(event_id, str) or not event_id:
        return None
    common = {"event_id": f"sendgrid:{event_id}", "channel": Channel.EMAIL, "source": "sendgrid"}
    if kind == "bounce" and item.get("type", "bounce") == "bounce":
        return AccountEvent(
            type="delivery_failed", code=str(item.get("status", "bounce")), **common
        )
    if kind == "dropped":
        return AccountEvent(
            type="delivery_failed", code=str(item.get("reason", "dropped")), **common
        )
    if kind in ("unsubscribe", "group_unsubscribe", "spamreport"):
        return AccountEvent(type="opt_out", **common)
    return None


def processed_email(item: dict[str, Any]) -> ProcessedEmail | None:
    """A `processed` event of one of our emails (it carries the `idempotency_key` custom arg,
    which SendGrid echoes as a top-level field) → what an email in doubt is reconciled with;
    None for any other event, or one missing a field (never guessed)."""
    if item.get("event") != "processed":
        return None
    key, message_id, event_id = (
        item.get("idempotency_key"),
        item.get("sg_message_id"),
        item.get("sg_event_id"),
    )
    stamp = item.get("timestamp")  # Unix seconds, SendGrid's clock
    if not all(isinstance(value, str) and value for value in (key, message_id, event_id)):
        return None
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        return None
    try:
        processed_at = datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, OSError, ValueError):  # out of range, NaN
        return None
    return ProcessedEmail(str(key), str(message_id), processed_at, str(event_id))


def _header(headers: str, name: str) -> str | None:
    for line in headers.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower() and value.strip():
            return value.strip()[:300]
    return None
