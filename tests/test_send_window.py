"""Sending that keeps its promises under provider faults (issue 10), on the time-skipping server.

- The window is checked when the message leaves, not only when it is planned: a send the window
  closed on is not sent, and goes at the next window with the same idempotency key.
- The recorded time of a sent contact is when the provider accepted it.
- A long outage keeps a step retrying until the next step is due, then suppresses it
  (`provider_unavailable`); the next step goes on time.
- A closed account is recorded in the account registry; an unconfirmed send is shown.

Transports here are small in-memory ones: the fake providers are tested elsewhere.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from rich.console import Console
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.account_activities import accepted_at
from activities.channels.base import (
    Delivery,
    OutgoingMessage,
    OutsideWindow,
    ProviderUnavailable,
)
from activities.channels.outbox import MemoryOutbox
from cli.tables import account_tables
from intake.events import send_event
from store.protocols import AccountRecord
from tests.conftest import MONDAY, Harness, account, ladder_from
from worker import build_worker
from workflows.types import AccountEvent, Status

DAY = timedelta(days=1)
NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")

US_LADDER = """
name: us-test
version: 1
jurisdiction: us
holidays: US
contact_window: {start: "08:00", end: "21:00", days: [mon, tue, wed, thu, fri, sat]}
min_balance: "10.00"
steps:
  - {id: notice, day: 1, channel: email, template: courtesy}
  - {id: later, day: 10, channel: email, template: reminder}
"""

TWO_DAYS = """
name: two-days
version: 1
jurisdiction: eu
holidays: FR
contact_window: {start: "08:00", end: "21:00", days: [mon, tue, wed, thu, fri, sat]}
min_balance: "10.00"
steps:
  - {id: first, day: 1, channel: email, template: courtesy}
  - {id: second, day: 2, channel: sms, template: reminder}
"""


def server_time() -> datetime:
    """The time-skipping server's time inside an activity (when this attempt started)."""
    info = activity.info()
    return max(info.current_attempt_scheduled_time, info.started_time)


class SlowProvider(MemoryOutbox):
    """Answers 503 (Retry-After 300) to the first `failures` calls, then accepts; reports the
    server time of each call, and the acceptance time as the provider's."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls: list[tuple[str, datetime, datetime | None]] = []

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        now = server_time()
        self.calls.append((message.idempotency_key, now, message.not_after))
        if len(self.calls) <= self.failures:
            raise ProviderUnavailable("503 service unavailable", retry_after=300)
        delivery = await super().deliver(message)
        return Delivery(delivery.message_id, delivery.duplicate, sent_at=now)


async def test_a_send_the_window_closes_on_goes_next_morning_with_the_same_key(
    harness: Harness,
):
    # Tuesday 5 January 2038, 20:50 in New York: the day-1 step is due, the window open.
    evening = datetime(2038, 1, 5, 20, 50, tzinfo=NEW_YORK).astimezone(UTC)
    await harness.advance_to(evening)
    debtor = {"timezone": "America/New_York", "phone": "+12125550100", "country": "US"}
    provider = SlowProvider(failures=3)
    async with harness.worker(provider):
        await harness.start(
            account(evening, ladder=ladder_from(US_LADDER), days_past_due="1", **debtor)
        )
        await harness.advance_to(evening + DAY)
        view = await harness.view()

    local = [
        (when.astimezone(NEW_YORK).strftime("%a %H:%M"), key) for key, when, _ in provider.calls
    ]
    key = "dunning-T-1/notice/email/1"
    # 20:50 and 20:55 answered 503; at 21:00 the activity refused to start (the window had
    # closed); the next morning the same key again: 503 at 08:00, accepted at 08:05.
    assert local == [
        ("Tue 20:50", key),
        ("Tue 20:55", key),
        ("Wed 08:00", key),
        ("Wed 08:05", key),
    ]
    assert all(not_after is not None for _, _, not_after in provider.calls)
    assert provider.calls[0][2] == datetime(2038, 1, 5, 21, 0, tzinfo=NEW_YORK)
    assert provider.calls[2][2] == datetime(2038, 1, 6, 21, 0, tzinfo=NEW_YORK)
    [contact] = view.contacts
    assert (contact.step, contact.outcome, contact.idempotency_key) == ("notice", "sent", key)
    # Recorded when the provider accepted it, not when it was planned (08:00) or first tried.
    assert contact.at.astimezone(NEW_YORK).strftime("%a %H:%M") == "Wed 08:05"
    assert contact.confirmed
    deferred = [e for e in view.events if e.type == "send_deferred"]
    assert [
        (e.detail["step"], e.at.astimezone(NEW_YORK).strftime("%a %H:%M")) for e in deferred
    ] == [("notice", "Tue 21:00")]
    assert [e.type for e in view.events] == ["send_deferred"]  # no send round was used up


class ClosesTheWindow(MemoryOutbox):
    """The live transport's refusal: the first call finds its window closed."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, datetime | None]] = []

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        self.seen.append((message.idempotency_key, message.not_after))
        if len(self.seen) == 1:
            raise OutsideWindow("the window closed before the provider call")
        return await super().deliver(message)


