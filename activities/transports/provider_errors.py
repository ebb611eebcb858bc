"""Provider answers → the transport exceptions the rest of the system understands.

One table per provider, so a code seen in production is added in one place. Sources: Twilio's
error dictionary (https://www.twilio.com/docs/api/errors) and SendGrid's v3 mail send reference.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping

from activities.transports.base import (
    CredentialsRejected,
    ProviderRefused,
    ProviderUnavailable,
    TransportError,
    Undeliverable,
)

# Twilio codes that say the recipient cannot be reached on this channel.
TWILIO_UNDELIVERABLE: dict[int, str] = {
    21211: "invalid 'To' phone number",
    21214: "'To' phone number cannot be reached",
    21217: "phone number does not appear to be valid",
    21401: "invalid phone number",
    21407: "this phone number type does not support SMS",
    21612: "the 'To' number is not currently reachable via SMS",
    21614: "'To' number is not a valid mobile number (a landline?)",
    13224: "invalid phone number for a call",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
}
TWILIO_OPTED_OUT: dict[int, str] = {
    21610: "the recipient replied STOP: Twilio blocks messages to this number",
}
TWILIO_CREDENTIALS = {20003, 20005}  # authenticate; account not active
TWILIO_RATE_LIMITED = {20429, 14107}


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """`Retry-After` (seconds or an HTTP date), else SendGrid's `X-RateLimit-Reset` (Unix time)."""
    if not headers:
        return None
    lowered = {key.lower(): value for key, value in headers.items()}
    value = (lowered.get("retry-after") or "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            parsed = email.utils.parsedate_to_datetime(value)
            return max(0.0, parsed.timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    reset = lowered.get("x-ratelimit-reset")
    if reset and reset.strip().isdigit():
        return max(1.0, float(reset) - time.time())
    return None


_PHONE = re.compile(r"\+?\d[\d ().-]{5,}\d")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def redact(text: str) -> str:
    """Provider messages quote the recipient ("The 'To' number +1415… is not valid"); errors go
    into Temporal's history and the logs, which must not hold contact data."""
    return _EMAIL.sub("<email>", _PHONE.sub("<number>", text))


def twilio_error(status: int, code: int | None, message: str) -> TransportError:
    text = f"Twilio {status}" + (f" error {code}" if code else "") + f": {redact(message)}"
    if code in TWILIO_OPTED_OUT:
        return Undeliverable(text, reason="opted_out", code=str(code))
    if code in TWILIO_UNDELIVERABLE:
        return Undeliverable(text, code=str(code))
    if status == 401 or code in TWILIO_CREDENTIALS:
        return CredentialsRejected("Twilio", text)
    if status == 429 or status >= 500 or code in TWILIO_RATE_LIMITED:
        return ProviderUnavailable(text)
    return ProviderRefused(text, code=str(code) if code else None)


def sendgrid_error(status: int, body: str, headers: Mapping[str, str] | None) -> TransportError:
    text = f"SendGrid {status}: {redact(body.strip()[:300])}"
    if status in (401, 403):
        return CredentialsRejected("SendGrid", text)
    if status == 429 or status >= 500:
        return ProviderUnavailable(text, retry_after=retry_after_seconds(headers))
    if status == 400 and ("personalizations" in body and ".to." in body):
        return Undeliverable(text)  # the recipient address itself was refused
    return ProviderRefused(text)
