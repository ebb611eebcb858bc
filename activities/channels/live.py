"""The live transport: each channel to its provider, once, at the provider's pace, in the window.

`LiveTransport.deliver` is what makes "exactly one message per step" hold with real providers
(the rules are written down in `activities/channels/ledger.py`):

    throttle → claim the key ─┬─ settled (sent, unconfirmed) → the recorded result, nothing sent
                              ├─ pending, younger than the lease → may be running: wait
                              ├─ in doubt, or pending and stale → reconcile with the provider:
                              │      found → recorded · unknown → unconfirmed · too early → wait
                              │      · nothing there → reclaim, then as a new claim ↓
                              └─ new → window still open? → provider call → record / in doubt
                                                                           / release

Letters skip the ledger and the window: the printer's atomic file creation is its own ledger,
and printing is not a contact at a time.

The ledger and the rate limits live in the shared store, a database: every call to it runs in a
thread, off the worker's event loop.

When a provider rejects our credentials, that provider is latched off for this worker: the
error is logged once with the variable to fix, and further sends fail fast (Temporal retries
them later, perhaps on a worker with good credentials) instead of hammering the provider. Every
`credentials_recheck` one attempt goes through again, so fixed credentials (a rotated key put
in place, an account reactivated) are picked up without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from activities.channels.base import (
    CredentialsRejected,
    Delivery,
    OutgoingMessage,
    OutsideWindow,
    ProviderUnavailable,
    Transport,
    TransportError,
)
from activities.channels.ledger import DEFAULT_LEASE, LedgerEntry, SendLedger, claim_hash
from activities.channels.reconcile import Lookup, Reconciled, Wait
from config.ladder import Channel
from store.protocols import SETTLED, RateLimits, Reservation

log = logging.getLogger(__name__)

CREDENTIALS_HINT = {
    "SendGrid": "DUNNING_SENDGRID_API_KEY",
    "Twilio": "DUNNING_TWILIO_ACCOUNT_SID / DUNNING_TWILIO_AUTH_TOKEN",
}
DEFAULT_CREDENTIALS_RECHECK = timedelta(minutes=5)


class ChannelSender(Protocol):
    provider: str
    throttle_key: str  # the provider account and the sender: the unit the provider paces

    async def send(self, message: OutgoingMessage) -> str: ...

    async def find_sent(
        self, message: OutgoingMessage, claim: LedgerEntry, now: datetime
    ) -> Reconciled:
        """What the provider knows of the send `claim` covers (see `reconcile.py`)."""


class MemoryRateLimits:
    """`RateLimits` inside one process: unit tests, or a transport built without a store."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()  # reserve runs in worker threads

    def reserve(self, key: str, interval: float, *, now: float, max_wait: float) -> Reservation:
        with self._lock:
            slot = max(now, self._next.get(key, now))
            if slot - now > max_wait:
                return Reservation(wait=slot - now, reserved=False)
            self._next[key] = slot + interval
            return Reservation(wait=slot - now, reserved=True)


class Throttle:
    """At most `per_second` sends per key, counted across every worker that shares `limits`
    (the store's), so N workers together keep the provider's pace rather than N times it."""

    def __init__(
        self,
        limits: RateLimits | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_wait: float = 15.0,
    ) -> None:
        self.limits: RateLimits = limits or MemoryRateLimits()
        self.max_wait = max_wait
        self._clock = clock  # Unix time: the slots are shared between hosts
        self._sleep = sleep

    async def wait(self, key: str, per_second: float) -> None:
        """Reserve this sender's next slot and wait for it; a queue longer than `max_wait` is
        handed back to Temporal (retry later) rather than held inside an activity that may
        time out."""
        reservation = await asyncio.to_thread(
            self.limits.reserve,
            key,
            1.0 / per_second,
            now=self._clock(),
            max_wait=self.max_wait,
        )
        if not reservation.reserved:
            raise ProviderUnavailable(
                f"{key} is busy (paced at {per_second}/s)", retry_after=reservation.wait
            )
        if reservation.wait > 0:
            await self._sleep(reservation.wait)


