"""The account model, one rule at a time, with no server: each test names the rule it pins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from activities.calendar import ladder_day_start, local_midnight
from config.ladder import Channel
from config.ladder_loader import LadderError
from tests.conftest import EXAMPLE_LADDER_TEXT, account, ladder_from
from tests.model.driver import Driver
from workflows.account import contact_policy, contacts
from workflows.account.actions import Fire
from workflows.account.apply import apply
from workflows.account.events import MalformedEvent, Payment, typed_event
from workflows.account.next_action import next_action
from workflows.account.replies import reply_meaning
from workflows.activity_types import ReplyClassification
from workflows.types import AccountEvent, InstallmentSpec, Status

MONDAY = datetime(2038, 1, 4, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def driver(text: str = EXAMPLE_LADDER_TEXT, **columns: str) -> Driver:
    ladder = ladder_from(text)
    return Driver(account(MONDAY, ladder=ladder, **columns), MONDAY)


def ev(type: str, **fields) -> AccountEvent:
    return AccountEvent(type=type, **fields)


# ---- events are typed, bounded and always answered ---------------------------------------------


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (ev("payment"), "payment needs amount"),
        (ev("promise"), "promise needs date or due_in_days"),
        (ev("hold", days=999_999_999), "days"),
        (ev("promise", due_in_days=99_999_999), "due_in_days"),
        (ev("payment", amount=Decimal("1e15")), "amount"),
        (ev("opt_out"), "opt_out needs channel"),
        (ev("dispute_resolved", outcome=None), "needs outcome"),
    ],
)
def test_a_malformed_or_unbounded_event_is_rejected_with_what_is_wrong(event, message):
    with pytest.raises(MalformedEvent, match=message):
        typed_event(event)


def test_a_refused_event_changes_nothing():
    model = driver()
    before = model.state.model_copy(deep=True)
    state, answer = apply(
        model.state, model.account, Payment(type="payment", amount=Decimal("-1")), MONDAY
    )
    assert not answer.accepted and answer.reason == "amount must be greater than 0"
    assert state == before


# ---- money -------------------------------------------------------------------------------------


def test_an_overpayment_closes_as_paid_at_zero_and_records_what_was_overpaid():
    model = driver()
    result = model.event(ev("payment", amount=Decimal("200.00")))
    assert result.accepted and result.detail["overpaid"] == "79.50"
    assert model.state.status == Status.PAID
    assert str(model.state.balance) == "0.00"


def test_a_payment_of_the_whole_balance_leaves_zero_in_the_currencys_precision():
    model = driver()
    model.event(ev("payment", amount=Decimal("120.50")))
    assert str(model.state.balance) == "0.00" and model.state.status == Status.PAID


# ---- no account waits forever -------------------------------------------------------------------


def test_a_plan_whose_last_installment_is_missed_ends_and_the_ladder_resumes():
    # default_after_missed is 2 in the example ladder: one miss used to leave the plan running
    # with nothing pending, no contact and no handoff, forever.
    model = driver()
    model.event(ev("plan", installments=[InstallmentSpec(due_in_days=5, amount=Decimal("130"))]))
    assert model.state.status == Status.PLAN
    model.run_until(MONDAY + 120 * DAY)
    kinds = [e.type for e in model.state.events]
    assert kinds[:3] == ["plan", "installment_missed", "plan_default"]
    assert model.state.status == Status.HANDED_OFF


def test_a_ladder_without_handoff_closes_when_its_last_step_is_done():
    text = (
        EXAMPLE_LADDER_TEXT.split("  - id: handoff")[0].rstrip()
        + "\n"
        + (EXAMPLE_LADDER_TEXT.split("    action: handoff")[1])
    )
    model = driver(text)
    model.run_until(MONDAY + 400 * DAY)
    assert model.state.status == Status.CLOSED
    assert model.state.events[-1].type == "ladder_exhausted"


def test_only_a_disputed_account_waits_without_a_time():
    model = driver()
    model.event(ev("dispute", reason="not mine"))
    assert next_action(model.state, model.account, model.now) is None
    model.event(ev("dispute_resolved", outcome="validated"))
    assert next_action(model.state, model.account, model.now) is not None


def test_a_later_installments_reminder_is_not_held_back_by_an_earlier_installments_grace():
    # Found by the property tests: installments a day apart with reminders on the day itself.
    # The next installment's reminder used to wait for the previous one's deadline (end of day
    # plus grace) and went out late, outside the window.
    model = driver()
    plan = [InstallmentSpec(due_in_days=day, amount=Decimal("41.00")) for day in (3, 4, 5)]
    model.event(ev("plan", installments=plan))
    model.run_until(MONDAY + 30 * DAY)
    assert model.violations == []
    reminders = [
        c
        for c in model.state.contacts
        if c.step.startswith("plan-1-") and c.step.endswith("-reminder")
    ]
    assert [c.step for c in reminders] == [
        f"plan-1-installment-{number}-reminder" for number in (1, 2, 3)
    ]


# ---- contact policy ----------------------------------------------------------------------------


def test_the_policy_says_why_a_channel_is_suppressed_in_order():
    model = driver()
    state, account = model.state, model.account
    assert contact_policy.check(state, account, Channel.SMS, MONDAY).allowed
    state.unusable_channels["sms"] = "opted_out"
    assert contact_policy.check(state, account, Channel.SMS, MONDAY).reason == "opted_out"
    state.status = Status.DISPUTED
    assert contact_policy.check(state, account, Channel.SMS, MONDAY).reason == "disputed"
    state.contact_ceased = True
    assert contact_policy.check(state, account, Channel.SMS, MONDAY).reason == "ceased"


def test_the_eighth_call_in_seven_days_is_capped_and_a_conversation_blocks_calls_for_a_week():
    model = driver()
    state = model.state
    state.call_attempts = [MONDAY - timedelta(hours=hour) for hour in range(7)]
    assert contact_policy.check(state, model.account, Channel.VOICEMAIL, MONDAY).reason == (
        "call_cap"
    )
    assert contact_policy.check(state, model.account, Channel.VOICEMAIL, MONDAY + 7 * DAY).allowed
    state.last_conversation_at = MONDAY
    later = MONDAY + 6 * DAY
    assert contact_policy.check(state, model.account, Channel.VOICEMAIL, later).reason == "call_cap"


# ---- sends, rounds and fallbacks ----------------------------------------------------------------


def test_every_send_round_has_its_own_idempotency_key():
    model = driver()
    step = contacts.step_contact(model.account.ladder.steps[0], model.account)
    first = contacts.idempotency_key("wf", model.state, step.step, step.channel)
    state, then = contacts.settle(
        model.state,
        model.account,
        step,
        step.channel,
        contacts.Unavailable(),
        MONDAY,
        workflow_id="wf",
    )
    second = contacts.idempotency_key("wf", state, step.step, step.channel)
    assert then.kind == "retry_later" and first.endswith("/1") and second.endswith("/2")
    assert state.retry_not_before == MONDAY + timedelta(minutes=60)


def test_after_the_last_send_round_the_fallback_channel_is_tried():
    model = driver()
    sms = contacts.step_contact(model.account.ladder.step("sms-reminder"), model.account)
    state = model.state
    for _ in range(model.account.ladder.send_rounds.rounds):
        state, then = contacts.settle(
            state,
            model.account,
            sms,
            sms.channel,
            contacts.Unavailable(),
            MONDAY,
            workflow_id="wf",
        )
    assert then.kind == "fallback" and then.channel == Channel.EMAIL
    assert [(c.channel, c.reason) for c in state.contacts] == [(Channel.SMS, "send_failed")]
    _, then = contacts.settle(
        model.state.model_copy(update={"send_rounds": {"sms-reminder": 2}}),
        model.account,
        sms,
        sms.channel,
        contacts.Unavailable(),
        MONDAY,
        workflow_id="wf",
        fallback_after_rounds=False,
        send_faults=False,
    )
    assert then.kind == "done"


def test_a_step_with_no_common_window_is_suppressed_but_the_handoff_still_runs():
    model = driver()
    state = model.state.model_copy(update={"next_step_index": 4})  # final-notice, then handoff
    state = contacts.no_window(state, model.account, MONDAY, pending=False)
    assert [(c.step, c.reason) for c in state.contacts] == [("final-notice", "no_contact_window")]
    assert model.account.ladder.steps[state.next_step_index].is_handoff


def test_generated_message_ids_can_never_be_ladder_step_ids():
    with pytest.raises(LadderError, match="reserved"):
        ladder_from(EXAMPLE_LADDER_TEXT.replace("id: sms-reminder", "id: promise-1-broken"))
    with pytest.raises(LadderError, match="reserved"):
        ladder_from(EXAMPLE_LADDER_TEXT.replace("id: sms-reminder", "id: plan-2"))


# ---- ladder days are local calendar days --------------------------------------------------------


def test_a_ladder_day_begins_at_local_midnight_across_a_dst_change():
    due = local_midnight(datetime(2038, 10, 1).date(), "Europe/Paris")  # summer time
    start = ladder_day_start(due, 45, 0, "Europe/Paris")  # 15 Nov, winter time
    assert start == datetime(2038, 11, 14, 23, 0, tzinfo=UTC)  # 00:00 Paris
    naive = due + timedelta(days=45)  # counting 24-hour days lands on 14 Nov, 23:00 Paris
    assert naive == datetime(2038, 11, 14, 22, 0, tzinfo=UTC)


DST_LADDER = """
name: late-evening
version: 1
jurisdiction: eu
contact_window: {start: "07:00", end: "23:30", days: [mon, tue, wed, thu, fri, sat, sun]}
steps:
  - {id: first, day: 1, channel: email, template: courtesy}
  - {id: after-dst, day: 35, channel: email, template: reminder}
