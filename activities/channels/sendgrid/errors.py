"""SendGrid's answers → the transport exceptions the rest of the system understands.

Source: SendGrid's v3 mail send reference (401/403 credentials, 429 and 5xx retried after
`Retry-After` or `X-RateLimit-Reset`, a 400 naming the recipient's address undeliverable).
The only request the project makes to SendGrid is the mail send itself, so a 500/502/503/504
is always an answer to a send that SendGrid may have accepted anyway (`maybe_sent`).
"""

from __future__ import annotations

from collections.abc import Mapping

from activities.channels.base import (
    CredentialsRejected,
    ProviderRefused,
    ProviderUnavailable,
    TransportError,
    Undeliverable,
)
from activities.channels.errors import MAYBE_SENT_STATUSES, redact, retry_after_seconds


def sendgrid_error(status: int, body: str, headers: Mapping[str, str] | None) -> TransportError:
    text = f"SendGrid {status}: {redact(body.strip()[:300])}"
    if status in (401, 403):
        return CredentialsRejected("SendGrid", text)
    if status == 429 or status >= 500:
        return ProviderUnavailable(
            text,
            retry_after=retry_after_seconds(headers),
            maybe_sent=status in MAYBE_SENT_STATUSES,
        )
    if status == 400 and ("personalizations" in body and ".to." in body):
        return Undeliverable(text)  # the recipient address itself was refused
    return ProviderRefused(text)
