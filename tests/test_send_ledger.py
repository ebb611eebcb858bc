"""The send ledger and the live transport's exactly-once rules, with a scripted provider.

The crash is tested on both sides of the one window that remains: before the provider call (the
claim exists, nothing was sent: a retry sends once) and after it (the provider took the message,
the result was never recorded: a retry finds it, or, when the provider cannot tell, treats it as
sent and never sends twice). The ledger is the shared store's (SQLite here); the faults against
the real SDKs and the fake providers are in `test_send_faults.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from activities.channels.base import (
    CredentialsRejected,
    OutgoingMessage,
    ProviderRefused,
    ProviderUnavailable,
    Undeliverable,
)
from activities.channels.ledger import LedgerEntry, claim_hash
from activities.channels.live import LiveTransport, Throttle
from activities.channels.reconcile import Found, Lookup, Reconciled
from config.ladder import Channel
from store import open_store

T0 = datetime(2038, 1, 4, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ScriptedSender:
    """A provider: answers from a script, remembers what it accepted."""

    provider: str = "twilio"
    throttle_key: str = "twilio:AC1:sms:+15005550006"
    failures: list[Exception] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)
    calls: int = 0
    lookups: int = 0
    can_look_up: bool = True
    crash_after_accepting: bool = False

    async def send(self, message: OutgoingMessage) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        sid = f"SM{len(self.accepted) + 1:032d}"
        self.accepted[message.idempotency_key] = sid
        if self.crash_after_accepting:
            self.crash_after_accepting = False
            raise SystemExit("worker killed after the provider accepted")
        return sid

    async def find_sent(
        self, message: OutgoingMessage, claim: LedgerEntry, now: datetime
    ) -> Reconciled:
        """Like a call list: every send to the number, whoever it was for."""
        self.lookups += 1
        if not self.can_look_up:
            return Lookup.UNKNOWN
        return [Found(sid, T0) for sid in self.accepted.values()]


def message(key: str = "dunning-A-1/sms-reminder/sms/1") -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        account_id="A-1",
        step="sms-reminder",
        channel=Channel.SMS,
        to="+14155550123",
        template="reminder",
        locale="en",
        subject=None,
        text="Acme: 120.50 is overdue. Reply STOP to opt out.",
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


def ledger(tmp_path: Path, clock: Clock):
    return open_store(f"sqlite:///{tmp_path}/store.sqlite3", clock=clock).ledger


def transport(tmp_path: Path, sender: ScriptedSender, clock: Clock) -> LiveTransport:
    return LiveTransport(
        senders={Channel.SMS: sender},
        rates={Channel.SMS: 1000.0},
        ledger=ledger(tmp_path, clock),
        lease=timedelta(minutes=2),
        clock=clock,
    )


def claim(live: LiveTransport, sent: OutgoingMessage) -> None:
    """An attempt's claim, as `deliver` takes it (then the attempt died)."""
    assert live.ledger.claim(sent.idempotency_key, "sms", "twilio", claim_hash(sent)) is None


async def test_a_retry_after_success_returns_the_recorded_result(tmp_path, clock):
    sender = ScriptedSender()
    live = transport(tmp_path, sender, clock)
    first = await live.deliver(message())
    again = await live.deliver(message())
    assert not first.duplicate and again.duplicate
    assert again.message_id == first.message_id and again.provider == "twilio"
    assert sender.calls == 1


async def test_the_ledger_survives_a_new_process(tmp_path, clock):
    sender = ScriptedSender()
    await transport(tmp_path, sender, clock).deliver(message())
    again = await transport(tmp_path, sender, clock).deliver(message())
    assert again.duplicate and sender.calls == 1


async def test_crash_before_the_provider_call_sends_once_on_retry(tmp_path, clock):
    """The claim was written, then the worker died: the provider has nothing."""
    sender = ScriptedSender()
    live = transport(tmp_path, sender, clock)
    claim(live, message())
    clock.now += timedelta(minutes=5)  # the lease of the dead attempt has run out
    delivery = await live.deliver(message())
    assert not delivery.duplicate
    assert sender.lookups == 1 and sender.calls == 1
    assert live.ledger.get(message().idempotency_key).state == "sent"


