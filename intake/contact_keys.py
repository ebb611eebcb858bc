"""Keyed hashes of a debtor's contacts: how a webhook finds an account without personal data.

An inbound SMS names a phone number, an inbound email an address. Temporal's search attributes
are visible to anyone with UI access and are not encrypted by a payload codec, so they must not
hold the contact itself. They hold `HMAC-SHA256(DUNNING_LINK_SECRET, "<kind>:<normalised>")`
instead: the webhook server, which knows the secret, computes the same key and lists the open
workflows that carry it. Without the secret the keys reveal nothing (no dictionary attack on
phone numbers). Changing the secret orphans the keys of running accounts: set it once.
"""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers

from workflows.types import Debtor


def normalise_phone(number: str) -> str | None:
    try:
        parsed = phonenumbers.parse(number.strip(), None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(address: str) -> str | None:
    address = address.strip().lower()
    return address if "@" in address else None


def contact_key(secret: str, kind: str, value: str) -> str | None:
    normalised = normalise_phone(value) if kind == "phone" else normalise_email(value)
    if normalised is None:
        return None
    digest = hmac.new(secret.encode(), f"{kind}:{normalised}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def debtor_contact_keys(secret: str, debtor: Debtor) -> list[str]:
    keys = [
        contact_key(secret, "phone", debtor.phone) if debtor.phone else None,
        contact_key(secret, "email", debtor.email) if debtor.email else None,
    ]
    return [key for key in keys if key]
