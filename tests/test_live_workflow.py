"""The real workflow on the live transports (fake providers), and `dunning send-test`.

One account goes through the example ladder with every channel live: one email at SendGrid,
one SMS and one call at Twilio, one PDF in the print batch. The SMS request is then lost after
Twilio accepted it (the worst moment for a retry): Temporal retries the activity and the send
ledger finds the message instead of sending a second one.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from activities.channels.live import LiveTransport
from tests.conftest import MONDAY, Harness, account
from tests.fakes.live import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM,
    LINK_SECRET,
    SENDGRID_KEY,
    live_settings,
)
from tests.fakes.provider_spec import spec_problems
from tests.fakes.providers import FakeProviders
from worker import live_transport

DAY = timedelta(days=1)
DUNNING = str(Path(sys.executable).with_name("dunning"))


def workflow_transport(fake: FakeProviders, data_dir: Path) -> LiveTransport:
    live = live_transport(live_settings(fake, data_dir))
    assert isinstance(live, LiveTransport)
    live.lease = timedelta(0)  # the test server skips retry delays; wall time barely moves
    return live


async def test_every_channel_goes_out_once_through_the_providers(
    harness: Harness, fake: FakeProviders, tmp_path: Path
):
    fake.drop_next(provider="twilio", after_processing=True, method="POST")  # the first SMS
    live = workflow_transport(fake, tmp_path / "live")
    async with harness.worker(live):
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 16 * DAY)
        view = await harness.view()
    sent = [(c.step, c.channel.value, c.outcome) for c in view.contacts]
    assert sent == [
        ("courtesy-email", "email", "sent"),
        ("sms-reminder", "sms", "sent"),
        ("first-letter", "letter", "sent"),
        ("voicemail", "voicemail", "sent"),
    ]
    assert len(fake.emails) == 1 and len(fake.messages) == 1 and len(fake.calls) == 1
    by_channel = {c.channel.value: c.message_id for c in view.contacts}
    assert by_channel["sms"] == fake.messages[0]["sid"]  # found by reconciling, not resent
    assert by_channel["voicemail"] == fake.calls[0]["sid"]
    assert by_channel["email"] == fake.email_message_ids[0]
    assert len(list((tmp_path / "live" / "letters").glob("*/*.pdf"))) == 1
    assert all(spec_problems(request) == [] for request in fake.requests)
    states = {entry.state for entry in live.ledger.entries()}
    assert states == {"sent"}


def send_test_env(fake: FakeProviders, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "NO_PROXY": "127.0.0.1,localhost",
        "DUNNING_DATA_DIR": str(data_dir),
        "DUNNING_TRANSPORT": "live",
        "DUNNING_SENDGRID_API_KEY": SENDGRID_KEY,
        "DUNNING_SENDGRID_API_HOST": fake.url,
        "DUNNING_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "DUNNING_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "DUNNING_TWILIO_API_BASE_URL": fake.url,
        "DUNNING_TWILIO_FROM": FROM,
        "DUNNING_LINK_SECRET": LINK_SECRET,
    }


async def send_test(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [DUNNING, "send-test", "--ladder", "consumer-standard", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("channel", "to", "step", "provider"),
    [
        ("email", "ops@acme.example", "courtesy-email", "sendgrid"),
        ("sms", "+14155550123", "sms-reminder", "twilio"),
        ("voicemail", "+14155550123", "voicemail", "twilio"),
        ("letter", "Ops Desk, 1 Market Street, 94105 San Francisco, US", "first-letter", "letters"),
    ],
)
async def test_send_test_sends_each_channel_through_the_configured_transport(
    fake: FakeProviders, tmp_path: Path, channel, to, step, provider
):
    done = await send_test(
        send_test_env(fake, tmp_path), "--channel", channel, "--to", to, "--step", step
    )
    assert done.returncode == 0, done.stderr
    assert f"by {channel} to {to} via {provider}: " in done.stdout
    if provider != "letters":
        assert len(fake.requests) == 1 and spec_problems(fake.requests[0]) == []


async def test_send_test_sends_the_variant_named(fake: FakeProviders, tmp_path: Path):
    """Each wording of an A/B step can be sent to yourself before it goes live."""
    env = send_test_env(fake, tmp_path)
    ladder = str(Path(__file__).parent.parent / "examples" / "ab-portfolio" / "consumer-ab.yaml")
    common = ["--ladder", ladder, "--channel", "sms", "--to", "+14155550123"]
    common += ["--step", "sms-reminder", "--locale", "en"]
    done = await send_test(env, *common, "--variant", "reminder-direct")
    assert done.returncode == 0, done.stderr
    assert "overdue. Pay" in fake.messages[-1]["body"]  # the direct wording
    done = await send_test(env, *common, "--variant", "shouty")
    assert done.returncode == 2
    assert "no variant 'shouty' (known: reminder, reminder-direct)" in done.stderr


async def test_send_test_prints_the_providers_refusal_on_one_line(
    fake: FakeProviders, tmp_path: Path
):
    fake.refuse_number("+14155550123", 21614, "'To' number is not a valid mobile number")
    done = await send_test(
        send_test_env(fake, tmp_path),
        *("--channel", "sms", "--to", "+14155550123", "--step", "sms-reminder", "--locale", "fr"),
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "21614" in done.stderr and "not a valid mobile number" in done.stderr
