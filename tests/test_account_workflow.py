"""The account workflow on Temporal's real time-skipping test server: CONTRACT sections 1 and 2.

Each test runs the real worker (workflow, activities, templates, in-memory outbox) on a fresh
server whose clock starts at Monday 2038-01-04 06:00 UTC and is skipped forward.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest

from activities.channels.base import Delivery, OutgoingMessage, Undeliverable
from activities.channels.outbox import FileOutbox, MemoryOutbox
from intake.events import send_event
from intake.start import start_account
from tests.conftest import MONDAY, Harness, account, ladder_from
from workflows import search_attributes as sa
from workflows.account.patches import CONSOLE
from workflows.types import AccountEvent, Status

DAY = timedelta(days=1)
PARIS = ZoneInfo("Europe/Paris")


def at_utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sec(moment: datetime) -> datetime:
    """Workflow time runs a few milliseconds past a timer; compare to the second."""
    return moment.replace(microsecond=0)


def small_ladder(
    steps: str,
    *,
    days: str = "[mon, tue, wed, thu, fri, sat]",
    holidays: str = "US",
    window: tuple[str, str] = ("08:00", "21:00"),
) -> str:
    return f"""
name: test-ladder
version: 3
jurisdiction: eu
holidays: {holidays}
contact_window: {{start: "{window[0]}", end: "{window[1]}", days: {days}}}
min_balance: "10.00"
steps:
{steps}
"""


# ---- the whole example ladder ------------------------------------------------------------------


async def test_example_ladder_runs_every_step_in_the_window_then_hands_off(harness: Harness):
    async with harness.worker():
        handle = await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 50 * DAY)
        view = await harness.view()
        await harness.advance_to(MONDAY + 60 * DAY)  # past the week a closed account lingers
        result = await handle.result()  # the run has completed: its result is the final view

    assert view.status == Status.HANDED_OFF
    assert result["status"] == "handed_off"
    sent = [(c.step, c.channel.value, sec(c.at)) for c in view.contacts]
    # Ladder day 1 begins at local midnight on Tuesday; the window opens at 08:00 Paris (07:00Z).
    assert sent == [
        ("courtesy-email", "email", at_utc("2038-01-05T07:00:00")),
        ("sms-reminder", "sms", at_utc("2038-01-09T07:00:00")),  # Saturday is a contact day
        ("first-letter", "letter", at_utc("2038-01-14T07:00:00")),
        ("voicemail", "voicemail", at_utc("2038-01-19T07:00:00")),
        ("final-notice", "letter", at_utc("2038-02-03T07:00:00")),
    ]
    assert all(c.outcome == "sent" and c.locale == "fr" for c in view.contacts)
    # deadline_days: 7 after Tue 5 Jan is Tue 12 Jan, a contact day.
    assert view.contacts[0].deadline.isoformat() == "2038-01-12"
    assert [e.type for e in view.events] == ["handoff"]
    assert sec(view.events[0].at) == at_utc("2038-02-17T23:00:00")  # day 45, local midnight
    assert len(harness.outbox.messages()) == 5
    export = json.loads(next(harness.handoff_dir.rglob("T-1.json")).read_text())
    assert export["account_id"] == "T-1" and export["balance"] == "120.50"


async def test_status_query_returns_the_whole_state(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        view = await harness.view()
    assert view.status == Status.ACTIVE
    assert str(view.balance) == "120.50" and view.currency == "EUR"
    assert view.ladder_name == "consumer-standard" and view.ladder_version == 1
    # As of the workflow's last task (the courtesy email, Tuesday 08:00 Paris): day 1 and 8 hours.
    assert sec(view.as_of) == at_utc("2038-01-05T07:00:00")
    assert abs(view.ladder_day - (1 + 8 / 24)) < 0.001
    assert view.next_step == "sms-reminder"
    assert view.next_contact_at == at_utc("2038-01-09T07:00:00")
    assert [c.step for c in view.contacts] == ["courtesy-email"]


async def test_search_attributes_let_ops_filter_without_personal_data(harness: Harness):
    async with harness.worker():
        handle = await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.STATUS) == "active"
    assert attributes.get(sa.LADDER) == "consumer-standard"
    assert attributes.get(sa.NEXT_CONTACT) == at_utc("2038-01-09T07:00:00")
    assert attributes.get(sa.DAYS_PAST_DUE) == 1
    flattened = " ".join(str(pair.value) for pair in attributes)
    for personal in ("Claire", "Martin", "claire@example.org", "+33612345678", "Lyon"):
        assert personal not in flattened


async def raw_attributes(handle) -> dict[str, object]:
    """The search attributes as stored (the SDK's describe cannot read an unset datetime from
    the time-skipping server)."""
    described = await handle._client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=handle._client.namespace,
            execution=WorkflowExecution(workflow_id=handle.id),
        )
    )
    fields = described.workflow_execution_info.search_attributes.indexed_fields
    return {name: json.loads(payload.data or b"null") for name, payload in fields.items()}


async def test_search_attributes_follow_events_and_the_close(harness: Harness):
    """Accounts started now upsert their attributes once per workflow task, when the workflow
    is about to wait (workflows/account/publishing.py): an event's change still shows, and so
    does the close that ends the ladder loop (nobody waits after it but the linger)."""
    async with harness.worker():
        handle = await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        client = harness.env.client
        await send_event(client, "T-1", AccountEvent(type="dispute", reason="not mine"))
        disputed = await raw_attributes(handle)
        await send_event(client, "T-1", AccountEvent(type="payment", amount="120.50"))
        paid = await raw_attributes(handle)
        await harness.advance_to(MONDAY + 5 * DAY)  # a late event, while the account lingers
        await send_event(client, "T-1", AccountEvent(type="payment", amount="1.00"))
        late = await raw_attributes(handle)
        history = await handle.fetch_history()
    assert disputed[sa.STATUS.name] == "disputed"
    assert disputed.get(sa.NEXT_CONTACT.name) in (None, [])  # unset
    assert paid[sa.STATUS.name] == "paid"
    # the ladder loop has ended: the update handler itself upserts what the late event changed
    assert (paid[sa.DAYS_PAST_DUE.name], late[sa.DAYS_PAST_DUE.name]) == (2, 5)
    markers = [
        event.marker_recorded_event_attributes
        for event in history.events
        if event.HasField("marker_recorded_event_attributes")
    ]
    patches = [m for m in markers if m.marker_name == "core_patch"]
    assert [json.loads(m.details["patch-data"].payloads[0].data)["id"] for m in patches] == [
        CONSOLE
    ]
    tasks = [
        event.event_id
        for event in history.events
        if event.HasField("workflow_task_completed_event_attributes")
    ]
    ours = [  # TemporalChangeVersion, upserted by the SDK with the patch, is not ours
        event.event_id
        for event in history.events
        if event.HasField("upsert_workflow_search_attributes_event_attributes")
        and sa.STATUS.name
        in event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    ]
    # never two of our upserts in one workflow task's commands
    for task, next_task in zip(tasks, [*tasks[1:], history.events[-1].event_id + 1], strict=True):
        assert len([u for u in ours if task < u < next_task]) <= 1, (task, ours)


# ---- late entry, shared days, deadlines ---------------------------------------------------------


async def test_late_entry_gets_only_the_latest_passed_step_then_continues(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY, days_past_due="12"))
        await harness.advance_to(MONDAY + 5 * DAY)
        view = await harness.view()
    assert view.skipped_steps == ["courtesy-email", "sms-reminder"]
    assert [c.step for c in view.contacts] == ["first-letter", "voicemail"]
    # first-letter (day 10) at the next open window: today, 08:00 Paris.
    assert sec(view.contacts[0].at) == at_utc("2038-01-04T07:00:00")
    # voicemail at ladder day 15: three days later.
    assert view.contacts[1].at.astimezone(PARIS).date().isoformat() == "2038-01-07"


async def test_steps_sharing_a_day_each_go_out(harness: Harness):
    ladder = ladder_from(
        small_ladder("""
  - {id: email-one, day: 1, channel: email, template: courtesy}
  - {id: letter-one, day: 1, channel: letter, template: first-notice}
  - {id: later, day: 3, channel: sms, template: reminder}
