"""Every delivery the send activity hands to its transport, counted by channel and result on the
activity's metric meter (the worker's Prometheus endpoint, README "Metrics").

A wrapper around whichever transport the worker has (the outbox, the live providers behind the
send ledger), so each result is read where the transport has decided it: the `Delivery` it
returns or the exception it raises (`activities/channels/base.py`). The workflow counts what
the account recorded (`workflows/account/metrics.py`); this counts attempts, so a send retried
three times before the provider took it is three here and one contact there.
"""

from __future__ import annotations

from temporalio import activity

from activities.channels.base import (
    CredentialsRejected,
    Delivery,
    OutgoingMessage,
    OutsideWindow,
    ProviderRefused,
    ProviderUnavailable,
    Transport,
    Undeliverable,
)

SENDS = "dunning_provider_sends_total"
DESCRIPTION = (
    "Deliveries handed to the transport, by channel and result (accepted, duplicate, "
    "unconfirmed, in_doubt, failed, undeliverable, refused, outside_window)"
)


def send_result(outcome: Delivery | BaseException) -> str:
    """The result label of one delivery attempt.

    - `accepted`: the provider (or the outbox) took the message now;
    - `duplicate`: already delivered under this key (the send ledger or the outbox skipped it);
    - `unconfirmed`: an earlier attempt may have reached the provider and it cannot tell:
      treated as sent, not sent again;
    - `in_doubt`: the call failed in a way the provider may have taken it (a 5xx, a timeout);
      the next attempt reconciles;
    - `failed`: nothing was sent and a retry may work (rate limited, unreachable, a crash);
    - `undeliverable` / `refused`: the provider turned the address or the request down;
    - `outside_window`: the contact window closed before the call could start.
    """
    match outcome:
        case Delivery(unconfirmed=True):
            return "unconfirmed"
        case Delivery(duplicate=True):
            return "duplicate"
        case Delivery():
            return "accepted"
        case ProviderUnavailable(maybe_sent=True):
            return "in_doubt"
        case Undeliverable():
            return "undeliverable"
        case ProviderRefused() | CredentialsRejected():
            return "refused"
        case OutsideWindow():
            return "outside_window"
        case _:
            return "failed"


class MeteredTransport:
    """`inner`, with each delivery counted (in an activity; elsewhere nothing is counted)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    @property
    def reconciles(self) -> bool:
        """The send activity asks this of its transport (`activities/channels/base.py`)."""
        return bool(getattr(self.inner, "reconciles", False))

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        try:
            delivery = await self.inner.deliver(message)
        except Exception as exc:  # a cancellation is not an attempt's result: not counted
            count(message, send_result(exc))
            raise
        count(message, send_result(delivery))
        return delivery


def count(message: OutgoingMessage, result: str) -> None:
    if not activity.in_activity():
        return
    counter = activity.metric_meter().create_counter(SENDS, DESCRIPTION)
    counter.add(1, {"channel": message.channel.value, "result": result})
