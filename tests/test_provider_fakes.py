"""The provider fakes, driven by the real SDKs (twilio 9.13, sendgrid 6.12), checked against the
providers' official OpenAPI specs.

How the SDKs are pointed at the fake (see `tests/fakes/providers.py`, `twilio.py`, `sendgrid.py`):
- Twilio: `Client(sid, token, http_client=TwilioHttpClient(timeout=...))`, then
  `client.api.base_url = fake.url`. Every 2010-API URL (including `next_page_uri` links) is
  built from the `Api` domain's `base_url`. TWILIO_EDGE / TWILIO_REGION must be unset, or the
  SDK rewrites the host.
- SendGrid: `SendGridAPIClient(key, host=fake.url)`, plus `sg.client.timeout = ...` because
  python_http_client has no timeout by default.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from python_http_client.exceptions import (
    BadRequestsError,
    HTTPError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
)
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Category, CustomArg, Email, Header, Mail, To
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from tests.fakes.common import RecordedRequest
from tests.fakes.provider_spec import (
    SPEC_FILES,
    SPECS_ENV,
    load_spec,
    response_problems,
    spec_problems,
    specs_dir,
)
from tests.fakes.providers import FakeProviders
from tests.fakes.twilio import sms_segments

ACCOUNT_SID = "AC" + "1a2b3c4d" * 4
AUTH_TOKEN = "test-auth-token"
SENDGRID_KEY = "SG.test-key"
FROM = "+14155550100"
TO = "+33612345678"
NOW = datetime(2038, 1, 4, 9, 30, tzinfo=UTC)
REPO_ROOT = Path(__file__).resolve().parents[1]


class Clock:
    """A settable "now" for the fake, so tests can filter on dates."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def _local_traffic_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy for 127.0.0.1, and no Twilio edge/region host rewriting."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for name in ("TWILIO_EDGE", "TWILIO_REGION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeProviders]:
    with FakeProviders(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        sendgrid_api_key=SENDGRID_KEY,
        clock=clock,
    ) as providers:
        yield providers
    assert providers.errors == [], "the fake itself crashed"


def twilio_client(
    fake: FakeProviders, *, token: str = AUTH_TOKEN, hooks: dict[str, Any] | None = None
) -> Client:
    client = Client(
        ACCOUNT_SID, token, http_client=TwilioHttpClient(timeout=5, request_hooks=hooks)
    )
    client.api.base_url = fake.url
    return client


@pytest.fixture
def twilio(fake: FakeProviders) -> Client:
    return twilio_client(fake)


def sendgrid_client(fake: FakeProviders, key: str = SENDGRID_KEY) -> SendGridAPIClient:
    client = SendGridAPIClient(key, host=fake.url)
    client.client.timeout = 5
    return client


@pytest.fixture
def sendgrid(fake: FakeProviders) -> SendGridAPIClient:
    return sendgrid_client(fake)


def assert_conforms(requests_: list[RecordedRequest]) -> None:
    """Every request, and every success answer, as the official specs describe them."""
    missing = [name for name in SPEC_FILES.values() if not (specs_dir() / name).is_file()]
    if missing:
        pytest.skip(f"provider specs not found in {specs_dir()} (set {SPECS_ENV})")
    assert requests_, "nothing was sent"
    for request in requests_:
        assert spec_problems(request) == [], (request.method, request.path)
        if request.response_status is not None:
            answer = response_problems(
                request.provider,
                request.method,
                request.path,
                request.response_status,
                request.response_body,
            )
            assert answer == [], (request.method, request.path)


def needs_specs() -> None:
    if not all((specs_dir() / name).is_file() for name in SPEC_FILES.values()):
        pytest.skip(f"provider specs not found in {specs_dir()} (set {SPECS_ENV})")


def a_mail(to: str = "claire@example.org") -> Mail:
    """A message shaped like the dunning email transport's."""
    mail = Mail(
        from_email=Email("billing@creditor.example", "Creditor Billing"),
        to_emails=To(to, "Claire Martin"),
        subject="Votre facture est en retard",
        plain_text_content="Bonjour Claire, ...",
        html_content="<p>Bonjour Claire, ...</p>",
    )
    mail.header = Header(
        "List-Unsubscribe", "<https://pay.example/unsubscribe/t0k>, <mailto:billing@example.org>"
    )
    mail.header = Header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    mail.custom_arg = CustomArg("account_id", "A-1001")
    mail.custom_arg = CustomArg("idempotency_key", "A-1001:reminder-1:1")
    mail.category = [Category("ladder:consumer-standard"), Category("step:reminder-1")]
    return mail


def valid_mail_json(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": "claire@example.org"}]}],
        "from": {"email": "billing@creditor.example"},
        "subject": "Reminder",
        "content": [{"type": "text/plain", "value": "Hello"}],
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


# -- Twilio: messages --------------------------------------------------------------------------


def test_sms_create_list_and_fetch(fake: FakeProviders, twilio: Client) -> None:
    sent = twilio.messages.create(
        to=TO, from_=FROM, body="Bonjour Claire", status_callback="https://hooks.example/sms"
    )
    assert re.fullmatch(r"SM[0-9a-f]{32}", sent.sid)
    assert (sent.status, sent.to, sent.from_, sent.body) == ("queued", TO, FROM, "Bonjour Claire")
    assert sent.direction == "outbound-api"
    assert sent.num_segments == "1"
    assert sent.date_created == NOW  # RFC 2822 on the wire, parsed by the SDK
    assert sent.date_sent is None  # not sent yet when Twilio answers
    assert fake.requests[0].raw.count(b"StatusCallback=https%3A%2F%2Fhooks.example%2Fsms") == 1

    twilio.messages.create(to="+33698765432", from_=FROM, body="Someone else")
    listed = twilio.messages.list(to=TO)
    assert [m.sid for m in listed] == [sent.sid]
    assert listed[0].status == "sent"  # the fake's carrier is instantaneous
    assert listed[0].date_sent == NOW

    fetched = twilio.messages(sent.sid).fetch()
    assert (fetched.sid, fetched.status) == (sent.sid, "sent")
    assert fake.messages[0]["sid"] == sent.sid
    assert_conforms(fake.requests)


def test_sms_resource_has_every_property_of_the_spec_schema(
    fake: FakeProviders, twilio: Client
) -> None:
    needs_specs()
    twilio.messages.create(to=TO, from_=FROM, body="Hi")
    twilio.calls.create(to=TO, from_=FROM, twiml="<Response><Say>Hi</Say></Response>")
    spec = load_spec("twilio")
    for resource, schema in (
        (fake.requests[0].response_json, "api.v2010.account.message"),
        (fake.requests[1].response_json, "api.v2010.account.call"),
    ):
        properties = spec.document["components"]["schemas"][schema]["properties"]
        assert set(resource) == set(properties), schema


def test_sms_through_a_messaging_service_is_accepted(fake: FakeProviders, twilio: Client) -> None:
    service = "MG" + "0123456789abcdef" * 2
    sent = twilio.messages.create(to=TO, messaging_service_sid=service, body="Hi")
    assert (sent.status, sent.from_, sent.messaging_service_sid) == ("accepted", None, service)
    assert_conforms(fake.requests)


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"to": "", "from_": FROM, "body": "Hi"}, 21604),
        ({"to": TO, "body": "Hi"}, 21603),
        ({"to": TO, "from_": FROM}, 21602),
        ({"to": "0612345678", "from_": FROM, "body": "Hi"}, 21211),
        ({"to": TO, "from_": "+1 415 555", "body": "Hi"}, 21212),
        ({"to": TO, "from_": FROM, "body": "x" * 1601}, 21617),
        ({"to": TO, "from_": FROM, "body": "Hi", "status_callback": "/relative"}, 21609),
    ],
)
def test_sms_refused_like_twilio(
    fake: FakeProviders, twilio: Client, arguments: dict[str, str], code: int
) -> None:
    with pytest.raises(TwilioRestException) as refused:
        twilio.messages.create(**arguments)
    assert (refused.value.status, refused.value.code) == (400, code)
    assert fake.messages == []