async def test_outside_window_from_the_transport_defers_to_the_next_window(harness: Harness):
    transport = ClosesTheWindow()
    async with harness.worker(transport):
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 3 * DAY)
        view = await harness.view()
    first = view.contacts[0]
    assert (first.step, first.outcome) == ("courtesy-email", "sent")
    # Planned Tuesday 08:00 Paris, refused; sent at Wednesday's opening with the same key.
    assert first.at.astimezone(PARIS).strftime("%a %H:%M") == "Wed 08:00"
    key = "dunning-T-1/courtesy-email/email/1"
    assert transport.seen == [
        (key, datetime(2038, 1, 5, 21, 0, tzinfo=PARIS)),
        (key, datetime(2038, 1, 6, 21, 0, tzinfo=PARIS)),
    ]
    assert [e.type for e in view.events] == ["send_deferred"]


class EmailDown(MemoryOutbox):
    """The email provider is down for good (each call a 503); SMS goes out."""

    def __init__(self) -> None:
        super().__init__()
        self.email_calls = 0
        self.keys: list[str] = []  # each round's key, once

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        if message.channel.value == "email":
            self.email_calls += 1
            if message.idempotency_key not in self.keys:
                self.keys.append(message.idempotency_key)
            raise ProviderUnavailable("503 service unavailable")
        return await super().deliver(message)


async def test_an_outage_longer_than_the_gap_suppresses_the_step_and_the_next_goes_on_time(
    harness: Harness,
):
    transport = EmailDown()
    ladder = ladder_from(TWO_DAYS)
    async with harness.worker(transport):
        start = account(MONDAY, ladder=ladder)
        await harness.start(start)
        await harness.advance_to(MONDAY + 3 * DAY)
        view = await harness.view()
    second_due = start.due_at + 2 * DAY  # Wednesday 00:00 in Paris
    outcomes = [(c.step, c.channel.value, c.outcome, c.reason) for c in view.contacts]
    assert outcomes == [
        ("first", "email", "suppressed", "provider_unavailable"),
        ("second", "sms", "sent", None),
    ]
    assert view.contacts[0].at.replace(microsecond=0) == second_due
    assert view.contacts[1].at.astimezone(PARIS).strftime("%a %H:%M") == "Wed 08:00"
    failed = [e for e in view.events if e.type == "send_failed"]
    assert len(failed) > 3  # more rounds than the configured three: there is no fallback
    assert all(8 <= e.at.astimezone(PARIS).hour < 21 for e in failed)  # every round in hours
    assert failed[-1].at < second_due - timedelta(hours=3)  # the last began Tuesday evening
    assert [e.type for e in view.events][-1] == "ladder_exhausted"
    assert transport.email_calls > len(failed)
    # Each round is one activity (its retries are not history): the history stays small.
    assert view.history_length < 200, view.history_length  # 154: nine rounds, ~12 each


async def test_an_outage_across_continue_as_new_keeps_its_rounds(harness: Harness):
    ladder = ladder_from(TWO_DAYS)
    short = account(MONDAY, ladder=ladder).model_copy(update={"history_limit": 50})
    transport = EmailDown()
    async with harness.worker(transport):
        await harness.start(short)
        await harness.advance_to(MONDAY + 3 * DAY)
        view = await harness.view()
    assert view.runs >= 3
    assert [(c.step, c.reason) for c in view.contacts] == [
        ("first", "provider_unavailable"),
        ("second", None),
    ]
    rounds = [e for e in view.events if e.type == "send_failed"]
    # The send rounds travelled across the runs: one new key per round, none reused.
    assert transport.keys == [f"dunning-T-1/first/email/{n}" for n in range(1, len(rounds) + 1)]
    assert len(rounds) > 3 and view.contacts[0].at.replace(microsecond=0) == short.due_at + 2 * DAY


