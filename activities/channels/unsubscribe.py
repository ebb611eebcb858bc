"""Signed one-click unsubscribe links (RFC 8058) for the `List-Unsubscribe` header.

The token names the account and the channel and carries an HMAC under `DUNNING_LINK_SECRET`,
so the webhook server can apply an `opt_out` without a database and nobody can unsubscribe
someone else by guessing a URL. The account id is the only identifier in it (no contact data).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from config.ladder import Channel


def _signature(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def unsubscribe_token(secret: str, account_id: str, channel: Channel) -> str:
    payload = base64.urlsafe_b64encode(f"{account_id}\n{channel.value}".encode()).decode()
    payload = payload.rstrip("=")
    return f"{payload}.{_signature(secret, payload)}"


def read_unsubscribe_token(secret: str, token: str) -> tuple[str, Channel] | None:
    """(account id, channel) when the token is ours and intact, else None."""
    payload, _, signature = token.partition(".")
    if not payload or not hmac.compare_digest(signature, _signature(secret, payload)):
        return None
    try:
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        account_id, channel = decoded.split("\n")
        return account_id, Channel(channel)
    except (ValueError, UnicodeDecodeError):
        return None


def unsubscribe_url(base_url: str, secret: str, account_id: str, channel: Channel) -> str:
    return f"{base_url}/unsubscribe/{unsubscribe_token(secret, account_id, channel)}"
