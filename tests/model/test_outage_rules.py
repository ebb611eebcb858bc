"""Issue 10's send rules in the account model, one at a time: a send the window closed on is
deferred with its key, a long outage is retried (on the fallback) until the contact's bound,
then suppressed as `provider_unavailable`."""

from __future__ import annotations

from datetime import timedelta

from config.ladder import Channel
from tests.model.test_rules import DAY, MONDAY, driver, ev
from workflows.account import contacts, outage
from workflows.account.next_action import next_action


def test_an_outside_window_answer_is_deferred_and_before_issue_10_it_was_a_failed_round():
    end = MONDAY + timedelta(hours=14)
    assert contacts.not_sent("OutsideWindow", end) == contacts.Deferred(end)
    model = driver()
    email = contacts.step_contact(model.account.ladder.steps[0], model.account)
    old, then = contacts.settle(
        model.state,
        model.account,
        email,
        email.channel,
        contacts.Deferred(end),
        end,
        workflow_id="wf",
        send_faults=False,
    )
    assert then.kind == "retry_later" and old.send_rounds == {"courtesy-email": 1}


def test_a_deferred_send_keeps_its_key_records_no_contact_and_waits_for_the_window_end():
    model = driver()
    email = contacts.step_contact(model.account.ladder.steps[0], model.account)
    key = contacts.idempotency_key("wf", model.state, email.step, email.channel)
    end = MONDAY + DAY + timedelta(hours=14)  # Tuesday 21:00 in Paris, the step due
    state, then = contacts.settle(
        model.state,
        model.account,
        email,
        email.channel,
        contacts.Deferred(end),
        end - timedelta(seconds=1),  # the workflow's clock may lag the activity's a little
        workflow_id="wf",
    )
    assert then.kind == "retry_later" and state.contacts == []
    assert state.send_rounds == {} and state.retry_not_before == end
    assert [(e.type, e.detail) for e in state.events] == [
        ("send_deferred", {"step": "courtesy-email", "channel": "email"})
    ]
    assert contacts.idempotency_key("wf", state, email.step, email.channel) == key
    action = next_action(state, model.account, end)
    assert action.at == end and action.needs_window and action.not_after is not None


def test_a_deferral_without_a_window_end_waits_a_send_round_not_a_tight_loop():
    """The activity found no window open at the planned moment although the workflow's
    look-up did (tz or holiday data upgraded in between): the next try is one spacing later."""
    model = driver()
    email = contacts.step_contact(model.account.ladder.steps[0], model.account)
    now = MONDAY + DAY + timedelta(hours=3)
    state, then = contacts.settle(
        model.state,
        model.account,
        email,
        email.channel,
        contacts.Deferred(None),
        now,
        workflow_id="wf",
    )
    spacing = timedelta(minutes=model.account.ladder.send_rounds.spacing_minutes)
    assert then.kind == "retry_later" and state.retry_not_before == now + spacing
    assert state.send_rounds == {} and state.contacts == []


def test_a_long_outage_retries_on_the_fallback_until_the_next_step_then_gives_up():
    # sms-reminder (day 5, Saturday 9 Jan, fallback email) with SMS and email down for a week:
    # three rounds on SMS, the fallback at once, then rounds on email at the spacing until
    # first-letter (day 10) is due; then provider_unavailable, and first-letter goes on time.
    model = driver(days_past_due="5")
    until = MONDAY + 7 * DAY
    model.outcome = lambda channel: (
        contacts.Unavailable()
        if channel in (Channel.SMS, Channel.EMAIL) and model.now < until
        else None
    )
    model.run_until(MONDAY + 12 * DAY)
    assert model.violations == []
    sms = [(c.channel.value, c.outcome, c.reason) for c in model.state.contacts[:2]]
    assert sms == [
        ("sms", "suppressed", "send_failed"),
        ("email", "suppressed", "provider_unavailable"),
    ]
    next_step_due = model.account.due_at + 10 * DAY
    assert model.state.contacts[1].at == next_step_due
    failed = [e for e in model.state.events if e.type == "send_failed"]
    assert [e.detail["channel"] for e in failed[:4]] == ["sms", "sms", "sms", "email"]
    assert all(e.at < next_step_due for e in failed)
    assert max(e.at for e in failed) > MONDAY + 4 * DAY  # rounds went on for days
    letter = model.state.contacts[2]
    assert (letter.step, letter.outcome) == ("first-letter", "sent")
    assert model.local(letter.at).hour == 8 and letter.at > next_step_due
    assert model.state.retrying == {} and model.state.next_step_index >= 3


