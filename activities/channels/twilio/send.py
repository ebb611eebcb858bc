"""SMS and voicemail through Twilio's 2010 API, with the official `twilio` SDK.

- SMS: from a number or a messaging service, with a status callback to the webhook server
  (`/twilio/status`), which turns `undelivered`/`failed` reports into `delivery_failed` events.
- Voicemail: an outbound call with answering-machine detection set to `DetectMessageEnd`, so
  Twilio waits for the end of the greeting (the beep) before it fetches our TwiML from
  `/twilio/voice?call=<token>`. The webhook server reads the call script stored here under that
  token and answers with the limited-content message for a machine, or the message and a
  one-key menu for a person (see `activities/channels/twilio/twiml.py`).

`DUNNING_TWILIO_API_BASE_URL` replaces the SDK's `https://api.twilio.com` (a region or an edge,
or the local fake in tests). The SDK is synchronous (requests); calls run in a worker thread,
each with its own client, so no session is shared between threads.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timedelta
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from activities.channels.base import OutgoingMessage, ProviderRefused, ProviderUnavailable
from activities.channels.errors import MAYBE_SENT_STATUSES, retry_after_seconds
from activities.channels.ledger import claim_hash, content_hash
from activities.channels.reconcile import Found
from activities.channels.twilio.call_scripts import CallScript, CallScriptStore
from activities.channels.twilio.errors import twilio_error
from activities.channels.twilio.twiml import voice_for
from store.protocols import LedgerEntry

# A message or call created this long before our claim still counts as ours (clock skew).
RECONCILE_SLACK = timedelta(minutes=2)


class _ClassifyingHttpClient(TwilioHttpClient):
    """Raises `ProviderUnavailable` for 429/5xx (with `Retry-After`) and network failures.

    The SDK turns every non-2xx answer into `TwilioRestException` and drops the headers, so the
    retry delay must be read here, where the raw response is still at hand. So must the method:
    a POST creates a message or a call, which Twilio may have done despite a 5xx or a lost
    answer (`maybe_sent`); a GET (a list while reconciling) created nothing.
    """

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        creates = method.upper() == "POST"
        try:
            response = super().request(method, url, *args, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ProviderUnavailable(
                f"Twilio unreachable: {type(exc).__name__}",
                maybe_sent=creates and _maybe_sent(exc),
            ) from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise ProviderUnavailable(
                f"Twilio {status}: {response.text.strip()[:200]}",
                retry_after=retry_after_seconds(response.headers),
                maybe_sent=creates and status in MAYBE_SENT_STATUSES,
            )
        return response


def _maybe_sent(exc: requests.RequestException) -> bool:
    """Only a failure after the request went out (a read timeout, a dropped answer) may hide
    an accepted message; no connection, no TLS, no DNS means nothing was sent."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        return False
    text = str(exc)
    return not any(
        sign in text for sign in ("Failed to establish", "NameResolutionError", "Failed to resolve")
    )


class _TwilioChannel:
    provider = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        base_url: str,
        public_base_url: str,
        from_number: str | None,
        timeout: float = 20.0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.base_url = base_url
        self.public_base_url = public_base_url
        self.from_number = from_number
        self.timeout = timeout

    def client(self) -> Client:
        client = Client(
            self.account_sid,
            self.auth_token,
            http_client=_ClassifyingHttpClient(timeout=self.timeout),
        )
        client.api.base_url = self.base_url
        return client

    async def _call(self, function: Any, **params: Any) -> Any:
        def run() -> Any:
            try:
                return function(self.client(), **params)
            except TwilioRestException as exc:
                raise twilio_error(exc.status, exc.code, str(exc.msg)) from None
            except TwilioException as exc:  # a failed list page carries no status or code
                raise ProviderUnavailable(f"Twilio: {exc}") from None

        return await asyncio.to_thread(run)


class TwilioSms(_TwilioChannel):
    def __init__(self, *, messaging_service_sid: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.messaging_service_sid = messaging_service_sid
        # Twilio paces per account and sender; the store shares the pace between workers.
        self.throttle_key = (
            f"twilio:{self.account_sid}:sms:{messaging_service_sid or self.from_number}"
        )

    async def send(self, message: OutgoingMessage) -> str:
        params: dict[str, Any] = {
            "to": message.to,
            "body": message.text,
            "status_callback": f"{self.public_base_url}/twilio/status",
        }
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.from_number
        created = await self._call(lambda client, **p: client.messages.create(**p), **params)
        return str(created.sid)

    async def find_sent(
        self, message: OutgoingMessage, claim: LedgerEntry, now: datetime
    ) -> list[Found]:
        """Messages to this number since the claim whose body is what the claim sent: its
        stored hash, not this attempt's render (the balance may have changed meanwhile).
        `message` carries the claim's key and recipient (for an earlier round's or channel's
        claim, see `reconcile.as_claimed`). An empty list is not yet "never sent" for a claim
        in doubt younger than the lease (Twilio may still be creating it): `examine` waits."""
        claimed = claim.content_hash or claim_hash(message)  # a row claimed before hashes
        recent = await self._call(
            lambda client, **p: client.messages.list(**p), to=message.to, limit=20
        )
        return [
            Found(str(found.sid), found.date_created)
            for found in recent
            if content_hash(message.to, None, found.body or "") == claimed
            and _since(found.date_created, claim.claimed_at)
        ]


class TwilioVoicemail(_TwilioChannel):
    """A call that leaves the message after the beep, or offers a menu to a person."""

    def __init__(self, *, scripts: CallScriptStore, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scripts = scripts
        self.throttle_key = f"twilio:{self.account_sid}:voice:{self.from_number}"

    async def send(self, message: OutgoingMessage) -> str:
        if not self.from_number:
            raise ProviderRefused("voicemail calls need DUNNING_TWILIO_FROM (a caller id number)")
        token = call_token(message.idempotency_key)
        language, voice = voice_for(message.locale, message.jurisdiction)
        await asyncio.to_thread(  # a database write: off the event loop
            self.scripts.save,
            CallScript(
                token=token,
                account_id=message.account_id,
                idempotency_key=message.idempotency_key,
                locale=message.locale,
                language=language,
                voice=voice,
                text=message.text,
            ),
        )
        created = await self._call(
            lambda client, **p: client.calls.create(**p),
            to=message.to,
            from_=self.from_number,
            url=f"{self.public_base_url}/twilio/voice?call={token}",
            method="POST",
            machine_detection="DetectMessageEnd",
            machine_detection_timeout=30,
            status_callback=f"{self.public_base_url}/twilio/status?call={token}",
            status_callback_event=["answered", "completed"],
            status_callback_method="POST",
        )
        return str(created.sid)

    async def find_sent(
        self, message: OutgoingMessage, claim: LedgerEntry, now: datetime
    ) -> list[Found]:
        """Calls from our number to this one since the claim (a call has no body to match:
        the ledger sets aside calls it already gave to other keys)."""
        recent = await self._call(
            lambda client, **p: client.calls.list(**p),
            to=message.to,
            from_=self.from_number,
            limit=20,
        )
        return [
            Found(str(found.sid), found.date_created)
            for found in recent
            if _since(found.date_created, claim.claimed_at)
        ]


def _since(created: datetime | None, since: datetime) -> bool:
    return created is None or created >= since - RECONCILE_SLACK


def call_token(idempotency_key: str) -> str:
    """An opaque name for a call's script: no account or contact data in Twilio's URL logs."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