def test_sms_segments_count_like_twilio() -> None:
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2  # 153 septets per concatenated segment
    assert sms_segments("€" * 80) == 1  # extension characters cost two septets
    assert sms_segments("€" * 81) == 2
    assert sms_segments("ç" * 70) == 1  # not GSM-7 (only Ç is): UCS-2, 70 per segment
    assert sms_segments("ç" * 71) == 2


def test_list_follows_next_page_uri(fake: FakeProviders, twilio: Client, clock: Clock) -> None:
    sids = []
    for minute in range(5):
        clock.now = NOW + timedelta(minutes=minute)
        sids.append(twilio.messages.create(to=TO, from_=FROM, body=f"#{minute}").sid)
    listed = twilio.messages.list(to=TO, page_size=2)
    assert [m.sid for m in listed] == list(reversed(sids))  # newest first, over three pages
    pages = fake.requests_for("twilio", "GET")
    assert len(pages) == 3
    assert pages[1].query["Page"] == ["1"] and pages[1].query["To"] == [TO]
    assert pages[-1].response_json["next_page_uri"] is None
    assert_conforms(fake.requests)


def test_date_sent_filters(fake: FakeProviders, twilio: Client, clock: Clock) -> None:
    clock.now = NOW - timedelta(days=1)
    old = twilio.messages.create(to=TO, from_=FROM, body="yesterday").sid
    clock.now = NOW
    new = twilio.messages.create(to=TO, from_=FROM, body="today").sid

    after = twilio.messages.list(to=TO, date_sent_after=NOW - timedelta(minutes=1))
    assert [m.sid for m in after] == [new]
    before = twilio.messages.list(date_sent_before=NOW - timedelta(hours=1))
    assert [m.sid for m in before] == [old]
    on_day = twilio.messages.list(date_sent=NOW.date())
    assert [m.sid for m in on_day] == [new]
    # Even for a `date`, the SDK sends a date-time (Twilio's docs show YYYY-MM-DD).
    assert fake.requests[-1].query == {"DateSent": ["2038-01-04T00:00:00Z"]}
    assert_conforms(fake.requests)


