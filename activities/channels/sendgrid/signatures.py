"""SendGrid's two ways of proving a webhook came from SendGrid.

- Event Webhook: ECDSA P-256 over "<timestamp><raw body>", checked with the SDK's `EventWebhook`
  helper against the verification key from SendGrid's Mail Settings (signed event webhook).
- Inbound Parse has no signature: a secret in the URL (`?key=`) or HTTP basic auth.

Every comparison is constant-time. A missing key or secret refuses every request (fails closed).
"""

from __future__ import annotations

import base64
import binascii
import hmac

from cryptography.exceptions import UnsupportedAlgorithm
from sendgrid.helpers.eventwebhook import EventWebhook

SENDGRID_SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def sendgrid_valid(
    public_key: str | None, body: bytes, signature: str | None, timestamp: str | None
) -> bool:
    if not (public_key and signature and timestamp):
        return False
    try:
        verifier = EventWebhook(public_key)
        return bool(verifier.verify_signature(body.decode("utf-8"), signature, timestamp))
    except (ValueError, UnicodeDecodeError, binascii.Error, UnsupportedAlgorithm):
        return False


def basic_or_key_valid(secret: str | None, key: str | None, authorization: str | None) -> bool:
    """Inbound Parse: `?key=<secret>` or `Authorization: Basic <anything>:<secret>`."""
    if not secret:
        return False
    if key is not None and hmac.compare_digest(key.encode(), secret.encode()):
        return True
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, _, password = decoded.partition(":")
        return hmac.compare_digest(password.encode(), secret.encode())
    return False
