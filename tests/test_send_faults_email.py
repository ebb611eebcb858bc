"""Issue 10, email: SendGrid has no lookup, so an email in doubt is reconciled through SendGrid's
own `processed` events, which the webhook server records in the shared store.

The fake SendGrid accepts the email (and produces the `processed` events SendGrid's Event
Webhook would post); the real webhook application records them in the same store the
transport reads.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from activities.channels.base import ProviderUnavailable
from activities.channels.ledger import claim_hash
from activities.channels.sendgrid.webhooks import processed_email
from config.ladder import Channel
from config.settings import load_settings
from inbound.app import create_app
from store import open_store
from tests.fakes.live import live_settings
from tests.fakes.providers import FakeProviders
from tests.test_live_channels import message
from tests.test_send_faults import (
    EMAIL,
    Clock,
    record_processed_events,
    shared_clock,
    transport,
)
from tests.test_webhooks import PUBLIC, SENDGRID_PUBLIC, MemoryAccounts, sendgrid_signed

KEY = "dunning-A-1/step/1"
WAIT = timedelta(seconds=600)  # DUNNING_SENDGRID_PROCESSED_WAIT_SECONDS


@pytest.fixture
def clock(fake: FakeProviders) -> Clock:
    return shared_clock(fake)


def email(key: str = KEY):
    return message(Channel.EMAIL, EMAIL, key=key)


async def post_events_to_the_webhook(store, events: list[dict]) -> int:
    """SendGrid's Event Webhook post, signed, through the real application."""
    settings = load_settings(public_base_url=PUBLIC, sendgrid_webhook_public_key=SENDGRID_PUBLIC)
    app = create_app(settings, MemoryAccounts(), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
        answer = await client.post("/sendgrid/events", **sendgrid_signed(events))
    return answer.status_code


async def test_an_email_accepted_then_504_is_settled_by_sendgrids_processed_event(
    fake, tmp_path, clock
):
    live = transport(fake, tmp_path, clock)
    fake.fail_next(provider="sendgrid", status=504, after_processing=True)
    with pytest.raises(ProviderUnavailable) as first:
        await live.deliver(email())
    assert first.value.maybe_sent
    [event] = fake.sendgrid_processed_events()
    store = open_store(live_settings(fake, tmp_path).store_url)  # the webhook server's
    assert await post_events_to_the_webhook(store, [event]) == 200
    clock.now += timedelta(seconds=30)
    again = await live.deliver(email())
    assert len(fake.emails) == 1
    assert again.duplicate and not again.unconfirmed
    assert again.message_id == event["sg_message_id"]
    accepted = datetime.fromtimestamp(event["timestamp"], UTC)
    assert again.sent_at == accepted  # SendGrid's time, not the retry's
    recorded = live.ledger.get(KEY)
    assert (recorded.state, recorded.message_id, recorded.sent_at) == (
        "sent",
        event["sg_message_id"],
        accepted,
    )


async def test_an_email_in_doubt_waits_for_the_event_and_keeps_its_claim(fake, tmp_path, clock):
    live = transport(fake, tmp_path, clock)
    fake.fail_next(provider="sendgrid", status=500, after_processing=True)
    with pytest.raises(ProviderUnavailable):
        await live.deliver(email())
    clock.now += timedelta(seconds=45)
    with pytest.raises(ProviderUnavailable) as waiting:
        await live.deliver(email())
    assert waiting.value.retry_after == pytest.approx((WAIT - timedelta(seconds=45)).seconds)
    assert live.ledger.get(KEY).state == "in_doubt" and len(fake.emails) == 1


async def test_an_email_that_never_left_is_sent_once_later_emails_were_reported(
    fake, tmp_path, clock
):
    """The worker was killed between its claim and the request: SendGrid has nothing. The
    event stream reports a later email and never this one, so it is sent, once."""
    live = transport(fake, tmp_path, clock)
    assert live.ledger.claim(KEY, "email", "sendgrid", claim_hash(email())) is None
    clock.now += timedelta(minutes=5)
    await live.deliver(email("dunning-B-2/step/1"))  # another account's email, reported
    record_processed_events(fake, live)
    clock.now += timedelta(minutes=6)  # past the wait since our claim
    delivery = await live.deliver(email())
    assert not delivery.duplicate and not delivery.unconfirmed
    assert len(fake.emails) == 2 and fake.emails[1]["custom_args"]["idempotency_key"] == KEY
    assert live.ledger.get(KEY).state == "sent"


async def test_an_email_in_doubt_without_evidence_is_unconfirmed_and_logged(
    fake, tmp_path, clock, caplog
):
    caplog.set_level(logging.WARNING)
    live = transport(fake, tmp_path, clock)
    fake.drop_next(provider="sendgrid", after_processing=True)  # a read timeout, accepted
    with pytest.raises(ProviderUnavailable):
        await live.deliver(email())
    clock.now += timedelta(seconds=20)
    await live.deliver(email("dunning-B-2/step/1"))  # reported, but too close to our claim
    events = live.senders[Channel.EMAIL].events  # type: ignore[attr-defined]
    for item in fake.sendgrid_processed_events()[1:]:  # our own event was lost
        events.record_processed(processed_email(item))
    clock.now += WAIT
    delivery = await live.deliver(email())
    assert delivery.unconfirmed and delivery.duplicate and len(fake.emails) == 2
    assert live.ledger.get(KEY).state == "unconfirmed"
    assert any(r.levelname == "WARNING" and "unconfirmed" in r.getMessage() for r in caplog.records)
    assert (await live.deliver(email())).unconfirmed  # and it is never sent again
