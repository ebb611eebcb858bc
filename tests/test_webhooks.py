"""The webhook server's HTTP layer: signatures, parsing, routing, answers, and fuzzing.

Accounts live in an in-memory gateway here so every route and every refusal can be exercised
quickly; `test_webhooks_end_to_end.py` runs the same application against the real dev server.
Signatures come from the providers' own code paths: Twilio's `RequestValidator`, and for
SendGrid an ECDSA P-256 key signing "<timestamp><body>" exactly as SendGrid's Event Webhook
does, verified by the SDK's `EventWebhook` helper (itself checked against SendGrid's published
example).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from activities.channels.sendgrid.email_text import reply_text
from activities.channels.sendgrid.signatures import sendgrid_valid
from activities.channels.twilio.call_scripts import CallScript
from activities.channels.twilio.signatures import twilio_valid
from activities.channels.unsubscribe import unsubscribe_token
from activities.replies import classify_reply
from config.ladder import Channel
from config.settings import load_settings
from inbound.accounts import AccountsUnavailable, UnknownAccount
from inbound.app import create_app
from inbound.security import payment_signature
from intake.contact_keys import normalise_email, normalise_phone
from store import SqlStore, open_store
from workflows.types import AccountEvent, AccountView, EventResult, Status

PUBLIC = "https://hooks.example.org"
TOKEN = "twilio-token"
PAYMENTS = "payments-secret"
PARSE = "parse-secret"
NOW = datetime(2038, 1, 4, 9, 0, tzinfo=UTC)

SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


# ---- an in-memory account gateway -----------------------------------------------------------


def view(account_id: str, locale: str = "en", currency: str = "EUR") -> AccountView:
    return AccountView(
        account_id=account_id,
        ladder_name="consumer-standard",
        ladder_version=1,
        status=Status.ACTIVE,
        balance=Decimal("120.50"),
        currency=currency,
        ladder_day=3.0,
        due_at=NOW,
        zones=("Europe/Paris",),
        next_contact_at=None,
        next_step=None,
        contacts=[],
        events=[],
        skipped_steps=[],
        unusable_channels={},
        history_length=10,
        runs=1,
        as_of=NOW,
        locale=locale,
    )


@dataclass
class MemoryAccounts:
    views: dict[str, AccountView] = field(default_factory=dict)
    contacts: dict[str, list[str]] = field(default_factory=dict)
    applied: list[tuple[str, AccountEvent]] = field(default_factory=list)
    seen: dict[tuple[str, str], EventResult] = field(default_factory=dict)  # per account
    down: bool = False

    def add(self, account_id: str, phone: str | None = None, email: str | None = None, **kw):
        self.views[account_id] = view(account_id, **kw)
        for key in (normalise_phone(phone or ""), normalise_email(email or "")):
            if key:
                self.contacts.setdefault(key, []).append(account_id)

    def _check(self) -> None:
        if self.down:
            raise AccountsUnavailable("Temporal unreachable")

    async def find(self, kind: str, value: str) -> list[str]:
        self._check()
        key = normalise_phone(value) if kind == "phone" else normalise_email(value)
        return list(self.contacts.get(key or "", []))

    async def view(self, account_id: str) -> AccountView | None:
        self._check()
        return self.views.get(account_id)

    async def apply(self, account_id: str, event: AccountEvent) -> EventResult:
        self._check()
        if account_id not in self.views:
            raise UnknownAccount(f"no account {account_id}")
        if (account_id, event.event_id or "") in self.seen:
            return self.seen[account_id, event.event_id or ""].model_copy(
                update={"duplicate": True}
            )
        self.applied.append((account_id, event))
        detail: dict[str, str] = {}
        if event.type == "reply":
            found = classify_reply(event.text or "", "en", NOW, "Europe/Paris")
            detail = {"kind": found.kind}
            if found.promise_date:
                detail.update(date=found.promise_date.isoformat(), amount="120.50")
        result = EventResult(accepted=True, status=self.views[account_id].status, detail=detail)
        self.seen[account_id, event.event_id or ""] = result
        return result

    async def ready(self) -> bool:
        return not self.down


@pytest.fixture
def accounts() -> MemoryAccounts:
    gateway = MemoryAccounts()
    gateway.add("A-1", phone="+33612345678", email="claire@example.org", locale="fr")
    return gateway


@pytest.fixture
def store(tmp_path) -> SqlStore:
    """The shared store the workers write call scripts to and read SendGrid's events from."""
    store = open_store(f"sqlite:///{tmp_path}/store.sqlite3")
    store.call_scripts.save(
        CallScript(
            token="tok1",
            account_id="A-1",
            idempotency_key="dunning-A-1/voicemail/voicemail/1",
            locale="fr",
            language="fr-FR",
            voice="Polly.Lea",
            text="Bonjour, ce message s'adresse à Claire Martin. Rappelez-nous au 01 23 45 67 89.",
        )
    )
    return store


