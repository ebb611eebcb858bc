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

What the fake does, per provider (status codes and bodies follow the official API and the
schemas of the specs in /work/shared/provider-specs):

- Twilio: HTTP Basic auth (401, code 20003, when wrong or missing, or when the AccountSid in
  the path is not the authenticated one); create/list/fetch Messages and Calls. Validation
  refuses what Twilio refuses, with Twilio's error codes (`TWILIO_ERRORS`). Unknown form fields
  are ignored, as Twilio does: `provider_spec.spec_problems` is what catches typos.
- SendGrid: `Authorization: Bearer <key>`; `POST /v3/mail/send` validated as SendGrid does
  (all errors at once, with `field` and `help`), 202 with an `X-Message-Id`.
- Both: `fail_next` injects error answers (429 with Retry-After / rate-limit headers, 5xx, ...),
  `drop_next` closes the connection without an answer (optionally after the provider did the
  work: the case where a client cannot know whether its send went out), and every request is
  recorded with its answer in `requests`.

Run `python -m tests.fakes.providers --port 8765` to try the CLI against it by hand.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import copy
import email.utils
import hmac
import json
import math
import re
import secrets
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, TypeVar, cast
from urllib.parse import parse_qs, urlencode, urlsplit

Provider = Literal["twilio", "sendgrid"]

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "fake-auth-token"
DEFAULT_SENDGRID_API_KEY = "SG.fake-key"

TWILIO_API_VERSION = "2010-04-01"
TWILIO_PREFIX = f"/{TWILIO_API_VERSION}/"
SENDGRID_PREFIX = "/v3/"

# Every Twilio error code the fake answers with, and its message (from Twilio's error
# dictionary, https://www.twilio.com/docs/api/errors). Kept in one table so it is easy to audit.
TWILIO_ERRORS: dict[int, str] = {
    20001: "Invalid parameter",  # the fake's choice for malformed list filters / paging values
    20003: "Authenticate",
    20004: "Method not allowed",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21201: "No 'To' number is specified",
    21205: "Url parameter is required",
    21211: "Invalid 'To' Phone Number",
    21212: "Invalid 'From' Phone Number",
    21213: "No 'From' number is specified",
    21234: "Invalid Machine Detection configuration value",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21609: "Invalid 'StatusCallback'",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}
# The code Twilio puts in an error body for a bare HTTP status (used by `fail_next`).
TWILIO_STATUS_CODES: dict[int, int] = {
    401: 20003,
    404: 20404,
    405: 20004,
    429: 20429,
    500: 20500,
    503: 20503,
}

SENDGRID_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"
SENDGRID_RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)

E164 = re.compile(r"\+[1-9]\d{1,14}")
SHORT_CODE = re.compile(r"\d{3,8}")
ALPHANUMERIC_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
MESSAGE_CHANNELS = ("whatsapp:", "rcs:", "messenger:")
# Good enough to tell an address from a name or a typo; SendGrid's own check is not public.
EMAIL = re.compile(r"[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+")

# GSM 03.38: the basic set costs one septet, the extension set two (escape + char).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

MACHINE_DETECTION_RANGES: dict[str, tuple[int, int]] = {
    "MachineDetectionTimeout": (3, 59),
    "MachineDetectionSpeechThreshold": (1000, 6000),
    "MachineDetectionSpeechEndThreshold": (500, 5000),
    "MachineDetectionSilenceTimeout": (2000, 10000),
}


@dataclass
class RecordedRequest:
    """One request as the fake received it, and what the fake answered.

    `form` is set for `application/x-www-form-urlencoded` bodies and `json` for JSON bodies;
    both keep what the client sent (repeated form keys stay lists). `response_status` is None
    when the connection was dropped on purpose (`drop_next`).
    """

    provider: Provider
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, list[str]] | None
    json: Any | None
    raw: bytes
    response_status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""

    def header(self, name: str) -> str | None:
        """A request header, looked up case-insensitively as HTTP wants."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def form_value(self, name: str) -> str | None:
        """The first value of a form field, or None."""
        values = (self.form or {}).get(name)
        return values[0] if values else None

    @property
    def response_json(self) -> Any | None:
        """The answer's JSON body, or None when it had none."""
        return json.loads(self.response_body) if self.response_body else None


