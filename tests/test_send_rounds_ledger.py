"""A claim left unsettled by an earlier send round, or by the primary channel before a fallback,
is settled before the step's next message may leave (`settle_earlier` in
`activities/channels/reconcile.py`), through the real SDKs against the fake providers.

Keys are `<workflow id>/<step>/<channel>/<send round>`: round 2 of the SMS step is `…/sms/2`,
its email fallback `…/email/1`. Each transport test but the last fails when `LiveTransport`
sends without looking at the step's other keys. The ledger operations the rules stand on
(`unsettled`, compare-and-set `release`/`mark_in_doubt`) are tested on both databases at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from activities.channels.base import ProviderUnavailable
from activities.channels.ledger import claim_hash
from config.ladder import Channel
from store import SqlStore, open_store
from tests.fakes.providers import FakeProviders
from tests.test_live_channels import message
from tests.test_send_faults import (
    EMAIL,
    TO,
    Clock,
    record_processed_events,
    shared_clock,
    transport,
)

STEP = "dunning-A-1/sms-reminder"
WAIT = timedelta(seconds=600)  # DUNNING_SENDGRID_PROCESSED_WAIT_SECONDS


@pytest.fixture
def clock(fake: FakeProviders) -> Clock:
    return shared_clock(fake)


def sms(send_round: int = 1):
    return message(Channel.SMS, TO, key=f"{STEP}/sms/{send_round}")


def email(send_round: int = 1):
    return message(Channel.EMAIL, EMAIL, key=f"{STEP}/email/{send_round}")


async def sms_in_doubt(fake: FakeProviders, live, *, accepted: bool = True) -> None:
    """Round 1: Twilio answers 500 (having created the message, or not), and the attempts
    that followed could not reconcile before the activity gave up (Twilio's list failing)."""
    fake.fail_next(provider="twilio", status=500, method="POST", after_processing=accepted)
    with pytest.raises(ProviderUnavailable):
        await live.deliver(sms(1))
    fake.fail_next(provider="twilio", status=503, method="GET")
    with pytest.raises(ProviderUnavailable):
        await live.deliver(sms(1))
    assert live.ledger.get(f"{STEP}/sms/1").state == "in_doubt"


async def test_the_next_round_finds_the_sms_an_earlier_round_left_in_doubt(
    fake, tmp_path, clock, caplog
):
    caplog.set_level(logging.WARNING)
    live = transport(fake, tmp_path, clock)
    await sms_in_doubt(fake, live)
    clock.now += timedelta(minutes=30)  # the step's next send round
    delivery = await live.deliver(sms(2))
    assert len(fake.messages) == 1  # the duplicate this is about
    assert delivery.duplicate and not delivery.unconfirmed and delivery.provider == "twilio"
    assert delivery.message_id == fake.messages[0]["sid"]
    earlier = live.ledger.get(f"{STEP}/sms/1")
    assert (earlier.state, earlier.message_id) == ("sent", delivery.message_id)
    assert any("already went out" in r.getMessage() for r in caplog.records)
    again = await live.deliver(sms(2))  # a retry of this attempt: that claim is settled now
    assert again.duplicate and again.message_id == delivery.message_id
    assert len(fake.messages) == 1 and live.ledger.get(f"{STEP}/sms/2").state == "sent"


async def test_the_fallback_channel_finds_the_primarys_sms_at_its_own_recipient(
    fake, tmp_path, clock
):
    live = transport(fake, tmp_path, clock)
    await sms_in_doubt(fake, live)
    clock.now += timedelta(hours=2)
    delivery = await live.deliver(email(1))  # looked up at Twilio, to TO, not at SendGrid
    assert fake.emails == [] and len(fake.messages) == 1
    assert delivery.duplicate and delivery.provider == "twilio"
    assert delivery.message_id == fake.messages[0]["sid"]


async def test_a_fallback_waits_for_the_processed_event_of_the_primarys_email(
    fake, tmp_path, clock
):
    live = transport(fake, tmp_path, clock)
    fake.fail_next(provider="sendgrid", status=500, after_processing=True)
    with pytest.raises(ProviderUnavailable):
        await live.deliver(email(1))
    clock.now += timedelta(seconds=60)
    with pytest.raises(ProviderUnavailable) as waiting:
        await live.deliver(sms(1))
    assert waiting.value.retry_after == pytest.approx((WAIT - timedelta(seconds=60)).seconds)
    assert fake.messages == [] and live.ledger.get(f"{STEP}/email/1").state == "in_doubt"
    record_processed_events(fake, live)  # SendGrid's event arrives
    delivery = await live.deliver(sms(1))
    [event] = fake.sendgrid_processed_events()
    assert fake.messages == [] and len(fake.emails) == 1
    assert delivery.duplicate and delivery.provider == "sendgrid"
    assert delivery.message_id == event["sg_message_id"]


async def test_an_earlier_email_sendgrid_cannot_tell_about_is_unconfirmed_not_resent(
    fake, tmp_path, clock
):
    live = transport(fake, tmp_path, clock)
    fake.drop_next(provider="sendgrid", after_processing=True)  # a read timeout, accepted
    with pytest.raises(ProviderUnavailable):
        await live.deliver(email(1))
    clock.now += WAIT + timedelta(minutes=1)  # no events flow: SendGrid cannot tell us
    delivery = await live.deliver(sms(1))
    assert fake.messages == [] and len(fake.emails) == 1
    assert delivery.duplicate and delivery.unconfirmed and delivery.provider == "sendgrid"
    assert live.ledger.get(f"{STEP}/email/1").state == "unconfirmed"
    assert (await live.deliver(sms(1))).unconfirmed and fake.messages == []


async def test_an_earlier_rounds_claim_inside_its_lease_makes_the_next_round_wait(
    fake, tmp_path, clock
):
    live = transport(fake, tmp_path, clock)
    first = sms(1)
    live.ledger.claim(first.idempotency_key, "sms", "twilio", claim_hash(first), recipient=TO)
    clock.now += timedelta(seconds=5)
    with pytest.raises(ProviderUnavailable) as waiting:
        await live.deliver(sms(2))
    assert waiting.value.retry_after == pytest.approx((live.lease - timedelta(seconds=5)).seconds)
    assert fake.messages == [] and fake.requests == []


async def test_an_earlier_sms_in_doubt_not_listed_yet_makes_the_fallback_wait(
    fake, tmp_path, clock
):
    """Twilio may still be creating round 1's SMS: "not listed" means "not sent" only once its
    claim is older than the lease."""
    live = transport(fake, tmp_path, clock)
    await sms_in_doubt(fake, live, accepted=False)
    clock.now += timedelta(seconds=5)
    with pytest.raises(ProviderUnavailable) as waiting:
        await live.deliver(email(1))
    assert waiting.value.retry_after == pytest.approx((live.lease - timedelta(seconds=5)).seconds)
    assert fake.emails == [] and live.ledger.get(f"{STEP}/sms/1").state == "in_doubt"
    clock.now += live.lease
    assert not (await live.deliver(email(1))).duplicate and len(fake.emails) == 1


async def test_an_earlier_claim_twilio_never_had_is_released_and_the_round_sends(
    fake, tmp_path, clock
):
    live = transport(fake, tmp_path, clock)
    await sms_in_doubt(fake, live, accepted=False)
    clock.now += timedelta(minutes=30)
    delivery = await live.deliver(sms(2))
    assert not delivery.duplicate and len(fake.messages) == 1
    assert live.ledger.get(f"{STEP}/sms/1") is None
    assert live.ledger.get(f"{STEP}/sms/2").state == "sent"


async def test_claims_of_a_channel_without_a_sender_and_of_other_steps_are_ignored(
    fake, tmp_path, clock
):
    live = transport(fake, tmp_path, clock)
    live.ledger.claim(f"{STEP}/letter/1", "letter", "letters", "h")
    live.ledger.mark_in_doubt(f"{STEP}/letter/1")
    live.ledger.claim("dunning-A-1/sms-reminder-2/sms/1", "sms", "twilio", "h", recipient=TO)
    delivery = await live.deliver(sms(1))
    assert not delivery.duplicate and len(fake.messages) == 1
    assert live.ledger.get(f"{STEP}/letter/1").state == "in_doubt"  # not ours to settle


# ---- the ledger operations these rules stand on, on both databases -----------------------


@pytest.fixture
def store_clock() -> Clock:
    return Clock(datetime(2038, 1, 4, 6, 0, tzinfo=UTC))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, store_clock: Clock) -> Iterator[SqlStore]:
    url = (
        f"sqlite:///{tmp_path / 'store.sqlite3'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_database")
    )
    with open_store(url, clock=store_clock) as opened:
        yield opened