@pytest.fixture
def app(accounts, store):
    settings = load_settings(
        public_base_url=PUBLIC,
        twilio_auth_token=TOKEN,
        payments_webhook_secret=PAYMENTS,
        inbound_parse_secret=PARSE,
        sendgrid_webhook_public_key=SENDGRID_PUBLIC,
        webhook_max_body_bytes=8192,
        inbound_email_max_bytes=65536,
    )
    return create_app(settings, accounts, store, clock=lambda: NOW.timestamp())


@pytest.fixture
async def http(app):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url=PUBLIC
    ) as client:
        yield client


def signed_form(path: str, params: dict[str, str], token: str = TOKEN) -> dict:
    """Body and headers of a Twilio webhook, signed by the SDK's own code."""
    signature = RequestValidator(token).compute_signature(PUBLIC + path, params)
    return {
        "content": urlencode(params),
        "headers": {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    }


def sendgrid_signed(events: list[dict], key=SENDGRID_KEY) -> dict:
    body = json.dumps(events, separators=(",", ":")) + "\r\n"
    stamp = str(int(NOW.timestamp()))
    signature = key.sign((stamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    return {
        "content": body.encode(),
        "headers": {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        },
    }


def payment(body: bytes, secret: str = PAYMENTS, age: int = 0) -> dict:
    stamp = str(int(NOW.timestamp()) - age)
    return {
        "content": body,
        "headers": {
            "Content-Type": "application/json",
            "X-Dunning-Timestamp": stamp,
            "X-Dunning-Signature": payment_signature(secret, stamp, body),
        },
    }


# ---- the providers' published examples ------------------------------------------------------


def test_twilio_signature_matches_twilios_documented_example():
    # https://www.twilio.com/docs/usage/security#validating-requests
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert RequestValidator("12345").compute_signature(url, params) == (
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )
    assert twilio_valid("12345", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not twilio_valid(
        "12345", url.replace("bar=2", "bar=3"), params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )


def test_sendgrid_signature_matches_sendgrids_published_example():
    # sendgrid/sendgrid-python test/unit/test_eventwebhook.py (the documented example).
    public_key = (
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe"
        "62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
    )
    signature = (
        "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15T"
        "luLtEZtM="
    )
    payload = (
        json.dumps(
            [
                {
                    "email": "hello@world.com",
                    "event": "dropped",
                    "reason": "Bounced Address",
                    "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
                    "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl"
                    "-18-5F5FC76C-9.0",
                    "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
                    "timestamp": 1600112492,
                }
            ],
            sort_keys=True,
            separators=(",", ":"),
        )
        + "\r\n"
    ).encode()
    assert sendgrid_valid(public_key, payload, signature, "1600112502")
    assert not sendgrid_valid(public_key, payload, signature, "1600112503")


# ---- Twilio ---------------------------------------------------------------------------------


async def test_inbound_sms_reply_is_applied_and_answered_with_help(http, accounts):
    params = {"MessageSid": "SM1", "From": "+33612345678", "To": "+15005550006", "Body": "?"}
    answer = await http.post("/twilio/sms", **signed_form("/twilio/sms", params))
    assert answer.status_code == 200
    assert "Pour payer : https://pay.acme.example/a/A-1" in answer.text  # the debtor's language
    [(account_id, event)] = accounts.applied
    assert (account_id, event.type, event.event_id) == ("A-1", "reply", "twilio-sms:SM1")


@pytest.mark.parametrize(
    ("status", "unusable", "expected"),
    [
        (Status.CEASED, {}, None),  # cease: nothing more, not even help
        (Status.ACTIVE, {"sms": "opted_out"}, None),
        (Status.DISPUTED, {}, "Merci pour votre message."),  # no payment link while disputed
        (Status.PAID, {}, "Thank you for your message."),  # closed: like no account at all
    ],
)
async def test_no_collection_text_back_to_someone_who_asked_us_to_stop(
    http, accounts, status, unusable, expected
):
    accounts.views["A-1"] = accounts.views["A-1"].model_copy(
        update={"status": status, "unusable_channels": unusable}
    )
    params = {"MessageSid": "SM7", "From": "+33612345678", "Body": "combien ?"}
    answer = await http.post("/twilio/sms", **signed_form("/twilio/sms", params))
    assert answer.status_code == 200
    assert "pay.acme.example" not in answer.text
    if expected is None:
        assert "<Message>" not in answer.text
    elif status.is_final:
        assert expected in answer.text and accounts.applied == []  # closed: nothing applied
    else:
        assert expected in answer.text


@pytest.mark.parametrize(
    "tamper",
    [
        lambda form: form["headers"].pop("X-Twilio-Signature"),
        lambda form: form["headers"].update({"X-Twilio-Signature": "AAAA"}),
        lambda form: form.update({"content": form["content"].replace("STOP", "START")}),
    ],
)
async def test_a_forged_twilio_request_is_refused_and_changes_nothing(http, accounts, tamper):
    form = signed_form("/twilio/sms", {"MessageSid": "SM1", "From": "+33612345678", "Body": "STOP"})
    tamper(form)
    answer = await http.post("/twilio/sms", **form)
    assert answer.status_code == 403
    assert accounts.applied == []


async def test_a_signature_for_another_url_is_refused(http, accounts):
    params = {"MessageSid": "SM1", "From": "+33612345678", "Body": "STOP"}
    form = signed_form("/twilio/status", params)  # signed for another route
    assert (await http.post("/twilio/sms", **form)).status_code == 403


async def test_one_number_for_several_accounts(http, accounts):
    accounts.add("A-2", phone="+33612345678")
    stop = {"MessageSid": "SM2", "From": "+33612345678", "Body": "STOP"}
    await http.post("/twilio/sms", **signed_form("/twilio/sms", stop))
    assert sorted(a for a, _ in accounts.applied) == ["A-1", "A-2"]  # an opt-out is the number's
    accounts.applied.clear()
    promise = {"MessageSid": "SM3", "From": "+33612345678", "Body": "I will pay on friday"}
    answer = await http.post("/twilio/sms", **signed_form("/twilio/sms", promise))
    assert accounts.applied == []  # which account? a person decides
    assert "Appelez le" in answer.text or "call" in answer.text.lower()


async def test_a_failed_message_with_a_permanent_code_becomes_delivery_failed(http, accounts):
    report = {
        "MessageSid": "SM9",
        "MessageStatus": "undelivered",
        "ErrorCode": "30006",
        "To": "+33612345678",
    }
    answer = await http.post("/twilio/status", **signed_form("/twilio/status", report))
    assert answer.status_code == 204
    [(_, event)] = accounts.applied
    assert (event.type, event.channel, event.code) == ("delivery_failed", Channel.SMS, "30006")
    temporary = {**report, "MessageSid": "SM10", "ErrorCode": "30001"}  # queue overflow
    await http.post("/twilio/status", **signed_form("/twilio/status", temporary))
    assert len(accounts.applied) == 1


async def test_the_voicemail_call_says_only_the_message_to_a_machine(http, accounts):
    params = {"CallSid": "CA1", "AnsweredBy": "machine_end_beep", "To": "+33612345678"}
    answer = await http.post(
        "/twilio/voice?call=tok1", **signed_form("/twilio/voice?call=tok1", params)
    )
    assert answer.status_code == 200
    assert '<Say language="fr-FR" voice="Polly.Lea">Bonjour' in answer.text
    assert "<Gather" not in answer.text and "<Hangup" in answer.text
    assert accounts.applied == []


async def test_a_person_hears_the_menu_and_key_1_promises_to_pay(http, accounts):
    first = {"CallSid": "CA2", "AnsweredBy": "human", "To": "+33612345678"}
    menu = await http.post(
        "/twilio/voice?call=tok1", **signed_form("/twilio/voice?call=tok1", first)
    )
    assert "<Gather" in menu.text and "tapez 1" in menu.text
    key = {"CallSid": "CA2", "Digits": "1", "To": "+33612345678"}
    answer = await http.post(
        "/twilio/voice?call=tok1", **signed_form("/twilio/voice?call=tok1", key)
    )
    assert "Merci" in answer.text
    kinds = [(event.type, event.due_in_days) for _, event in accounts.applied]
    assert kinds == [("conversation", None), ("promise", 7)]


async def test_key_3_stops_calls(http, accounts):
    key = {"CallSid": "CA3", "Digits": "3"}
    await http.post("/twilio/voice?call=tok1", **signed_form("/twilio/voice?call=tok1", key))
    [(_, event)] = accounts.applied
    assert (event.type, event.channel) == ("opt_out", Channel.VOICEMAIL)


async def test_an_unknown_call_hangs_up(http):
    params = {"CallSid": "CA4", "AnsweredBy": "human"}
    answer = await http.post(
        "/twilio/voice?call=nope", **signed_form("/twilio/voice?call=nope", params)
    )
    assert answer.status_code == 200 and "<Hangup" in answer.text


# ---- SendGrid -------------------------------------------------------------------------------


def inbound_email(text: str, sender: str = "Claire <Claire@Example.org>") -> dict:
    return {
        "data": {
            "from": sender,
            "to": "billing@acme.example",
            "subject": "Re: your account",
            "text": text,
            "headers": "Message-ID: <abc@mail.example>\nSubject: Re: your account",
        },
        "files": {"attachment1": ("invoice.pdf", b"%PDF-1.4 ignored", "application/pdf")},
    }


async def test_an_email_reply_is_applied_without_the_quoted_history(http, accounts):
    text = "I dispute this amount.\n\nOn Mon, 4 Jan 2038, Acme wrote:\n> Please pay 120.50\n"
    answer = await http.post(f"/sendgrid/inbound?key={PARSE}", **inbound_email(text))
    assert answer.status_code == 200
    [(account_id, event)] = accounts.applied
    assert (account_id, event.type, event.channel) == ("A-1", "reply", Channel.EMAIL)
    assert event.text == "I dispute this amount."
    assert event.event_id == "sendgrid-inbound:<abc@mail.example>"


async def test_inbound_parse_needs_its_secret(http, accounts):
    for url in ("/sendgrid/inbound", "/sendgrid/inbound?key=wrong"):
        assert (await http.post(url, **inbound_email("STOP"))).status_code == 403
    basic = base64.b64encode(f"sendgrid:{PARSE}".encode()).decode()
    answer = await http.post(
        "/sendgrid/inbound", headers={"Authorization": f"Basic {basic}"}, **inbound_email("Hi")
    )
    assert answer.status_code == 200


async def test_an_oversized_inbound_email_is_refused(http, accounts):
    big = inbound_email("x" * 100_000)
    assert (await http.post(f"/sendgrid/inbound?key={PARSE}", **big)).status_code == 413
    assert accounts.applied == []


async def test_sendgrid_bounces_and_unsubscribes_become_events(http, accounts):
    events = [
        {
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "sg_event_id": "e1",
            "email": "claire@example.org",
            "account_id": "A-1",
        },
        {"event": "bounce", "type": "blocked", "sg_event_id": "e2", "account_id": "A-1"},
        {"event": "spamreport", "sg_event_id": "e3", "account_id": "A-1"},
        {"event": "delivered", "sg_event_id": "e4", "account_id": "A-1"},
        {
            "event": "dropped",
            "reason": "Bounced Address",
            "sg_event_id": "e5",
            "email": "claire@example.org",
        },
    ]
    answer = await http.post("/sendgrid/events", **sendgrid_signed(events))
    assert answer.status_code == 200
    applied = [(event.type, event.code, event.event_id) for _, event in accounts.applied]
    assert applied == [
        ("delivery_failed", "5.1.1", "sendgrid:e1"),
        ("opt_out", None, "sendgrid:e3"),
        ("delivery_failed", "Bounced Address", "sendgrid:e5"),
    ]
    again = await http.post("/sendgrid/events", **sendgrid_signed(events))  # SendGrid retried
    assert again.status_code == 200 and len(accounts.applied) == 3


def processed(event_id: str, key: str | None = "dunning-A-1/courtesy-email/email/1", **more):
    event = {
        "event": "processed",
        "email": "claire@example.org",
        "timestamp": int(NOW.timestamp()),
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "sg_event_id": event_id,
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "account_id": "A-1",
        **more,
    }
    if key is not None:
        event["idempotency_key"] = key
    return event


async def test_processed_events_are_recorded_for_the_send_ledger(http, accounts, store):
    """SendGrid's word that it accepted an email: what a worker with that email in doubt
    looks for. Nothing is applied to the account (it is not an account event)."""
    events = [
        processed("p1"),
        processed("p2", key=None),  # not one of ours
        processed("p3", key="dunning-A-1/other/email/1", timestamp="yesterday"),  # malformed
        {"event": "delivered", "sg_event_id": "d1", "idempotency_key": "k", "timestamp": 1},
    ]
    answer = await http.post("/sendgrid/events", **sendgrid_signed(events))
    assert answer.status_code == 200 and accounts.applied == []
    found = store.email_events.processed("dunning-A-1/courtesy-email/email/1")
    assert found is not None and found.processed_at == NOW and found.sg_event_id == "p1"
    assert found.sg_message_id == "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"
    assert store.email_events.processed("dunning-A-1/other/email/1") is None
    assert store.email_events.processed("k") is None
    again = await http.post("/sendgrid/events", **sendgrid_signed(events))  # SendGrid retried
    assert again.status_code == 200 and store.email_events.latest_processed_at() == NOW


async def test_a_store_that_cannot_record_processed_events_is_not_acknowledged(accounts, store):
    class Down:
        def record_processed(self, event):
            raise OSError("database is locked")

    settings = load_settings(public_base_url=PUBLIC, sendgrid_webhook_public_key=SENDGRID_PUBLIC)
    broken = SimpleNamespace(call_scripts=store.call_scripts, email_events=Down())
    app = create_app(settings, accounts, broken)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url=PUBLIC
    ) as client:
        answer = await client.post("/sendgrid/events", **sendgrid_signed([processed("p1")]))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"


async def test_a_sendgrid_post_signed_by_another_key_is_refused(http, accounts):
    other = ec.generate_private_key(ec.SECP256R1())
    events = [{"event": "spamreport", "sg_event_id": "e1", "account_id": "A-1"}]
    assert (
        await http.post("/sendgrid/events", **sendgrid_signed(events, other))
    ).status_code == 403
    assert accounts.applied == []


# ---- payments, unsubscribe, availability ----------------------------------------------------


async def test_payments_refuse_a_stale_timestamp_and_a_wrong_currency(http, accounts):
    body = json.dumps(
        {"payment_id": "p1", "account_id": "A-1", "amount": "10.00", "currency": "EUR"}
    ).encode()
    assert (await http.post("/payments", **payment(body, age=301))).status_code == 403
    assert (await http.post("/payments", **payment(body, age=-301))).status_code == 403
    ok = await http.post("/payments", **payment(body, age=299))
    assert ok.status_code == 200
    usd = body.replace(b"EUR", b"USD").replace(b"p1", b"p2")
    refused = await http.post("/payments", **payment(usd))
    assert refused.status_code == 422 and "USD is not the account's (EUR)" in refused.text
    unknown = body.replace(b"A-1", b"A-404").replace(b"p1", b"p3")
    assert (await http.post("/payments", **payment(unknown))).status_code == 404
    [(_, event)] = accounts.applied
    assert (event.type, event.amount, event.event_id) == ("payment", Decimal("10.00"), "payment:p1")


async def test_one_click_unsubscribe(http, accounts):
    token = unsubscribe_token("dev-only-link-secret", "A-1", Channel.EMAIL)
    page = await http.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "<form" in page.text
    done = await http.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
    assert done.status_code == 200
    [(_, event)] = accounts.applied
    assert (event.type, event.channel) == ("opt_out", Channel.EMAIL)
    forged = unsubscribe_token("guessed-secret", "A-1", Channel.EMAIL)
    assert (await http.post(f"/unsubscribe/{forged}")).status_code == 404


async def test_temporal_down_means_not_acknowledged(http, accounts):
    accounts.down = True
    params = {"MessageSid": "SM1", "From": "+33612345678", "Body": "STOP"}
    answer = await http.post("/twilio/sms", **signed_form("/twilio/sms", params))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    assert (await http.get("/healthz")).status_code == 503


def test_quoted_history_is_stripped_in_every_language():
    for marker in (
        "On Mon, Jan 4, 2038 at 9:00 AM Acme <billing@acme.example> wrote:",
        "Le lun. 4 janv. 2038 à 09:00, Acme <billing@acme.example> a écrit :",
        "Il giorno lun 4 gen 2038 alle ore 09:00 Acme ha scritto:",
        "El lun, 4 ene 2038 a las 9:00, Acme escribió:",
        "W dniu 4.01.2038 o 09:00 Acme <billing@acme.example> pisze:",
        "-----Original Message-----",
        "From: Acme <billing@acme.example>",
    ):
        assert reply_text(f"Je paierai vendredi\n\n{marker}\nPlease pay 120.50") == (
            "Je paierai vendredi"
        )
    assert reply_text(None, "<p>Paid <b>yesterday</b></p><blockquote>x</blockquote>") == (
        "Paid yesterday\nx"
    )


# ---- fuzzing: no input makes the server fail --------------------------------------------------

ROUTES = [
    "/twilio/sms",
    "/twilio/status",
    "/twilio/voice?call=tok1",
    f"/sendgrid/inbound?key={PARSE}",
    "/sendgrid/events",
    "/payments",
    "/unsubscribe/abc.def",
]
form_fields = st.dictionaries(
    st.sampled_from(
        [
            "From",
            "Body",
            "MessageSid",
            "MessageStatus",
            "ErrorCode",
            "CallSid",
            "Digits",
            "AnsweredBy",
            "To",
            "CallStatus",
        ]
    ),
    st.text(max_size=40),
    max_size=8,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@hypothesis_settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=st.sampled_from(ROUTES),
    raw=st.binary(max_size=400),
    fields=form_fields,
    document=json_values,
    sign=st.booleans(),
)
async def test_random_bodies_never_cause_a_server_error(http, route, raw, fields, document, sign):
    path = route.split("?")[0]
    if path.startswith("/twilio") and sign:
        request = signed_form(route, {k: v for k, v in fields.items()})
    elif path == "/sendgrid/events" and sign:
        events = document if isinstance(document, list) else [document]
        request = sendgrid_signed(events)
    elif path == "/payments" and sign:
        request = payment(json.dumps(document).encode())
    else:
        request = {"content": raw, "headers": {"Content-Type": "multipart/form-data; boundary=x"}}
    answer = await http.post(route, **request)
    assert answer.status_code < 500, (route, answer.status_code, answer.text)
    assert "Traceback" not in answer.text


async def test_info_logs_carry_no_personal_data(http, accounts, caplog):
    caplog.set_level("INFO")
    params = {"MessageSid": "SM5", "From": "+33612345678", "Body": "je paierai vendredi"}
    await http.post("/twilio/sms", **signed_form("/twilio/sms", params))
    await http.post("/twilio/sms", **signed_form("/twilio/sms", {**params, "From": "+4915112345"}))
    await http.post(f"/sendgrid/inbound?key={PARSE}", **inbound_email("I dispute this"))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "A-1" in logged  # account ids are fine
    for personal in ("612345678", "4915112345", "vendredi", "claire", "Claire", "dispute this"):
        assert personal not in logged


async def test_an_unreachable_temporal_is_503_not_an_acknowledgement(store):
    """The real gateway against a port where no Temporal listens."""
    from temporalio.client import Client

    from inbound.accounts import TemporalAccounts

    async def connect() -> Client:
        return await Client.connect("127.0.0.1:9")

    settings = load_settings(public_base_url=PUBLIC, twilio_auth_token=TOKEN)
    app = create_app(settings, TemporalAccounts(connect, "secret"), store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url=PUBLIC
    ) as client:
        params = {"MessageSid": "SM1", "From": "+33612345678", "Body": "STOP"}
        answer = await client.post("/twilio/sms", **signed_form("/twilio/sms", params))
        body = json.dumps(
            {"payment_id": "p1", "account_id": "A-1", "amount": "1.00", "currency": "EUR"}
        ).encode()
        stamp = str(int(time.time()))
        paid = await client.post(
            "/payments",
            content=body,
            headers={
                "X-Dunning-Timestamp": stamp,
                "X-Dunning-Signature": payment_signature("dev-only-payments-secret", stamp, body),
            },
        )
        health = await client.get("/healthz")
    assert answer.status_code == 503 and paid.status_code == 503 and health.status_code == 503
