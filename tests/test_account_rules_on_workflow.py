"""The account model's fixes, through the real workflow on the time-skipping server: each of
these failed before the account core was a model (see issue "The account core as a pure,
property-tested model")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from activities.channels.base import Delivery, OutgoingMessage
from activities.channels.outbox import MemoryOutbox
from config.ladder import Channel
from intake.events import EventNotDelivered, send_event
from tests.conftest import MONDAY, Harness, account, ladder_from
from tests.model.test_rules import DST_LADDER
from workflows.types import AccountEvent, InstallmentSpec, Status

DAY = timedelta(days=1)
PARIS = ZoneInfo("Europe/Paris")


async def event(harness: Harness, type: str, **fields):
    return await send_event(harness.env.client, "T-1", AccountEvent(type=type, **fields))


@pytest.mark.parametrize(
    ("fields", "wrong"),
    [
        ({"type": "hold", "days": 999_999_999}, "days"),
        ({"type": "promise", "due_in_days": 99_999_999}, "due_in_days"),
        ({"type": "payment", "amount": Decimal("1e15")}, "amount"),
    ],
)
async def test_numbers_out_of_bounds_are_rejected_and_the_account_goes_on(
    harness: Harness, fields: dict, wrong: str
):
    async with harness.worker():
        await harness.start(account(MONDAY))
        with pytest.raises(EventNotDelivered, match=wrong):
            await send_event(harness.env.client, "T-1", AccountEvent(**fields))
        paid = await event(harness, "payment", amount=Decimal("5.00"))  # the lock is free
        await harness.advance_to(MONDAY + 2 * DAY)
        view = await harness.view()
    assert paid.accepted
    assert [c.step for c in view.contacts] == ["courtesy-email"]


async def test_an_overpayment_closes_as_paid_and_records_the_overpaid_amount(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        result = await event(harness, "payment", amount=Decimal("150.00"))
        view = await harness.view()
    assert result.accepted and result.status == Status.PAID
    assert result.detail["overpaid"] == "29.50"
    assert str(view.balance) == "0.00"


async def test_a_plan_whose_last_installment_is_missed_resumes_the_ladder(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        plan = [InstallmentSpec(due_in_days=5, amount=Decimal("130.00"))]
        assert (await event(harness, "plan", installments=plan)).accepted
        await harness.advance_to(MONDAY + 70 * DAY)
        view = await harness.view()
    kinds = [e.type for e in view.events]
    assert kinds[:3] == ["plan", "installment_missed", "plan_default"]
    assert view.status == Status.HANDED_OFF


async def test_a_ladder_without_a_handoff_closes_after_its_last_step(harness: Harness):
    ladder = ladder_from(DST_LADDER.replace("late-evening", "no-handoff"))
    async with harness.worker():
        await harness.start(account(MONDAY, ladder=ladder))
        await harness.advance_to(MONDAY + 40 * DAY)
        view = await harness.view()
    assert [c.step for c in view.contacts] == ["first", "after-dst"]
    assert view.status == Status.CLOSED and view.events[-1].type == "ladder_exhausted"


async def test_a_step_after_a_dst_change_keeps_its_local_date(harness: Harness):
    start = datetime(2038, 10, 1, 6, 0, tzinfo=UTC)
    async with harness.worker():
        await harness.advance_to(start)
        await harness.start(account(start, ladder=ladder_from(DST_LADDER)))
        await harness.advance_to(start + 36 * DAY)
        view = await harness.view()
    step = next(c for c in view.contacts if c.step == "after-dst")
    local = step.at.astimezone(PARIS)
    assert (local.date().isoformat(), local.hour) == ("2038-11-05", 7)


async def test_dont_call_me_by_sms_stops_the_voicemail_step(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        result = await event(harness, "reply", channel="sms", text="ne m'appelez plus")
        await harness.advance_to(MONDAY + 20 * DAY)
        view = await harness.view()
    assert result.accepted and result.detail["kind"] == "opt_out"
    assert view.unusable_channels == {"voicemail": "opted_out"}
    voicemail = [c for c in view.contacts if c.step == "voicemail"]
    assert [(c.channel.value, c.outcome) for c in voicemail] == [
        ("voicemail", "suppressed"),
        ("sms", "sent"),  # the step's fallback
    ]


class SmsDown(MemoryOutbox):
    """The SMS provider is down for good; everything else goes out."""

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        if message.channel == Channel.SMS:
            raise ConnectionError("sms provider unavailable")
        return await super().deliver(message)


async def test_after_the_last_send_round_the_step_falls_back_instead_of_dropping(
    harness: Harness,
):
    async with harness.worker(SmsDown()):
        await harness.start(account(MONDAY, days_past_due="5"))  # sms-reminder is due
        await harness.advance_to(MONDAY + 3 * DAY)
        view = await harness.view()
    sms_step = [(c.channel.value, c.outcome, c.reason) for c in view.contacts]
    assert sms_step == [("sms", "suppressed", "send_failed"), ("email", "sent", None)]
    assert [e.type for e in view.events] == ["send_failed"] * 3
    assert view.contacts[1].idempotency_key.endswith("/sms-reminder/email/4")