# -- Twilio: calls -----------------------------------------------------------------------------


def test_voicemail_call_with_machine_detection(fake: FakeProviders, twilio: Client) -> None:
    twiml = '<Response><Say language="fr-FR">Bonjour</Say></Response>'
    call = twilio.calls.create(
        to=TO,
        from_=FROM,
        twiml=twiml,
        machine_detection="DetectMessageEnd",
        machine_detection_timeout=30,
        async_amd="true",
        status_callback="https://hooks.example/voice",
        status_callback_event=["initiated", "answered", "completed"],
    )
    assert re.fullmatch(r"CA[0-9a-f]{32}", call.sid)
    assert (call.status, call.to, call.direction) == ("queued", TO, "outbound-api")
    # Surprise: MessageInstance has `from_`, CallInstance only a "private" `_from`.
    assert not hasattr(call, "from_") and call._from == FROM
    sent = fake.requests[-1]
    # A list parameter goes out as the same key repeated, not `StatusCallbackEvent[]`.
    assert sent.form is not None
    assert sent.form["StatusCallbackEvent"] == ["initiated", "answered", "completed"]
    assert sent.form["Twiml"] == [twiml]
    assert sent.form["MachineDetectionTimeout"] == ["30"]

    twilio.calls.create(to="+33698765432", from_=FROM, url="https://hooks.example/twiml")
    listed = twilio.calls.list(to=TO)
    assert [c.sid for c in listed] == [call.sid]
    assert fake.calls[0]["sid"] == call.sid
    assert_conforms(fake.requests)


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"to": "", "from_": FROM, "url": "https://x.example/t"}, 21201),
        ({"to": TO, "from_": "", "url": "https://x.example/t"}, 21213),
        ({"to": TO, "from_": FROM}, 21205),
        ({"to": TO, "from_": FROM, "url": "not a url"}, 21205),
        ({"to": "33612345678", "from_": FROM, "url": "https://x.example/t"}, 21211),
        ({"to": TO, "from_": FROM, "url": "https://x.example/t", "machine_detection": "On"}, 21234),
        (
            {
                "to": TO,
                "from_": FROM,
                "url": "https://x.example/t",
                "machine_detection": "Enable",
                "machine_detection_timeout": 120,
            },
            21234,
        ),
    ],
)
def test_call_refused_like_twilio(
    fake: FakeProviders, twilio: Client, arguments: dict[str, Any], code: int
) -> None:
    with pytest.raises(TwilioRestException) as refused:
        twilio.calls.create(**arguments)
    assert (refused.value.status, refused.value.code) == (400, code)
    assert fake.calls == []


