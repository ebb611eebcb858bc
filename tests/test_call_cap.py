"""Regulation F call frequency (12 CFR 1006.14(b)) and provider opt-outs, on the real workflow.

The workflow counts the calls it placed: never more than 7 in 7 days, none within 7 days after
a conversation. A voicemail step that would break this is suppressed with reason `call_cap` and
falls back. A provider that reports the recipient unsubscribed (Twilio 21610) makes the channel
unusable as `opted_out`.
"""

from __future__ import annotations

from datetime import timedelta

from activities.channels.base import Delivery, OutgoingMessage, Undeliverable
from activities.channels.outbox import MemoryOutbox
from intake.events import send_event
from tests.conftest import MONDAY, Harness, account, ladder_from
from workflows.types import AccountEvent

DAY = timedelta(days=1)

STEP = """
  - id: call-{n}
    day: {day}
    channel: voicemail
    template: callback-request
    fallback: sms
"""


def calling_ladder(days: list[int]) -> str:
    """The call cap holds under every profile; `none` keeps the us text rules (the validation
    notice first, 3 texts a week) out of the way of the SMS fallbacks counted here."""
    steps = "".join(STEP.format(n=n, day=day) for n, day in enumerate(days, start=1))
    return f"""
name: calls
version: 1
jurisdiction: none
contact_window: {{start: "08:00", end: "21:00", days: [mon, tue, wed, thu, fri, sat, sun]}}
steps:{steps}
"""


def outcomes(view) -> list[tuple[str, str, str, str | None]]:
    return [(c.step, c.channel.value, c.outcome, c.reason) for c in view.contacts]


async def test_the_eighth_call_in_seven_days_is_suppressed_and_falls_back(harness: Harness):
    ladder = ladder_from(calling_ladder([1, 2, 3, 4, 5, 6, 7, 7, 9]))
    async with harness.worker():
        await harness.start(account(MONDAY, ladder=ladder))
        await harness.advance_to(MONDAY + 8 * DAY)
        view = await harness.view()
        placed = [
            c for c in view.contacts if c.channel.value == "voicemail" and c.outcome == "sent"
        ]
        assert len(placed) == 7
        assert outcomes(view)[-2:] == [
            ("call-8", "voicemail", "suppressed", "call_cap"),
            ("call-8", "sms", "sent", None),
        ]
        # Day 9: the call of day 1 has left the 7-day period, so one call may be placed again.
        await harness.advance_to(MONDAY + 10 * DAY)
        view = await harness.view()
    assert outcomes(view)[-1] == ("call-9", "voicemail", "sent", None)


async def test_no_call_within_seven_days_after_a_conversation(harness: Harness):
    ladder = ladder_from(calling_ladder([1, 3, 9]))
    async with harness.worker():
        await harness.start(account(MONDAY, ladder=ladder))
        await harness.advance_to(MONDAY + 2 * DAY)
        talked = await send_event(
            harness.env.client, "T-1", AccountEvent(type="conversation", source="twilio")
        )
        assert talked.accepted
        await harness.advance_to(MONDAY + 10 * DAY)
        view = await harness.view()
    assert outcomes(view) == [
        ("call-1", "voicemail", "sent", None),
        ("call-2", "voicemail", "suppressed", "call_cap"),
        ("call-2", "sms", "sent", None),
        ("call-3", "voicemail", "sent", None),  # 7 days after the conversation
    ]


class RecipientUnsubscribed(MemoryOutbox):
    """Twilio answers 21610 for SMS: the number replied STOP at the carrier level."""

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        if message.channel.value == "sms":
            raise Undeliverable("Twilio 400 error 21610", reason="opted_out", code="21610")
        return await super().deliver(message)


async def test_a_provider_opt_out_marks_the_channel_opted_out_and_falls_back(harness: Harness):
    async with harness.worker(RecipientUnsubscribed()):
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + 6 * DAY)
        view = await harness.view()
    assert ("sms-reminder", "sms", "suppressed", "opted_out") in outcomes(view)
    assert ("sms-reminder", "email", "sent", None) in outcomes(view)
    assert view.unusable_channels == {"sms": "opted_out"}