async def test_crash_after_the_provider_accepted_is_found_not_resent(tmp_path, clock):
    sender = ScriptedSender(crash_after_accepting=True)
    live = transport(tmp_path, sender, clock)
    with pytest.raises(SystemExit):
        await live.deliver(message())
    assert live.ledger.get(message().idempotency_key).state == "pending"
    clock.now += timedelta(minutes=5)
    delivery = await live.deliver(message())
    assert delivery.duplicate and delivery.message_id == sender.accepted[message().idempotency_key]
    assert sender.calls == 1  # never handed over a second time
    assert live.ledger.get(message().idempotency_key).state == "sent"


async def test_crash_after_accepting_when_the_provider_cannot_tell_is_not_resent(tmp_path, clock):
    sender = ScriptedSender(crash_after_accepting=True, can_look_up=False)
    live = transport(tmp_path, sender, clock)
    with pytest.raises(SystemExit):
        await live.deliver(message())
    clock.now += timedelta(minutes=5)
    delivery = await live.deliver(message())
    assert delivery.unconfirmed and delivery.duplicate
    assert sender.calls == 1
    assert live.ledger.get(message().idempotency_key).state == "unconfirmed"
    assert (await live.deliver(message())).unconfirmed  # and it stays that way


async def test_an_attempt_that_may_still_be_running_makes_the_next_one_wait(tmp_path, clock):
    sender = ScriptedSender()
    live = transport(tmp_path, sender, clock)
    claim(live, message())
    clock.now += timedelta(seconds=30)
    with pytest.raises(ProviderUnavailable) as waiting:
        await live.deliver(message())
    assert waiting.value.retry_after == pytest.approx(90)
    assert sender.calls == 0 and sender.lookups == 0


async def test_a_read_timeout_puts_the_claim_in_doubt_and_a_refused_connection_releases_it(
    tmp_path, clock
):
    sender = ScriptedSender(
        failures=[
            ProviderUnavailable("connection refused"),
            ProviderUnavailable("read timeout", maybe_sent=True),
        ]
    )
    live = transport(tmp_path, sender, clock)
    with pytest.raises(ProviderUnavailable):
        await live.deliver(message())
    assert live.ledger.get(message().idempotency_key) is None  # released: safe to send again
    with pytest.raises(ProviderUnavailable):
        await live.deliver(message())
    assert live.ledger.get(message().idempotency_key).state == "in_doubt"
    clock.now += timedelta(seconds=30)
    with pytest.raises(ProviderUnavailable) as waiting:  # the provider may still be creating it
        await live.deliver(message())
    assert waiting.value.retry_after == pytest.approx(90) and sender.calls == 2
    clock.now += timedelta(seconds=90)  # past the lease, still not listed: it never left
    delivery = await live.deliver(message())
    assert not delivery.duplicate and sender.lookups == 2 and sender.calls == 3


@pytest.mark.parametrize(
    "failure",
    [
        Undeliverable("21614", code="21614"),
        ProviderRefused("21606: from number not SMS capable"),
        ProviderUnavailable("429", retry_after=3),
    ],
)
async def test_a_definite_refusal_releases_the_claim(tmp_path, clock, failure):
    sender = ScriptedSender(failures=[failure])
    live = transport(tmp_path, sender, clock)
    with pytest.raises(type(failure)):
        await live.deliver(message())
    assert live.ledger.get(message().idempotency_key) is None
    assert not (await live.deliver(message())).duplicate  # the retry sends
    assert sender.calls == 2


async def test_rejected_credentials_stop_further_sends_on_that_provider(tmp_path, clock, caplog):
    sender = ScriptedSender(failures=[CredentialsRejected("Twilio", "Twilio 401 error 20003")])
    live = transport(tmp_path, sender, clock)
    with pytest.raises(CredentialsRejected):
        await live.deliver(message("k-1"))
    with pytest.raises(CredentialsRejected):
        await live.deliver(message("k-2"))
    assert sender.calls == 1  # the second send never reached the provider
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "DUNNING_TWILIO_ACCOUNT_SID / DUNNING_TWILIO_AUTH_TOKEN" in errors[0]