# -- Twilio: errors ----------------------------------------------------------------------------


def test_twilio_bad_credentials(fake: FakeProviders) -> None:
    client = twilio_client(fake, token="wrong")
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(to=TO, from_=FROM, body="Hi")
    assert (refused.value.status, refused.value.code) == (401, 20003)
    assert fake.requests[-1].response_headers["WWW-Authenticate"] == 'Basic realm="Twilio API"'
    assert fake.requests[-1].response_json == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    # Surprise: a list that fails raises the bare TwilioException("Unable to fetch page"),
    # without status or code, not a TwilioRestException.
    with pytest.raises(TwilioException) as failed:
        client.messages.list(to=TO)
    assert not isinstance(failed.value, TwilioRestException)
    assert fake.messages == []


def test_twilio_account_sid_in_path_must_be_the_authenticated_one(fake: FakeProviders) -> None:
    client = twilio_client(fake)
    other = "AC" + "f" * 32
    with pytest.raises(TwilioRestException) as refused:
        client.api.v2010.accounts(other).messages.create(to=TO, from_=FROM, body="Hi")
    assert (refused.value.status, refused.value.code) == (401, 20003)


def test_refused_number(fake: FakeProviders, twilio: Client) -> None:
    fake.refuse_number(TO, 21614, "'To' number is not a valid mobile number")
    with pytest.raises(TwilioRestException) as refused:
        twilio.messages.create(to=TO, from_=FROM, body="Hi")
    assert (refused.value.status, refused.value.code) == (400, 21614)
    assert "not a valid mobile number" in refused.value.msg
    with pytest.raises(TwilioRestException):
        twilio.calls.create(to=TO, from_=FROM, url="https://x.example/t")
    assert twilio.messages.create(to="+33698765432", from_=FROM, body="Hi").status == "queued"


def test_injected_429_carries_retry_after(fake: FakeProviders) -> None:
    # TwilioRestException has no headers: a `response` hook on the http client is how a caller
    # can see Retry-After.
    seen: list[requests.Response] = []
    client = twilio_client(fake, hooks={"response": [lambda r, *_, **__: seen.append(r)]})
    fake.fail_next(provider="twilio", status=429, retry_after=3)
    with pytest.raises(TwilioRestException) as limited:
        client.messages.create(to=TO, from_=FROM, body="Hi")
    assert (limited.value.status, limited.value.code) == (429, 20429)
    assert seen[-1].status_code == 429
    assert seen[-1].headers["Retry-After"] == "3"
    assert client.http_client._test_only_last_response.headers["Retry-After"] == "3"
    assert client.messages.create(to=TO, from_=FROM, body="Hi").status == "queued"


def test_injected_failures_can_target_one_method(fake: FakeProviders, twilio: Client) -> None:
    fake.fail_next(provider="twilio", status=503, times=2, method="POST")
    assert twilio.messages.list() == []  # GETs are not affected
    for _ in range(2):
        with pytest.raises(TwilioRestException) as failed:
            twilio.messages.create(to=TO, from_=FROM, body="Hi")
        assert (failed.value.status, failed.value.code) == (503, 20503)
    assert twilio.messages.create(to=TO, from_=FROM, body="Hi").status == "queued"