""")
    )
    async with harness.worker():
        await harness.start(account(MONDAY, ladder=ladder, days_past_due="2"))
        await harness.advance_to(MONDAY + 3 * DAY)
        view = await harness.view()
    # Late entry at day 2: both day-1 steps are "the latest passed" and both go out.
    assert [(c.step, c.outcome) for c in view.contacts] == [
        ("email-one", "sent"),
        ("letter-one", "sent"),
        ("later", "sent"),
    ]
    assert sec(view.contacts[0].at) == sec(view.contacts[1].at) == at_utc("2038-01-04T07:00:00")


async def test_deadline_never_falls_on_a_day_without_contact(harness: Harness):
    ladder = ladder_from(
        small_ladder(
            "  - {id: notice, day: 1, channel: email, template: courtesy, deadline_days: 5}",
            days="[mon, tue, wed, thu, fri]",
        )
    )
    async with harness.worker():
        await harness.start(account(MONDAY, ladder=ladder))
        await harness.advance_to(MONDAY + 3 * DAY)
        view = await harness.view()
    # Sent Tuesday 5 Jan; +5 days is Sunday 10 Jan, not a contact day → Monday 11 Jan.
    assert view.contacts[0].deadline.isoformat() == "2038-01-11"
    message = harness.outbox.messages()[0]
    assert message["metadata"]["deadline"] == "2038-01-11"
    assert "11 janvier 2038" in message["text"]


# ---- contact windows: holidays, DST, several zones ----------------------------------------------


async def test_a_public_holiday_gets_no_contact(harness: Harness):
    # Day 14 from Monday 4 Jan is Monday 18 Jan 2038: Martin Luther King Jr. Day (US).
    ladder = ladder_from(
        small_ladder("  - {id: notice, day: 14, channel: email, template: courtesy}")
    )
    async with harness.worker():
        await harness.start(account(MONDAY, ladder=ladder))
        await harness.advance_to(MONDAY + 20 * DAY)
        view = await harness.view()
    assert sec(view.contacts[0].at).astimezone(PARIS).isoformat() == "2038-01-19T08:00:00+01:00"


async def test_contact_window_holds_on_both_sides_of_a_dst_change(harness: Harness):
    # US clocks go forward on Sunday 14 March 2038.
    await harness.advance_to(datetime(2038, 3, 11, 6, 0, tzinfo=UTC))
    start = await harness.now()
    ladder = ladder_from(
        small_ladder(
            """
  - {id: before, day: 1, channel: email, template: courtesy}
  - {id: after, day: 5, channel: email, template: reminder}
