"""Blocking work stays off the worker's event loop.

The send and handoff activities are `async def`: they run on the worker's event loop beside
every other activity, the workflow tasks and the heartbeats. Each test below makes one piece of
blocking work slow on purpose (a synchronous sleep in template rendering, a SQLite call, a file
write, a PDF) and counts the ticks of a concurrent asyncio task meanwhile: a loop blocked for
the whole sleep would see none.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
from temporalio.testing import ActivityEnvironment

import activities.account_activities
import activities.channels.letters.printer
import activities.channels.outbox
from activities.account_activities import AccountActivities
from activities.channels.base import OutgoingMessage
from activities.channels.letters.printer import LetterPrinter
from activities.channels.live import LiveTransport, MemoryRateLimits, Throttle
from activities.channels.outbox import FileOutbox, MemoryOutbox
from activities.channels.twilio.call_scripts import CallScript, MemoryCallScripts
from activities.channels.twilio.send import TwilioVoicemail
from config.ladder import Channel
from config.settings import Settings
from inbound.context import WebhookContext
from store import ProcessedEmail, Reservation, open_store
from tests.conftest import MONDAY, account
from tests.test_send_ledger import message
from worker import renderer_for
from workflows.activity_types import SendRequest, send_request

BLOCK = 0.5  # seconds of synchronous work in each test
TICK = 0.01
ENOUGH = 15  # ticks that prove the loop ran during the block (~50 expected)

T = TypeVar("T")


async def ticks_during(work: Awaitable[T]) -> tuple[T, int]:
    """`work`'s result, and how often a concurrent task got the event loop meanwhile."""
    ticks = 0
    done = False

    async def tick() -> None:
        nonlocal ticks
        while not done:
            await asyncio.sleep(TICK)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        result = await work
    finally:
        done = True
        await ticker
    return result, ticks


def slowly(function: Any) -> Any:
    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(BLOCK)
        return function(*args, **kwargs)

    return slow


def sms(key: str = "dunning-A-1/sms-reminder/sms/1") -> OutgoingMessage:
    """The send-ledger tests' message, dated (the outbox and the letters print the date)."""
    return replace(message(key), sent_at="2038-01-04T09:00:00Z")


def email_request() -> SendRequest:
    return send_request(
        account(MONDAY),
        idempotency_key="dunning-T-1/courtesy-email/email/1",
        at=MONDAY + timedelta(hours=3),  # 10:00 in Paris: inside the contact window
        balance=Decimal("120.50"),
        days_past_due=1,
        step="courtesy-email",
        channel=Channel.EMAIL,
        template="courtesy",
        deadline_days=7,
    )


def send_activities(settings: Settings, transport: Any, tmp_path: Path) -> AccountActivities:
    return AccountActivities(
        renderer=renderer_for(settings),
        transport=transport,
        payment_link_template=settings.payment_link_template,
        handoff_dir=tmp_path / "handoff",
    )


class SlowRenderer:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def render(self, *args: Any) -> Any:
        time.sleep(BLOCK)
        return self.inner.render(*args)


async def test_the_probe_sees_a_blocked_loop():
    """The measure itself: a coroutine that sleeps synchronously starves the ticker."""

    async def blocking() -> None:
        time.sleep(BLOCK)

    _, ticks = await ticks_during(blocking())
    assert ticks < 3


async def test_rendering_a_message_does_not_block_the_loop(settings, tmp_path):
    outbox = MemoryOutbox()
    send = send_activities(settings, outbox, tmp_path)
    send.renderer = SlowRenderer(send.renderer)  # type: ignore[assignment]
    receipt, ticks = await ticks_during(
        ActivityEnvironment().run(send.send_message, email_request())
    )
    assert ticks >= ENOUGH
    assert not receipt.duplicate and len(outbox.messages()) == 1


async def test_writing_to_the_outbox_does_not_block_the_loop(settings, tmp_path, monkeypatch):
    monkeypatch.setattr(
        activities.channels.outbox, "create_once", slowly(activities.channels.outbox.create_once)
    )
    outbox = FileOutbox(tmp_path / "outbox")
    send = send_activities(settings, outbox, tmp_path)
    receipt, ticks = await ticks_during(
        ActivityEnvironment().run(send.send_message, email_request())
    )
    assert ticks >= ENOUGH
    assert receipt.message_id and len(outbox.messages()) == 1


async def test_exporting_a_handoff_does_not_block_the_loop(settings, tmp_path, monkeypatch):
    monkeypatch.setattr(
        activities.account_activities,
        "write_handoff",
        slowly(lambda directory, request: str(directory / "A-1.json")),
    )
    send = send_activities(settings, MemoryOutbox(), tmp_path)
    path, ticks = await ticks_during(ActivityEnvironment().run(send.export_handoff, object()))
    assert ticks >= ENOUGH and path.endswith("A-1.json")


