"""Settling a claim that has no result: what the provider knows of a send that may have left.

`ChannelSender.find_sent` answers one of the lookup results below when the ledger holds an
unsettled claim (see `activities/channels/ledger.py`): the sends that could be this one
(`Found`, possibly several: the ledger's `knows` sets aside those it already gave to another
key), `Lookup.NOT_FOUND` (sending now is safe), `Lookup.UNKNOWN` (the provider cannot tell:
treated as sent, never sent twice) or `Wait` (the provider's evidence is not in yet: ask again
later, claim kept).

`examine` turns that answer into a verdict with the ledger's rules (the lease, the set-aside),
for the claim of the key being sent and for the claims earlier send rounds or the primary
channel left on the same step (`earlier_prefix`, `as_claimed`). `LiveTransport` records what it
says; keeping the decision here keeps the two paths under one rule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol

from activities.channels.base import OutgoingMessage, ProviderUnavailable
from config.ladder import Channel
from store.protocols import LedgerEntry, SendLedger

log = logging.getLogger(__name__)


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


class ChannelSender(Protocol):
    provider: str
    throttle_key: str  # the provider account and the sender: the unit the provider paces

    async def send(self, message: OutgoingMessage) -> str: ...

    async def find_sent(
        self, message: OutgoingMessage, claim: LedgerEntry, now: datetime
    ) -> Reconciled:
        """What the provider knows of the send `claim` covers, `message` being that send's
        key, channel and recipient (its text may be a later render: match the claimed hash)."""


@dataclass(frozen=True)
class Sent:
    """The verdict on a claim the provider has (or cannot rule out): what to record."""

    message_id: str
    sent_at: datetime
    unconfirmed: bool = False


async def examine(
    sender: ChannelSender,
    message: OutgoingMessage,
    entry: LedgerEntry,
    *,
    ledger: SendLedger,
    lease: timedelta,
    now: datetime,
) -> Sent | None:
    """Ask the provider about the unsettled claim `entry` (for `message`, see `as_claimed`).

    Returns what to record (found, or unconfirmed when the provider cannot tell), or None when
    the provider certainly does not have the message and the claim may be taken over. Raises
    `ProviderUnavailable(retry_after=…)` when it is too early to tell; the claim is kept:
    - a pending claim younger than the lease: its attempt may still be calling the provider;
    - the provider's own `Wait` (an email's `processed` event not in yet);
    - an in-doubt claim younger than the lease that a list lookup (Twilio) does not show:
      after an accepted-then-5xx the provider may still be creating the message when the list
      is read, so "not there" means "not sent" only once the lease has passed.
    """
    age = now - entry.claimed_at
    if entry.state == "pending" and age < lease:
        raise ProviderUnavailable(
            f"an earlier attempt of {entry.key} may still be running",
            retry_after=(lease - age).total_seconds(),
        )
    found = await sender.find_sent(message, entry, now)
    if isinstance(found, Wait):
        raise ProviderUnavailable(found.reason, retry_after=found.retry_after)
    if isinstance(found, list):
        # Sends the ledger already gave to another key are not ours (two accounts sharing a
        # number); one left is ours, several cannot be told apart.
        candidates = [
            each for each in found if not await asyncio.to_thread(ledger.knows, each.message_id)
        ]
        if len(candidates) == 1:
            return Sent(candidates[0].message_id, candidates[0].sent_at or now)
        if not candidates and entry.state == "in_doubt" and age < lease:
            raise ProviderUnavailable(
                f"{sender.provider} does not list {entry.key} yet; it may still be creating it",
                retry_after=(lease - age).total_seconds(),
            )
        found = Lookup.UNKNOWN if candidates else Lookup.NOT_FOUND
    if found is Lookup.UNKNOWN:
        return Sent(f"unconfirmed:{entry.key}", entry.claimed_at, unconfirmed=True)
    return None


def earlier_prefix(key: str) -> str | None:
    """`<workflow id>/<step>/` of a key `<workflow id>/<step>/<channel>/<send round>`: the
    prefix every round and channel of one step shares. None for a key of another shape (it has
    no earlier rounds to look for)."""
    if key.count("/") < 3:
        return None
    return key.rsplit("/", 2)[0] + "/"


def as_claimed(message: OutgoingMessage, entry: LedgerEntry) -> OutgoingMessage | None:
    """The message an earlier claim of the same step covered, as far as its channel's lookup
    needs it: its key, its channel, its recipient (the text is not used: the claimed hash is).
    None when the claim did not store its recipient (claimed before migration 0002) and the
    lookup needs one it cannot borrow from this message (another channel)."""
    channel = Channel(entry.channel)
    recipient = entry.recipient or (message.to if channel == message.channel else "")
    if not recipient and channel != Channel.EMAIL:  # an email is looked up by its key alone
        return None
    return replace(
        message,
        idempotency_key=entry.key,
        channel=channel,
        to=recipient or message.to,
        not_after=None,
    )


@dataclass(frozen=True)
class Earlier:
    """An earlier round's or channel's claim on the step that the provider has, or cannot
    rule out: the step's message already went out under `entry.key`."""

    entry: LedgerEntry
    provider: str
    verdict: Sent


async def settle_earlier(
    message: OutgoingMessage,
    senders: Mapping[Channel, ChannelSender],
    *,
    ledger: SendLedger,
    lease: timedelta,
    now: datetime,
) -> Earlier | None:
    """Settle the claims other keys of this step left unsettled (`<workflow id>/<step>/`: an
    earlier send round, or the primary channel before a fallback), before this key is claimed.

    Each is examined with the sender of *its* channel, for *its* recipient and claimed hash
    (`as_claimed`, `examine`): found or cannot tell → returned (the caller records it and sends
    nothing); too early → `ProviderUnavailable` propagates, claim kept; not there → that claim
    is released (compare-and-set on its claimed_at) and the next is examined. Claims of a
    channel without a sender here (letters: their own ledger) are ignored.
    """
    key = message.idempotency_key
    prefix = earlier_prefix(key)
    if prefix is None:
        return None
    for entry in await asyncio.to_thread(ledger.unsettled, prefix):
        sender = _sender_for(senders, entry)
        if entry.key == key or sender is None:
            continue
        claimed = as_claimed(message, entry)
        if claimed is None:  # no recipient to ask about: cannot tell, never send twice
            verdict: Sent | None = Sent(
                f"unconfirmed:{entry.key}", entry.claimed_at, unconfirmed=True
            )
        else:
            verdict = await examine(sender, claimed, entry, ledger=ledger, lease=lease, now=now)
        if verdict is not None:
            return Earlier(entry, sender.provider, verdict)
        await asyncio.to_thread(ledger.release, entry.key, entry.claimed_at)
        log.info("send %s: earlier claim %s never reached %s", key, entry.key, sender.provider)
    return None


def _sender_for(
    senders: Mapping[Channel, ChannelSender], entry: LedgerEntry
) -> ChannelSender | None:
    try:
        return senders.get(Channel(entry.channel))
    except ValueError:  # a channel this version does not know
        return None
