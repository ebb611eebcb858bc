"""The live transport: each channel to its provider, once, at the provider's pace.

`LiveTransport.deliver` is what makes "exactly one message per step" hold with real providers:

    claim the key in the send ledger ─┬─ already sent → the recorded result (nothing is sent)
                                      ├─ pending, fresh → an earlier attempt may be running: wait
                                      ├─ pending, stale → ask the provider (see ledger.py)
                                      └─ new → throttle → provider call → record (or release)

Letters skip the ledger: the printer's atomic file creation is its own ledger.

The ledger is a database: every call to it runs in a thread, off the worker's event loop.

When a provider rejects our credentials, that provider is latched off for this worker: the error
is logged once with the variable to fix, and further sends fail fast (and are retried later,
perhaps by a worker with good credentials) instead of hammering the provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from activities.channels.base import (
    CredentialsRejected,
    Delivery,
    OutgoingMessage,
    ProviderUnavailable,
    Transport,
    TransportError,
)
from activities.channels.ledger import DEFAULT_LEASE, LedgerEntry, SendLedger
from activities.channels.reconcile import Lookup
from config.ladder import Channel

log = logging.getLogger(__name__)

CREDENTIALS_HINT = {
    "SendGrid": "DUNNING_SENDGRID_API_KEY",
    "Twilio": "DUNNING_TWILIO_ACCOUNT_SID / DUNNING_TWILIO_AUTH_TOKEN",
}


class ChannelSender(Protocol):
    provider: str
    throttle_key: str

    async def send(self, message: OutgoingMessage) -> str: ...

    async def find_sent(self, message: OutgoingMessage, since: datetime) -> list[str] | Lookup:
        """Provider ids of sends that could be this message since `since`, or UNKNOWN."""


class Throttle:
    """At most `per_second` sends per key (a sender number, a from address) in this worker."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_wait: float = 15.0,
    ) -> None:
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, key: str, per_second: float) -> None:
        """Wait for this sender's next slot; a queue longer than `max_wait` is handed back to
        Temporal (retry later) rather than held inside an activity that may time out."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            now = self._clock()
            due = self._next.get(key, now)
            if due - now > self.max_wait:
                raise ProviderUnavailable(
                    f"{key} is busy (paced at {per_second}/s)", retry_after=due - now
                )
            if due > now:
                await self._sleep(due - now)
            self._next[key] = max(now, due) + 1.0 / per_second


class LiveTransport:
    def __init__(
        self,
        *,
        senders: dict[Channel, ChannelSender],
        rates: dict[Channel, float],
        ledger: SendLedger,
        letters: Transport | None = None,
        throttle: Throttle | None = None,
        lease: timedelta = DEFAULT_LEASE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.senders = senders
        self.rates = rates
        self.ledger = ledger
        self.letters = letters
        self.throttle = throttle or Throttle()
        self.lease = lease
        self._clock = clock
        self.rejected: dict[str, str] = {}  # provider → why, once its credentials were refused

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        if message.channel == Channel.LETTER and self.letters is not None:
            return await self.letters.deliver(message)
        sender = self.senders.get(message.channel)
        if sender is None:
            raise TransportError(f"no live transport for {message.channel.value}")
        provider = sender.provider
        if provider in self.rejected:
            raise CredentialsRejected(provider, f"refused earlier: {self.rejected[provider]}")
        # Pace first, claim second: a claim is taken right before the provider call, so its age
        # says how long ago a send may have started (the lease), never time spent queueing.
        await self.throttle.wait(sender.throttle_key, self.rates.get(message.channel, 1.0))
        entry = await self._claim(message, provider)
        if entry is not None:
            if entry.state != "pending":
                return Delivery(
                    entry.message_id or "",
                    duplicate=True,
                    provider=entry.provider,
                    unconfirmed=entry.state == "unconfirmed",
                )
            settled = await self._settle_pending(sender, message, entry.claimed_at)
            if settled is not None:
                return settled
        return await self._send(sender, message)

    async def _claim(self, message: OutgoingMessage, provider: str) -> LedgerEntry | None:
        """`ledger.claim` in a thread. A claim must mean "a send may have started", so one
        that lands while the attempt is being cancelled is given back before the cancellation
        goes on (a pending claim of an email that never left would count as sent)."""
        key = message.idempotency_key
        claiming = asyncio.ensure_future(
            asyncio.to_thread(self.ledger.claim, key, message.channel.value, provider)
        )
        try:
            return await asyncio.shield(claiming)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # the cancellation is what goes on
                if await claiming is None:
                    await asyncio.to_thread(self.ledger.release, key)
            raise

    async def _settle_pending(
        self, sender: ChannelSender, message: OutgoingMessage, claimed_at: datetime
    ) -> Delivery | None:
        """A claim without a result: still running, sent before a crash, or never sent."""
        age = self._clock() - claimed_at
        if age < self.lease:
            raise ProviderUnavailable(
                "an earlier attempt of this send may still be running",
                retry_after=(self.lease - age).total_seconds(),
            )
        found = await sender.find_sent(message, claimed_at)
        key = message.idempotency_key
        if isinstance(found, list):
            # Sends the ledger already gave to another key are not ours (two accounts sharing
            # a number); one left is ours, several cannot be told apart.
            candidates = [
                sid for sid in found if not await asyncio.to_thread(self.ledger.knows, sid)
            ]
            if len(candidates) == 1:
                log.warning("send %s: found at %s after a lost result", key, sender.provider)
                await asyncio.to_thread(self.ledger.record_sent, key, candidates[0])
                return Delivery(candidates[0], duplicate=True, provider=sender.provider)
            found = Lookup.UNKNOWN if candidates else Lookup.NOT_FOUND
        if found is Lookup.UNKNOWN:
            log.warning(
                "send %s: an earlier attempt may have reached %s and it cannot tell; "
                "treated as sent (unconfirmed), not sent again",
                key,
                sender.provider,
            )
            message_id = f"unconfirmed:{key}"
            await asyncio.to_thread(self.ledger.record_sent, key, message_id, unconfirmed=True)
            return Delivery(message_id, duplicate=True, provider=sender.provider, unconfirmed=True)
        if not await asyncio.to_thread(self.ledger.reclaim, key, claimed_at):
            raise ProviderUnavailable("another attempt took this send over", retry_after=5)
        return None  # the provider has nothing: the claim is now ours to send under

    async def _send(self, sender: ChannelSender, message: OutgoingMessage) -> Delivery:
        key = message.idempotency_key
        try:
            message_id = await sender.send(message)
        except ProviderUnavailable as exc:
            if not exc.maybe_sent:
                await asyncio.to_thread(self.ledger.release, key)
            raise
        except CredentialsRejected as exc:
            await asyncio.to_thread(self.ledger.release, key)
            self._reject(sender.provider, exc)
            raise
        except TransportError:
            await asyncio.to_thread(self.ledger.release, key)
            raise
        # Anything else (a crash, a cancellation) leaves the outcome unknown: the claim stays
        # pending and a later attempt reconciles with the provider.
        await asyncio.to_thread(self.ledger.record_sent, key, message_id)
        return Delivery(message_id, provider=sender.provider)

    def _reject(self, provider: str, exc: CredentialsRejected) -> None:
        if provider not in self.rejected:
            self.rejected[provider] = str(exc)
            log.error(
                "%s; this worker sends nothing more through %s until it is restarted with "
                "valid credentials (%s)",
                exc,
                exc.provider,
                CREDENTIALS_HINT.get(exc.provider, "the provider's settings"),
            )