def test_twilio_unknown_path_is_a_twilio_404(fake: FakeProviders, twilio: Client) -> None:
    response = twilio.request("GET", f"{fake.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Nope.json")
    assert response.status_code == 404
    assert json.loads(response.text)["code"] == 20404
    with pytest.raises(TwilioRestException) as missing:
        twilio.messages("SM" + "0" * 32).fetch()
    assert (missing.value.status, missing.value.code) == (404, 20404)


def test_dropped_connection_after_the_send(fake: FakeProviders, twilio: Client) -> None:
    """The client cannot tell whether it sent: the message exists all the same."""
    fake.drop_next(provider="twilio")
    with pytest.raises(requests.exceptions.ConnectionError):
        twilio.messages.create(to=TO, from_=FROM, body="Hi")
    assert fake.requests[-1].response_status is None
    assert [m.to for m in twilio.messages.list(to=TO)] == [TO]

    fake.drop_next(provider="twilio", after_processing=False)
    with pytest.raises(requests.exceptions.ConnectionError):
        twilio.messages.create(to=TO, from_=FROM, body="Again")
    assert len(fake.messages) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_twilio_can_create_a_message_and_still_answer_5xx(
    fake: FakeProviders, twilio: Client, status: int
) -> None:
    """Twilio's front end failing after the back end took the message: really sent."""
    fake.fail_next(provider="twilio", status=status, method="POST", after_processing=True)
    with pytest.raises(TwilioRestException) as failed:
        twilio.messages.create(to=TO, from_=FROM, body="Hi")
    assert failed.value.status == status
    assert fake.requests[0].response_status == status
    assert [m.sid for m in twilio.messages.list(to=TO)] == [fake.messages[0]["sid"]]
    assert twilio.messages.create(to=TO, from_=FROM, body="Again").status == "queued"


def test_twilio_can_place_a_call_and_still_answer_5xx(fake: FakeProviders, twilio: Client) -> None:
    fake.fail_next(provider="twilio", status=502, method="POST", after_processing=True)
    with pytest.raises(TwilioRestException) as failed:
        twilio.calls.create(to=TO, from_=FROM, url="https://hooks.example.org/twilio/voice")
    assert failed.value.status == 502
    assert [c.sid for c in twilio.calls.list(to=TO)] == [fake.calls[0]["sid"]]


def test_a_refused_request_failed_after_processing_created_nothing(
    fake: FakeProviders, twilio: Client
) -> None:
    fake.fail_next(provider="twilio", status=500, after_processing=True)
    with pytest.raises(TwilioRestException) as failed:
        twilio.messages.create(to="not-a-number", from_=FROM, body="Hi")
    assert failed.value.status == 500 and fake.messages == []


# -- SendGrid ----------------------------------------------------------------------------------


