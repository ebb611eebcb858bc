"""May this channel be used for this debtor now? One function, one answer.

The contact window itself (hours, weekdays, holidays in every candidate zone) depends on the
tz database and holiday data, so it is looked up by an activity and recorded in history; the
workflow only ever sends at a moment that look-up returned. Everything else is decided here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from config.ladder import Channel
from workflows.account import compliance
from workflows.types import AccountInput, AccountState, Status, SuppressReason

# Regulation F (12 CFR 1006.14(b)): at most 7 calls in 7 days, none within 7 days after a
# conversation. Applied in every jurisdiction: nobody should be called more often than that.
CALL_CAP = 7
CALL_CAP_PERIOD = compliance.CAP_PERIOD


@dataclass(frozen=True)
class Verdict:
    """Allowed (reason None) or suppressed with the reason recorded on the contact."""

    reason: str | None = None

    @property
    def allowed(self) -> bool:
        return self.reason is None


ALLOWED = Verdict()


def calls_in_period(state: AccountState, now: datetime) -> list[datetime]:
    return compliance.in_period(state.call_attempts, now)


def call_capped(state: AccountState, now: datetime) -> bool:
    """7 calls in the last 7 days, or a conversation in the last 7 days (Regulation F)."""
    talked = state.last_conversation_at
    recent_talk = talked is not None and talked > now - CALL_CAP_PERIOD
    return len(calls_in_period(state, now)) >= CALL_CAP or recent_talk


def check(
    state: AccountState,
    account: AccountInput,
    channel: Channel,
    now: datetime,
    *,
    call_cap_in_force: Callable[[], bool] = lambda: True,
    step: str = "",
) -> Verdict:
    """Cease, a breathing space, dispute, an unusable channel, no address, the caps on calls,
    texts and contacts, a text before the validation notice: the first that applies.

    `call_cap_in_force` is asked only when the cap is about to decide: accounts recorded before
    the cap existed answer False there and replay as they ran. The compliance rules apply only
    to accounts run by them (`state.compliance`). `step`: a dispute's verification letter is
    the one contact a disputed account gets (12 CFR 1006.38).
    """
    # The verification letter is owed to the debtor: no cap holds it back.
    verification = state.compliance and compliance.is_verification(step)
    if state.status.is_final:
        return Verdict(state.status.value)
    if state.contact_ceased:
        return Verdict(SuppressReason.CEASED)
    if state.compliance and compliance.in_breathing_space(state, now):
        return Verdict(SuppressReason.BREATHING_SPACE)
    if state.status == Status.DISPUTED and not verification:
        return Verdict(SuppressReason.DISPUTED)
    if channel.value in state.unusable_channels:
        return Verdict(state.unusable_channels[channel.value])
    if account.debtor.address_for(channel) is None:
        return Verdict(SuppressReason.NO_ADDRESS)
    if channel == Channel.VOICEMAIL and call_cap_in_force() and call_capped(state, now):
        return Verdict(SuppressReason.CALL_CAP)
    if verification:
        return ALLOWED
    if channel == Channel.SMS and compliance.text_capped(state, account, now):
        return Verdict(SuppressReason.TEXT_CAP)
    if compliance.contact_capped(state, account, now):
        return Verdict(SuppressReason.CONTACT_CAP)
    if state.compliance and compliance.text_before_notice(state, account, channel, now):
        return Verdict(SuppressReason.VALIDATION_NOTICE_FIRST)
    return ALLOWED
