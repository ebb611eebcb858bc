"""Twilio's request signature: `X-Twilio-Signature`, HMAC-SHA1 of the full public URL plus the
sorted form fields under the auth token, checked with the SDK's `RequestValidator`.

The URL must be the one Twilio was told (built from `DUNNING_PUBLIC_BASE_URL`), never one rebuilt
from the Host header, which a proxy or tunnel rewrites. A missing auth token refuses every
request (fails closed). The comparison is the SDK's, constant-time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"


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
