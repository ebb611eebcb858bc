"""The transport interface: how a rendered message leaves the building.

Every transport is idempotent on `OutgoingMessage.idempotency_key`: delivering the same key twice
returns the first delivery (with `duplicate=True`) and sends nothing. That is what lets Temporal
retry the send activity freely. The outbox transports keep that promise by themselves; the live
providers keep it through the send ledger (`activities/channels/ledger.py`).

Providers fail in a few ways that the rest of the system treats differently, so transports raise
one of the exceptions below and never a provider SDK's own:

- `Undeliverable`: this address cannot be reached on this channel (invalid or landline number,
  recipient unsubscribed, hard bounce). The workflow marks the channel unusable and falls back.
- `ProviderUnavailable`: rate limited, a 5xx, a network failure; Temporal retries after
  `retry_after` seconds. `maybe_sent` says the provider may have taken the message anyway.
- `CredentialsRejected`: the provider refused our credentials; the worker stops sending on that
  provider, and lets one attempt through every `DUNNING_CREDENTIALS_RECHECK_SECONDS` to see
  whether they were fixed.
- `OutsideWindow`: the contact window closed before the provider call could start; nothing
  was sent and the workflow plans the step for the next window.
- `ProviderRefused`: any other refusal (a sender number not enabled for SMS, say): retrying the
  same request will not help, but the account is not to blame, so the step is tried again later.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
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
    ladder: str = ""
    jurisdiction: str = ""  # the ladder's: us, eu, uk, … (paper size, opt-out wording)
    recipient_name: str = ""
    # A letter's address block, one line each: name, street, postal code and city, country.
    postal_lines: tuple[str, ...] = ()
    # The end of the contact window the message was planned in (the earliest across the
    # debtor's zones): a live transport never starts a provider call after it (OutsideWindow).
    not_after: datetime | None = None

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["channel"] = self.channel.value
        record["postal_lines"] = list(self.postal_lines)
        record["not_after"] = self.not_after.isoformat() if self.not_after else None
        return record


@dataclass(frozen=True)
class Delivery:
    message_id: str
    duplicate: bool = False
    provider: str = "outbox"
    # True when a crash left it unknown whether the provider accepted the message; the message
    # is treated as sent (never sent twice) and logged for a person to check.
    unconfirmed: bool = False
    # When the provider accepted the message (for a duplicate: when it first did), if known.
    sent_at: datetime | None = None


class TransportError(Exception):
    """Base of the transport failures below; `str()` is one line fit for a log or a terminal."""


class Undeliverable(TransportError):
    """The provider says this address cannot be reached; retrying will not help."""

    def __init__(self, message: str, *, reason: str = "undeliverable", code: str | None = None):
        super().__init__(message)
        self.reason = reason  # "undeliverable" or "opted_out" (the contract's suppress reasons)
        self.code = code


class ProviderUnavailable(TransportError):
    """Rate limited, a 5xx or a network failure: try again, after `retry_after` seconds if set."""

    def __init__(self, message: str, *, retry_after: float | None = None, maybe_sent: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        # True when the provider may have accepted the message: a 500/502/503/504, a read
        # timeout or a reset on the send request itself. The ledger then marks the claim in
        # doubt and the next attempt reconciles instead of sending blindly.
        self.maybe_sent = maybe_sent


class OutsideWindow(TransportError):
    """The contact window closed before the provider call could start (a provider slow to
    accept, a long queue): nothing was sent; the workflow plans the step for the next window
    with the same idempotency key."""


class CredentialsRejected(TransportError):
    """The provider refused our credentials (401/403)."""

    def __init__(self, provider: str, message: str):
        super().__init__(f"{provider} rejected the credentials: {message}")
        self.provider = provider


class ProviderRefused(TransportError):
    """A refusal that retrying will not fix and that is not about the recipient's address."""

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.code = code


class Transport(Protocol):
    """`deliver` runs on the worker's event loop, beside every other activity: it must not
    block it. Blocking work (a provider SDK, SQLite, files, PDF rendering) goes to a thread
    (`asyncio.to_thread`), as in every transport here (tests/test_event_loop.py)."""

    async def deliver(self, message: OutgoingMessage) -> Delivery: ...


# A transport whose class sets `reconciles = True` (the live one) settles an earlier attempt's
# claim before anything else and checks `OutgoingMessage.not_after` itself, right before a
# provider call; the send activity checks the window for every other transport (the outboxes
# keep one file per key, which needs no window to settle).
