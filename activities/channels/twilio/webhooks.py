"""What Twilio's webhooks say, as events: inbound SMS, status callbacks, the voicemail menu.

Pure parsing, no HTTP: the webhook server (`inbound/routes/twilio.py`) checks the signature,
finds the account and applies what these functions return. Each event id comes from Twilio's
own id (`MessageSid`, `CallSid`), so a retried webhook is applied once.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from activities.channels.twilio.errors import TWILIO_OPTED_OUT, TWILIO_UNDELIVERABLE
from config.ladder import Channel
from workflows.types import AccountEvent

PROMISE_BY_PHONE_DAYS = 7  # menu key 1: "I will pay within 7 days"


def parse_form(body: bytes) -> list[tuple[str, str]] | None:
    """Twilio's url-encoded form, every field in order (repeats kept: they are all signed);
    None when the body is not a form at all."""
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None


@dataclass(frozen=True)
class InboundSms:
    sender: str
    text: str
    sid: str

    def reply_event(self, limit: int) -> AccountEvent:
        return AccountEvent(
            event_id=f"twilio-sms:{self.sid}",
            type="reply",
            channel=Channel.SMS,
            text=self.text[:limit],
            source="twilio",
        )


def inbound_sms(form: dict[str, str]) -> InboundSms | None:
    """The message, or None when `From`, `Body` or `MessageSid` is missing."""
    sender, text, sid = form.get("From", ""), form.get("Body"), form.get("MessageSid", "")
    if not sender or text is None or not sid:
        return None
    return InboundSms(sender, text, sid)


@dataclass(frozen=True)
class StatusReport:
    """A message or call status callback: who answered, and a failure worth an event."""

    sid: str
    status: str
    channel: Channel
    conversation: AccountEvent | None  # a person answered the call
    failure: AccountEvent | None  # delivery_failed / opt_out; None for a temporary failure


def status_report(form: dict[str, str]) -> StatusReport | None:
    """None when the callback names no sid or no status."""
    code = form.get("ErrorCode", "")
    status = form.get("MessageStatus") or form.get("CallStatus") or ""
    sid = form.get("MessageSid") or form.get("CallSid") or ""
    if not sid or not status:
        return None
    is_call = "CallSid" in form and "MessageSid" not in form
    channel = Channel.VOICEMAIL if is_call else Channel.SMS
    conversation = conversation_event(sid) if form.get("AnsweredBy") == "human" else None
    failure = None
    if status in ("undelivered", "failed") and code.isdigit():
        failure = failure_event(int(code), code, channel)
        if failure is not None:
            failure = failure.model_copy(update={"event_id": f"twilio-status:{sid}:{status}"})
    return StatusReport(sid, status, channel, conversation, failure)


def failure_event(number: int, code: str, channel: Channel) -> AccountEvent | None:
    """A permanent failure code → its event; a temporary one → None (nothing to learn)."""
    if number in TWILIO_OPTED_OUT:
        return AccountEvent(type="opt_out", channel=channel, source="twilio")
    if number in TWILIO_UNDELIVERABLE:
        return AccountEvent(type="delivery_failed", channel=channel, code=code, source="twilio")
    return None


def conversation_event(call_sid: str) -> AccountEvent:
    return AccountEvent(
        event_id=f"twilio-call:{call_sid}:answered", type="conversation", source="twilio"
    )


def menu_event(call_sid: str, digit: str) -> AccountEvent | None:
    """The voicemail menu's answer: 1 promise, 2 talk to someone, 3 stop calls."""
    event_id = f"twilio-call:{call_sid}:menu-{digit}"
    if digit == "1":
        return AccountEvent(
            event_id=event_id,
            type="promise",
            due_in_days=PROMISE_BY_PHONE_DAYS,
            source="twilio",
        )
    if digit == "2":
        return AccountEvent(
            event_id=event_id,
            type="reply",
            channel=Channel.VOICEMAIL,
            text="Asked to talk to someone (phone menu, key 2).",
            source="twilio",
        )
    if digit == "3":
        return AccountEvent(
            event_id=event_id, type="opt_out", channel=Channel.VOICEMAIL, source="twilio"
        )
    return None
