"""Who may talk to the webhook server: one check per sender, each with the sender's own scheme.

- Twilio: `X-Twilio-Signature`, HMAC-SHA1 of the full public URL plus the sorted form fields
  under the auth token, checked with the SDK's `RequestValidator`. The URL is rebuilt from
  `DUNNING_PUBLIC_BASE_URL` (what Twilio was told), never from the Host header (what a proxy or
  tunnel rewrote).
- SendGrid Event Webhook: ECDSA P-256 over "<timestamp><raw body>", checked with the SDK's
  `EventWebhook` helper against the verification key from SendGrid's Mail Settings.
- SendGrid Inbound Parse has no signature: a secret in the URL (`?key=`) or HTTP basic auth.
- Payments: `X-Dunning-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` under
  `DUNNING_PAYMENTS_WEBHOOK_SECRET`, with `X-Dunning-Timestamp` within 5 minutes (replays).

Every comparison is constant-time. A missing secret setting refuses every request on that route
(403), so a half-configured deployment fails closed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence

from cryptography.exceptions import UnsupportedAlgorithm
from sendgrid.helpers.eventwebhook import EventWebhook
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator

PAYMENT_TOLERANCE_SECONDS = 300
SENDGRID_SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def twilio_valid(
    auth_token: str | None,
    url: str,
    params: Mapping[str, str] | Sequence[tuple[str, str]],
    signature: str | None,
) -> bool:
    if not auth_token or not signature:
        return False
    validator = RequestValidator(auth_token)
    return bool(validator.validate(url, _multi_dict(params), signature))


def _multi_dict(params: Mapping[str, str] | Sequence[tuple[str, str]]) -> ImmutableMultiDict:
    """Repeated form fields kept: the SDK signs every value of a repeated key (via getlist)."""
    return ImmutableMultiDict(list(params.items()) if isinstance(params, Mapping) else params)


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


def payment_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def payment_valid(
    secret: str | None, body: bytes, signature: str | None, timestamp: str | None, now: float
) -> str | None:
    """None when the payment webhook is authentic and fresh, else why not (for the log)."""
    if not secret:
        return "DUNNING_PAYMENTS_WEBHOOK_SECRET is not set"
    if not signature or not timestamp:
        return "missing X-Dunning-Signature or X-Dunning-Timestamp"
    if not timestamp.isdigit():
        return "X-Dunning-Timestamp is not Unix seconds"
    if abs(now - int(timestamp)) > PAYMENT_TOLERANCE_SECONDS:
        return "X-Dunning-Timestamp is outside the 5-minute window"
    expected = payment_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        return "signature does not match"
    return None