""",
            holidays="US",
        )
    )
    new_york = account(
        start,
        ladder=ladder,
        timezone="America/New_York",
        phone="+12125550100",
        country="US",
        locale="en",
    )
    async with harness.worker():
        await harness.start(new_york)
        await harness.advance_to(start + 7 * DAY)
        view = await harness.view()
    local = [sec(c.at).astimezone(ZoneInfo("America/New_York")) for c in view.contacts]
    assert [moment.time() for moment in local] == [time(8, 0), time(8, 0)]
    assert [c.at.astimezone(UTC).hour for c in view.contacts] == [13, 12]  # EST, then EDT


async def test_paris_autumn_dst_change_keeps_local_eight_oclock(harness: Harness):
    await harness.advance_to(datetime(2038, 10, 28, 5, 0, tzinfo=UTC))
    start = await harness.now()
    ladder = ladder_from(
        small_ladder(
            """
  - {id: before, day: 1, channel: email, template: courtesy}
  - {id: after, day: 5, channel: email, template: reminder}
""",
            holidays="FR",
        )
    )
    async with harness.worker():
        await harness.start(account(start, ladder=ladder))
        await harness.advance_to(start + 7 * DAY)
        view = await harness.view()
    assert [sec(c.at).astimezone(PARIS).time() for c in view.contacts] == [time(8, 0)] * 2
    assert [c.at.astimezone(UTC).hour for c in view.contacts] == [6, 7]  # CEST, then CET


async def test_us_number_without_time_zone_is_contacted_only_when_open_everywhere(
    harness: Harness,
):
    toll_free = account(MONDAY, phone="+18005550199", country="US", timezone=None, locale="en")
    assert len(toll_free.debtor.zones) > 3
    async with harness.worker():
        await harness.start(toll_free)
        await harness.advance_to(MONDAY + 20 * DAY)
        view = await harness.view()
    assert len(view.contacts) == 4
    for contact in view.contacts:
        for zone in view.zones:
            local = contact.at.astimezone(ZoneInfo(zone))
            assert time(8, 0) <= local.time() < time(21, 0), (contact.step, zone, local)
            assert local.weekday() != 6


# ---- fallback ---------------------------------------------------------------------------------


async def test_missing_address_uses_the_fallback_channel_and_records_both(harness: Harness):
    no_phone = account(MONDAY, phone=None)
    async with harness.worker():
        await harness.start(no_phone)
        await harness.advance_to(MONDAY + 16 * DAY)
        view = await harness.view()
    outcomes = [(c.step, c.channel.value, c.outcome, c.reason) for c in view.contacts]
    assert outcomes == [
        ("courtesy-email", "email", "sent", None),
        ("sms-reminder", "sms", "suppressed", "no_address"),
        ("sms-reminder", "email", "sent", None),
        ("first-letter", "letter", "sent", None),
        ("voicemail", "voicemail", "suppressed", "no_address"),
        ("voicemail", "sms", "suppressed", "no_address"),
    ]
    assert view.contacts[2].fallback_for.value == "sms"


class RefusesSms:
    """A transport whose SMS provider reports every number unreachable."""

    def __init__(self) -> None:
        self.inner = MemoryOutbox()

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        if message.channel.value == "sms":
            raise Undeliverable("21614: not a mobile number")
        return await self.inner.deliver(message)


async def test_undeliverable_channel_falls_back_and_stays_unusable(harness: Harness):
    transport = RefusesSms()
    async with harness.worker(transport):
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 16 * DAY)
        view = await harness.view()
    outcomes = [(c.step, c.channel.value, c.outcome, c.reason) for c in view.contacts]
    assert ("sms-reminder", "sms", "suppressed", "undeliverable") in outcomes
    assert ("sms-reminder", "email", "sent", None) in outcomes
    assert ("voicemail", "voicemail", "sent", None) in outcomes
    assert view.unusable_channels == {"sms": "undeliverable"}


# ---- exactly once ---------------------------------------------------------------------------


class CrashesAfterSending:
    """Hands the message over, then fails before the activity can report success: the
    worst moment for a retry. The first delivery of each key crashes this way."""

    def __init__(self) -> None:
        self.inner = MemoryOutbox()
        self.crashed: set[str] = set()

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        delivery = await self.inner.deliver(message)
        if message.idempotency_key not in self.crashed:
            self.crashed.add(message.idempotency_key)
            raise ConnectionResetError("worker lost the provider's answer")
        return delivery


async def test_a_retried_send_never_stores_the_message_twice(harness: Harness):
    transport = CrashesAfterSending()
    async with harness.worker(transport):
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 12 * DAY)
        view = await harness.view()
    assert [c.step for c in view.contacts] == ["courtesy-email", "sms-reminder", "first-letter"]
    assert transport.inner.deliveries == 6  # each message handed over twice ...
    assert len(transport.inner.messages()) == 3  # ... and stored once
    keys = [c.idempotency_key for c in view.contacts]
    assert keys == [
        "dunning-T-1/courtesy-email/email/1",
        "dunning-T-1/sms-reminder/sms/1",
        "dunning-T-1/first-letter/letter/1",
    ]


async def test_a_worker_restarted_mid_ladder_loses_nothing_and_sends_nothing_twice(
    harness: Harness, tmp_path
):
    outbox_dir = tmp_path / "outbox"
    async with harness.worker(FileOutbox(outbox_dir), cache=False):
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 7 * DAY)
    # The first worker is gone (its workflow cache with it); a new process takes over and
    # rebuilds the account from history. (The time-skipping server cannot let time pass while
    # no worker polls: the dev-server end-to-end test covers a real outage.)
    async with harness.worker(FileOutbox(outbox_dir), cache=False):
        await harness.advance_to(MONDAY + 50 * DAY)
        view = await harness.view()
    assert view.status == Status.HANDED_OFF
    assert [c.step for c in view.contacts] == [
        "courtesy-email",
        "sms-reminder",
        "first-letter",
        "voicemail",
        "final-notice",
    ]
    files = sorted(outbox_dir.rglob("*.json"))
    assert len(files) == 5
    keys = [json.loads(path.read_text())["idempotency_key"] for path in files]
    assert len(set(keys)) == 5


async def test_starting_an_account_twice_is_refused_and_duplicates_nothing(harness: Harness):
    first = account(MONDAY)
    async with harness.worker():
        await harness.start(first)
        again = await start_account(harness.env.client, first, harness.task_queue)
        await harness.advance_to(MONDAY + 2 * DAY)
        view = await harness.view()
    assert not again.started and "already" in again.reason
    assert len(view.contacts) == 1 and len(harness.outbox.messages()) == 1


# ---- history ----------------------------------------------------------------------------------


async def test_history_stays_small_and_continue_as_new_keeps_the_state(harness: Harness):
    short = account(MONDAY).model_copy(update={"history_limit": 50})
    async with harness.worker():
        await harness.start(short)
        await harness.advance_to(MONDAY + 50 * DAY)
        view = await harness.view()
    assert view.runs >= 2
    assert view.status == Status.HANDED_OFF
    assert [c.step for c in view.contacts] == [
        "courtesy-email",
        "sms-reminder",
        "first-letter",
        "voicemail",
        "final-notice",
    ]
    assert len(harness.outbox.messages()) == 5


# ---- failure paths --------------------------------------------------------------------------


async def test_zones_whose_windows_never_overlap_suppress_the_contact_not_the_ladder(
    harness: Harness,
):
    ladder = ladder_from(
        small_ladder(
            """
  - {id: notice, day: 1, channel: email, template: courtesy}
  - {id: handoff, day: 3, action: handoff}
