"""`dunning send-payment`: one signed payment notice to the webhook server, as a processor would.

For trying the webhook server (and the signature scheme) with one command: the body, the
`X-Dunning-Timestamp` and the `X-Dunning-Signature` are built exactly as `/payments` expects,
with DUNNING_PAYMENTS_WEBHOOK_SECRET.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from decimal import Decimal, InvalidOperation

from rich.console import Console

from config.settings import Settings
from inbound.security import payment_signature


def send_payment(
    account_id: str,
    amount: str,
    currency: str,
    payment_id: str | None,
    url: str | None,
    settings: Settings,
    out: Console,
    err: Console,
) -> int:
    try:
        if Decimal(amount) <= 0:
            raise InvalidOperation
    except InvalidOperation:
        err.print(f"error: amount {amount!r} is not a positive decimal such as 120.50")
        return 2
    body = json.dumps(
        {
            "payment_id": payment_id or f"test-{uuid.uuid4().hex[:12]}",
            "account_id": account_id,
            "amount": amount,
            "currency": currency.upper(),
        }
    ).encode()
    stamp = str(int(time.time()))
    secret = settings.payments_webhook_secret.get_secret_value()
    request = urllib.request.Request(
        url or f"{settings.public_base_url}/payments",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Dunning-Timestamp": stamp,
            "X-Dunning-Signature": payment_signature(secret, stamp, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode(errors="replace")
    except OSError as exc:
        err.print(f"error: webhook server unreachable at {request.full_url}: {exc}", markup=False)
        return 1
    if status == 200 and json.loads(text).get("accepted"):
        out.print(f"{status} {text}", markup=False, highlight=False, soft_wrap=True)
        return 0
    err.print(f"error: {status} {text.strip()}", markup=False, soft_wrap=True)
    return 1
