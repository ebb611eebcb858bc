"""The `processed` events SendGrid's Event Webhook posts for the emails the fake accepted.

Shaped as in SendGrid's Event Webhook reference: one event per recipient, `timestamp` in Unix
seconds, `smtp-id`, `sg_event_id`, `sg_message_id` = the X-Message-Id followed by SendGrid's
filter suffix, `category` (a string for one, an array for several), and the message's custom
args (mail-level, then personalization-level) as top-level fields: how `idempotency_key` and
`account_id` come back to the webhook server.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any


def processed_events(
    mail: dict[str, Any], message_id: str, accepted_at: datetime
) -> list[dict[str, Any]]:
    categories = mail.get("categories") or []
    events = []
    for index, personalization in enumerate(mail.get("personalizations") or []):
        custom_args = {
            **(mail.get("custom_args") or {}),
            **(personalization.get("custom_args") or {}),
        }
        for position, recipient in enumerate(personalization.get("to") or []):
            seed = f"{message_id}/{index}/{position}".encode()
            event: dict[str, Any] = {
                **custom_args,
                "email": recipient["email"],
                "timestamp": int(accepted_at.timestamp()),
                "smtp-id": f"<{message_id}@ismtpd-fake>",
                "event": "processed",
                "sg_event_id": base64.urlsafe_b64encode(hashlib.sha256(seed).digest()[:16])
                .decode()
                .rstrip("="),
                "sg_message_id": f"{message_id}.filterdrecv-fake-{index}-{position}.0",
            }
            if categories:  # one category is a string, several an array
                event["category"] = categories[0] if len(categories) == 1 else list(categories)
            events.append(event)
    return events
