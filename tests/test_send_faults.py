"""Issue 10: the live transport under the faults real providers have, through the real SDKs
against the fake providers, with the shared store (SQLite) as the ledger.

One clock drives the fake providers' resources, the ledger's claims and the transport, so the
lease, the contact window and the credentials re-check can be crossed on purpose. Email's own
faults (SendGrid's `processed` events) are in `test_send_faults_email.py`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from activities.channels.base import (
    CredentialsRejected,
    OutsideWindow,
    ProviderRefused,
    ProviderUnavailable,
)
from activities.channels.ledger import claim_hash
from activities.channels.live import LiveTransport, Throttle
from activities.channels.sendgrid.webhooks import processed_email
from config.ladder import Channel
from tests.fakes.live import ACCOUNT_SID, FROM, SENDGRID_KEY, live_settings
from tests.fakes.providers import FakeProviders
from tests.test_live_channels import message
from worker import live_transport

TO = "+14155550123"
EMAIL = "claire@example.org"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def shared_clock(fake: FakeProviders) -> Clock:
    """Now, to the second (Twilio's dates have no fractions), for the providers too."""
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    fake.clock = clock
    return clock


@pytest.fixture
def clock(fake: FakeProviders) -> Clock:
    return shared_clock(fake)


async def _no_sleep(seconds: float) -> None:
    return None


def transport(fake: FakeProviders, tmp_path: Path, clock: Clock, **overrides) -> LiveTransport:
    live = live_transport(live_settings(fake, tmp_path, **overrides), clock=clock)
    assert isinstance(live, LiveTransport)
    live.throttle = Throttle(live.throttle.limits, sleep=_no_sleep)  # paces are tested below
    return live


def sent_count(fake: FakeProviders, channel: Channel) -> int:
    """What the provider really accepted on this channel."""
    if channel == Channel.EMAIL:
        return len(fake.emails)
    return len(fake.messages if channel == Channel.SMS else fake.calls)


def record_processed_events(fake: FakeProviders, live: LiveTransport) -> None:
    """What the webhook server does with SendGrid's Event Webhook posts (tested end to end in
    `test_send_faults_email.py`)."""
    events = live.senders[Channel.EMAIL].events  # type: ignore[attr-defined]
    for item in fake.sendgrid_processed_events():
        events.record_processed(processed_email(item))


# ---- 1. a 5xx or a timeout on a send is "maybe sent" ----------------------------------------

ACCEPTED_THEN_5XX = [
    (Channel.EMAIL, EMAIL, "sendgrid", 504),
    (Channel.SMS, TO, "twilio", 500),
    (Channel.SMS, TO, "twilio", 503),
    (Channel.VOICEMAIL, TO, "twilio", 502),
]


@pytest.mark.parametrize(("channel", "to", "provider", "status"), ACCEPTED_THEN_5XX)
async def test_a_send_accepted_then_answered_5xx_is_never_sent_twice(
    fake, tmp_path, clock, channel, to, provider, status
):
    live = transport(fake, tmp_path, clock)
    sent = message(channel, to)
    fake.fail_next(provider=provider, status=status, method="POST", after_processing=True)
    with pytest.raises(ProviderUnavailable) as first:
        await live.deliver(sent)
    after_first = live.ledger.get(sent.idempotency_key)
    if channel == Channel.EMAIL:
        record_processed_events(fake, live)
    clock.now += timedelta(seconds=10)  # Temporal's retry
    again = await live.deliver(sent)
    assert sent_count(fake, channel) == 1  # the duplicate this issue is about
    assert first.value.maybe_sent and after_first.state == "in_doubt"
    assert again.duplicate and not again.unconfirmed
    assert live.ledger.get(sent.idempotency_key).state == "sent"


async def test_a_429_and_a_5xx_on_a_lookup_are_not_maybe_sent(fake, tmp_path, clock):
    live = transport(fake, tmp_path, clock)
    sms = message(Channel.SMS, TO)
    fake.fail_next(provider="twilio", status=429, method="POST", retry_after=2)
    with pytest.raises(ProviderUnavailable) as limited:
        await live.deliver(sms)
    assert not limited.value.maybe_sent
    assert live.ledger.get(sms.idempotency_key) is None  # refused before any work: released
    fake.fail_next(provider="twilio", status=503, method="POST", after_processing=True)
    with pytest.raises(ProviderUnavailable):
        await live.deliver(sms)
    fake.fail_next(provider="twilio", status=500, method="GET")  # the reconciling list fails
    with pytest.raises(ProviderUnavailable) as lookup:
        await live.deliver(sms)
    assert not lookup.value.maybe_sent
    assert live.ledger.get(sms.idempotency_key).state == "in_doubt"  # kept, never released
    again = await live.deliver(sms)
    assert again.duplicate and again.message_id == fake.messages[0]["sid"]
    assert len(fake.messages) == 1


@pytest.mark.parametrize(
    ("channel", "created"), [(Channel.SMS, "messages"), (Channel.VOICEMAIL, "calls")]
)
async def test_a_twilio_send_in_doubt_not_listed_yet_waits_for_the_lease(
    fake, tmp_path, clock, channel, created
):
    """After a 5xx Twilio may still be creating the message when its list is read: "not
    there" means "not sent" only once the claim is older than the lease."""
    live = transport(fake, tmp_path, clock)
    sent = message(channel, TO)
    fake.fail_next(provider="twilio", status=500, method="POST")  # not created yet
    with pytest.raises(ProviderUnavailable):
        await live.deliver(sent)
    clock.now += timedelta(seconds=5)
    with pytest.raises(ProviderUnavailable) as waiting:
        await live.deliver(sent)
    assert waiting.value.retry_after == pytest.approx((live.lease - timedelta(seconds=5)).seconds)
    assert getattr(fake, created) == []  # the duplicate this is about: no second request
    assert live.ledger.get(sent.idempotency_key).state == "in_doubt"  # claim kept
    await live.senders[channel].send(sent)  # Twilio finishes creating the first one
    found = await live.deliver(sent)
    assert found.duplicate and len(getattr(fake, created)) == 1
    assert found.message_id == getattr(fake, created)[0]["sid"]


async def test_a_stale_attempt_cannot_release_the_claim_another_attempt_took_over(
    fake, tmp_path, clock
):
    """Worker A claims, then hangs before its request; past the lease worker B takes the
    claim over, sends, and gets an accepted-then-500 (in doubt). A's request, refused at last,
    must not release B's claim: the next attempt would send again."""
    stalled, live = transport(fake, tmp_path, clock), transport(fake, tmp_path, clock)
    sms = message(Channel.SMS, TO)
    real = stalled.senders[Channel.SMS]
    go = asyncio.Event()

    class Hanging:
        provider, throttle_key, find_sent = real.provider, real.throttle_key, real.find_sent

        async def send(self, outgoing):
            await go.wait()
            return await real.send(outgoing)

    stalled.senders = {Channel.SMS: Hanging()}
    attempt_a = asyncio.create_task(stalled.deliver(sms))
    while live.ledger.get(sms.idempotency_key) is None:  # A's claim is in
        await asyncio.sleep(0.01)
    clock.now += timedelta(minutes=5)  # past A's lease: taken for dead
    fake.fail_next(provider="twilio", status=500, method="POST", after_processing=True)
    with pytest.raises(ProviderUnavailable):
        await live.deliver(sms)  # B: Twilio has nothing, reclaimed, sent, 500
    fake.fail_next(provider="twilio", status=400, code=21606, method="POST")
    go.set()
    with pytest.raises(ProviderRefused):
        await attempt_a
    assert live.ledger.get(sms.idempotency_key).state == "in_doubt"  # B's claim, untouched
    again = await live.deliver(sms)
    assert again.duplicate and len(fake.messages) == 1


# ---- 2. reconcile against what was claimed --------------------------------------------------


async def test_an_sms_in_doubt_is_found_by_the_claimed_text_after_the_balance_changed(
    fake, tmp_path, clock
):
    live = transport(fake, tmp_path, clock)
    first = message(Channel.SMS, TO, text="Acme: 120.50 is overdue. Reply STOP to opt out.")
    fake.fail_next(provider="twilio", status=500, method="POST", after_processing=True)
    with pytest.raises(ProviderUnavailable):
        await live.deliver(first)
    # A payment landed before the retry: the activity renders a different balance.
    second = replace(first, text="Acme: 70.50 is overdue. Reply STOP to opt out.")
    again = await live.deliver(second)
    assert len(fake.messages) == 1 and fake.messages[0]["body"] == first.text
    assert again.duplicate and again.message_id == fake.messages[0]["sid"]


async def test_a_reclaimed_send_claims_the_text_it_sends_now(fake, tmp_path, clock):
    """The worker died between its claim and the request: nothing at Twilio. The retry sends
    its own render and the ledger remembers that one."""
    live = transport(fake, tmp_path, clock)
    old = message(Channel.SMS, TO, text="Acme: 120.50 is overdue. Reply STOP to opt out.")
    live.ledger.claim(old.idempotency_key, "sms", "twilio", claim_hash(old))
    clock.now += timedelta(minutes=5)  # past the dead attempt's lease
    new = replace(old, text="Acme: 70.50 is overdue. Reply STOP to opt out.")
    delivery = await live.deliver(new)
    assert not delivery.duplicate and [m["body"] for m in fake.messages] == [new.text]
    assert live.ledger.get(new.idempotency_key).content_hash == claim_hash(new)


# ---- 4. the window is checked when the message leaves ---------------------------------------


@pytest.mark.parametrize(("channel", "to"), [(Channel.SMS, TO), (Channel.EMAIL, EMAIL)])
async def test_a_message_that_would_leave_after_the_window_is_not_sent(
    fake, tmp_path, clock, channel, to
):
    live = transport(fake, tmp_path, clock)
    late = message(channel, to, not_after=clock.now - timedelta(seconds=1))
    with pytest.raises(OutsideWindow):
        await live.deliver(late)
    assert fake.requests == []
    assert live.ledger.get(late.idempotency_key) is None  # released: the next window sends
    on_time = replace(late, not_after=clock.now + timedelta(hours=1))
    assert not (await live.deliver(on_time)).duplicate and sent_count(fake, channel) == 1


async def test_a_send_in_doubt_is_never_released_by_the_window(fake, tmp_path, clock):
    live = transport(fake, tmp_path, clock)
    sms = message(Channel.SMS, TO, not_after=clock.now + timedelta(minutes=1))
    fake.fail_next(provider="twilio", status=504, method="POST", after_processing=True)
    with pytest.raises(ProviderUnavailable):
        await live.deliver(sms)
    clock.now += timedelta(minutes=5)  # the window closed meanwhile
    fake.fail_next(provider="twilio", status=503, method="GET")
    with pytest.raises(ProviderUnavailable):  # not reconciled: neither refused nor released
        await live.deliver(sms)
    assert live.ledger.get(sms.idempotency_key).state == "in_doubt"
    found = await live.deliver(sms)  # it did leave, inside the window: recorded as sent
    assert found.duplicate and len(fake.messages) == 1


async def test_a_send_in_doubt_that_never_left_is_refused_after_the_window(fake, tmp_path, clock):
    live = transport(fake, tmp_path, clock)
    sms = message(Channel.SMS, TO, not_after=clock.now + timedelta(minutes=1))
    fake.fail_next(provider="twilio", status=500, method="POST")  # 500, nothing created
    with pytest.raises(ProviderUnavailable):
        await live.deliver(sms)
    clock.now += timedelta(minutes=5)
    with pytest.raises(OutsideWindow):  # reconciled first: Twilio has nothing, so release
        await live.deliver(sms)
    assert live.ledger.get(sms.idempotency_key) is None and fake.messages == []


async def test_letters_have_no_window(fake, tmp_path, clock):
    live = transport(fake, tmp_path, clock)
    letter = message(
        Channel.LETTER,
        "1 Market St, 94105 San Francisco, US",
        postal_lines=("Claire Martin", "1 Market St", "94105 San Francisco", "US"),
        not_after=clock.now - timedelta(hours=3),
    )
    assert (await live.deliver(letter)).provider == "letters"


# ---- 5. the time the provider accepted the message ------------------------------------------


async def test_the_accepted_time_is_recorded_and_returned_again_for_a_duplicate(
    fake, tmp_path, clock
):
    live = transport(fake, tmp_path, clock)
    accepted_at = clock.now
    delivery = await live.deliver(message(Channel.SMS, TO))
    assert delivery.sent_at == accepted_at
    assert live.ledger.get("dunning-A-1/step/1").sent_at == accepted_at
    clock.now += timedelta(hours=2)
    again = await live.deliver(message(Channel.SMS, TO))
    assert again.duplicate and again.sent_at == accepted_at


# ---- 6. rejected credentials are re-checked -------------------------------------------------


async def test_rejected_credentials_are_tried_again_after_the_recheck_interval(
    fake, tmp_path, clock, caplog
):
    caplog.set_level(logging.INFO, logger="activities.channels.live")
    live = transport(fake, tmp_path, clock, twilio_auth_token="rotated-token")
    for key in ("k1", "k2"):
        with pytest.raises(CredentialsRejected):
            await live.deliver(message(Channel.SMS, TO, key=key))
    assert len(fake.requests_for("twilio")) == 1  # the second failed fast
    fake.auth_token = "rotated-token"  # ops put the new token in place at Twilio
    with pytest.raises(CredentialsRejected):  # not yet re-checked
        await live.deliver(message(Channel.SMS, TO, key="k3"))
    clock.now += live.credentials_recheck
    assert not (await live.deliver(message(Channel.SMS, TO, key="k4"))).duplicate
    assert not (await live.deliver(message(Channel.SMS, TO, key="k5"))).duplicate
    assert len(fake.messages) == 2
    assert any("accepted the credentials again" in r.getMessage() for r in caplog.records)
    assert live.credentials_recheck == timedelta(seconds=300)  # from the settings


async def test_credentials_still_rejected_at_the_recheck_stay_latched(fake, tmp_path, clock):
    live = transport(fake, tmp_path, clock, twilio_auth_token="wrong")
    with pytest.raises(CredentialsRejected):
        await live.deliver(message(Channel.SMS, TO, key="k1"))
    clock.now += live.credentials_recheck
    with pytest.raises(CredentialsRejected):  # one attempt through, refused again
        await live.deliver(message(Channel.SMS, TO, key="k2"))
    with pytest.raises(CredentialsRejected):  # and the interval starts over
        await live.deliver(message(Channel.SMS, TO, key="k3"))
    assert len(fake.requests_for("twilio")) == 2


# ---- 7. shared rate limits ------------------------------------------------------------------


async def test_two_workers_keep_one_senders_pace_together(fake, tmp_path, clock):
    """Two workers (two transports over one store) sending from one number: one 1/s queue,
    not two. A queue longer than `max_wait` is handed back to Temporal."""
    settings = live_settings(fake, tmp_path)  # DUNNING_TWILIO_SENDS_PER_SECOND = 1
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    workers = []
    for _ in range(2):
        live = live_transport(settings, clock=clock)
        assert isinstance(live, LiveTransport)
        live.throttle = Throttle(live.throttle.limits, clock=lambda: 1000.0, sleep=sleep)
        workers.append(live)
    for index in range(4):
        await workers[index % 2].deliver(message(Channel.SMS, TO, key=f"k{index}"))
    assert waits == [1.0, 2.0, 3.0] and len(fake.messages) == 4
    workers[1].throttle.max_wait = 2.0
    with pytest.raises(ProviderUnavailable) as busy:
        await workers[1].deliver(message(Channel.SMS, TO, key="k4"))
    assert busy.value.retry_after == 4.0 and len(fake.messages) == 4


def test_a_pace_is_per_provider_account_and_sender(fake, tmp_path):
    live = live_transport(live_settings(fake, tmp_path))
    assert isinstance(live, LiveTransport)
    keys = {channel: sender.throttle_key for channel, sender in live.senders.items()}
    assert keys[Channel.SMS] == f"twilio:{ACCOUNT_SID}:sms:{FROM}"
    assert keys[Channel.VOICEMAIL] == f"twilio:{ACCOUNT_SID}:voice:{FROM}"
    account, sender = keys[Channel.EMAIL].split(":")[1:]
    assert keys[Channel.EMAIL].startswith("sendgrid:") and sender == "billing@acme.example"
    assert SENDGRID_KEY not in keys[Channel.EMAIL] and len(account) == 12
    service = "MG" + "2" * 32
    pooled = live_transport(live_settings(fake, tmp_path, twilio_messaging_service_sid=service))
    assert pooled.senders[Channel.SMS].throttle_key == f"twilio:{ACCOUNT_SID}:sms:{service}"  # type: ignore[attr-defined]
