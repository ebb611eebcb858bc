"""Fake Twilio (2010 API) and SendGrid (mail v3) servers that speak the real HTTP APIs.

Why HTTP fakes rather than mocks: the transports use the official SDKs, and most surprises live
in what those SDKs put on the wire (repeated form keys, date formats, which header carries what,
which exception a status becomes). A local server that answers like the providers lets the real
SDK code run end to end, without network access and without credentials.

One stdlib `ThreadingHTTPServer` serves both providers: Twilio's paths start with
`/2010-04-01/`, SendGrid's with `/v3/`, so `FakeProviders.url` is both Twilio's API base URL
and SendGrid's host.

Pointing the SDKs at it:

    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=10))
    client.api.base_url = fake.url  # the `Api` domain builds every 2010 URL from this

    from sendgrid import SendGridAPIClient

    sg = SendGridAPIClient(api_key, host=fake.url)
    sg.client.timeout = 10  # python_http_client defaults to no timeout at all

(The Twilio SDK rewrites hosts when TWILIO_EDGE / TWILIO_REGION are set in the environment;
keep them unset when talking to a fake.)

What the fake does (status codes and bodies follow the official API and the schemas of the
specs in /work/shared/provider-specs): Twilio in `twilio.py` (and `twilio_lists.py`), SendGrid
in `sendgrid.py`, what both share in `common.py`. Here: the server's lifecycle and, for both,
`fail_next` (error answers: 429 with Retry-After / rate-limit headers, 5xx, ...; with
`after_processing`, the message is accepted first and the error answered anyway, as both
providers' front ends do when they time out on a back end that went on), `drop_next` (no
answer, optionally after the provider did the work: the case where a client cannot know whether
its send went out), and every request recorded with its answer in `requests`. SendGrid's side
of the Event Webhook: `sendgrid_processed_events()` are the `processed` events SendGrid would
post for the emails it accepted.

Run `python -m tests.fakes.providers --port 8765` to try the CLI against it by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes.common import (
    Drop,
    Fail,
    Injected,
    Provider,
    RecordedRequest,
    Reply,
    Server,
    reason,
    take,
)
from tests.fakes.sendgrid import SENDGRID_PREFIX, FakeSendGrid, sendgrid_error
from tests.fakes.twilio import TWILIO_PREFIX, TWILIO_STATUS_CODES, FakeTwilio, twilio_error

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "fake-auth-token"
DEFAULT_SENDGRID_API_KEY = "SG.fake-key"


class FakeProviders(FakeTwilio, FakeSendGrid):
    """Fake Twilio + SendGrid on one local port; see the module docstring.

    `clock` gives the providers' "now" (dates in resources, rate-limit reset times), so tests
    with a fixed or simulated time can filter on dates. With `advance_messages`, a created
    message is answered `queued` (or `accepted`) like Twilio does, then stored as `sent` with
    `date_sent` set, as a fast carrier would: later lists and fetches see it sent, and the
    `DateSent` filters find it.
    """

    def __init__(
        self,
        *,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        sendgrid_api_key: str = DEFAULT_SENDGRID_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], datetime] | None = None,
        advance_messages: bool = True,
        on_request: Callable[[RecordedRequest], None] | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sendgrid_api_key = sendgrid_api_key
        self.host = host
        self.port = port
        self.clock = clock or (lambda: datetime.now(UTC))
        self.advance_messages = advance_messages
        self.on_request = on_request

        self.requests: list[RecordedRequest] = []
        self.messages: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.emails: list[dict[str, Any]] = []
        self.email_message_ids: list[str] = []  # X-Message-Id of each accepted email, in order
        self.email_accepted_at: list[datetime] = []  # when each was accepted (the fake's clock)
        self.errors: list[str] = []  # tracebacks of bugs in the fake itself (answered 500)

        self._lock = threading.RLock()
        self._injected: dict[Provider, list[Injected]] = {"twilio": [], "sendgrid": []}
        self._drops: dict[Provider, list[Drop]] = {"twilio": [], "sendgrid": []}
        self._refused: dict[str, tuple[int, str, int]] = {}
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeProviders:
        if self._server is not None:
            raise RuntimeError("FakeProviders already started")
        self._server = Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-providers-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the connections clients keep alive, and join the thread."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeProviders:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL for both providers, e.g. `http://127.0.0.1:54321` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("FakeProviders is not started")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    # -- test controls -----------------------------------------------------------------------

    def fail_next(
        self,
        *,
        provider: Provider,
        status: int,
        code: int | None = None,
        message: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        method: str | None = None,
        after_processing: bool = False,
    ) -> None:
        """Answer the next `times` requests to `provider` (only `method` ones if given) with an
        error in that provider's shape, before authentication or validation.

        Twilio: `{"code", "message", "more_info", "status"}`, `code` defaulting to Twilio's code
        for the status (429 → 20429). SendGrid: `{"errors": [{"field": null, "message"}]}`, and
        on 429 the `X-RateLimit-*` headers SendGrid sends. `retry_after` adds `Retry-After`.

        With `after_processing` the fake first handles the request as usual (a valid message or
        call is created, an email accepted: really sent, listed, in `sendgrid_processed_events`)
        and then answers the error instead: an accepted-then-5xx.
        """
        if provider not in self._injected:
            raise ValueError(f"unknown provider {provider!r}")
        with self._lock:
            self._injected[provider].append(
                Injected(status, code, message, retry_after, method, times, after_processing)
            )

    def drop_next(
        self,
        *,
        provider: Provider,
        after_processing: bool = True,
        times: int = 1,
        method: str | None = None,
    ) -> None:
        """Close the connection of the next `times` requests without answering.

        With `after_processing` the fake first does the work (the message is created, the email
        accepted), so the client sees a failure although the provider sent: what a timeout or a
        reset looks like from the client's side.
        """
        if provider not in self._drops:
            raise ValueError(f"unknown provider {provider!r}")
        with self._lock:
            self._drops[provider].append(Drop(after_processing, method, times))

    def refuse_number(self, number: str, code: int, message: str, status: int = 400) -> None:
        """Make every Twilio message or call To `number` fail with this Twilio error."""
        with self._lock:
            self._refused[number] = (code, message, status)

    def reset(self) -> None:
        """Forget recorded traffic, resources, injected failures and refused numbers."""
        with self._lock:
            self.requests.clear()
            self.messages.clear()
            self.calls.clear()
            self.emails.clear()
            self.email_message_ids.clear()
            self.email_accepted_at.clear()
            self.errors.clear()
            self._refused.clear()
            for queue in (*self._injected.values(), *self._drops.values()):
                queue.clear()

    def requests_for(
        self, provider: Provider, method: str | None = None, path_suffix: str | None = None
    ) -> list[RecordedRequest]:
        """Recorded requests to `provider`, optionally only one method and path ending."""
        with self._lock:
            return [
                request
                for request in self.requests
                if request.provider == provider
                and (method is None or request.method == method)
                and (path_suffix is None or request.path.endswith(path_suffix))
            ]

    # -- request handling --------------------------------------------------------------------

    def _handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        parts = urlsplit(target)
        path = parts.path
        content_type = next(
            (value for key, value in headers.items() if key.lower() == "content-type"), ""
        )
        media_type = content_type.split(";")[0].strip().lower()
        form = None
        body_json = None
        if raw and media_type == "application/x-www-form-urlencoded":
            form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        elif raw and media_type == "application/json":
            try:
                body_json = json.loads(raw)
            except ValueError:
                body_json = None
        provider = self._provider_for(path, headers)
        request = RecordedRequest(
            provider=provider,
            method=method,
            path=path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=headers,
            form=form,
            json=body_json,
            raw=raw,
        )
        with self._lock:
            self.requests.append(request)
            drop = take(self._drops[provider], method)
        if drop is not None and not drop.after_processing:
            reply = Reply(0, drop=True)
        else:
            reply = self._answer(request)
            if drop is not None:
                reply = Reply(0, drop=True)
        if not reply.drop:
            request.response_status = reply.status
            request.response_headers = dict(reply.headers)
            request.response_body = reply.encoded()
        if self.on_request is not None:
            try:
                self.on_request(request)
            except Exception:  # a broken observer must not break the fake's answers
                traceback.print_exc()
        return reply

    def _answer(self, request: RecordedRequest) -> Reply:
        with self._lock:
            injected = take(self._injected[request.provider], request.method)
        if injected is not None and not injected.after_processing:
            return self._injected_reply(request.provider, injected)
        reply = self._process(request)
        if injected is not None:  # the work is done (or refused); the client sees the error
            return self._injected_reply(request.provider, injected)
        return reply

    def _process(self, request: RecordedRequest) -> Reply:
        try:
            if request.provider == "twilio":
                return self._twilio(request)
            return self._sendgrid(request)
        except Fail as fail:
            return fail.reply
        except Exception:  # a bug in the fake: answer 500 and keep it for the test to see
            trace = traceback.format_exc()
            with self._lock:
                self.errors.append(trace)
            print(trace, file=sys.stderr)
            if request.provider == "twilio":
                return twilio_error(500, 20500, "fake provider crashed; see FakeProviders.errors")
            return sendgrid_error(500, [{"field": None, "message": "internal server error"}])

    @staticmethod
    def _provider_for(path: str, headers: dict[str, str]) -> Provider:
        if path.startswith(TWILIO_PREFIX):
            return "twilio"
        if path.startswith(SENDGRID_PREFIX):
            return "sendgrid"
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        return "sendgrid" if auth.lower().startswith("bearer ") else "twilio"

    def _injected_reply(self, provider: Provider, injected: Injected) -> Reply:
        headers: dict[str, str] = {}
        if injected.retry_after is not None:
            headers["Retry-After"] = str(injected.retry_after)
        if provider == "twilio":
            code = injected.code or TWILIO_STATUS_CODES.get(injected.status, injected.status)
            return twilio_error(injected.status, code, injected.message, headers)
        if injected.status == 429:
            reset = int(self.clock().timestamp()) + (injected.retry_after or 1)
            headers.update(
                {
                    "X-RateLimit-Limit": "600",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(reset),
                }
            )
        message = injected.message or (
            "too many requests" if injected.status == 429 else reason(injected.status).lower()
        )
        return sendgrid_error(injected.status, [{"field": None, "message": message}], headers)


# -- command line ----------------------------------------------------------------------------


def _describe(request: RecordedRequest) -> str:
    """One line per request for the foreground server: who was sent what, and the answer."""
    status = request.response_status if request.response_status is not None else "dropped"
    target = request.path + (f"?{urlencode(request.query, doseq=True)}" if request.query else "")
    detail = ""
    if request.form:
        detail = " ".join(
            f"{name}={request.form_value(name)!r}"
            for name in ("To", "From", "MessagingServiceSid", "Body")
            if request.form_value(name)
        )
    elif isinstance(request.json, dict):
        recipients = [
            to.get("email")
            for p in request.json.get("personalizations") or []
            if isinstance(p, dict)
            for to in p.get("to") or []
            if isinstance(to, dict)
        ]
        detail = f"to={recipients} subject={request.json.get('subject')!r}"
    stamp = datetime.now().strftime("%H:%M:%S")
    line = f"{stamp} {request.provider:<8} {request.method} {target} -> {status}"
    return " ".join(part for part in (line, detail, _summarize_answer(request)) if part)


def _summarize_answer(request: RecordedRequest) -> str:
    if request.response_status is None:
        return ""
    if "X-Message-Id" in request.response_headers:
        return f"X-Message-Id={request.response_headers['X-Message-Id']}"
    answer = request.response_json
    if not isinstance(answer, dict):
        return ""
    if "sid" in answer:
        return f"sid={answer['sid']} status={answer.get('status')}"
    for key in ("messages", "calls"):
        if isinstance(answer.get(key), list):
            return f"{len(answer[key])} {key} (page {answer.get('page')})"
    return json.dumps(answer, ensure_ascii=False)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.providers",
        description="Fake Twilio + SendGrid HTTP APIs on one local port (Ctrl-C to stop).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--sendgrid-api-key", default=DEFAULT_SENDGRID_API_KEY)
    args = parser.parse_args(list(argv) if argv is not None else None)

    fake = FakeProviders(
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        sendgrid_api_key=args.sendgrid_api_key,
        host=args.host,
        port=args.port,
        on_request=lambda request: print(_describe(request), flush=True),
    )
    fake.start()
    # Ctrl-C may come while the banner is printed (a test sends it once it read the first line).
    try:
        print(f"Fake Twilio + SendGrid listening on {fake.url}", flush=True)
        print(
            "Point dunning at it, e.g.:\n"
            f"  DUNNING_TWILIO_API_BASE_URL={fake.url} DUNNING_SENDGRID_API_HOST={fake.url}\n"
            f"  DUNNING_TWILIO_ACCOUNT_SID={args.account_sid} "
            f"DUNNING_TWILIO_AUTH_TOKEN={args.auth_token} "
            f"DUNNING_SENDGRID_API_KEY={args.sendgrid_api_key}",
            flush=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
