"""What a channel can say about a send that may or may not have reached its provider."""

from __future__ import annotations

from enum import Enum


class Lookup(Enum):
    NOT_FOUND = "not_found"  # the provider has no such message: sending now is safe
    UNKNOWN = "unknown"  # the provider cannot tell: treat as sent, never send twice