def test_sendgrid_send(fake: FakeProviders, sendgrid: SendGridAPIClient) -> None:
    mail = a_mail()
    response = sendgrid.send(mail)
    assert response.status_code == 202
    assert response.body == b""
    message_id = response.headers["X-Message-Id"]
    assert message_id and fake.email_message_ids == [message_id]
    assert fake.emails == [mail.get()]
    sent = fake.emails[0]
    assert sent["custom_args"] == {"account_id": "A-1001", "idempotency_key": "A-1001:reminder-1:1"}
    assert sent["content"][0]["type"] == "text/plain"  # SendGrid wants text/plain first
    assert sent["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The helper prepends categories: they go out in reverse order of assignment.
    assert sent["categories"] == ["step:reminder-1", "ladder:consumer-standard"]
    assert fake.requests[0].header("authorization") == f"Bearer {SENDGRID_KEY}"
    assert_conforms(fake.requests)


def test_sendgrid_bad_key(fake: FakeProviders) -> None:
    with pytest.raises(UnauthorizedError) as refused:
        sendgrid_client(fake, key="SG.wrong").send(a_mail())
    assert json.loads(refused.value.body) == {
        "errors": [
            {
                "field": None,
                "message": "The provided authorization grant is invalid, expired, or revoked",
            }
        ]
    }
    assert fake.emails == []


def test_sendgrid_invalid_recipient(fake: FakeProviders, sendgrid: SendGridAPIClient) -> None:
    with pytest.raises(BadRequestsError) as refused:
        sendgrid.send(valid_mail_json(personalizations=[{"to": [{"email": "not-an-email"}]}]))
    errors = json.loads(refused.value.body)["errors"]
    assert [e["field"] for e in errors] == ["personalizations.0.to.0.email"]
    assert errors[0]["message"] == "Does not contain a valid address."
    assert errors[0]["help"].startswith("http://sendgrid.com/docs/")
    # With a display name, the Mail helper sends the address as given and SendGrid refuses it.
    with pytest.raises(BadRequestsError) as refused:
        sendgrid.send(a_mail(to="not-an-email"))
    assert "personalizations.0.to.0.email" in refused.value.body.decode()
    # Without a name, an address lacking "@" never leaves the process: the helper takes it for
    # a display name and `Mail.get()` (called by `send`) fails with KeyError('email').
    with pytest.raises(KeyError):
        sendgrid.send(Mail(from_email="billing@creditor.example", to_emails=To("not-an-email")))
    assert fake.emails == []
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"subject": None}, ["subject"]),
        ({"content": None}, ["content"]),
        ({"content": None, "subject": None, "template_id": "d-123"}, []),
        ({"from": {"name": "No address"}}, ["from.email"]),
        ({"personalizations": []}, ["personalizations"]),
        (
            {
                "personalizations": [
                    {"to": [{"email": "a@x.example"}], "cc": [{"email": "a@x.example"}]}
                ]
            },
            ["personalizations.0.cc"],
        ),
        (
            {
                "content": [
                    {"type": "text/html", "value": "<p>Hi</p>"},
                    {"type": "text/plain", "value": "Hi"},
                ]
            },
            ["content"],
        ),
        ({"custom_args": {"attempt": 1}}, ["custom_args.attempt"]),
        ({"headers": {"Subject": "override"}}, ["headers"]),
    ],
)
def test_sendgrid_validation(
    fake: FakeProviders,
    sendgrid: SendGridAPIClient,
    changes: dict[str, Any],
    fields: list[str],
) -> None:
    body = valid_mail_json(**changes)
    if not fields:
        assert sendgrid.send(body).status_code == 202
        return
    with pytest.raises(BadRequestsError) as refused:
        sendgrid.send(body)
    assert [e["field"] for e in json.loads(refused.value.body)["errors"]] == fields


def test_sendgrid_injected_429(fake: FakeProviders, sendgrid: SendGridAPIClient) -> None:
    fake.fail_next(provider="sendgrid", status=429, retry_after=7)
    with pytest.raises(TooManyRequestsError) as limited:
        sendgrid.send(a_mail())
    headers = limited.value.headers
    assert headers["Retry-After"] == "7"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert int(headers["X-RateLimit-Reset"]) == int(NOW.timestamp()) + 7
    assert json.loads(limited.value.body) == {
        "errors": [{"field": None, "message": "too many requests"}]
    }
    assert sendgrid.send(a_mail()).status_code == 202


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_sendgrid_can_accept_an_email_and_still_answer_5xx(
    fake: FakeProviders, sendgrid: SendGridAPIClient, status: int
) -> None:
    fake.fail_next(provider="sendgrid", status=status, after_processing=True)
    with pytest.raises(HTTPError) as failed:
        sendgrid.send(a_mail())
    assert failed.value.status_code == status
    assert len(fake.emails) == 1  # accepted all the same: SendGrid will report it processed
    [error] = json.loads(failed.value.body)["errors"]  # the spec's ErrorResponse
    assert isinstance(error["message"], str) and error["message"]
    [event] = fake.sendgrid_processed_events()
    assert event["idempotency_key"] == "A-1001:reminder-1:1"