def test_release_and_doubt_act_only_on_the_callers_claim(
    store: SqlStore, store_clock: Clock
) -> None:
    """A stale attempt (claimed at t0) outlived its lease and another took the claim over
    (t1): the stale one's release or doubt leaves the new claim alone."""
    ledger = store.ledger
    ledger.claim("k", "sms", "twilio", "h", recipient="+14155550123")
    stale = ledger.get("k")
    assert stale is not None and stale.recipient == "+14155550123"
    store_clock.now += timedelta(minutes=5)
    taken = ledger.reclaim("k", stale.claimed_at, "h2")
    assert taken is not None
    assert ledger.release("k", stale.claimed_at) is False
    assert ledger.mark_in_doubt("k", stale.claimed_at) is False
    kept = ledger.get("k")
    assert kept is not None and (kept.state, kept.claimed_at) == ("pending", taken)
    assert ledger.mark_in_doubt("k", taken) is True  # the holder's own doubt
    assert ledger.mark_in_doubt("k", taken) is False  # only pending → in_doubt
    assert ledger.release("k", stale.claimed_at) is False
    assert ledger.get("k").state == "in_doubt"  # type: ignore[union-attr]
    assert ledger.release("k", taken) is True and ledger.get("k") is None
    # record_sent stays unconditional: a provider's acceptance is always written down.
    ledger.record_sent("k", "SM1", sent_at=store_clock.now)
    assert ledger.get("k").state == "sent"  # type: ignore[union-attr]


