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

from config.compliance import Profile, RuleId, profile
from config.compliance import contact_cap as ladder_contact_cap
from config.compliance import text_cap as ladder_text_cap
from config.ladder import Channel
from workflows.account import clock
from workflows.account import transitions as t
from workflows.types import AccountInput, AccountState, PendingMessage, Status

CAP_PERIOD = timedelta(days=7)
# 12 CFR 1006.34(a)(1)(i)(B): the notice may follow the initial communication within 5 days.
NOTICE_FOLLOWS_WITHIN_DAYS = 5
NOTICE_CHANNELS = (Channel.EMAIL, Channel.LETTER)
# The validation period ends on a local date; the workflow holds no tz data, so "by the end of
# that day" is taken at the latest zone on earth (UTC-12) plus 2 hours: a dispute near the
# boundary counts as within the period, the debtor's side of any doubt.
_LATEST_END_OF_DAY = timedelta(hours=14)


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
    small). Changes `state` in place."""
    if not state.compliance:
        return
    state.contact_attempts = [*in_period(state.contact_attempts, at), at]
    if channel == Channel.SMS:
        state.text_attempts = [*in_period(state.text_attempts, at), at]


# ---- the validation notice (us, 12 CFR 1006.34) -------------------------------------------------


def notice_owed(state: AccountState, account: AccountInput) -> bool:
    return enforces(state, account, RuleId.VALIDATION_NOTICE) and state.validation_notice_at is None


def carries_notice(state: AccountState, account: AccountInput, channel: Channel) -> bool:
    """This email or letter must carry the validation notice (the first one sent)."""
    return channel in NOTICE_CHANNELS and notice_owed(state, account)


def notice_follows(state: AccountState, account: AccountInput, now: datetime) -> bool:
    """An email or letter step the debtor can receive is due within 5 ladder days from now."""
    today = clock.ladder_day(account.due_at, now, state.paused_seconds, state.paused_since)
    for step in account.ladder.steps[state.next_step_index :]:
        if step.day > today + NOTICE_FOLLOWS_WITHIN_DAYS:
            return False
        channels = (step.channel, step.fallback)
        if any(
            channel in NOTICE_CHANNELS and account.debtor.address_for(channel) is not None
            for channel in channels
            if channel is not None
        ):
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


def within_validation_period(state: AccountState, now: datetime) -> bool:
    """Before the notice went out the period has not even begun: a dispute then counts too."""
    ends = state.validation_period_ends
    if state.validation_notice_at is None or ends is None:
        return True
    return now < datetime.combine(ends + timedelta(days=1), time(0), UTC) + _LATEST_END_OF_DAY


# ---- a dispute's verification (us, 12 CFR 1006.38) -----------------------------------------------


def verification_step(number: int) -> str:
    return f"dispute-{number}-verification"


def is_verification(step: str) -> bool:
    return step.startswith("dispute-") and step.endswith("-verification")


def dispute_opened(state: AccountState, account: AccountInput, now: datetime) -> dict[str, str]:
    """A dispute within the validation period needs a verification before collection resumes.
    Changes `state` in place; returns detail for the answer."""
    if enforces(state, account, RuleId.DISPUTE_VERIFICATION) and within_validation_period(
        state, now
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
    if account.debtor.address_for(letter.channel) is None:
        return (
            "a verification must be sent before collection resumes (12 CFR 1006.38), and "
            "the debtor has no postal address"
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
    t.resume_ladder(state, now)
