"""What SendGrid's webhooks say, as events: Inbound Parse (email replies) and the Event Webhook
(bounces, drops, unsubscribes, spam reports).

Pure parsing, no HTTP: the webhook server (`inbound/routes/sendgrid.py`) checks the signature,
finds the account and applies what these functions return. Event ids come from SendGrid's own
ids (`sg_event_id`, the reply's `Message-ID`), so a retried webhook is applied once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from activities.channels.sendgrid.email_text import reply_text
from config.ladder import Channel
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


def _header(headers: str, name: str) -> str | None:
    for line in headers.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower() and value.strip():
            return value.strip()[:300]
    return None