def test_sendgrid_processed_events_are_shaped_like_the_event_webhooks(
    fake: FakeProviders, sendgrid: SendGridAPIClient
) -> None:
    """Per SendGrid's Event Webhook reference: one `processed` per recipient, Unix
    `timestamp`, `sg_message_id` starting with the X-Message-Id, custom args at the top."""
    sendgrid.send(a_mail())
    [event] = events = fake.sendgrid_processed_events()
    assert event["event"] == "processed" and event["email"] == "claire@example.org"
    assert event["timestamp"] == int(NOW.timestamp())
    assert event["sg_message_id"].startswith(fake.email_message_ids[0] + ".")
    assert (event["account_id"], event["idempotency_key"]) == ("A-1001", "A-1001:reminder-1:1")
    assert event["category"] == ["step:reminder-1", "ladder:consumer-standard"]
    assert isinstance(event["sg_event_id"], str) and event["sg_event_id"]
    assert fake.sendgrid_processed_events() == events  # a repeated post carries the same ids


def test_sendgrid_unknown_path(fake: FakeProviders, sendgrid: SendGridAPIClient) -> None:
    with pytest.raises(NotFoundError) as missing:
        sendgrid.client.mail.unknown.get()
    assert json.loads(missing.value.body)["errors"][0]["message"] == "not found"


def test_sendgrid_dropped_connection(fake: FakeProviders, sendgrid: SendGridAPIClient) -> None:
    fake.drop_next(provider="sendgrid")
    with pytest.raises(OSError):  # http.client.RemoteDisconnected, not an HTTPError
        sendgrid.send(a_mail())
    assert len(fake.emails) == 1  # SendGrid accepted it anyway


# -- the spec checker --------------------------------------------------------------------------


def form_request(path: str, form: dict[str, list[str]], **query: list[str]) -> RecordedRequest:
    return RecordedRequest(
        provider="twilio",
        method="POST",
        path=path,
        query=dict(query),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic eDp5",
        },
        form=form,
        json=None,
        raw=b"(form)",
    )


def json_request(body: Any, *, path: str = "/v3/mail/send") -> RecordedRequest:
    return RecordedRequest(
        provider="sendgrid",
        method="POST",
        path=path,
        query={},
        headers={"Content-Type": "application/json", "Authorization": "Bearer k"},
        form=None,
        json=body,
        raw=json.dumps(body).encode(),
    )


MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
CALLS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"


def test_spec_problems_catch_what_twilio_would_ignore() -> None:
    needs_specs()
    ok = {"To": [TO], "From": [FROM], "Body": ["Hi"]}
    assert spec_problems(form_request(MESSAGES, ok)) == []

    typo = spec_problems(form_request(MESSAGES, {**ok, "Statuscallback": ["https://x.example"]}))
    assert len(typo) == 1
    assert "'Statuscallback' is not defined" in typo[0] and "'StatusCallback'" in typo[0]

    assert any("'To' is required" in p for p in spec_problems(form_request(MESSAGES, {})))
    assert any(
        "sent 2 times" in p for p in spec_problems(form_request(MESSAGES, {**ok, "To": [TO, TO]}))
    )
    call = {"To": [TO], "From": [FROM], "Twiml": ["<Say>Hi</Say>"], "Timeout": ["soon"]}
    problems = spec_problems(form_request(CALLS, call))
    assert any("<Say>, not <Response>" in p for p in problems)
    assert any("Timeout: 'soon' is not an integer" in p for p in problems)
    bad_query = form_request(MESSAGES, ok, **{"DateSent>=": ["2038-01-01"]})
    assert any("'DateSent>=' is not defined" in p for p in spec_problems(bad_query))


def test_spec_problems_for_paths_methods_media_types_and_auth() -> None:
    needs_specs()
    ok = {"To": [TO], "From": [FROM], "Body": ["Hi"]}
    assert "no path" in spec_problems(form_request("/2010-04-01/Messages.json", ok))[0]
    bad_sid = spec_problems(form_request(MESSAGES.replace(ACCOUNT_SID, "ACnope"), ok))
    assert any("path parameter AccountSid" in p for p in bad_sid)
    deleting = form_request(MESSAGES, ok)
    deleting.method = "DELETE"
    assert "DELETE is not defined" in spec_problems(deleting)[0]
    as_json = form_request(MESSAGES, ok)
    as_json.headers["Content-Type"] = "application/json"
    assert "media type 'application/json'" in spec_problems(as_json)[0]
    anonymous = json_request(valid_mail_json())
    anonymous.headers.pop("Authorization")
    assert spec_problems(anonymous) == [
        "POST /v3/mail/send: Authorization must use bearer authentication"
    ]


