"""Twilio's answers → the transport exceptions the rest of the system understands.

One table of codes, so a code seen in production is added in one place. Source: Twilio's error
dictionary (https://www.twilio.com/docs/api/errors). The webhook server reads the same tables to
turn a status callback's `ErrorCode` into an event.
"""

from __future__ import annotations

from activities.channels.base import (
    CredentialsRejected,
    ProviderRefused,
    ProviderUnavailable,
    TransportError,
    Undeliverable,
)
from activities.channels.errors import redact

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
