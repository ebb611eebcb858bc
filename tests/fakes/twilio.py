"""The Twilio half of the provider fakes: the 2010 API's Messages and Calls.

HTTP Basic auth (401, code 20003, when wrong or missing, or when the AccountSid in the path is
not the authenticated one); create/list/fetch Messages and Calls. Validation refuses what Twilio
refuses, with Twilio's error codes (`TWILIO_ERRORS`). Unknown form fields are ignored, as Twilio
does: `provider_spec.spec_problems` is what catches typos. Lists (filters and paging) are in
`twilio_lists.py`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import email.utils
import hmac
import math
import re
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.fakes.common import Fail, RecordedRequest, Reply, is_http_url, reason
from tests.fakes.twilio_lists import InvalidFilter, list_page

TWILIO_API_VERSION = "2010-04-01"
TWILIO_PREFIX = f"/{TWILIO_API_VERSION}/"

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

E164 = re.compile(r"\+[1-9]\d{1,14}")
SHORT_CODE = re.compile(r"\d{3,8}")
ALPHANUMERIC_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
MESSAGE_CHANNELS = ("whatsapp:", "rcs:", "messenger:")

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


def twilio_error(
    status: int, code: int, message: str | None = None, headers: dict[str, str] | None = None
) -> Reply:
    return Reply(
        status,
        {
            "code": code,
            "message": message or TWILIO_ERRORS.get(code) or reason(status),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        headers or {},
    )


class FakeTwilio:
    """Twilio's routes, mixed into `FakeProviders`, which owns the state used here."""

    account_sid: str
    auth_token: str
    clock: Callable[[], datetime]
    advance_messages: bool
    messages: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    _lock: threading.RLock
    _refused: dict[str, tuple[int, str, int]]

    _TWILIO_ROUTE = re.compile(
        r"/2010-04-01/Accounts/(?P<account>[^/]+)/(?P<kind>Messages|Calls)(?:/(?P<sid>[^/.]+))?\.json"
    )

    def _twilio(self, request: RecordedRequest) -> Reply:
        self._twilio_authenticate(request)
        route = self._TWILIO_ROUTE.fullmatch(request.path)
        account = route["account"] if route else None
        if account is None:
            account_match = re.match(r"/2010-04-01/Accounts/([^/.]+)", request.path)
            account = account_match.group(1) if account_match else None
        if account is not None and account != self.account_sid:
            raise Fail(twilio_error(401, 20003))
        if route is None:
            raise Fail(self._twilio_not_found(request.path))
        kind, sid, method = route["kind"], route["sid"], request.method
        if sid is not None:
            if method != "GET":
                raise Fail(
                    twilio_error(405, 20004, f"Method not allowed: {method} (not in the fake)")
                )
            return self._twilio_fetch(request.path, kind, sid)
        if method == "POST":
            return (
                self._create_message(request) if kind == "Messages" else self._create_call(request)
            )
        if method == "GET":
            return self._list(request, kind)
        raise Fail(twilio_error(405, 20004))

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
        raise Fail(
            twilio_error(401, 20003, headers={"WWW-Authenticate": 'Basic realm="Twilio API"'})
        )

    @staticmethod
    def _twilio_not_found(path: str) -> Reply:
        return twilio_error(404, 20404, f"The requested resource {path} was not found")

    def _account_path(self) -> str:
        return f"/{TWILIO_API_VERSION}/Accounts/{self.account_sid}"

    def _refusal(self, to: str) -> None:
        with self._lock:
            refused = self._refused.get(to)
        if refused is not None:
            code, message, status = refused
            raise Fail(twilio_error(status, code, message))

    def _create_message(self, request: RecordedRequest) -> Reply:
        form = request.form or {}

        def first(name: str) -> str:
            return (form.get(name) or [""])[0]

        to, from_, service = first("To"), first("From"), first("MessagingServiceSid")
        body, media = first("Body"), [url for url in form.get("MediaUrl", []) if url]
        if not to:
            raise Fail(twilio_error(400, 21604))
        if not from_ and not service:
            raise Fail(twilio_error(400, 21603))
        if not body and not media and not first("ContentSid"):
            raise Fail(twilio_error(400, 21602))
        if not _is_message_address(to):
            raise Fail(
                twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
            )
        if from_ and not _is_message_sender(from_):
            raise Fail(
                twilio_error(
                    400,
                    21212,
                    f"The 'From' number {from_} is not a valid phone number, shortcode, "
                    "or alphanumeric sender ID.",
                )
            )
        if len(body) > 1600:
            raise Fail(twilio_error(400, 21617))
        callback = first("StatusCallback")
        if callback and not is_http_url(callback):
            raise Fail(
                twilio_error(400, 21609, f"The StatusCallback URL {callback} is not a valid URL.")
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
        return Reply(201, answer)

    def _create_call(self, request: RecordedRequest) -> Reply:
        form = request.form or {}

        def first(name: str) -> str:
            return (form.get(name) or [""])[0]

        to, from_ = first("To"), first("From")
        url, twiml, application = first("Url"), first("Twiml"), first("ApplicationSid")
        if not to:
            raise Fail(twilio_error(400, 21201))
        if not from_:
            raise Fail(twilio_error(400, 21213))
        if not (url or twiml or application):
            raise Fail(twilio_error(400, 21205))
        if not _is_call_endpoint(to):
            raise Fail(twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}"))
        if not _is_call_endpoint(from_):
            raise Fail(twilio_error(400, 21212, f"Invalid 'From' Phone Number: {from_}"))
        if url and not is_http_url(url):
            raise Fail(twilio_error(400, 21205, f"Url is not a valid URL: {url}"))
        detection = first("MachineDetection")
        if detection and detection not in ("Enable", "DetectMessageEnd"):
            raise Fail(twilio_error(400, 21234, f"Invalid MachineDetection value: {detection}"))
        for name, (low, high) in MACHINE_DETECTION_RANGES.items():
            value = first(name)
            if value and not (value.isdigit() and low <= int(value) <= high):
                raise Fail(twilio_error(400, 21234, f"{name} must be between {low} and {high}"))
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
        return Reply(201, copy.deepcopy(call))

    def _twilio_fetch(self, path: str, kind: str, sid: str) -> Reply:
        with self._lock:
            resources = self.messages if kind == "Messages" else self.calls
            found = next((r for r in resources if r["sid"] == sid), None)
            if found is not None:
                return Reply(200, copy.deepcopy(found))
        raise Fail(self._twilio_not_found(path))

    def _list(self, request: RecordedRequest, kind: str) -> Reply:
        with self._lock:
            items = copy.deepcopy(self.messages if kind == "Messages" else self.calls)
        try:
            return list_page(items, kind, request.query, self._account_path())
        except InvalidFilter as exc:
            raise Fail(twilio_error(400, 20001, str(exc))) from None


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