def test_spec_problems_walk_sendgrid_json() -> None:
    needs_specs()
    assert spec_problems(json_request(valid_mail_json())) == []
    body = valid_mail_json(
        personalizations=[{"to": [{"name": "No address"}], "subjet": "typo"}],
        **{"from": {"name": "Nobody"}},
        send_at="tomorrow",
        mail_settings={"sandbox_mode": {"enabled": True}},
    )
    problems = [p.removeprefix("POST /v3/mail/send: ") for p in spec_problems(json_request(body))]
    assert "personalizations[0].to[0].email: required" in problems
    assert "from.email: required" in problems
    assert "send_at: expected integer, got string" in problems
    assert any(p.startswith("personalizations[0].subjet: not defined") for p in problems)
    assert any(p.startswith("mail_settings.sandbox_mode.enabled: not defined") for p in problems)
    assert len(problems) == 5
    missing_top = spec_problems(json_request({"from": {"email": "a@x.example"}}))
    assert missing_top == ["POST /v3/mail/send: personalizations: required"]


def test_response_problems() -> None:
    needs_specs()
    assert response_problems("sendgrid", "POST", "/v3/mail/send", 202, b"") == []
    assert response_problems("sendgrid", "POST", "/v3/mail/send", 429, b"{}") == []
    assert "no body" in response_problems("sendgrid", "POST", "/v3/mail/send", 202, b"{}")[0]
    assert "302" in response_problems("sendgrid", "POST", "/v3/mail/send", 302, b"")[0]
    problems = response_problems(
        "twilio",
        "POST",
        MESSAGES,
        201,
        {"sid": "SM" + "0" * 32, "date_created": "2038-01-04T09:30:00Z", "price_eur": "1"},
    )
    assert len(problems) == 2
    assert "date_created" in problems[0] and "RFC 2822" in problems[0]
    assert "price_eur: not defined" in problems[1]


def test_specs_location_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    needs_specs()
    real = specs_dir()
    monkeypatch.setenv(SPECS_ENV, str(tmp_path))
    assert specs_dir() == tmp_path
    with pytest.raises(FileNotFoundError, match=SPECS_ENV):
        load_spec("twilio")
    monkeypatch.setenv(SPECS_ENV, str(real))
    assert "/v3/mail/send" in load_spec("sendgrid").document["paths"]


# -- the server itself -------------------------------------------------------------------------


def test_concurrent_clients(fake: FakeProviders) -> None:
    errors: list[BaseException] = []

    def send(index: int) -> None:
        try:
            twilio_client(fake).messages.create(to=TO, from_=FROM, body=f"#{index}")
            sendgrid_client(fake).send(a_mail())
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(fake.messages) == len(fake.emails) == 16
    assert len({m["sid"] for m in fake.messages}) == 16
    assert len(fake.requests) == 32


def test_stop_closes_kept_alive_connections_and_the_port() -> None:
    fake = FakeProviders(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN).start()
    client = twilio_client(fake)  # requests keeps the connection alive
    client.messages.create(to=TO, from_=FROM, body="Hi")
    thread = fake._thread
    fake.stop()
    assert thread is not None and not thread.is_alive()
    with pytest.raises(requests.exceptions.ConnectionError):
        client.messages.create(to=TO, from_=FROM, body="Hi")
    fake.stop()  # idempotent


def test_command_line_serves_in_the_foreground() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.providers",
            "--port",
            "0",
            "--sendgrid-api-key",
            SENDGRID_KEY,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watchdog = threading.Timer(30, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"listening on (http://\S+)", first)
        assert found, first
        client = SendGridAPIClient(SENDGRID_KEY, host=found.group(1))
        client.client.timeout = 5
        assert client.send(a_mail()).status_code == 202
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert re.search(r"sendgrid +POST /v3/mail/send -> 202 to=\['claire@example.org'\]", output)
