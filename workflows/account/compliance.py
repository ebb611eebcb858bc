"""The compliance profile's rules as plain functions of (state, account, now).

`config/compliance.py` says which rules a profile enforces and cites them; this module decides
what they mean for one account at one moment: the caps on texts and contacts, the validation
notice still owed (us), a dispute's verification (us), a breathing space (uk). The contact
policy and the event handlers call these; nothing here does I/O.

Accounts started before these rules (`state.compliance` False) are untouched by all of them,
so their recorded histories replay as they ran.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from config.compliance import NOTICE_CHANNELS, NOTICE_WITHIN_DAYS, Profile, RuleId, profile
from config.compliance import contact_cap as ladder_contact_cap
from config.compliance import text_cap as ladder_text_cap
from config.ladder import Channel
from workflows.account import clock
from workflows.account import transitions as t
from workflows.types import AccountInput, AccountState, PendingMessage, Status

CAP_PERIOD = timedelta(days=7)
# The validation period ends on a local date; the workflow holds no tz data, so "by the end of
# that day" is taken at the latest zone on earth (UTC-12) plus 2 hours: a dispute near the
# boundary counts as within the period, the debtor's side of any doubt.
_LATEST_END_OF_DAY = timedelta(hours=14)


def take_up(state: AccountState, account: AccountInput, in_force: bool) -> bool:
    """Set `state.compliance` from the run's patch (never from a carried value: an old worker
    may have run the run before and left it stale). An account started before the rules takes
    them up here at its continue-as-new: what it was sent before carried no validation notice,
    so the notice is still owed (its next email or letter carries it), and its first
    communication is the first message it was sent (texts wait for the notice after 5 days).
    Returns whether the rules are in force. Changes `state` in place."""
    if in_force and not state.compliance and state.first_communication_at is None:
        first = next(
            (c for c in state.contacts if c.outcome == "sent" and c.channel != Channel.VOICEMAIL),
            None,
        )
        if first is not None:
            state.first_communication_at = first.at
    state.compliance = in_force
    return in_force


def profile_of(account: AccountInput) -> Profile:
    return profile(account.ladder.jurisdiction.value)


def enforces(state: AccountState, account: AccountInput, rule: RuleId) -> bool:
    return state.compliance and profile_of(account).enforces(rule)


# ---- caps on texts and contacts ---------------------------------------------------------------


def text_cap(account: AccountInput) -> int | None:
    return ladder_text_cap(account.ladder)


def contact_cap(account: AccountInput) -> int | None:
    return ladder_contact_cap(account.ladder)


def in_period(moments: list[datetime], now: datetime) -> list[datetime]:
    since = now - CAP_PERIOD
    return [at for at in moments if at > since]


def text_capped(state: AccountState, account: AccountInput, now: datetime) -> bool:
    cap = text_cap(account)
    return state.compliance and cap is not None and len(in_period(state.text_attempts, now)) >= cap


def contact_capped(state: AccountState, account: AccountInput, now: datetime) -> bool:
    cap = contact_cap(account)
    return (
        state.compliance and cap is not None and len(in_period(state.contact_attempts, now)) >= cap
    )


def count_sent(state: AccountState, channel: Channel, at: datetime) -> None:
    """Remember a sent contact for the caps (only the last 7 days are kept: state stays
    small), and the first communication (read only while the notice is owed). Changes `state`
    in place."""
    if not state.compliance:
        return
    # A voicemail is a limited-content message, not a communication (12 CFR 1006.2(j)).
    if channel != Channel.VOICEMAIL and state.first_communication_at is None:
        state.first_communication_at = at
    state.contact_attempts = [*in_period(state.contact_attempts, at), at]
    if channel == Channel.SMS:
        state.text_attempts = [*in_period(state.text_attempts, at), at]


# ---- the validation notice (us, 12 CFR 1006.34) -------------------------------------------------


def notice_owed(state: AccountState, account: AccountInput) -> bool:
    return enforces(state, account, RuleId.VALIDATION_NOTICE) and state.validation_notice_at is None


def carries_notice(state: AccountState, account: AccountInput, channel: Channel) -> bool:
    """This email or letter must carry the validation notice (the first one sent)."""
    return channel in NOTICE_CHANNELS and notice_owed(state, account)


def reachable(state: AccountState, account: AccountInput, channel: Channel | None) -> bool:
    return (
        channel is not None
        and channel.value not in state.unusable_channels
        and account.debtor.address_for(channel) is not None
    )


def notice_follows(state: AccountState, account: AccountInput, now: datetime) -> bool:
    """An email or letter step that will reach the debtor is due within 5 days from now: on
    the ladder (a step's fallback counts only where its own channel cannot reach them) and on
    the calendar (no pause has stretched the time since the first communication)."""
    first = state.first_communication_at
    if first is not None and now >= first + timedelta(days=NOTICE_WITHIN_DAYS):
        return False
    if state.paused_since is not None:
        return False  # ladder days stand still: no step is coming within 5 days of the calendar
    today = clock.ladder_day(account.due_at, now, state.paused_seconds, state.paused_since)
    for step in account.ladder.steps[state.next_step_index :]:
        if step.day > today + NOTICE_WITHIN_DAYS:
            return False
        goes_on = step.channel if reachable(state, account, step.channel) else step.fallback
        if goes_on in NOTICE_CHANNELS and reachable(state, account, goes_on):
            return True
    return False


def text_before_notice(
    state: AccountState, account: AccountInput, channel: Channel, now: datetime
) -> bool:
    """A text while the notice is owed, with no email or letter to carry it within 5 days: the
    text would be the initial communication with nothing validating it in time. (A voicemail
    is a limited-content message, not a communication: 12 CFR 1006.2(j).)"""
    return (
        channel == Channel.SMS
        and notice_owed(state, account)
        and not notice_follows(state, account, now)
    )


def notice_sent(state: AccountState, at: datetime, period_ends: date | None) -> None:
    """Changes `state` in place: the first notice starts the validation period."""
    if state.validation_notice_at is None:
        state.validation_notice_at = at
        state.validation_period_ends = period_ends


def within_validation_period(
    state: AccountState, now: datetime, received_on: date | None = None
) -> bool:
    """Before the notice went out the period has not even begun: a dispute then counts too.
    `received_on` (the debtor's local date a mailed dispute arrived) is compared exactly;
    without it, the moment the dispute is entered, generously."""
    ends = state.validation_period_ends
    if state.validation_notice_at is None or ends is None:
        return True
    if received_on is not None:
        return received_on <= ends
    return now < datetime.combine(ends + timedelta(days=1), time(0), UTC) + _LATEST_END_OF_DAY


# ---- a dispute's verification (us, 12 CFR 1006.38) -----------------------------------------------


def verification_step(number: int) -> str:
    return f"dispute-{number}-verification"


def is_verification(step: str) -> bool:
    return step.startswith("dispute-") and step.endswith("-verification")


def dispute_opened(
    state: AccountState, account: AccountInput, now: datetime, received_on: date | None = None
) -> dict[str, str]:
    """A dispute within the validation period needs a verification before collection resumes.
    Changes `state` in place; returns detail for the answer."""
    if enforces(state, account, RuleId.DISPUTE_VERIFICATION) and within_validation_period(
        state, now, received_on
    ):
        state.verification_owed = True
        return {"verification": "required"}
    return {}


def queue_verification(state: AccountState, account: AccountInput) -> str | None:
    """`dispute_resolved validated` while a verification is owed: the verification letter is
    queued and the account stays disputed until it is sent. Returns a refusal reason, or None
    when queued. Changes `state` in place."""
    if any(is_verification(message.step) for message in state.pending):
        return "the verification letter is already queued"
    letter = account.ladder.dispute.verification
    if state.contact_ceased or not reachable(state, account, letter.channel):
        why = (
            "contact has ceased"
            if state.contact_ceased
            else "the debtor has no usable postal address"
        )
        return (
            f"a verification must be sent before collection resumes (12 CFR 1006.38), and "
            f"{why}: the dispute can only be upheld"
        )
    state.verifications += 1
    state.pending.append(
        PendingMessage(
            step=verification_step(state.verifications),
            channel=letter.channel,
            template=letter.template,
        )
    )
    return None


def verification_done(state: AccountState, step: str, sent: bool, now: datetime) -> None:
    """The verification letter went (collection resumes) or could not (the account stays
    disputed; ops may validate again or uphold). Changes `state` in place."""
    if not sent:
        t.milestone(state, now, "verification_not_sent", step=step)
        return
    state.verification_owed = False
    t.milestone(state, now, "verification_sent", step=step)
    resume(state, now)


def dropped(state: AccountState, now: datetime) -> None:
    """Pending messages are dropped (a cease, no window at all): a verification among them was
    not sent, and says so. Changes `state` in place."""
    for message in state.pending:
        if is_verification(message.step):
            t.milestone(state, now, "verification_not_sent", step=message.step)


def waiting_for_verification(state: AccountState) -> bool:
    return state.status == Status.DISPUTED and any(
        is_verification(message.step) for message in state.pending
    )


# ---- a breathing space (uk Debt Respite Scheme) --------------------------------------------------


def in_breathing_space(state: AccountState, now: datetime) -> bool:
    until = state.breathing_space_until
    return until is not None and now < until


def resume(state: AccountState, now: datetime) -> None:
    """Resume the ladder, unless a breathing space still runs: then the account stays held
    until it ends. Changes `state` in place."""
    until = state.breathing_space_until
    if until is not None and now < until:
        state.hold_until = until
        t.pause(state, now, Status.HELD)
        return
    if until is not None:  # it ran out while the account was disputed
        state.breathing_space_until = None
        t.milestone(state, now, "breathing_space_ended")
    t.resume_ladder(state, now)