class Registry:
    """An in-memory AccountRegistry."""

    def __init__(self) -> None:
        self.closed: list[tuple[str, str, datetime]] = []

    def record_started(self, workflow_id: str, account_id: str, started_at: datetime) -> bool:
        return True

    def record_closed(self, workflow_id: str, status: str, closed_at: datetime) -> None:
        self.closed.append((workflow_id, status, closed_at))

    def get(self, workflow_id: str) -> AccountRecord | None:
        return None


async def test_a_paid_account_is_recorded_closed_once(harness: Harness):
    registry = Registry()
    worker = build_worker(
        harness.env.client,
        harness.settings,
        transport=MemoryOutbox(),
        handoff_dir=harness.handoff_dir,
        task_queue=harness.task_queue,
        accounts=registry,
    )
    async with worker:
        handle = await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        event = AccountEvent(type="payment", amount=Decimal("120.50"))
        assert (await send_event(harness.env.client, "T-1", event)).status == Status.PAID
        paid_at = await harness.now()
        await harness.advance_to(MONDAY + 20 * DAY)  # past the week a closed account lingers
        await handle.result()
    assert [(wid, status) for wid, status, _ in registry.closed] == [("dunning-T-1", "paid")]
    assert abs(registry.closed[0][2] - paid_at) < timedelta(seconds=5)


class StoreDownOnce(Registry):
    """The first close record fails for good (the store refused it); the next one works."""

    def record_closed(self, workflow_id: str, status: str, closed_at: datetime) -> None:
        if not hasattr(self, "failed"):
            self.failed = True
            raise ApplicationError("store unavailable", non_retryable=True)
        super().record_closed(workflow_id, status, closed_at)


async def test_a_close_the_local_activity_cannot_record_is_recorded_by_an_activity(
    harness: Harness,
):
    """Current accounts record their close with a local activity (one marker in history);
    when that fails, a regular activity takes over, and the close is still recorded once."""
    registry = StoreDownOnce()
    worker = build_worker(
        harness.env.client,
        harness.settings,
        transport=MemoryOutbox(),
        handoff_dir=harness.handoff_dir,
        task_queue=harness.task_queue,
        accounts=registry,
    )
    async with worker:
        handle = await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        event = AccountEvent(type="payment", amount=Decimal("120.50"))
        assert (await send_event(harness.env.client, "T-1", event)).status == Status.PAID
        await harness.advance_to(MONDAY + 20 * DAY)
        await handle.result()
        history = await handle.fetch_history()
    assert [(wid, status) for wid, status, _ in registry.closed] == [("dunning-T-1", "paid")]
    scheduled = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled.count("record_account_closed") == 1


class Unconfirmed(MemoryOutbox):
    """A crash left it unknown whether the provider took the message: treated as sent."""

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        delivery = await super().deliver(message)
        return Delivery(delivery.message_id, unconfirmed=True)


async def test_an_unconfirmed_send_is_shown_in_the_status_and_account_show(harness: Harness):
    async with harness.worker(Unconfirmed()):
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        view = await harness.view()
    [contact] = view.contacts
    assert contact.outcome == "sent" and contact.confirmed is False
    console = Console(file=io.StringIO(), width=200)
    for table in account_tables(view):
        console.print(table)
    assert "sent (unconfirmed)" in console.file.getvalue()


def test_the_accepted_time_stays_between_the_plan_and_the_activitys_clock():
    planned = datetime(2038, 1, 5, 7, 0, tzinfo=UTC)
    now = planned + timedelta(minutes=5)
    assert accepted_at(None, planned, now) == now
    assert accepted_at(planned + timedelta(minutes=2), planned, now) == planned + timedelta(
        minutes=2
    )
    wall_clock = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # a transport's clock, years off
    assert accepted_at(wall_clock, planned, now) == planned
    assert accepted_at(now + 365 * DAY, planned, now) == now
