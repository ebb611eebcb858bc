"""Events on running accounts (CONTRACT §3), on the real time-skipping test server.

The account: Paris, due on Monday 4 Jan 2038, example ladder. Without events it gets the
courtesy email on Tue 5 Jan, the SMS on Sat 9 Jan, the letter on Thu 14 Jan, the voicemail on
Tue 19 Jan, the final notice on Wed 3 Feb and is handed off at day 45.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest

from activities.channels.base import Delivery, OutgoingMessage
from activities.channels.outbox import MemoryOutbox
from intake.events import AccountClosed, EventNotDelivered, deliver_event, send_event
from tests.conftest import MONDAY, Harness, account
from workflows.types import AccountEvent, InstallmentSpec, Status

DAY = timedelta(days=1)


async def event(harness: Harness, type: str, **fields) -> object:
    return await send_event(harness.env.client, "T-1", AccountEvent(type=type, **fields))


def steps(view) -> list[str]:
    return [f"{c.step}:{c.channel.value}:{c.outcome}" for c in view.contacts]


def kinds(view) -> list[str]:
    return [e.type for e in view.events]


# ---- payment ------------------------------------------------------------------------------------


async def test_payment_lowers_the_balance_and_below_min_balance_closes_as_paid(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        partial = await event(harness, "payment", amount=Decimal("100.00"))
        assert partial.accepted and partial.status == Status.ACTIVE
        assert (await harness.view()).balance == Decimal("20.50")
        final = await event(harness, "payment", amount=Decimal("15.00"))
        await harness.advance_to(MONDAY + 40 * DAY)
        view = await harness.view()
    assert final.accepted and final.status == Status.PAID
    assert view.status == Status.PAID and view.balance == Decimal("5.50")  # below min 10.00
    assert steps(view) == ["courtesy-email:email:sent"]  # nothing after the payment


@pytest.mark.parametrize("amount", ["0", "-5.00"])
async def test_a_payment_of_zero_or_less_is_refused_and_recorded(harness: Harness, amount: str):
    async with harness.worker():
        await harness.start(account(MONDAY))
        result = await event(harness, "payment", amount=Decimal(amount))
        view = await harness.view()
    assert not result.accepted and result.reason == "amount must be greater than 0"
    assert view.balance == Decimal("120.50")
    assert [(e.type, e.accepted, e.reason) for e in view.events] == [
        ("payment", False, "amount must be greater than 0")
    ]


async def test_an_event_repeated_with_the_same_id_is_applied_once(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        payment = AccountEvent(type="payment", amount=Decimal("20.00"), event_id="pay-1")
        first = await send_event(harness.env.client, "T-1", payment)
        second = await send_event(harness.env.client, "T-1", payment)
        view = await harness.view()
    assert first.accepted and not first.duplicate
    assert second.accepted and second.duplicate
    assert view.balance == Decimal("100.50")
    assert kinds(view) == ["payment"]


async def test_an_event_on_a_closed_account_is_refused_and_recorded(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await event(harness, "deceased")
        late = await event(harness, "payment", amount=Decimal("5.00"))
        view = await harness.view()
    assert not late.accepted and late.reason == "account is closed (closed)"
    assert view.balance == Decimal("120.50")
    assert [(e.type, e.accepted) for e in view.events] == [("deceased", True), ("payment", False)]


@pytest.mark.parametrize("closing", ["payment", "handoff"])
async def test_an_event_after_the_closed_workflow_completed_is_answered_account_is_closed(
    harness: Harness, closing: str
):
    """Closed accounts linger 7 days, then their workflow completes; the time-skipping server
    then answers an update NOT_FOUND "update <id> not found" (the dev server "workflow execution
    already completed"): still "account is closed", not "no account"."""
    async with harness.worker():
        if closing == "payment":
            handle = await harness.start(account(MONDAY))
            await event(harness, "payment", amount=Decimal("120.50"))
        else:
            handle = await harness.start(account(MONDAY, days_past_due="60"))  # handed off
        await harness.advance_to(MONDAY + 9 * DAY)
        final = (await handle.result())["status"]
        late = await event(harness, "payment", amount=Decimal("5.00"))
        with pytest.raises(AccountClosed) as closed:
            await deliver_event(harness.env.client, "T-1", AccountEvent(type="cease"))
    expected = Status.PAID if closing == "payment" else Status.HANDED_OFF
    assert final == expected.value
    assert (late.accepted, late.reason, late.status) == (False, "account is closed", expected)
    assert closed.value.status == expected


async def test_a_malformed_event_is_rejected_before_it_reaches_the_account(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        with pytest.raises(EventNotDelivered, match="payment needs amount"):
            await event(harness, "payment")
        with pytest.raises(EventNotDelivered, match="no account NOPE"):
            await send_event(harness.env.client, "NOPE", AccountEvent(type="cease"))
        view = await harness.view()
    assert view.events == []


# ---- promise ------------------------------------------------------------------------------------


async def test_a_promise_kept_in_full_closes_the_account_as_paid(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)  # Wed 6 Jan
        result = await event(harness, "promise", due_in_days=6)  # whole balance by Tue 12 Jan
        assert result.accepted and result.detail["date"] == "2038-01-12"
        assert result.status == Status.PROMISED
        await harness.advance_to(MONDAY + 7 * DAY + timedelta(hours=2))  # Mon 11 Jan, 09:00
        view = await harness.view()
        assert view.status == Status.PROMISED
        await event(harness, "payment", amount=Decimal("120.50"))
        await harness.advance_to(MONDAY + 30 * DAY)
        view = await harness.view()
    assert view.status == Status.PAID
    # The ladder was paused: no SMS on Sat 9 Jan; the reminder went out the day before the date.
    assert steps(view) == ["courtesy-email:email:sent", "promise-1-reminder:sms:sent"]
    reminder = view.contacts[1]
    assert reminder.at.date() == date(2038, 1, 11)
    assert kinds(view) == ["promise", "payment", "promise_kept"]


async def test_a_broken_promise_sends_the_broken_message_and_resumes_without_counting_paused_days(
    harness: Harness,
):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)  # Wed 6 Jan, ladder day ~2.3
        await event(harness, "promise", date=date(2038, 1, 12), amount=Decimal("50.00"))
        await harness.advance_to(MONDAY + 20 * DAY)
        view = await harness.view()
    assert view.status == Status.ACTIVE
    assert kinds(view) == ["promise", "promise_broken"]
    # Broken at the end of 12 Jan + 2 grace days = midnight starting 15 Jan (Paris).
    broken_at = view.events[1].at
    assert broken_at.isoformat().startswith("2038-01-14T23:00")
    assert steps(view)[:4] == [
        "courtesy-email:email:sent",
        "promise-1-reminder:sms:sent",
        "promise-1-broken:sms:sent",
        "sms-reminder:sms:sent",
    ]
    # Paused from Wed 6 Jan 06:00Z to 14 Jan 23:00Z: ladder day 5 moved by that pause.
    paused = broken_at - (MONDAY + 2 * DAY)
    sms = view.contacts[3]
    assert sms.at >= MONDAY - timedelta(hours=7) + 5 * DAY + paused
    assert view.contacts[2].at.isoformat().startswith("2038-01-15T07:00")  # next window


async def test_a_promise_of_part_kept_resumes_the_ladder(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        await event(harness, "promise", due_in_days=5, amount=Decimal("50.00"))
        await harness.advance_to(MONDAY + 3 * DAY)
        await event(harness, "payment", amount=Decimal("50.00"))
        view = await harness.view()
    assert view.status == Status.ACTIVE and view.balance == Decimal("70.50")
    assert kinds(view) == ["promise", "payment", "promise_kept"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"due_in_days": 31}, "is more than 30 days away"),
        ({"date": date(2038, 1, 3)}, "is in the past"),
        ({"due_in_days": 3, "amount": Decimal("0")}, "amount must be greater than 0"),
        ({"due_in_days": 3, "amount": Decimal("500.00")}, "is more than the balance"),
    ],
)
async def test_a_promise_is_refused_when_too_far_in_the_past_or_not_positive(
    harness: Harness, fields: dict, reason: str
):
    async with harness.worker():
        await harness.start(account(MONDAY))
        result = await event(harness, "promise", **fields)
        await harness.advance_to(MONDAY + 2 * DAY)
        view = await harness.view()
    assert not result.accepted and reason in result.reason
    assert view.status == Status.ACTIVE and view.promise is None
    assert steps(view) == ["courtesy-email:email:sent"]  # the ladder went on


