"""The compliance rules' edge cases, on the pure model (no server): the cases a review found."""

from __future__ import annotations

from datetime import timedelta

from config.ladder import Channel
from tests.conftest import MONDAY, account, ladder_from
from tests.test_compliance_rules import compliant, event, ladder_text, london
from workflows.account import compliance, contact_policy
from workflows.account.apply import Answer, apply, needs_schedule
from workflows.account.events import typed_event
from workflows.types import AccountEvent, AccountState, ContactRecord, Status

DAY = timedelta(days=1)
TEXT_THEN_LETTER = (
    "  - {id: text, day: 0, channel: sms, template: reminder, fallback: email}\n"
    "  - {id: letter, day: 20, channel: letter, template: first-notice}\n"
)


def test_a_text_whose_own_fallback_is_an_email_does_not_count_as_the_notice_following() -> None:
    """The fallback goes only when the text cannot: it will not carry the notice in 5 days."""
    debtor = account(MONDAY, ladder=ladder_from(ladder_text("us", TEXT_THEN_LETTER)))
    state = compliant(debtor)
    assert not compliance.notice_follows(state, debtor, MONDAY)
    assert contact_policy.check(state, debtor, Channel.SMS, MONDAY, step="text").reason == (
        "validation_notice_first"
    )
    # Where the text cannot reach the debtor, its email fallback is what goes: that is the
    # email carrying the notice.
    unreachable = compliant(debtor, unusable_channels={"sms": "opted_out"})
    assert compliance.notice_follows(unreachable, debtor, MONDAY)


def test_an_opted_out_email_does_not_carry_the_notice_for_a_text() -> None:
    steps = (
        "  - {id: text, day: 0, channel: sms, template: reminder}\n"
        "  - {id: email, day: 3, channel: email, template: courtesy}\n"
    )
    debtor = account(MONDAY, ladder=ladder_from(ladder_text("us", steps)))
    assert compliance.notice_follows(compliant(debtor), debtor, MONDAY)
    opted_out = compliant(debtor, unusable_channels={"email": "opted_out"})
    assert not compliance.notice_follows(opted_out, debtor, MONDAY)


def test_five_calendar_days_after_the_first_communication_no_more_texts_before_the_notice() -> None:
    """A pause (a promise, a hold) stretches ladder days, not the law's five days."""
    steps = (
        "  - {id: text, day: 0, channel: sms, template: reminder}\n"
        "  - {id: email, day: 3, channel: email, template: courtesy}\n"
    )
    debtor = account(MONDAY, ladder=ladder_from(ladder_text("us", steps)))
    state = compliant(debtor, first_communication_at=MONDAY - 6 * DAY, paused_seconds=6 * 86400)
    assert not compliance.notice_follows(state, debtor, MONDAY)


def test_a_breathing_space_that_ran_out_during_a_dispute_blocks_nothing_after_it() -> None:
    debtor = london(MONDAY)
    state = compliant(debtor)
    state, answer = event(state, debtor, "breathing_space", days=10)
    assert answer.accepted
    state, _ = event(state, debtor, "dispute", reason="not mine")
    later = MONDAY + 20 * DAY
    typed = typed_event(AccountEvent(type="dispute_resolved", outcome="validated"))
    state, answer = apply(state, debtor, typed, later)
    assert answer.accepted and state.status == Status.ACTIVE
    assert state.breathing_space_until is None
    assert "breathing_space_ended" in [e.type for e in state.events]
    promise = typed_event(AccountEvent(type="promise", due_in_days=3))
    assert not isinstance(needs_schedule(state, debtor, promise, later), Answer)


def test_no_verification_is_queued_when_none_can_be_sent() -> None:
    debtor = account(MONDAY)
    state, _ = event(compliant(debtor), debtor, "dispute")
    ceased = state.model_copy(update={"contact_ceased": True})
    _, answer = event(ceased, debtor, "dispute_resolved", outcome="validated")
    assert not answer.accepted and "contact has ceased" in str(answer.reason)
    undeliverable = state.model_copy(update={"unusable_channels": {"letter": "undeliverable"}})
    _, answer = event(undeliverable, debtor, "dispute_resolved", outcome="validated")
    assert not answer.accepted and "postal address" in str(answer.reason)


def test_no_text_before_the_notice_while_the_ladder_is_paused() -> None:
    """A promise before any contact: ladder days stand still, so "an email within 5 ladder
    days" says nothing about the calendar; the promise reminder text waits for the notice."""
    steps = (
        "  - {id: email, day: 3, channel: email, template: courtesy}\n"
        "  - {id: handoff, day: 45, action: handoff}\n"
    )
    debtor = account(MONDAY, ladder=ladder_from(ladder_text("us", steps)))
    paused = compliant(debtor, paused_since=MONDAY - DAY, status=Status.PROMISED)
    assert not compliance.notice_follows(paused, debtor, MONDAY)


def test_an_event_after_a_breathing_space_ran_out_ends_it_once() -> None:
    debtor = london(MONDAY)
    state, _ = event(compliant(debtor), debtor, "breathing_space", days=10)
    later = MONDAY + 11 * DAY
    promise = typed_event(AccountEvent(type="dispute", reason="x"))
    state, answer = apply(state, debtor, promise, later)
    assert answer.accepted and state.breathing_space_until is None
    assert [e.type for e in state.events].count("breathing_space_ended") == 1


def test_a_cease_after_the_verification_was_queued_says_it_was_not_sent() -> None:
    debtor = account(MONDAY)
    state, _ = event(compliant(debtor), debtor, "dispute")
    state, _ = event(state, debtor, "dispute_resolved", outcome="validated")
    state, _ = event(state, debtor, "cease")
    assert "verification_not_sent" in [e.type for e in state.events]


def test_an_account_started_before_the_rules_still_owes_its_notice_when_it_takes_them_up() -> None:
    debtor = account(MONDAY)
    sent = ContactRecord(
        at=MONDAY - 30 * DAY,
        step="courtesy-email",
        channel=Channel.EMAIL,
        template="courtesy",
        outcome="sent",
    )
    state = AccountState(balance=debtor.balance, contacts=[sent])
    assert compliance.take_up(state, debtor, True)
    # What it was sent before carried no notice: its next email or letter carries it, and its
    # first communication was that email (texts wait for the notice now).
    assert state.compliance and state.validation_notice_at is None
    assert compliance.notice_owed(state, debtor)
    assert state.first_communication_at == sent.at
    assert compliance.text_before_notice(state, debtor, Channel.SMS, MONDAY)
    # The patch decides, not a carried flag: a run without it is not run by the rules.
    assert not compliance.take_up(state, debtor, False) and not state.compliance


def test_a_mailed_dispute_counts_by_the_date_it_arrived() -> None:
    """12 CFR 1006.38: within the validation period is judged by when the dispute was received,
    not when ops entered it."""
    debtor = account(MONDAY)
    period_ends = (MONDAY + 35 * DAY).date()
    state = compliant(debtor, validation_notice_at=MONDAY, validation_period_ends=period_ends)
    later = MONDAY + 60 * DAY  # entered long after the period
    on_time = typed_event(AccountEvent(type="dispute", received_on=period_ends))
    late = typed_event(AccountEvent(type="dispute", received_on=period_ends + DAY))
    _, answer = apply(state, debtor, on_time, later)
    assert answer.detail.get("verification") == "required"
    _, answer = apply(state, debtor, late, later)
    assert "verification" not in answer.detail
    _, answer = apply(state, debtor, typed_event(AccountEvent(type="dispute")), later)
    assert "verification" not in answer.detail  # entered now, after the period