""",
            days="[mon, tue, wed, thu, fri, sat, sun]",
            window=("09:00", "10:00"),
            holidays="FR",
        )
    )
    stranded = account(MONDAY, ladder=ladder)
    # UTC+14 and UTC-11: the one-hour windows are an hour apart and never meet.
    debtor = stranded.debtor.model_copy(
        update={"zones": ("Pacific/Kiritimati", "Pacific/Pago_Pago")}
    )
    async with harness.worker():
        await harness.start(stranded.model_copy(update={"debtor": debtor}))
        await harness.advance_to(MONDAY + 5 * DAY)
        view = await harness.view()
    assert [(c.step, c.outcome, c.reason) for c in view.contacts] == [
        ("notice", "suppressed", "no_contact_window"),
    ]
    assert view.status == Status.HANDED_OFF


class ProviderDown:
    """Every send fails with a retryable error."""

    def __init__(self) -> None:
        self.calls = 0

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        self.calls += 1
        raise ConnectionError("provider unavailable")


async def test_a_provider_outage_retries_in_later_rounds_until_the_next_step_is_due(
    harness: Harness,
):
    transport = ProviderDown()
    start = account(MONDAY)
    async with harness.worker(transport):
        await harness.start(start)
        await harness.advance_to(MONDAY + 6 * DAY)
        view = await harness.view()
    next_step_due = start.due_at + 5 * DAY  # sms-reminder: Saturday 00:00 in Paris
    courtesy = [c for c in view.contacts if c.step == "courtesy-email"]
    assert [(c.outcome, c.reason) for c in courtesy] == [("suppressed", "provider_unavailable")]
    assert sec(courtesy[0].at) == next_step_due
    rounds = [e for e in view.events if e.detail.get("step") == "courtesy-email"]
    assert len(rounds) > 3 and transport.calls > len(rounds)
    # Every round began inside the window (Tuesday to Friday) and none after the next step.
    failed = [e for e in rounds if e.type == "send_failed"]
    assert all(8 <= e.at.astimezone(PARIS).hour < 21 for e in failed)
    assert all(e.at < next_step_due for e in rounds)
    assert {e.at.astimezone(PARIS).date().day for e in failed} == {5, 6, 7, 8}