# ---- plan -------------------------------------------------------------------------------------


def installments(*rows: tuple[int, str]) -> list[InstallmentSpec]:
    return [InstallmentSpec(due_in_days=days, amount=Decimal(amount)) for days, amount in rows]


@pytest.mark.parametrize(
    ("plan", "reason"),
    [
        (installments((7, "50.00"), (14, "50.00")), "below the balance 120.50"),
        (installments(*[(day, "20.10") for day in range(1, 8)]), "more than 6 installments"),
        (installments((7, "60.50"), (3, "60.00")), "increasing order"),
    ],
)
async def test_a_plan_is_refused_when_it_does_not_cover_or_is_too_long(
    harness: Harness, plan, reason: str
):
    async with harness.worker():
        await harness.start(account(MONDAY))
        result = await event(harness, "plan", installments=plan)
        view = await harness.view()
    assert not result.accepted and reason in result.reason
    assert view.plan is None and view.status == Status.ACTIVE


async def test_a_kept_plan_pauses_the_ladder_reminds_before_each_installment_and_closes_paid(
    harness: Harness,
):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        result = await event(
            harness, "plan", installments=installments((7, "60.25"), (21, "60.25"))
        )
        assert result.accepted and result.status == Status.PLAN
        await harness.advance_to(MONDAY + 8 * DAY)
        await event(harness, "payment", amount=Decimal("60.25"))
        await harness.advance_to(MONDAY + 22 * DAY)
        await event(harness, "payment", amount=Decimal("60.25"))
        view = await harness.view()
    assert view.status == Status.PAID
    assert steps(view) == [
        "courtesy-email:email:sent",
        "plan-1-installment-1-reminder:email:sent",
        "plan-1-installment-2-reminder:email:sent",
    ]
    # Reminders two days before 13 Jan and 27 Jan.
    assert [c.at.date() for c in view.contacts[1:]] == [date(2038, 1, 11), date(2038, 1, 25)]
    assert kinds(view) == [
        "plan",
        "payment",
        "installment_kept",
        "payment",
        "installment_kept",
        "plan_completed",
    ]