async def test_two_stale_attempts_cannot_both_take_over(tmp_path, clock):
    sends = ledger(tmp_path, clock)
    sends.claim("k", "sms", "twilio", "hash-1")
    stale = sends.get("k").claimed_at
    clock.now += timedelta(minutes=5)
    assert sends.reclaim("k", stale, "hash-2") == clock.now  # the taker's new claimed_at
    assert sends.reclaim("k", stale, "hash-3") is None
    assert sends.get("k").content_hash == "hash-2"


async def test_the_throttle_spaces_sends_per_sender():
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    throttle = Throttle(clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        await throttle.wait("twilio:AC1:sms:+15005550006", 1.0)
    await throttle.wait("twilio:AC1:sms:+15005550007", 1.0)  # another long code: its own pace
    assert slept == [1.0, 1.0]


def test_transport_failures_reach_temporal_as_the_right_retry_decision():
    from datetime import timedelta as td

    from activities.account_activities import activity_error

    opted = activity_error(Undeliverable("21610", reason="opted_out"))
    assert (opted.type, opted.non_retryable) == ("OptedOut", True)
    gone = activity_error(Undeliverable("21614"))
    assert (gone.type, gone.non_retryable) == ("Undeliverable", True)
    limited = activity_error(ProviderUnavailable("429", retry_after=12))
    assert (limited.non_retryable, limited.next_retry_delay) == (False, td(seconds=12))
    refused = activity_error(CredentialsRejected("Twilio", "401"))
    assert (refused.non_retryable, refused.next_retry_delay) == (False, td(minutes=5))
    config = activity_error(ProviderRefused("21606"))
    assert (config.type, config.non_retryable) == ("ProviderRefused", True)


async def test_a_send_already_recorded_for_another_key_is_not_taken_as_ours(tmp_path, clock):
    """Two accounts share a number: a lost call of B must not be matched to A's call."""
    sender = ScriptedSender()
    live = transport(tmp_path, sender, clock)
    await live.deliver(message("dunning-A/voicemail/voicemail/1"))  # A's call, recorded
    b = message("dunning-B/voicemail/voicemail/1")
    claim(live, b)  # B's attempt died before calling
    clock.now += timedelta(minutes=5)
    delivery = await live.deliver(b)
    assert not delivery.duplicate and sender.calls == 2  # B's call placed, not A's borrowed


async def test_two_unrecorded_candidates_cannot_be_told_apart(tmp_path, clock):
    sender = ScriptedSender(accepted={"x": "CA1", "y": "CA2"})
    live = transport(tmp_path, sender, clock)
    claim(live, message())
    clock.now += timedelta(minutes=5)
    delivery = await live.deliver(message())
    assert delivery.unconfirmed and sender.calls == 0


async def test_a_long_queue_at_one_sender_is_handed_back_to_temporal():
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    throttle = Throttle(clock=lambda: now[0], sleep=sleep, max_wait=2.0)
    for _ in range(3):
        await throttle.wait("twilio:AC1:sms:+15005550006", 1.0)
    now[0] = 2.0
    await throttle.wait("twilio:AC1:sms:+15005550006", 1.0)  # due at 3: a 1 s wait is fine
    now[0] = 0.5  # a burst: the next slot (4.0) is 3.5 s away
    with pytest.raises(ProviderUnavailable) as busy:
        await throttle.wait("twilio:AC1:sms:+15005550006", 1.0)
    assert busy.value.retry_after == pytest.approx(3.5)


def test_the_ledger_records_even_a_row_released_meanwhile(tmp_path, clock):
    sends = ledger(tmp_path, clock)
    sends.record_sent("k", "SM1", sent_at=T0)
    assert sends.get("k").state == "sent" and sends.knows("SM1")