class SlowLedger:
    """The store's ledger, with a slow claim and a slow record."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def claim(self, *args: Any) -> Any:
        time.sleep(BLOCK)
        return self.inner.claim(*args)

    def record_sent(self, *args: Any, **kwargs: Any) -> None:
        time.sleep(BLOCK)
        self.inner.record_sent(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Sender:
    provider = "twilio"
    throttle_key = "twilio:AC1:sms:+15005550006"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: OutgoingMessage) -> str:
        self.sent.append(message.idempotency_key)
        return f"SM{len(self.sent):032d}"

    async def find_sent(self, message: OutgoingMessage, claim: Any, now: Any) -> list[Any]:
        return []


def live(tmp_path: Path, sender: Sender) -> LiveTransport:
    return LiveTransport(
        senders={Channel.SMS: sender},
        rates={Channel.SMS: 1000.0},
        ledger=SlowLedger(open_store(f"sqlite:///{tmp_path}/store.sqlite3").ledger),
    )


async def test_the_send_ledger_does_not_block_the_loop(tmp_path):
    sender = Sender()
    transport = live(tmp_path, sender)
    delivery, ticks = await ticks_during(transport.deliver(sms()))
    assert ticks >= 2 * ENOUGH  # the claim and the record, each slow
    assert transport.ledger.get(sms().idempotency_key).state == "sent"
    assert delivery.message_id == transport.ledger.get(sms().idempotency_key).message_id


async def test_a_send_cancelled_while_claiming_gives_the_claim_back(tmp_path):
    """Off the loop, a claim can land after its attempt was cancelled. It is released, so
    the next attempt sends instead of taking a message that never left for an unconfirmed one."""
    sender = Sender()
    transport = live(tmp_path, sender)
    attempt = asyncio.create_task(transport.deliver(sms()))
    await asyncio.sleep(BLOCK / 5)
    attempt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await attempt
    assert sender.sent == []
    assert transport.ledger.get(sms().idempotency_key) is None


class SlowRateLimits(MemoryRateLimits):
    def reserve(self, key: str, interval: float, *, now: float, max_wait: float) -> Reservation:
        time.sleep(BLOCK)
        return super().reserve(key, interval, now=now, max_wait=max_wait)


async def test_reserving_a_rate_limit_slot_does_not_block_the_loop():
    """The shared rate limits are a database transaction: off the loop like the ledger."""
    throttle = Throttle(SlowRateLimits())
    _, ticks = await ticks_during(throttle.wait("twilio:AC1:sms:+15005550006", 1000.0))
    assert ticks >= ENOUGH


class SlowScripts(MemoryCallScripts):
    def save(self, script: CallScript) -> None:
        time.sleep(BLOCK)
        super().save(script)

    def get(self, token: str) -> CallScript | None:
        time.sleep(BLOCK)
        return super().get(token)


class Stop(Exception):
    pass


async def test_saving_a_call_script_does_not_block_the_loop():
    scripts = SlowScripts()
    voicemail = TwilioVoicemail(
        scripts=scripts,
        account_sid="AC" + "0" * 32,
        auth_token="token",
        base_url="http://127.0.0.1:9",
        public_base_url="https://dunning.example.org",
        from_number="+15005550006",
    )

    async def no_call(*args: Any, **kwargs: Any) -> Any:
        raise Stop  # the script is saved; the provider call is not what this test is about

    voicemail._call = no_call  # type: ignore[method-assign]
    message = replace(sms("dunning-A-1/voicemail/voicemail/1"), channel=Channel.VOICEMAIL)

    async def send() -> str:
        try:
            return await voicemail.send(message)
        except Stop:
            return "stopped before the call"

    outcome, ticks = await ticks_during(send())
    assert ticks >= ENOUGH and outcome == "stopped before the call"
    assert [script.account_id for script in scripts.scripts.values()] == ["A-1"]


async def test_printing_a_letter_does_not_block_the_loop(tmp_path, monkeypatch):
    printer_module = activities.channels.letters.printer
    monkeypatch.setattr(printer_module, "render_letter", slowly(printer_module.render_letter))
    printer = LetterPrinter(tmp_path, ("Acme", "1 rue de la Paix", "75002 Paris", "France"))
    letter = replace(
        sms("dunning-A-1/first-letter/1"),
        channel=Channel.LETTER,
        subject="Facture impayée",
        text="Madame, Monsieur,\n\nIl reste 120,50 € à régler.",
        postal_lines=("Claire Martin", "12 rue des Lilas", "69003 Lyon", "FR"),
    )
    delivery, ticks = await ticks_during(printer.deliver(letter))
    assert ticks >= ENOUGH and not delivery.duplicate


class SlowEvents:
    def __init__(self) -> None:
        self.recorded: list[ProcessedEmail] = []

    def record_all(self, events: list[ProcessedEmail]) -> None:
        time.sleep(BLOCK)
        self.recorded.extend(events)


async def test_the_webhook_server_reads_call_scripts_off_the_loop(settings):
    scripts = SlowScripts()
    scripts.scripts["tok"] = CallScript("tok", "A-1", "k", "en", "en-US", "Polly.Joanna", "Hi")
    store = SimpleNamespace(call_scripts=scripts, email_events=None)
    context = WebhookContext(settings, accounts=None, store=store, clock=time.time)  # type: ignore[arg-type]
    script, ticks = await ticks_during(context.call_script("tok"))
    assert ticks >= ENOUGH and script is not None and script.account_id == "A-1"


async def test_the_webhook_server_records_sendgrid_events_off_the_loop(settings):
    events = SlowEvents()
    store = SimpleNamespace(call_scripts=None, email_events=events)
    context = WebhookContext(settings, accounts=None, store=store, clock=time.time)  # type: ignore[arg-type]
    processed = ProcessedEmail("k", "sg-1", datetime.now(UTC), "ev-1")
    _, ticks = await ticks_during(context.record_processed([processed]))
    assert ticks >= ENOUGH and events.recorded == [processed]