def test_unsettled_claims_of_one_step_by_literal_prefix(
    store: SqlStore, store_clock: Clock
) -> None:
    """Every round and channel of `<workflow>/<step>/`, open ones only, oldest first; % and _
    in a key are plain characters (substr, not LIKE)."""
    ledger = store.ledger
    ledger.claim("wf-1/step_a/sms/1", "sms", "twilio", "h1", recipient="+14155550123")
    ledger.mark_in_doubt("wf-1/step_a/sms/1")
    store_clock.now += timedelta(minutes=1)
    ledger.claim("wf-1/step_a/email/2", "email", "sendgrid", "h2", recipient="c@example.org")
    ledger.claim("wf-1/step_a/sms/3", "sms", "twilio", "h3")
    ledger.record_sent("wf-1/step_a/sms/3", "SM3", sent_at=store_clock.now)  # settled: not listed
    ledger.claim("wf-1/stepXa/sms/1", "sms", "twilio", "h")  # LIKE's _ would match it
    ledger.claim("wf-10/step_a/sms/1", "sms", "twilio", "h")
    ledger.claim("wf-1/50%/sms/1", "sms", "twilio", "h")
    ledger.claim("wf-1/50%x/sms/1", "sms", "twilio", "h")  # LIKE's % would match it
    ledger.claim("wf-1/Step_a/sms/1", "sms", "twilio", "h")  # case matters
    found = ledger.unsettled("wf-1/step_a/")
    assert [(e.key, e.state, e.recipient) for e in found] == [
        ("wf-1/step_a/sms/1", "in_doubt", "+14155550123"),
        ("wf-1/step_a/email/2", "pending", "c@example.org"),
    ]
    assert [e.key for e in ledger.unsettled("wf-1/50%/")] == ["wf-1/50%/sms/1"]
    assert ledger.unsettled("wf-1/étape/") == []
    ledger.claim("wf-1/étape/sms/1", "sms", "twilio", "h")  # characters, not bytes
    assert [e.key for e in ledger.unsettled("wf-1/étape/")] == ["wf-1/étape/sms/1"]