@dataclass
class _Rejection:
    why: str
    checked_at: datetime  # when the credentials were last tried


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
        credentials_recheck: timedelta = DEFAULT_CREDENTIALS_RECHECK,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.senders = senders
        self.rates = rates
        self.ledger = ledger
        self.letters = letters
        self.throttle = throttle or Throttle()
        self.lease = lease
        self.credentials_recheck = credentials_recheck
        self._clock = clock
        self.rejected: dict[str, _Rejection] = {}  # provider → why, once its credentials failed

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        if message.channel == Channel.LETTER and self.letters is not None:
            return await self.letters.deliver(message)
        sender = self.senders.get(message.channel)
        if sender is None:
            raise TransportError(f"no live transport for {message.channel.value}")
        self._check_credentials(sender.provider)
        try:
            return await self._deliver(sender, message)
        except CredentialsRejected as exc:  # from the send or from a reconciling lookup
            self._reject(sender.provider, exc)
            raise

    async def _deliver(self, sender: ChannelSender, message: OutgoingMessage) -> Delivery:
        # Pace first, claim second: a claim is taken right before the provider call, so its age
        # says how long ago a send may have started (the lease), never time spent queueing.
        await self.throttle.wait(sender.throttle_key, self.rates.get(message.channel, 1.0))
        claimed = claim_hash(message)
        entry = await self._claim(message, sender.provider, claimed)
        if entry is not None:
            if entry.state in SETTLED:
                return Delivery(
                    entry.message_id or "",
                    duplicate=True,
                    provider=entry.provider or sender.provider,
                    unconfirmed=entry.state == "unconfirmed",
                    sent_at=entry.sent_at,
                )
            settled = await self._reconcile(sender, message, entry, claimed)
            if settled is not None:
                return settled
        return await self._send(sender, message)

    async def _claim(
        self, message: OutgoingMessage, provider: str, claimed: str
    ) -> LedgerEntry | None:
        """`ledger.claim` in a thread. A claim must mean "a send may have started", so one
        that lands while the attempt is being cancelled is given back before the cancellation
        goes on (a pending claim of an email that never left would count as sent)."""
        key = message.idempotency_key
        claiming = asyncio.ensure_future(
            asyncio.to_thread(self.ledger.claim, key, message.channel.value, provider, claimed)
        )
        try:
            return await asyncio.shield(claiming)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # the cancellation is what goes on
                if await claiming is None:
                    await asyncio.to_thread(self.ledger.release, key)
            raise

    async def _reconcile(
        self, sender: ChannelSender, message: OutgoingMessage, entry: LedgerEntry, claimed: str
    ) -> Delivery | None:
        """A claim without a result: still running, sent before a crash or a 5xx, or never
        sent. Returns the delivery when settled; None when the claim is now ours to send under
        (reclaimed with this render's hash). An in-doubt row is never released here."""
        key, provider = message.idempotency_key, sender.provider
        now = self._clock()
        if entry.state == "pending" and now - entry.claimed_at < self.lease:
            raise ProviderUnavailable(
                "an earlier attempt of this send may still be running",
                retry_after=(self.lease - (now - entry.claimed_at)).total_seconds(),
            )
        found = await sender.find_sent(message, entry, now)
        if isinstance(found, Wait):
            raise ProviderUnavailable(found.reason, retry_after=found.retry_after)
        if isinstance(found, list):
            # Sends the ledger already gave to another key are not ours (two accounts sharing
            # a number); one left is ours, several cannot be told apart.
            candidates = [
                each
                for each in found
                if not await asyncio.to_thread(self.ledger.knows, each.message_id)
            ]
            if len(candidates) == 1:
                ours = candidates[0]
                sent_at = ours.sent_at or now
                log.warning("send %s: found at %s after a lost result", key, provider)
                await asyncio.to_thread(
                    self.ledger.record_sent, key, ours.message_id, sent_at=sent_at
                )
                return Delivery(ours.message_id, duplicate=True, provider=provider, sent_at=sent_at)
            found = Lookup.UNKNOWN if candidates else Lookup.NOT_FOUND
        if found is Lookup.UNKNOWN:
            log.warning(
                "send %s: an earlier attempt may have reached %s and it cannot tell; "
                "treated as sent (unconfirmed), not sent again",
                key,
                provider,
            )
            message_id = f"unconfirmed:{key}"
            await asyncio.to_thread(
                self.ledger.record_sent,
                key,
                message_id,
                sent_at=entry.claimed_at,
                unconfirmed=True,
            )
            return Delivery(
                message_id,
                duplicate=True,
                provider=provider,
                unconfirmed=True,
                sent_at=entry.claimed_at,
            )
        if not await asyncio.to_thread(self.ledger.reclaim, key, entry.claimed_at, claimed):
            raise ProviderUnavailable("another attempt took this send over", retry_after=5)
        log.warning("send %s: %s has no trace of an earlier attempt; sending", key, provider)
        return None

    async def _send(self, sender: ChannelSender, message: OutgoingMessage) -> Delivery:
        """The provider call, under a claim this attempt holds (new, or reclaimed after the
        provider was found to have nothing), so the claim may be released when nothing left."""
        key = message.idempotency_key
        now = self._clock()
        if message.not_after is not None and now >= message.not_after:
            await asyncio.to_thread(self.ledger.release, key)
            raise OutsideWindow(
                f"the contact window closed at {message.not_after.isoformat()} "
                "before the message could leave; nothing was sent"
            )
        try:
            message_id = await sender.send(message)
        except ProviderUnavailable as exc:
            if exc.maybe_sent:  # the provider may have it: the next attempt reconciles
                await asyncio.to_thread(self.ledger.mark_in_doubt, key)
            else:
                await asyncio.to_thread(self.ledger.release, key)
            raise
        except TransportError:  # a definite refusal: nothing was sent
            await asyncio.to_thread(self.ledger.release, key)
            raise
        # Anything else (a crash, a cancellation) leaves the outcome unknown: the claim stays
        # pending and an attempt after the lease reconciles with the provider.
        sent_at = self._clock()
        await asyncio.to_thread(self.ledger.record_sent, key, message_id, sent_at=sent_at)
        self._accepted(sender.provider)
        return Delivery(message_id, provider=sender.provider, sent_at=sent_at)

    # ---- credentials -----------------------------------------------------------------------

    def _check_credentials(self, provider: str) -> None:
        """Fail fast while a provider's credentials are known bad, except for one attempt per
        `credentials_recheck`, which goes through to find out whether they were fixed."""
        rejection = self.rejected.get(provider)
        if rejection is None:
            return
        now = self._clock()
        if now - rejection.checked_at < self.credentials_recheck:
            raise CredentialsRejected(provider, f"refused earlier: {rejection.why}")
        rejection.checked_at = now  # this attempt checks; the others keep failing fast
        log.info("%s: trying the credentials again", provider)

    def _reject(self, provider: str, exc: CredentialsRejected) -> None:
        rejection = self.rejected.get(provider)
        if rejection is not None:
            rejection.checked_at = self._clock()
            log.warning("%s; still refused, next check in %s", exc, self.credentials_recheck)
            return
        self.rejected[provider] = _Rejection(str(exc), self._clock())
        log.error(
            "%s; this worker sends nothing more through %s until they are accepted again "
            "(checked every %s): fix %s",
            exc,
            exc.provider,
            self.credentials_recheck,
            CREDENTIALS_HINT.get(exc.provider, "the provider's settings"),
        )

    def _accepted(self, provider: str) -> None:
        if self.rejected.pop(provider, None) is not None:
            log.info("%s accepted the credentials again: sending resumes", provider)