async def test_missed_installments_send_the_missed_message_then_the_plan_defaults(
    harness: Harness,
):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        await event(
            harness,
            "plan",
            installments=installments((5, "40.50"), (12, "40.00"), (19, "40.00")),
        )
        await harness.advance_to(MONDAY + 25 * DAY)
        view = await harness.view()
    assert kinds(view) == ["plan", "installment_missed", "installment_missed", "plan_default"]
    missed = [c for c in view.contacts if c.step.endswith("-missed")]
    assert [c.channel.value for c in missed] == ["sms", "sms"]
    # Sent at the next open window after the miss (end of 11 Jan + 3 grace days).
    assert missed[0].at.isoformat().startswith("2038-01-15T07:00")
    assert view.status == Status.ACTIVE and view.plan is None
    assert "sms-reminder:sms:sent" in steps(view)  # the ladder resumed


async def test_continue_as_new_in_the_middle_of_a_plan_keeps_the_plan(harness: Harness):
    short = account(MONDAY, balance="300.00").model_copy(update={"history_limit": 50})
    async with harness.worker():
        await harness.start(short)
        await harness.advance_to(MONDAY + 2 * DAY)
        await send_event(
            harness.env.client,
            "T-1",
            AccountEvent(
                type="plan",
                installments=installments(
                    (7, "50.00"),
                    (37, "50.00"),
                    (67, "50.00"),
                    (97, "50.00"),
                    (127, "50.00"),
                    (157, "50.00"),
                ),
            ),
        )
        for month in range(6):
            await harness.advance_to(MONDAY + (8 + 30 * month) * DAY)
            await event(harness, "payment", amount=Decimal("50.00"))
        view = await harness.view()
    assert view.runs >= 2
    assert view.status == Status.PAID
    assert kinds(view).count("installment_kept") == 6
    assert len([c for c in view.contacts if c.step.endswith("-reminder")]) == 6