def test_an_outage_that_ends_before_the_next_step_sends_the_step_in_a_later_round():
    model = driver()
    until = MONDAY + DAY + timedelta(hours=5)  # courtesy-email goes at 08:00 Tuesday
    model.outcome = lambda channel: contacts.Unavailable() if model.now < until else None
    model.run_until(MONDAY + 3 * DAY)
    email = model.state.contacts[0]
    assert (email.step, email.outcome) == ("courtesy-email", "sent") and email.at >= until
    rounds = len([e for e in model.state.events if e.type == "send_failed"])
    assert rounds > 3  # beyond the configured rounds: no fallback, the primary goes on
    assert email.idempotency_key.endswith(f"/courtesy-email/email/{rounds + 1}")


def test_how_long_a_contact_is_retried():
    model = driver()
    state, account = model.state, model.account
    since = MONDAY + DAY
    assert outage.bound(state, account, "courtesy-email", since) == account.due_at + 5 * DAY
    assert outage.bound(state, account, "final-notice", since) == account.due_at + 45 * DAY
    paused = state.model_copy(update={"paused_seconds": 3600})
    assert outage.bound(paused, account, "courtesy-email", since) == (
        account.due_at + 5 * DAY + timedelta(hours=1)
    )
    # A pending message: the next step's moment, but never less than its configured rounds.
    assert outage.bound(state, account, "promise-1-broken", MONDAY) == account.due_at + DAY
    late = since + 30 * DAY
    assert outage.bound(state, account, "promise-1-broken", late) == late + timedelta(hours=3)
    model.event(ev("promise", due_in_days=6))
    promise = model.state.promise
    assert outage.bound(model.state, account, "promise-1-reminder", since) == promise.due_by


def test_a_reminder_whose_provider_is_down_is_retried_and_given_up_at_the_promise_deadline():
    model = driver()
    # The us validation notice went out before: a reminder text is not held back for it here.
    model.state = model.state.model_copy(update={"validation_notice_at": MONDAY - DAY})
    model.outcome = lambda channel: contacts.Unavailable() if channel == Channel.SMS else None
    model.event(ev("promise", due_in_days=6))
    due_by = model.state.promise.due_by
    model.run_until(MONDAY + 10 * DAY)
    reminder = [c for c in model.state.contacts if c.step == "promise-1-reminder"]
    assert [(c.outcome, c.reason, c.at) for c in reminder] == [
        ("suppressed", "provider_unavailable", due_by)
    ]
    failed = [e for e in model.state.events if e.detail.get("step") == "promise-1-reminder"]
    assert len(failed) > 3 and all(e.at < due_by for e in failed)
    assert "promise_broken" in [e.type for e in model.state.events]


def test_a_reminder_whose_moment_has_passed_waits_for_the_next_open_window():
    """Found by the property tests: a reminder's moment is an open window chosen ahead, but
    when the account was busy past it (another contact's send rounds, a deferral), sending
    it at once could be outside hours. It then goes at the next open window, like any contact;
    before issue 10's rules it went at once."""
    model = driver()
    model.event(ev("promise", due_in_days=5))
    promise = model.state.promise
    assert promise is not None and promise.reminder_at is not None
    late = promise.reminder_at + timedelta(hours=20)
    action = next_action(model.state, model.account, late)
    assert action.at == late and action.needs_window
    before = next_action(model.state, model.account, late, send_faults=False)
    assert before.at == promise.reminder_at and not before.needs_window
    on_time = next_action(model.state, model.account, promise.reminder_at)
    assert on_time.at == promise.reminder_at and not on_time.needs_window
