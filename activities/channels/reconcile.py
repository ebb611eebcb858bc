"""What a channel can say about a send that may or may not have reached its provider.

`ChannelSender.find_sent` answers one of these when the ledger holds an unsettled claim (see
`activities/channels/ledger.py`): the sends that could be this one (`Found`, possibly several:
the transport sets aside those the ledger already gave to another key), `Lookup.NOT_FOUND`
(sending now is safe), `Lookup.UNKNOWN` (the provider cannot tell: treated as sent, never sent
twice) or `Wait` (the provider's evidence is not in yet: ask again later, claim kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class Lookup(Enum):
    NOT_FOUND = "not_found"  # the provider has no such message: sending now is safe
    UNKNOWN = "unknown"  # the provider cannot tell: treat as sent, never send twice


@dataclass(frozen=True)
class Found:
    """A send at the provider that could be the claimed one."""

    message_id: str
    sent_at: datetime | None = None  # when the provider accepted it, as the provider says


@dataclass(frozen=True)
class Wait:
    """Too early to decide (SendGrid's `processed` event may still be on its way): the attempt
    is handed back to Temporal, to be retried after `retry_after` seconds, claim kept."""

    retry_after: float
    reason: str


Reconciled = list[Found] | Lookup | Wait