# ---- dispute, cease, bankruptcy, hold --------------------------------------------------------


async def test_a_dispute_stops_all_contact_until_validated(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        await event(harness, "dispute", reason="not mine")
        await harness.advance_to(MONDAY + 30 * DAY)
        during = await harness.view()
        await event(harness, "dispute_resolved", outcome="validated")
        await harness.advance_to(MONDAY + 34 * DAY)
        after = await harness.view()
    assert during.status == Status.DISPUTED
    assert steps(during) == ["courtesy-email:email:sent"]
    assert after.status == Status.ACTIVE
    # A us ladder and a dispute within the validation period: the verification letter goes
    # first (12 CFR 1006.38), then the ladder resumes. Ladder day stood still for 28 days: the
    # SMS of day 5 comes after the dispute.
    assert steps(after)[1:3] == ["dispute-1-verification:letter:sent", "sms-reminder:sms:sent"]
    assert after.contacts[1].at > MONDAY + 30 * DAY


async def test_an_upheld_dispute_closes_the_account(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await event(harness, "dispute", reason="already paid to the previous owner")
        result = await event(harness, "dispute_resolved", outcome="upheld")
        wrong = await event(harness, "dispute_resolved", outcome="validated")
        view = await harness.view()
    assert result.accepted and view.status == Status.CLOSED
    assert not wrong.accepted


async def test_opt_out_of_a_channel_uses_the_fallback_from_then_on(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await event(harness, "opt_out", channel="sms")
        await harness.advance_to(MONDAY + 20 * DAY)
        view = await harness.view()
    assert "sms-reminder:sms:suppressed" in steps(view)
    assert "sms-reminder:email:sent" in steps(view)
    suppressed = next(c for c in view.contacts if c.outcome == "suppressed")
    assert suppressed.reason == "opted_out"


async def test_cease_stops_every_contact_but_the_account_still_reaches_handoff(
    harness: Harness,
):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        await event(harness, "cease")
        await harness.advance_to(MONDAY + 50 * DAY)
        view = await harness.view()
    assert view.status == Status.HANDED_OFF
    assert steps(view)[0] == "courtesy-email:email:sent"
    assert all(c.outcome == "suppressed" and c.reason == "ceased" for c in view.contacts[1:])
    assert len(harness.outbox.messages()) == 1
    assert kinds(view) == ["cease", "handoff"]


@pytest.mark.parametrize("kind", ["bankruptcy", "deceased"])
async def test_bankruptcy_and_death_close_at_once(harness: Harness, kind: str):
    async with harness.worker():
        await harness.start(account(MONDAY))
        result = await event(harness, kind)
        await harness.advance_to(MONDAY + 20 * DAY)
        view = await harness.view()
    assert result.accepted and view.status == Status.CLOSED
    assert view.contacts == []


async def test_hold_pauses_and_resume_ends_it_early(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        held = await event(harness, "hold", days=10)
        assert held.accepted and held.status == Status.HELD
        await harness.advance_to(MONDAY + 6 * DAY)
        assert steps(await harness.view()) == ["courtesy-email:email:sent"]
        resumed = await event(harness, "resume")
        again = await event(harness, "resume")
        await harness.advance_to(MONDAY + 10 * DAY)
        view = await harness.view()
    assert resumed.accepted and not again.accepted
    # Four days on hold: the day-5 SMS moves from Sat 9 Jan to Wed 13 Jan.
    assert view.contacts[1].step == "sms-reminder"
    assert view.contacts[1].at.date() == date(2038, 1, 13)


async def test_a_hold_runs_out_by_itself(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await event(harness, "hold", days=3)
        await harness.advance_to(MONDAY + 4 * DAY)
        view = await harness.view()
    assert view.status == Status.ACTIVE
    assert kinds(view) == ["hold", "hold_ended"]


async def test_delivery_failed_makes_the_channel_unusable(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await event(harness, "delivery_failed", channel="sms", code=30006)
        await harness.advance_to(MONDAY + 8 * DAY)
        view = await harness.view()
    assert view.unusable_channels == {"sms": "undeliverable"}
    assert steps(view)[1:] == ["sms-reminder:sms:suppressed", "sms-reminder:email:sent"]


# ---- the race: an event while a message is being sent ----------------------------------------


class GatedTransport:
    """Holds the first delivery until the test opens the gate."""

    def __init__(self) -> None:
        self.inner = MemoryOutbox()
        self.sending = asyncio.Event()
        self.gate = asyncio.Event()

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        self.sending.set()
        await self.gate.wait()
        return await self.inner.deliver(message)


async def test_a_payment_during_a_send_applies_right_after_it_and_nothing_is_half_done(
    harness: Harness,
):
    transport = GatedTransport()
    async with harness.worker(transport):
        await harness.start(account(MONDAY))
        advancing = asyncio.create_task(harness.advance_to(MONDAY + 2 * DAY))
        await asyncio.wait_for(transport.sending.wait(), 30)
        paying = asyncio.create_task(event(harness, "payment", amount=Decimal("120.50")))
        await asyncio.sleep(0.5)
        assert not paying.done()  # the payment waits for the send to finish
        transport.gate.set()
        result = await paying
        await advancing
        await harness.advance_to(MONDAY + 20 * DAY)
        view = await harness.view()
    assert result.accepted and result.status == Status.PAID
    assert steps(view) == ["courtesy-email:email:sent"]  # recorded, then paid; nothing more
    assert kinds(view) == ["payment"]
    assert view.contacts[0].at < view.events[0].at


# ---- replies --------------------------------------------------------------------------------


async def test_replies_are_classified_and_applied_or_kept_for_a_person(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)  # Wednesday 6 January
        unknown = await event(harness, "reply", channel="email", text="Qui êtes-vous ?")
        promise = await event(harness, "reply", channel="sms", text="je paierai le 15")
        stop = await event(harness, "reply", channel="sms", text="ARRET")
        dispute = await event(harness, "reply", channel="email", text="Je conteste cette dette")
        view = await harness.view()
    assert unknown.accepted and unknown.detail["kind"] == "unknown"
    assert promise.accepted and promise.detail["date"] == "2038-01-15"
    assert stop.accepted and view.unusable_channels == {"sms": "opted_out"}
    assert dispute.accepted and view.status == Status.DISPUTED
    assert kinds(view) == [
        "reply",
        "reply",
        "promise",
        "reply",
        "opt_out",
        "reply",
        "dispute",
        "promise_cancelled",
    ]


async def test_no_reminder_for_an_installment_already_paid(harness: Harness):
    async with harness.worker():
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        await event(harness, "plan", installments=installments((10, "60.25"), (20, "60.25")))
        await event(harness, "payment", amount=Decimal("60.25"))  # the first, paid early
        await harness.advance_to(MONDAY + 15 * DAY)
        view = await harness.view()
    assert view.status == Status.PLAN
    reminders = [c.step for c in view.contacts if c.step.endswith("-reminder")]
    assert reminders == []  # installment 1 paid; installment 2's reminder is due on 24 Jan
    assert kinds(view) == ["plan", "payment", "installment_kept"]