@dataclass
class _Reply:
    status: int
    body: Any | None = None  # JSON-serialisable; None → empty body
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


class _Fail(Exception):
    """Raised inside a handler to answer with `reply` at once."""

    def __init__(self, reply: _Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


@dataclass
class _Injected:
    status: int
    code: int | None
    message: str | None
    retry_after: int | None
    method: str | None
    remaining: int


@dataclass
class _Drop:
    after_processing: bool
    method: str | None
    remaining: int


_Queued = TypeVar("_Queued", _Injected, _Drop)


def _take(queue: list[_Queued], method: str) -> _Queued | None:
    """Consume one use of the first queued item that applies to `method` (caller holds lock)."""
    for item in queue:
        if item.method is None or item.method == method:
            item.remaining -= 1
            if item.remaining <= 0:
                queue.remove(item)
            return item
    return None


def rfc2822(moment: datetime) -> str:
    """Twilio's date format: `Thu, 24 Aug 2023 05:01:45 +0000` (always UTC)."""
    return email.utils.format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def sms_segments(body: str) -> int:
    """How many SMS segments Twilio bills for `body` (GSM-7: 160/153, else UCS-2: 70/67)."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in body):
        septets = sum(2 if char in GSM7_EXTENDED else 1 for char in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _twilio_error(
    status: int, code: int, message: str | None = None, headers: dict[str, str] | None = None
) -> _Reply:
    return _Reply(
        status,
        {
            "code": code,
            "message": message or TWILIO_ERRORS.get(code) or _reason(status),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        headers or {},
    )


def _sendgrid_error(
    status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> _Reply:
    return _Reply(status, {"errors": errors}, headers or {})


def _sg_problem(message: str, field_name: str | None, help_anchor: str | None) -> dict[str, Any]:
    """One entry of SendGrid's `errors` array; `help` is a link (a string) in real answers."""
    return {
        "message": message,
        "field": field_name,
        "help": f"{SENDGRID_HELP}#{help_anchor}" if help_anchor else None,
    }


class _Server(ThreadingHTTPServer):
    """Tracks open connections so `stop()` can close keep-alive sockets held by clients."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the stdlib's 5 resets bursts of concurrent clients

    def __init__(self, address: tuple[str, int], fake: FakeProviders) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs (requests pools connections)
    server: _Server

    def _dispatch(self) -> None:
        raw = self._read_body()
        headers = {key: value for key, value in self.headers.items()}
        reply = self.server.fake._handle(self.command, self.path, headers, raw)
        if reply.drop:
            self.close_connection = True
            return
        body = reply.encoded()
        self.send_response(reply.status)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib's per-request stderr line; `on_request` is the hook for logging."""


class FakeProviders:
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
        self.errors: list[str] = []  # tracebacks of bugs in the fake itself (answered 500)

        self._lock = threading.RLock()
        self._injected: dict[Provider, list[_Injected]] = {"twilio": [], "sendgrid": []}
        self._drops: dict[Provider, list[_Drop]] = {"twilio": [], "sendgrid": []}
        self._refused: dict[str, tuple[int, str, int]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeProviders:
        if self._server is not None:
            raise RuntimeError("FakeProviders already started")
        self._server = _Server((self.host, self.port), self)
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
    ) -> None:
        """Answer the next `times` requests to `provider` (only `method` ones if given) with an
        error in that provider's shape, before authentication or validation.

        Twilio: `{"code", "message", "more_info", "status"}`, `code` defaulting to Twilio's code
        for the status (429 → 20429). SendGrid: `{"errors": [{"field": null, "message"}]}`, and
        on 429 the `X-RateLimit-*` headers SendGrid sends. `retry_after` adds `Retry-After`.
        """
        if provider not in self._injected:
            raise ValueError(f"unknown provider {provider!r}")
        with self._lock:
            self._injected[provider].append(
                _Injected(status, code, message, retry_after, method, times)
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
            self._drops[provider].append(_Drop(after_processing, method, times))

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

    def _handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Reply:
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
            drop = _take(self._drops[provider], method)
        if drop is not None and not drop.after_processing:
            reply = _Reply(0, drop=True)
        else:
            reply = self._answer(request)
            if drop is not None:
                reply = _Reply(0, drop=True)
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

    def _answer(self, request: RecordedRequest) -> _Reply:
        try:
            with self._lock:
                injected = _take(self._injected[request.provider], request.method)
            if injected is not None:
                return self._injected_reply(request.provider, injected)
            if request.provider == "twilio":
                return self._twilio(request)
            return self._sendgrid(request)
        except _Fail as fail:
            return fail.reply
        except Exception:  # a bug in the fake: answer 500 and keep it for the test to see
            trace = traceback.format_exc()
            with self._lock:
                self.errors.append(trace)
            print(trace, file=sys.stderr)
            if request.provider == "twilio":
                return _twilio_error(500, 20500, "fake provider crashed; see FakeProviders.errors")
            return _sendgrid_error(500, [{"field": None, "message": "internal server error"}])

    @staticmethod
    def _provider_for(path: str, headers: dict[str, str]) -> Provider:
        if path.startswith(TWILIO_PREFIX):
            return "twilio"
        if path.startswith(SENDGRID_PREFIX):
            return "sendgrid"
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        return "sendgrid" if auth.lower().startswith("bearer ") else "twilio"

    def _injected_reply(self, provider: Provider, injected: _Injected) -> _Reply:
        headers: dict[str, str] = {}
        if injected.retry_after is not None:
            headers["Retry-After"] = str(injected.retry_after)
        if provider == "twilio":
            code = injected.code or TWILIO_STATUS_CODES.get(injected.status, injected.status)
            return _twilio_error(injected.status, code, injected.message, headers)
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
            "too many requests" if injected.status == 429 else _reason(injected.status).lower()
        )
        return _sendgrid_error(injected.status, [{"field": None, "message": message}], headers)

    # -- Twilio ------------------------------------------------------------------------------

    _TWILIO_ROUTE = re.compile(
        r"/2010-04-01/Accounts/(?P<account>[^/]+)/(?P<kind>Messages|Calls)(?:/(?P<sid>[^/.]+))?\.json"
    )

    def _twilio(self, request: RecordedRequest) -> _Reply:
        self._twilio_authenticate(request)
        route = self._TWILIO_ROUTE.fullmatch(request.path)
        account = route["account"] if route else None
        if account is None:
            account_match = re.match(r"/2010-04-01/Accounts/([^/.]+)", request.path)
            account = account_match.group(1) if account_match else None
        if account is not None and account != self.account_sid:
            raise _Fail(_twilio_error(401, 20003))
        if route is None:
            raise _Fail(self._twilio_not_found(request.path))
        kind, sid, method = route["kind"], route["sid"], request.method
        if sid is not None:
            if method != "GET":
                raise _Fail(
                    _twilio_error(405, 20004, f"Method not allowed: {method} (not in the fake)")
                )
            return self._twilio_fetch(request.path, kind, sid)
        if method == "POST":
            return (
                self._create_message(request) if kind == "Messages" else self._create_call(request)
            )
        if method == "GET":
            return self._list(request, kind)
        raise _Fail(_twilio_error(405, 20004))

    def _twilio_authenticate(self, request: RecordedRequest) -> None:
        authorization = request.header("Authorization") or ""
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user = password = ""
            if hmac.compare_digest(user, self.account_sid) and hmac.compare_digest(
                password, self.auth_token
            ):
                return
        raise _Fail(
            _twilio_error(401, 20003, headers={"WWW-Authenticate": 'Basic realm="Twilio API"'})
        )

    @staticmethod
    def _twilio_not_found(path: str) -> _Reply:
        return _twilio_error(404, 20404, f"The requested resource {path} was not found")

    def _account_path(self) -> str:
        return f"/{TWILIO_API_VERSION}/Accounts/{self.account_sid}"

    def _refusal(self, to: str) -> None:
        with self._lock:
            refused = self._refused.get(to)
        if refused is not None:
            code, message, status = refused
            raise _Fail(_twilio_error(status, code, message))

    def _create_message(self, request: RecordedRequest) -> _Reply:
        form = request.form or {}

        def first(name: str) -> str:
            return (form.get(name) or [""])[0]

        to, from_, service = first("To"), first("From"), first("MessagingServiceSid")
        body, media = first("Body"), [url for url in form.get("MediaUrl", []) if url]
        if not to:
            raise _Fail(_twilio_error(400, 21604))
        if not from_ and not service:
            raise _Fail(_twilio_error(400, 21603))
        if not body and not media and not first("ContentSid"):
            raise _Fail(_twilio_error(400, 21602))
        if not _is_message_address(to):
            raise _Fail(
                _twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
            )
        if from_ and not _is_message_sender(from_):
            raise _Fail(
                _twilio_error(
                    400,
                    21212,
                    f"The 'From' number {from_} is not a valid phone number, shortcode, "
                    "or alphanumeric sender ID.",
                )
            )
        if len(body) > 1600:
            raise _Fail(_twilio_error(400, 21617))
        callback = first("StatusCallback")
        if callback and not _is_http_url(callback):
            raise _Fail(
                _twilio_error(400, 21609, f"The StatusCallback URL {callback} is not a valid URL.")
            )
        self._refusal(to)

        now = self.clock()
        sid = ("MM" if media else "SM") + secrets.token_hex(16)
        uri = f"{self._account_path()}/Messages/{sid}.json"
        message: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": TWILIO_API_VERSION,
            "body": body,
            "date_created": rfc2822(now),
            "date_sent": None,
            "date_updated": rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_ or None,
            "messaging_service_sid": service or None,
            "num_media": str(len(media)),
            "num_segments": str(sms_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if from_ else "accepted",
            "subresource_uris": {
                "media": f"{self._account_path()}/Messages/{sid}/Media.json",
                "feedback": f"{self._account_path()}/Messages/{sid}/Feedback.json",
            },
            "to": to,
            "uri": uri,
        }
        answer = copy.deepcopy(message)
        if self.advance_messages:
            message.update(
                {
                    "status": "sent",
                    "date_sent": rfc2822(now),
                    "from": from_ or "+15005550006",  # the service picked a sender
                }
            )
        with self._lock:
            self.messages.append(message)
        return _Reply(201, answer)

    def _create_call(self, request: RecordedRequest) -> _Reply:
        form = request.form or {}

        def first(name: str) -> str:
            return (form.get(name) or [""])[0]

        to, from_ = first("To"), first("From")
        url, twiml, application = first("Url"), first("Twiml"), first("ApplicationSid")
        if not to:
            raise _Fail(_twilio_error(400, 21201))
        if not from_:
            raise _Fail(_twilio_error(400, 21213))
        if not (url or twiml or application):
            raise _Fail(_twilio_error(400, 21205))
        if not _is_call_endpoint(to):
            raise _Fail(_twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}"))
        if not _is_call_endpoint(from_):
            raise _Fail(_twilio_error(400, 21212, f"Invalid 'From' Phone Number: {from_}"))
        if url and not _is_http_url(url):
            raise _Fail(_twilio_error(400, 21205, f"Url is not a valid URL: {url}"))
        detection = first("MachineDetection")
        if detection and detection not in ("Enable", "DetectMessageEnd"):
            raise _Fail(_twilio_error(400, 21234, f"Invalid MachineDetection value: {detection}"))
        for name, (low, high) in MACHINE_DETECTION_RANGES.items():
            value = first(name)
            if value and not (value.isdigit() and low <= int(value) <= high):
                raise _Fail(_twilio_error(400, 21234, f"{name} must be between {low} and {high}"))
        self._refusal(to)

        now = self.clock()
        sid = "CA" + secrets.token_hex(16)
        base = f"{self._account_path()}/Calls/{sid}"
        call: dict[str, Any] = {
            # Twilio's answers also carry `annotation`, which the spec's schema lacks: omitted.
            "account_sid": self.account_sid,
            "answered_by": None,
            "api_version": TWILIO_API_VERSION,
            "caller_name": None,
            "date_created": rfc2822(now),
            "date_updated": rfc2822(now),
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": from_,
            "from_formatted": from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": "PN" + secrets.token_hex(16),
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {
                name: f"{base}/{path}.json"
                for name, path in (
                    ("events", "Events"),
                    ("notifications", "Notifications"),
                    ("recordings", "Recordings"),
                    ("payments", "Payments"),
                    ("siprec", "Siprec"),
                    ("streams", "Streams"),
                    ("transcriptions", "Transcriptions"),
                    ("user_defined_message_subscriptions", "UserDefinedMessageSubscriptions"),
                    ("user_defined_messages", "UserDefinedMessages"),
                )
            },
            "to": to,
            "to_formatted": to,
            "trunk_sid": None,
            "uri": f"{base}.json",
        }
        with self._lock:
            self.calls.append(call)
        return _Reply(201, copy.deepcopy(call))

    def _twilio_fetch(self, path: str, kind: str, sid: str) -> _Reply:
        with self._lock:
            resources = self.messages if kind == "Messages" else self.calls
            found = next((r for r in resources if r["sid"] == sid), None)
            if found is not None:
                return _Reply(200, copy.deepcopy(found))
        raise _Fail(self._twilio_not_found(path))

    def _list(self, request: RecordedRequest, kind: str) -> _Reply:
        query = request.query

        def first(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        with self._lock:
            items = copy.deepcopy(self.messages if kind == "Messages" else self.calls)
        items.reverse()  # newest first, as Twilio lists
        for name in ("To", "From", "Status", "ParentCallSid"):
            wanted = first(name)
            key = {"ParentCallSid": "parent_call_sid"}.get(name, name.lower())
            if wanted is not None and (kind == "Calls" or name in ("To", "From")):
                items = [item for item in items if item.get(key) == wanted]
        date_filters = (
            (("DateSent", "date_sent"),)
            if kind == "Messages"
            else (("StartTime", "start_time"), ("EndTime", "end_time"))
        )
        for param, key in date_filters:
            items = _filter_dates(items, key, param, query)

        page_size = _int_param(first("PageSize"), "PageSize", default=50)
        page = _int_param(first("Page"), "Page", default=0)
        page_size = min(max(page_size, 1), 1000)
        start = page * page_size
        chunk = items[start : start + page_size]
        filters = [
            (name, value)
            for name, values in query.items()
            if name not in ("PageSize", "Page", "PageToken")
            for value in values
        ]
        base = f"{self._account_path()}/{kind}.json"

        def page_uri(number: int, token: str | None = None) -> str:
            params = [*filters, ("PageSize", page_size), ("Page", number)]
            if token:
                params.append(("PageToken", token))
            return f"{base}?{urlencode(params)}"

        has_next = start + page_size < len(items)
        return _Reply(
            200,
            {
                kind.lower(): chunk,
                "end": start + len(chunk) - 1 if chunk else start,
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1, "PA" + chunk[-1]["sid"]) if has_next else None,
                "page": page,
                "page_size": page_size,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "start": start,
                "uri": page_uri(page),
            },
        )

    # -- SendGrid ----------------------------------------------------------------------------

    def _sendgrid(self, request: RecordedRequest) -> _Reply:
        authorization = request.header("Authorization")
        if not authorization:
            raise _Fail(
                _sendgrid_error(401, [{"field": None, "message": "authorization required"}])
            )
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(key, self.sendgrid_api_key):
            raise _Fail(
                _sendgrid_error(
                    401,
                    [
                        {
                            "field": None,
                            "message": "The provided authorization grant is invalid, "
                            "expired, or revoked",
                        }
                    ],
                )
            )
        if request.path.rstrip("/") != "/v3/mail/send":
            raise _Fail(_sendgrid_error(404, [{"field": None, "message": "not found"}]))
        if request.method != "POST":
            raise _Fail(_sendgrid_error(405, [{"field": None, "message": "method not allowed"}]))
        media_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise _Fail(
                _sendgrid_error(
                    400,
                    [_sg_problem("Content-Type should be application/json.", None, None)],
                )
            )
        if not isinstance(request.json, dict):
            raise _Fail(_sendgrid_error(400, [_sg_problem("Bad Request", None, None)]))
        problems = sendgrid_mail_problems(request.json, now=self.clock())
        if problems:
            raise _Fail(_sendgrid_error(400, problems))
        message_id = secrets.token_urlsafe(16)
        with self._lock:
            self.emails.append(request.json)
            self.email_message_ids.append(message_id)
        return _Reply(202, None, {"X-Message-Id": message_id})


def _is_message_address(value: str) -> bool:
    for channel in MESSAGE_CHANNELS:
        if value.startswith(channel):
            return value != channel
    return bool(E164.fullmatch(value))


def _is_message_sender(value: str) -> bool:
    if value.startswith(MESSAGE_CHANNELS):
        return _is_message_address(value)
    return bool(
        E164.fullmatch(value) or SHORT_CODE.fullmatch(value) or ALPHANUMERIC_SENDER.fullmatch(value)
    )


def _is_call_endpoint(value: str) -> bool:
    if value.startswith(("client:", "sip:")):
        return len(value.split(":", 1)[1]) > 0
    return bool(E164.fullmatch(value))


def _int_param(value: str | None, name: str, *, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise _Fail(_twilio_error(400, 20001, f"Invalid {name} value: {value}"))
    return int(value)


def _parse_filter_moment(value: str, param: str) -> date | datetime:
    """Twilio's date filters take `YYYY-MM-DD` or an ISO 8601 UTC time (what the SDK sends)."""
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _Fail(_twilio_error(400, 20001, f"Invalid {param} value: {value}")) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _filter_dates(
    items: list[dict[str, Any]], key: str, param: str, query: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """`Param` = on that (UTC) day, `Param<` = on or before, `Param>` = on or after.

    Twilio documents the filters with dates (YYYY-MM-DD); the SDK sends date-times
    (`2027-01-04T00:00:00Z`, even for a `date`), so `<`/`>` compare to the second.
    """
    tests: list[Callable[[datetime], bool]] = []
    for suffix in ("", "<", ">"):
        for raw in query.get(param + suffix, []):
            bound = _parse_filter_moment(raw, param + suffix)
            tests.append(_date_test(bound, suffix))
    if not tests:
        return items
    kept = []
    for item in items:
        value = item.get(key)
        moment = email.utils.parsedate_to_datetime(value) if value else None
        if moment is not None and all(test(moment) for test in tests):
            kept.append(item)
    return kept


def _date_test(bound: date | datetime, suffix: str) -> Callable[[datetime], bool]:
    if isinstance(bound, datetime):
        if suffix == "<":
            return lambda moment: moment <= bound
        if suffix == ">":
            return lambda moment: moment >= bound
        bound = bound.astimezone(UTC).date()  # `DateSent=` names a day, whatever the SDK sends
    if suffix == "<":
        return lambda moment: moment.astimezone(UTC).date() <= bound
    if suffix == ">":
        return lambda moment: moment.astimezone(UTC).date() >= bound
    return lambda moment: moment.astimezone(UTC).date() == bound


def sendgrid_mail_problems(mail: dict[str, Any], *, now: datetime) -> list[dict[str, Any]]:
    """What SendGrid's mail send refuses in `mail`, as entries of its `errors` array.

    Beyond the spec's `required` lists, SendGrid enforces rules the schema cannot express
    (a subject somewhere unless a template, content unless a template, valid addresses, no
    duplicate recipients in a personalization, text/plain first). All are reported at once,
    as SendGrid does.
    """
    problems: list[dict[str, Any]] = []
    has_template = bool(mail.get("template_id"))

    personalizations = mail.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        problems.append(
            _sg_problem(
                "The personalizations field is required and must have at least one "
                "personalization.",
                "personalizations",
                "-Personalizations-Errors",
            )
        )
        personalizations = []
    elif len(personalizations) > 1000:
        problems.append(
            _sg_problem(
                "The personalizations field may not contain more than 1000 personalizations.",
                "personalizations",
                "-Personalizations-Errors",
            )
        )
    for index, personalization in enumerate(personalizations):
        problems.extend(_personalization_problems(index, personalization))

    sender = mail.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        problems.append(
            _sg_problem(
                "The from object must be provided for every email send. It is an object that "
                "requires the email parameter, but may also contain a name parameter.  e.g. "
                '{"email" : "example@example.com"}  or {"email" : "example@example.com", '
                '"name" : "Example Recipient"}.',
                "from.email",
                "message.from",
            )
        )
    elif not _is_email(sender["email"]):
        problems.append(
            _sg_problem(
                "The from email does not contain a valid address.", "from.email", "message.from"
            )
        )
    reply_to = mail.get("reply_to")
    if isinstance(reply_to, dict) and not _is_email(reply_to.get("email")):
        problems.append(
            _sg_problem(
                "The reply_to email does not contain a valid address.",
                "reply_to.email",
                "message.reply_to",
            )
        )

    everyone_has_subject = bool(personalizations) and all(
        isinstance(p, dict) and p.get("subject") for p in personalizations
    )
    if not has_template and not mail.get("subject") and not everyone_has_subject:
        problems.append(
            _sg_problem(
                "The subject is required. You can get around this requirement if you use a "
                "template with a subject defined or if every personalization has a subject "
                "defined.",
                "subject",
                "message.subject",
            )
        )

    problems.extend(_content_problems(mail.get("content"), has_template))
    problems.extend(_custom_args_problems(mail.get("custom_args"), "custom_args"))

    categories = mail.get("categories")
    if categories is not None:
        if not isinstance(categories, list) or len(categories) > 10:
            problems.append(
                _sg_problem(
                    "Too many categories on this message. The maximum number of categories is 10.",
                    "categories",
                    "message.categories",
                )
            )
        elif any(not isinstance(c, str) or len(c) > 255 for c in categories):
            problems.append(
                _sg_problem(
                    "A category name must be a string of at most 255 characters.",
                    "categories",
                    "message.categories",
                )
            )

    headers = mail.get("headers")
    if isinstance(headers, dict):
        for name, value in headers.items():
            if name.lower() in SENDGRID_RESERVED_HEADERS:
                problems.append(
                    _sg_problem(
                        f"The header {name} is reserved and cannot be set.",
                        "headers",
                        "message.headers",
                    )
                )
            elif not isinstance(value, str):
                problems.append(
                    _sg_problem(
                        f"Invalid type. Expected: string, given: {_json_type(value)}.",
                        f"headers.{name}",
                        "message.headers",
                    )
                )

    send_at = mail.get("send_at")
    if isinstance(send_at, int) and send_at > (now + timedelta(hours=72)).timestamp():
        problems.append(
            _sg_problem(
                "The send_at parameter cannot be scheduled more than 72 hours in advance.",
                "send_at",
                "message.send_at",
            )
        )
    return problems


def _personalization_problems(index: int, personalization: Any) -> list[dict[str, Any]]:
    where = f"personalizations.{index}"
    if not isinstance(personalization, dict):
        return [_sg_problem("Each personalization must be an object.", where, None)]
    problems: list[dict[str, Any]] = []
    to = personalization.get("to")
    if not isinstance(to, list) or not to:
        problems.append(
            _sg_problem(
                "The to array is required for all personalization objects, and must have at "
                "least one email object with a valid email address.",
                f"{where}.to",
                "message.personalizations.to",
            )
        )
    seen: set[str] = set()
    for kind in ("to", "cc", "bcc"):
        recipients = personalization.get(kind)
        if not isinstance(recipients, list):
            continue
        for position, recipient in enumerate(recipients):
            address = recipient.get("email") if isinstance(recipient, dict) else None
            if not _is_email(address):
                problems.append(
                    _sg_problem(
                        "Does not contain a valid address.",
                        f"{where}.{kind}.{position}.email",
                        f"message.personalizations.{kind}",
                    )
                )
                continue
            lowered = cast(str, address).lower()
            if lowered in seen:
                problems.append(
                    _sg_problem(
                        "Each email address in the personalization block should be unique "
                        f"between to, cc, and bcc. We found the first duplicate instance of "
                        f"[{address}] in the {where}.{kind} field.",
                        f"{where}.{kind}",
                        "message.recipient_errors",
                    )
                )
            seen.add(lowered)
    sender = personalization.get("from")
    if sender is not None and not (isinstance(sender, dict) and _is_email(sender.get("email"))):
        problems.append(
            _sg_problem(
                "The from email does not contain a valid address.",
                f"{where}.from.email",
                "message.personalizations.from",
            )
        )
    problems.extend(
        _custom_args_problems(personalization.get("custom_args"), f"{where}.custom_args")
    )
    return problems


def _content_problems(content: Any, has_template: bool) -> list[dict[str, Any]]:
    if not content:
        if has_template:
            return []
        return [
            _sg_problem(
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block. We typically suggest both "
                "text/plain and text/html blocks are included, but only one block is required.",
                "content",
                "message.content",
            )
        ]
    if not isinstance(content, list):
        return [
            _sg_problem("The content parameter must be an array.", "content", "message.content")
        ]
    problems: list[dict[str, Any]] = []
    types: list[str] = []
    for index, block in enumerate(content):
        block = block if isinstance(block, dict) else {}
        if not isinstance(block.get("type"), str) or not block.get("type"):
            problems.append(
                _sg_problem(
                    "The content type must be a string at least one character in length.",
                    f"content.{index}.type",
                    "message.content.type",
                )
            )
        else:
            types.append(block["type"].lower())
        if not isinstance(block.get("value"), str) or not block.get("value"):
            problems.append(
                _sg_problem(
                    "The content value must be a string at least one character in length.",
                    f"content.{index}.value",
                    "message.content.value",
                )
            )
    if ("text/plain" in types and types[0] != "text/plain") or (
        "text/html" in types and types.index("text/html") > (1 if "text/plain" in types else 0)
    ):
        problems.append(
            _sg_problem(
                "If present, text/plain must be first, followed by html, followed by any other "
                "content.",
                "content",
                "message.content",
            )
        )
    return problems


def _custom_args_problems(custom_args: Any, where: str) -> list[dict[str, Any]]:
    if custom_args is None:
        return []
    if not isinstance(custom_args, dict):
        return [
            _sg_problem(
                f"Invalid type. Expected: object, given: {_json_type(custom_args)}.",
                where,
                "message.custom_args",
            )
        ]
    return [
        _sg_problem(
            f"Invalid type. Expected: string, given: {_json_type(value)}.",
            f"{where}.{name}",
            "message.custom_args",
        )
        for name, value in custom_args.items()
        if not isinstance(value, str)
    ]


def _is_email(value: Any) -> bool:
    return isinstance(value, str) and bool(EMAIL.fullmatch(value))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


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
    print(f"Fake Twilio + SendGrid listening on {fake.url}", flush=True)
    print(
        "Point dunning at it, e.g.:\n"
        f"  DUNNING_TWILIO_API_BASE_URL={fake.url} DUNNING_SENDGRID_API_HOST={fake.url}\n"
        f"  DUNNING_TWILIO_ACCOUNT_SID={args.account_sid} "
        f"DUNNING_TWILIO_AUTH_TOKEN={args.auth_token} "
        f"DUNNING_SENDGRID_API_KEY={args.sendgrid_api_key}",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
