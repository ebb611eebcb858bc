"""The live transport: each channel to its provider, once, at the provider's pace, in the window.

`LiveTransport.deliver` is what makes "exactly one message per step" hold with real providers
(the rules are written down in `activities/channels/ledger.py`; the provider lookups and their
verdicts are in `activities/channels/reconcile.py`):

    earlier rounds' / channels' unsettled claims of this step, each asked of its provider:
        found or cannot tell → recorded, returned as this delivery, nothing sent
        · too early → wait · not there → released ↓
    throttle → claim the key ─┬─ settled (sent, unconfirmed) → the recorded result, nothing sent
                              ├─ pending, younger than the lease → may be running: wait
                              ├─ in doubt, or pending and stale → reconcile with the provider:
                              │      found → recorded · unknown → unconfirmed · too early → wait
                              │      · nothing there → reclaim, then as a new claim ↓
                              └─ new → window still open? → provider call → record / in doubt
                                                                           / release

Releasing and doubting compare the claimed_at the attempt claimed with, so an attempt that
outlived its lease never touches the claim another attempt took over; recording is
unconditional (a provider's acceptance is always written down).

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
from activities.channels.reconcile import ChannelSender, examine, settle_earlier
from config.ladder import Channel
from store.protocols import SETTLED, RateLimits, Reservation

log = logging.getLogger(__name__)

CREDENTIALS_HINT = {
    "SendGrid": "DUNNING_SENDGRID_API_KEY",
    "Twilio": "DUNNING_TWILIO_ACCOUNT_SID / DUNNING_TWILIO_AUTH_TOKEN",
}
DEFAULT_CREDENTIALS_RECHECK = timedelta(minutes=5)


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
    # Settles an earlier attempt's claim (and the step's earlier rounds' and channels') before
    # anything else and checks `OutgoingMessage.not_after` itself, right before a provider
    # call: the send activity hands it the window's end instead of refusing a late send first
    # (see `activities/channels/base.py`).
    reconciles = True

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
        earlier = await self._earlier_claims(message)
        if earlier is not None:
            return earlier
        # Pace first, claim second: a claim is taken right before the provider call, so its age
        # says how long ago a send may have started (the lease), never time spent queueing.
        await self.throttle.wait(sender.throttle_key, self.rates.get(message.channel, 1.0))
        claimed = claim_hash(message)
        entry, claimed_at = await self._claim(message, sender.provider, claimed)
        if entry is not None:
            if entry.state in SETTLED:
                return Delivery(
                    entry.message_id or "",
                    duplicate=True,
                    provider=entry.provider or sender.provider,
                    unconfirmed=entry.state == "unconfirmed",
                    sent_at=entry.sent_at,
                )
            claimed_at = await self._reconcile(sender, message, entry, claimed)
            if isinstance(claimed_at, Delivery):
                return claimed_at
        return await self._send(sender, message, claimed_at)

    async def _claim(
        self, message: OutgoingMessage, provider: str, claimed: str
    ) -> tuple[LedgerEntry | None, datetime]:
        """`ledger.claim` in a thread: (None, our claimed_at) when the key is ours, read back
        right after the insert (the protocol's way: nothing else touches a fresh claim), or
        (the row already there, its claimed_at). A claim must mean "a send may have started",
        so one that lands while the attempt is being cancelled is given back before the
        cancellation goes on (a pending claim of an email that never left would count as sent).
        """
        key = message.idempotency_key

        def claim() -> tuple[LedgerEntry | None, datetime]:
            existing = self.ledger.claim(key, message.channel.value, provider, claimed, message.to)
            if existing is not None:
                return existing, existing.claimed_at
            mine = self.ledger.get(key)
            if mine is None or mine.state != "pending" or mine.content_hash != claimed:
                raise ProviderUnavailable("another attempt took this send over", retry_after=5)
            return None, mine.claimed_at

        claiming = asyncio.ensure_future(asyncio.to_thread(claim))
        try:
            return await asyncio.shield(claiming)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # the cancellation is what goes on
                existing, claimed_at = await claiming
                if existing is None:
                    await asyncio.to_thread(self.ledger.release, key, claimed_at)
            raise

    async def _reconcile(
        self, sender: ChannelSender, message: OutgoingMessage, entry: LedgerEntry, claimed: str
    ) -> Delivery | datetime:
        """A claim without a result: still running, sent before a crash or a 5xx, or never
        sent. Returns the delivery when settled; otherwise the claimed_at under which the claim
        is now ours to send (reclaimed with this render's hash). An in-doubt row is never
        released here."""
        key, provider = message.idempotency_key, sender.provider
        now = self._clock()
        verdict = await examine(
            sender, message, entry, ledger=self.ledger, lease=self.lease, now=now
        )
        if verdict is not None:
            if verdict.unconfirmed:
                log.warning(
                    "send %s: an earlier attempt may have reached %s and it cannot tell; "
                    "treated as sent (unconfirmed), not sent again",
                    key,
                    provider,
                )
            else:
                log.warning("send %s: found at %s after a lost result", key, provider)
            await asyncio.to_thread(
                self.ledger.record_sent,
                key,
                verdict.message_id,
                sent_at=verdict.sent_at,
                unconfirmed=verdict.unconfirmed,
            )
            return Delivery(
                verdict.message_id,
                duplicate=True,
                provider=provider,
                unconfirmed=verdict.unconfirmed,
                sent_at=verdict.sent_at,
            )
        renewed = await asyncio.to_thread(self.ledger.reclaim, key, entry.claimed_at, claimed)
        if renewed is None:
            raise ProviderUnavailable("another attempt took this send over", retry_after=5)
        log.warning("send %s: %s has no trace of an earlier attempt; sending", key, provider)
        return renewed

    async def _earlier_claims(self, message: OutgoingMessage) -> Delivery | None:
        """A claim an earlier send round or the primary channel left unsettled on this step
        (see `settle_earlier`) that the provider has, or cannot rule out: the step's message
        already went out. It is recorded on that key and returned as this delivery, and this
        key records it too (a retry of this attempt then returns it again, although that claim
        is no longer unsettled); nothing is sent. Credentials refused while asking make the
        step wait: nothing may be sent before that claim is settled."""
        try:
            earlier = await settle_earlier(
                message, self.senders, ledger=self.ledger, lease=self.lease, now=self._clock()
            )
        except CredentialsRejected as exc:
            raise ProviderUnavailable(
                f"an earlier claim of this step cannot be settled: {exc}",
                retry_after=self.credentials_recheck.total_seconds(),
            ) from None
        if earlier is None:
            return None
        entry, verdict, key = earlier.entry, earlier.verdict, message.idempotency_key
        log.warning(
            "send %s: the step's message already went out in an earlier round or channel "
            "(%s, %s%s); returned as this delivery, nothing sent again",
            key,
            entry.key,
            earlier.provider,
            ", unconfirmed" if verdict.unconfirmed else "",
        )

        def record() -> None:
            self.ledger.record_sent(
                entry.key,
                verdict.message_id,
                sent_at=verdict.sent_at,
                unconfirmed=verdict.unconfirmed,
            )
            # This key, stamped like a claim of that send (channel, provider), then settled.
            self.ledger.claim(
                key, entry.channel, earlier.provider, entry.content_hash, entry.recipient
            )
            self.ledger.record_sent(
                key, verdict.message_id, sent_at=verdict.sent_at, unconfirmed=verdict.unconfirmed
            )

        await asyncio.to_thread(record)
        return Delivery(
            verdict.message_id,
            duplicate=True,
            provider=earlier.provider,
            unconfirmed=verdict.unconfirmed,
            sent_at=verdict.sent_at,
        )

    async def _send(
        self, sender: ChannelSender, message: OutgoingMessage, claimed_at: datetime
    ) -> Delivery:
        """The provider call, under a claim this attempt holds (new, or reclaimed after the
        provider was found to have nothing), so the claim may be released when nothing left.
        Releasing and doubting compare `claimed_at`: should this attempt have outlived its
        lease and another taken the claim over, they leave that attempt's claim alone."""
        key = message.idempotency_key
        now = self._clock()
        if message.not_after is not None and now >= message.not_after:
            await asyncio.to_thread(self.ledger.release, key, claimed_at)
            raise OutsideWindow(
                f"the contact window closed at {message.not_after.isoformat()} "
                "before the message could leave; nothing was sent"
            )
        try:
            message_id = await sender.send(message)
        except ProviderUnavailable as exc:
            if exc.maybe_sent:  # the provider may have it: the next attempt reconciles
                await self._settle_claim(self.ledger.mark_in_doubt, key, claimed_at)
            else:
                await self._settle_claim(self.ledger.release, key, claimed_at)
            raise
        except TransportError:  # a definite refusal: nothing was sent
            await self._settle_claim(self.ledger.release, key, claimed_at)
            raise
        # Anything else (a crash, a cancellation) leaves the outcome unknown: the claim stays
        # pending and an attempt after the lease reconciles with the provider.
        sent_at = self._clock()
        await asyncio.to_thread(self.ledger.record_sent, key, message_id, sent_at=sent_at)
        self._accepted(sender.provider)
        return Delivery(message_id, provider=sender.provider, sent_at=sent_at)

    async def _settle_claim(
        self, change: Callable[[str, datetime], bool], key: str, claimed_at: datetime
    ) -> None:
        if not await asyncio.to_thread(change, key, claimed_at):
            log.warning(
                "send %s: another attempt took the claim over while this one was sending; "
                "its claim is left as it is",
                key,
            )

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
