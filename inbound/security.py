"""Who may talk to the webhook server: one FastAPI dependency per sender, each with the sender's
own scheme. A route declares its check (`Depends(verify_twilio_signature)`, or the router does
for all its routes), so the check runs before the route and no route can forget it;
`tests/test_webhook_routes.py` fails for a POST route without one.

- Twilio: `X-Twilio-Signature` over the public URL and the form
  (`activities/channels/twilio/signatures.py`); the URL is rebuilt from
  `DUNNING_PUBLIC_BASE_URL` (what Twilio was told), never from the Host header.
- SendGrid Event Webhook: ECDSA over "<timestamp><raw body>"; Inbound Parse: a secret in the URL
  or HTTP basic auth (`activities/channels/sendgrid/signatures.py`).
- Payments: `X-Dunning-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` under
  `DUNNING_PAYMENTS_WEBHOOK_SECRET`, with `X-Dunning-Timestamp` within 5 minutes (replays).
  The scheme is ours, so it lives here (`dunning send-payment` signs with it too).
- Unsubscribe links: the token's own HMAC (`activities/channels/unsubscribe.py`).

A refused request gets 403 (404 for an unsubscribe token) and nothing else happens. Every
comparison is constant-time. A missing secret setting refuses every request on that route, so a
half-configured deployment fails closed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Annotated

from fastapi import Depends, Request

from activities.channels.sendgrid.signatures import (
    SENDGRID_SIGNATURE_HEADER,
    SENDGRID_TIMESTAMP_HEADER,
    basic_or_key_valid,
    sendgrid_valid,
)
from activities.channels.twilio.signatures import SIGNATURE_HEADER, twilio_valid
from activities.channels.twilio.webhooks import parse_form
from activities.channels.unsubscribe import read_unsubscribe_token
from config.ladder import Channel
from inbound.context import WebhookContext, webhook_context

log = logging.getLogger("dunning.webhooks")

PAYMENT_TOLERANCE_SECONDS = 300

Context = Annotated[WebhookContext, Depends(webhook_context)]


class Refused(Exception):
    """A request turned away by its check; answered `status` with a short plain-text body."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


FORBIDDEN = (403, "forbidden")


# ---- the checks, as dependencies ------------------------------------------------------------


async def verify_twilio_signature(request: Request, context: Context) -> dict[str, str]:
    """The signed form fields (the last value of a repeated one); 403 unless Twilio signed."""
    settings = context.settings
    auth_token = (
        settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
    )
    fields = parse_form(await request.body())
    query = f"?{request.url.query}" if request.url.query else ""
    url = settings.public_base_url + request.url.path + query
    signature = request.headers.get(SIGNATURE_HEADER)
    if fields is None or not twilio_valid(auth_token, url, fields, signature):
        log.info("%s: refused, bad or missing Twilio signature", request.url.path)
        raise Refused(*FORBIDDEN)
    return dict(fields)


async def verify_sendgrid_signature(request: Request, context: Context) -> bytes:
    """The raw body of a signed Event Webhook post; 403 unless SendGrid signed it."""
    body = await request.body()
    if not sendgrid_valid(
        context.settings.sendgrid_webhook_public_key,
        body,
        request.headers.get(SENDGRID_SIGNATURE_HEADER),
        request.headers.get(SENDGRID_TIMESTAMP_HEADER),
    ):
        log.info("/sendgrid/events: refused, bad or missing signature")
        raise Refused(*FORBIDDEN)
    return body


async def verify_inbound_parse_secret(request: Request, context: Context) -> None:
    """403 unless the Inbound Parse post carries our secret (`?key=` or basic auth)."""
    secret = context.settings.inbound_parse_secret
    if not basic_or_key_valid(
        secret.get_secret_value() if secret else None,
        request.query_params.get("key"),
        request.headers.get("Authorization"),
    ):
        log.info("/sendgrid/inbound: refused, bad or missing secret")
        raise Refused(*FORBIDDEN)


async def verify_payment_signature(request: Request, context: Context) -> bytes:
    """The raw body of a signed, fresh payment notice; 403 otherwise."""
    body = await request.body()
    problem = payment_valid(
        context.settings.payments_webhook_secret.get_secret_value(),
        body,
        request.headers.get("X-Dunning-Signature"),
        request.headers.get("X-Dunning-Timestamp"),
        context.clock(),
    )
    if problem is not None:
        log.info("/payments: refused, %s", problem)
        raise Refused(*FORBIDDEN)
    return body


def verify_unsubscribe_token(token: str, context: Context) -> tuple[str, Channel]:
    """(account id, channel) of an intact unsubscribe token; 404 otherwise."""
    found = read_unsubscribe_token(context.settings.link_secret.get_secret_value(), token)
    if found is None:
        raise Refused(404, "not found")
    return found


# Every POST route must depend on one of these (tests/test_webhook_routes.py).
SIGNATURE_CHECKS = (
    verify_twilio_signature,
    verify_sendgrid_signature,
    verify_inbound_parse_secret,
    verify_payment_signature,
    verify_unsubscribe_token,
)


# ---- the payments scheme --------------------------------------------------------------------


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
