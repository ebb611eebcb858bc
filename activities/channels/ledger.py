"""The send ledger: what makes a live send happen once although activities run at least once.

Temporal may run the send activity again after it handed a message to a provider (the worker
died, the result was lost, a timeout fired). SendGrid and Twilio take no idempotency key on
their send endpoints, so the project keeps its own record, keyed by the workflow's idempotency
key (workflow id / step / channel / the step's send round). The record lives in the shared store
(`store/`, `DUNNING_DATABASE_URL`) so every worker on every host sees the same claims; this
module is where its rules are written down; `activities/channels/live.py` and
`activities/channels/reconcile.py` apply them.

1. `claim(key, …, content_hash, recipient=)` right before the provider call: an atomic insert
   of a `pending` row that remembers what is being sent (`content_hash(to, subject, text)`,
   see `claim_hash`) and to whom. A row already there is returned instead, and nobody calls the
   provider blindly. The claimer reads its own `claimed_at` back (`get`) right after.
2. `record_sent(key, message_id, sent_at=…)` once the provider accepted the message, with the
   time it accepted it: an unconditional upsert (an acceptance is always written down).
3. `release(key, claimed_at)` when the provider certainly does not have the message: a 4xx, a
   429, a connection that never opened, or the contact window closing before the call
   (`OutsideWindow`).
4. `mark_in_doubt(key, claimed_at)` when the attempt ended without knowing: a 500/502/503/504
   or a read timeout or reset on the send request. Both providers can accept a message and
   still answer a 5xx, so such a claim is never released: the next attempt reconciles before
   anything is sent.
   Both act only while the row still holds the caller's `claimed_at` (compare-and-set): an
   attempt that outlived its lease, whose claim another attempt took over (`reclaim`, which
   returns the taker's new `claimed_at`), can neither delete nor doubt that attempt's claim.

Before claiming, the step's other keys (`<workflow id>/<step>/`: an earlier send round, or the
primary channel before a fallback; `unsettled(prefix)`) are settled: a claim one of them left
pending or in doubt is reconciled as below with the sender of *its* channel, for *its*
recipient and claimed hash. Found → that key is recorded and returned as this delivery (this
key records it too), nothing is sent; cannot tell → that key is `unconfirmed`, returned the
same way; too early → the attempt waits; not there → that claim is released and this send goes
on. Claims of a channel without a live sender (letters) are left alone.

Reconciling an unsettled claim (`in_doubt`, or `pending` older than the lease):
- A `pending` claim younger than `DEFAULT_LEASE` belongs to an attempt that may still be running
  (the activity's 1-minute timeout plus the provider timeout): a second attempt waits.
- Twilio SMS: the message list to that number since the claim, keeping the messages whose
  `content_hash(to, None, body)` equals the *claimed* hash, not a fresh render's (a payment may
  have changed the balance between attempts: the first SMS is still found, no second one sent).
- Twilio calls: the call list from our number to that number since the claim (a call has no
  body to match).
- Either way, sends the ledger already gave to another key are not ours (`knows`: two accounts
  sharing a number); one left is recorded as this send, several are `unconfirmed`. An `in_doubt`
  claim the list does not show is not "not sent" while it is younger than the lease: after an
  accepted-then-5xx Twilio may still be creating the message when the list is read, so the
  attempt waits (`retry_after` = lease − age), claim kept.
- SendGrid has no lookup, but its Event Webhook posts `processed` (carrying our `custom_args`,
  the idempotency key among them) for every message it accepted; the webhook server stores
  them (`store.email_events`). An email in doubt is recorded as sent with SendGrid's message id
  and time when its event is there; it waits while the claim is younger than
  `DUNNING_SENDGRID_PROCESSED_WAIT_SECONDS`; it is sent when the event stream has since
  reported a later email and not this one (SendGrid did not take it); otherwise (no events are
  flowing) it is recorded `unconfirmed`, logged as a warning, and never sent twice.
- Nothing found: the attempt reclaims the row (`reclaim`, atomic against a concurrent attempt)
  with the hash of what it is about to send, and sends.

What remains, honestly stated: an email accepted by SendGrid whose `processed` event never
reaches the store (the Event Webhook is not configured, or is down for longer than the wait)
is `unconfirmed`: counted as sent, perhaps never delivered. An email whose request never left
while no events flow is also `unconfirmed` (a missing demand, which the next step repeats, is
preferred to a duplicate one). SendGrid's events can arrive out of order after a failed webhook
post (SendGrid retries it later): a later email's event may be stored first, and past the wait
the email in doubt is then taken as never accepted and sent again. Twilio's lists are searched
20 deep, with two minutes of clock slack; an SMS is matched by its body's hash, so should Twilio
rewrite the body (smart encoding, link shortening) the first SMS is not recognised and, past
the lease, a second is sent. A claim stored before migration 0002 has no recipient: another
channel cannot look it up and takes it as `unconfirmed`. Letters need no ledger: the PDF's
atomic creation is its own.
"""

from __future__ import annotations

from datetime import timedelta

from activities.channels.base import OutgoingMessage
from config.ladder import Channel
from store.protocols import LedgerEntry, SendLedger, content_hash

__all__ = ["DEFAULT_LEASE", "LedgerEntry", "SendLedger", "claim_hash", "content_hash"]

DEFAULT_LEASE = timedelta(minutes=2)


def claim_hash(message: OutgoingMessage) -> str:
    """The content hash a claim stores: what the provider is handed. Only an email has a
    subject; an SMS's hash is the one Twilio's message list lets us recompute from its body."""
    subject = message.subject if message.channel == Channel.EMAIL else None
    return content_hash(message.to, subject, message.text)
