"""Email through SendGrid's v3 mail send, with the official `sendgrid` SDK.

Each message carries what later matching and the law need:
- HTML and text parts, the creditor as the sender;
- `List-Unsubscribe` with a one-click URL (RFC 8058) and a mailto, so mail clients show an
  unsubscribe button that reaches `/unsubscribe/<token>` on the webhook server;
- `custom_args` with the account, the ladder, the step and the idempotency key: SendGrid echoes
  them in every Event Webhook post, which is how a bounce finds its account;
- categories `ladder:<name>` and `step:<id>` for SendGrid's statistics.

SendGrid has no lookup by our key, so an email in doubt is reconciled through SendGrid's own
`processed` events, which the webhook server stores (`store.email_events`; the rules are in
`activities/channels/ledger.py`).

The SDK is synchronous (urllib); calls run in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import urllib.error
from datetime import datetime, timedelta

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Category, CustomArg, Email, Header, Mail, To

from activities.channels.base import (
    OutgoingMessage,
    ProviderRefused,
    ProviderUnavailable,
    Undeliverable,
)
from activities.channels.reconcile import Found, Lookup, Reconciled, Wait
from activities.channels.sendgrid.errors import sendgrid_error
from activities.channels.unsubscribe import unsubscribe_url
from store.protocols import EmailEvents, LedgerEntry

DEFAULT_PROCESSED_WAIT = timedelta(minutes=10)
# SendGrid stamps `processed` when it accepts a message, which happens within the provider
# timeout of the claim (the request leaves right after it). An event stamped later than the
# claim by more than that timeout plus this allowance for clock skew between our hosts and
# SendGrid's shows the event stream reporting past the claim.
CLOCK_SKEW_ALLOWANCE = timedelta(seconds=30)


class SendGridEmail:
    provider = "sendgrid"

    def __init__(
        self,
        *,
        api_key: str,
        host: str,
        sender_email: str,
        sender_name: str,
        public_base_url: str,
        link_secret: str,
        timeout: float = 20.0,
        events: EmailEvents | None = None,
        processed_wait: timedelta = DEFAULT_PROCESSED_WAIT,
    ) -> None:
        self.api_key = api_key
        self.host = host
        self.sender = Email(sender_email, sender_name)
        self.public_base_url = public_base_url
        self.link_secret = link_secret
        self.timeout = timeout
        self.events = events
        self.processed_wait = processed_wait
        # The pace is SendGrid's per account (the key, hashed: never a secret in a database)
        # and per sender address, shared by every worker through the store.
        account = hashlib.sha256(api_key.encode()).hexdigest()[:12]
        self.throttle_key = f"sendgrid:{account}:{sender_email}"

    def mail_for(self, message: OutgoingMessage) -> Mail:
        mail = Mail(
            from_email=self.sender,
            to_emails=To(message.to, message.recipient_name or None),
            subject=message.subject or "",
            plain_text_content=message.text,
            html_content=message.html or None,
        )
        link = unsubscribe_url(
            self.public_base_url, self.link_secret, message.account_id, message.channel
        )
        mail.header = Header(
            "List-Unsubscribe", f"<{link}>, <mailto:{self.sender.email}?subject=unsubscribe>"
        )
        mail.header = Header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
        for key, value in (
            ("account_id", message.account_id),
            ("ladder", message.ladder),
            ("step", message.step),
            ("idempotency_key", message.idempotency_key),
        ):
            mail.custom_arg = CustomArg(key, value)
        mail.category = [Category(f"ladder:{message.ladder}"), Category(f"step:{message.step}")]
        return mail

    async def send(self, message: OutgoingMessage) -> str:
        return await asyncio.to_thread(self._send, message)

    def _send(self, message: OutgoingMessage) -> str:
        if "@" not in message.to:  # the SDK would fail with a KeyError before any request
            raise Undeliverable(f"{message.to!r} is not an email address")
        client = SendGridAPIClient(api_key=self.api_key, host=self.host)
        client.client.timeout = self.timeout
        try:
            mail = self.mail_for(message)
        except (ValueError, KeyError, TypeError) as exc:  # nothing was sent
            raise ProviderRefused(f"SendGrid message could not be built: {exc}") from None
        try:
            response = client.send(mail)
        except HTTPError as exc:
            body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else exc.body
            raise sendgrid_error(exc.status_code, str(body), dict(exc.headers or {})) from None
        except OSError as exc:  # URLError, timeouts, connection resets
            raise ProviderUnavailable(
                f"SendGrid unreachable: {exc}", maybe_sent=_maybe_sent(exc)
            ) from None
        headers = {key.lower(): value for key, value in dict(response.headers).items()}
        return headers.get("x-message-id") or f"sendgrid-{message.idempotency_key}"

    async def find_sent(
        self, message: OutgoingMessage, claim: LedgerEntry, now: datetime
    ) -> Reconciled:
        """The mail send API has no lookup by our key (Email Activity is a paid add-on), but
        SendGrid posts `processed`, with our idempotency key, for every message it accepted.
        `message.idempotency_key` is the claim's (an earlier round's or the primary channel's
        when a later send settles it first, see `reconcile.settle_earlier`)."""
        if self.events is None:
            return Lookup.UNKNOWN
        events = self.events
        event = await asyncio.to_thread(events.processed, message.idempotency_key)
        if event is not None:
            return [Found(event.sg_message_id, event.processed_at)]
        age = now - claim.claimed_at
        if age < self.processed_wait:
            return Wait(
                (self.processed_wait - age).total_seconds(),
                "waiting for SendGrid's processed event of an email in doubt",
            )
        latest = await asyncio.to_thread(events.latest_processed_at)
        reported_past = claim.claimed_at + timedelta(seconds=self.timeout) + CLOCK_SKEW_ALLOWANCE
        if latest is not None and latest > reported_past:
            return Lookup.NOT_FOUND  # later emails were reported, this one never: not accepted
        return Lookup.UNKNOWN  # no events flowing: SendGrid cannot tell us


def _maybe_sent(exc: OSError) -> bool:
    """urllib wraps every failure while the request is being sent (refused, DNS, TLS, connect
    timeout) in URLError: nothing reached SendGrid. A timeout or a reset while reading the
    answer comes bare, and the email may have been accepted."""
    return not isinstance(exc, urllib.error.URLError)