"""


def test_a_late_evening_window_never_moves_a_step_to_the_day_before_after_dst():
    # Due 1 Oct 2038 in Paris; clocks go back on 31 Oct. Day 35 is Friday 5 Nov. Counted in
    # 24-hour days it began at 23:00 on Thursday 4 Nov, inside this late window.
    start = datetime(2038, 10, 1, 6, 0, tzinfo=UTC)
    model = Driver(account(start, ladder=ladder_from(DST_LADDER), days_past_due="0"), start)
    model.run_until(start + 60 * DAY)
    assert model.violations == []
    step = next(c for c in model.state.contacts if c.step == "after-dst")
    assert model.local(step.at).replace(tzinfo=None) == datetime(2038, 11, 5, 7, 0)


# ---- replies -----------------------------------------------------------------------------------


def test_dont_call_me_opts_out_of_calls_whatever_channel_it_came_on():
    reply = typed_event(ev("reply", text="don't call me", channel=Channel.SMS))
    meaning = reply_meaning(reply, ReplyClassification(kind="opt_out", channel=Channel.VOICEMAIL))
    assert meaning.type == "opt_out" and meaning.channel == Channel.VOICEMAIL


def test_a_deadline_fires_by_itself():
    model = driver()
    model.event(ev("hold", days=3))
    action = next_action(model.state, model.account, model.now)
    assert action.do == Fire("hold_ended") and action.at == MONDAY + 3 * DAY
