"""The transport interface: how a rendered message leaves the building.

Every transport is idempotent on `OutgoingMessage.idempotency_key`: delivering the same key twice
returns the first delivery (with `duplicate=True`) and sends nothing. That is what lets Temporal
retry the send activity freely.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from config.ladder import Channel


@dataclass(frozen=True)
class OutgoingMessage:
    idempotency_key: str
    account_id: str
    step: str
    channel: Channel
    to: str
    template: str
    locale: str
    subject: str | None
    text: str
    html: str | None = None
    sent_at: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["channel"] = self.channel.value
        return record


@dataclass(frozen=True)
class Delivery:
    message_id: str
    duplicate: bool = False


class Undeliverable(Exception):
    """The provider says this address cannot be reached; retrying will not help."""


class Transport(Protocol):
    async def deliver(self, message: OutgoingMessage) -> Delivery: ...
