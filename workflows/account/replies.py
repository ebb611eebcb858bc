"""What a classified reply means: the event it becomes, or nothing (kept for a person)."""

from __future__ import annotations

from workflows.account.apply import Answer
from workflows.account.events import Dispute, Event, OptOut, Promise, Reply
from workflows.activity_types import ReplyClassification


def reply_meaning(reply: Reply, classification: ReplyClassification) -> Event | Answer:
    """The event the reply stands for, or the answer when it stands for none.

    An opt-out names its channel when the words do ("don't call me": calls, whatever channel
    the reply came on); otherwise it opts out of the channel the reply came on.
    """
    kind = classification.kind
    if kind == "opt_out":
        channel = classification.channel or reply.channel
        if channel is None:
            return Answer(False, "an opt-out reply needs its channel", reply_detail(classification))
        return OptOut(type="opt_out", channel=channel, source="reply")
    if kind == "promise" and classification.promise_date is not None:
        return Promise(
            type="promise",
            date=classification.promise_date,
            amount=classification.amount,
            source="reply",
        )
    if kind == "dispute":
        return Dispute(type="dispute", reason=reply.text, source="reply")
    # callback, payment_link, paid, unknown, a promise without a date: kept for a person.
    return Answer(detail=reply_detail(classification))


def reply_detail(classification: ReplyClassification) -> dict[str, str]:
    """What the reply is recorded with: how it was read, and the words that decided."""
    return {"kind": classification.kind, "matched": classification.matched or ""}


def reply_answer(classification: ReplyClassification, meant: Answer) -> Answer:
    """The reply's answer: that of the event it meant, with how the reply was read."""
    return Answer(meant.accepted, meant.reason, {**reply_detail(classification), **meant.detail})
