"""The live transports through the real SendGrid and Twilio SDKs, against the local fakes.

Every request the project makes is checked against the providers' official specs
(`../shared/provider-specs/`), and each provider error class is exercised.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from activities.channels.base import (
    CredentialsRejected,
    OutgoingMessage,
    ProviderRefused,
    ProviderUnavailable,
    Undeliverable,
)
from activities.channels.live import LiveTransport, Throttle
from activities.channels.sendgrid.webhooks import processed_email
from activities.channels.twilio.send import call_token
from activities.channels.unsubscribe import read_unsubscribe_token
from config.ladder import Channel
from config.settings import load_settings
from store import open_store
from tests.fakes.live import ACCOUNT_SID, FROM, LINK_SECRET, live_settings
from tests.fakes.provider_spec import spec_problems
from tests.fakes.providers import FakeProviders
from worker import live_transport


def transport(fake: FakeProviders, tmp_path: Path, **overrides: object) -> LiveTransport:
    live = live_transport(live_settings(fake, tmp_path, **overrides))
    assert isinstance(live, LiveTransport)
    live.throttle = Throttle(sleep=_no_sleep)  # pacing is tested on its own
    return live


async def _no_sleep(seconds: float) -> None:
    return None


def message(
    channel: Channel, to: str, key: str = "dunning-A-1/step/1", **fields
) -> OutgoingMessage:
    values = {
        "idempotency_key": key,
        "account_id": "A-1",
        "step": "courtesy-email",
        "channel": channel,
        "to": to,
        "template": "courtesy",
        "locale": "en",
        "subject": "Your account A-1",
        "text": "Hello Claire, 120.50 is overdue. Reply STOP to opt out.",
        "html": "<p>Hello Claire</p>" if channel == Channel.EMAIL else None,
        "sent_at": "2038-01-05T09:00:00Z",
        "ladder": "consumer-standard",
        "jurisdiction": "us",
        "recipient_name": "Claire Martin",
    }
    values.update(fields)
    return OutgoingMessage(**values)


def conforming(fake: FakeProviders) -> None:
    for request in fake.requests:
        assert spec_problems(request) == [], (request.method, request.path)


# ---- email --------------------------------------------------------------------------------


async def test_email_goes_through_sendgrid_with_everything_matching_needs(fake, tmp_path):
    live = transport(fake, tmp_path)
    delivery = await live.deliver(message(Channel.EMAIL, "claire@example.org"))
    assert delivery.provider == "sendgrid" and delivery.message_id == fake.email_message_ids[0]
    [sent] = fake.emails
    assert sent["from"] == {"email": "billing@acme.example", "name": "Acme Utilities"}
    assert [c["type"] for c in sent["content"]] == ["text/plain", "text/html"]
    assert sent["custom_args"] == {
        "account_id": "A-1",
        "ladder": "consumer-standard",
        "step": "courtesy-email",
        "idempotency_key": "dunning-A-1/step/1",
    }
    assert sorted(sent["categories"]) == ["ladder:consumer-standard", "step:courtesy-email"]
    headers = sent["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = headers["List-Unsubscribe"].split(">")[0].lstrip("<")
    assert link.startswith("https://dunning.example.org/unsubscribe/")
    token = link.rsplit("/", 1)[1]
    assert read_unsubscribe_token(LINK_SECRET, token) == ("A-1", Channel.EMAIL)
    conforming(fake)


async def test_the_eu_host_is_a_setting(fake, tmp_path):
    settings = live_settings(fake, tmp_path)
    assert settings.sendgrid_api_host == fake.url
    assert load_settings().sendgrid_api_host == "https://api.sendgrid.com"


@pytest.mark.parametrize(
    ("status", "expected"),
    [(401, CredentialsRejected), (429, ProviderUnavailable), (503, ProviderUnavailable)],
)
async def test_sendgrid_errors_are_classified(fake, tmp_path, status, expected):
    fake.fail_next(provider="sendgrid", status=status, retry_after=7)
    with pytest.raises(expected) as caught:
        await transport(fake, tmp_path).deliver(message(Channel.EMAIL, "claire@example.org"))
    if expected is ProviderUnavailable:
        assert caught.value.retry_after == 7


async def test_a_refused_recipient_address_is_undeliverable(fake, tmp_path):
    with pytest.raises(Undeliverable):
        await transport(fake, tmp_path).deliver(message(Channel.EMAIL, "claire@"))
    with pytest.raises(Undeliverable):  # refused before the SDK even builds a request
        await transport(fake, tmp_path).deliver(message(Channel.EMAIL, "no-at-sign", key="k2"))


async def test_bad_sendgrid_credentials_stop_email_but_not_sms(fake, tmp_path):
    live = transport(fake, tmp_path, sendgrid_api_key="SG.wrong")
    with pytest.raises(CredentialsRejected):
        await live.deliver(message(Channel.EMAIL, "claire@example.org", key="k1"))
    with pytest.raises(CredentialsRejected):
        await live.deliver(message(Channel.EMAIL, "claire@example.org", key="k2"))
    assert len(fake.requests_for("sendgrid")) == 1  # the second never left the worker
    await live.deliver(message(Channel.SMS, "+14155550123", key="k3"))
    assert len(fake.messages) == 1


async def test_an_email_lost_after_sendgrid_accepted_it_is_found_by_its_processed_event(
    fake, tmp_path
):
    live = transport(fake, tmp_path)
    fake.drop_next(provider="sendgrid", after_processing=True)
    with pytest.raises(ProviderUnavailable) as caught:
        await live.deliver(message(Channel.EMAIL, "claire@example.org"))
    assert caught.value.maybe_sent
    store = open_store(live_settings(fake, tmp_path).store_url)
    assert store.ledger.get("dunning-A-1/step/1").state == "in_doubt"
    with pytest.raises(ProviderUnavailable):  # SendGrid's event is not in yet: wait for it
        await live.deliver(message(Channel.EMAIL, "claire@example.org"))
    [event] = fake.sendgrid_processed_events()  # the webhook server records it
    store.email_events.record_processed(processed_email(event))
    again = await live.deliver(message(Channel.EMAIL, "claire@example.org"))
    assert again.duplicate and not again.unconfirmed
    assert again.message_id.startswith(fake.email_message_ids[0])
    assert len(fake.emails) == 1


async def test_an_email_in_doubt_without_any_event_is_unconfirmed_not_sent_again(fake, tmp_path):
    live = transport(fake, tmp_path)
    fake.drop_next(provider="sendgrid", after_processing=True)
    with pytest.raises(ProviderUnavailable):
        await live.deliver(message(Channel.EMAIL, "claire@example.org"))
    live.senders[Channel.EMAIL].processed_wait = timedelta(0)  # type: ignore[attr-defined]
    again = await live.deliver(message(Channel.EMAIL, "claire@example.org"))
    assert again.unconfirmed and again.duplicate
    assert len(fake.emails) == 1


# ---- SMS ----------------------------------------------------------------------------------


async def test_sms_from_a_number_with_a_status_callback(fake, tmp_path):
    delivery = await transport(fake, tmp_path).deliver(message(Channel.SMS, "+14155550123"))
    [request] = fake.requests_for("twilio", "POST")
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form_value("From") == FROM
    assert request.form_value("StatusCallback") == "https://dunning.example.org/twilio/status"
    assert request.form_value("Body").endswith("Reply STOP to opt out.")
    assert delivery.message_id == fake.messages[0]["sid"]
    conforming(fake)


async def test_sms_from_a_messaging_service(fake, tmp_path):
    service = "MG" + "2" * 32
    live = transport(fake, tmp_path, twilio_messaging_service_sid=service)
    await live.deliver(message(Channel.SMS, "+14155550123"))
    [request] = fake.requests_for("twilio", "POST")
    assert request.form_value("MessagingServiceSid") == service
    assert request.form_value("From") is None
    conforming(fake)


@pytest.mark.parametrize(
    ("code", "reason"),
    [(21614, "undeliverable"), (21211, "undeliverable"), (21610, "opted_out")],
)
async def test_unreachable_numbers_are_undeliverable(fake, tmp_path, code, reason):
    fake.refuse_number("+14155550123", code, "refused")
    with pytest.raises(Undeliverable) as caught:
        await transport(fake, tmp_path).deliver(message(Channel.SMS, "+14155550123"))
    assert caught.value.reason == reason and caught.value.code == str(code)


async def test_twilio_rate_limit_and_outage_retry_after_the_providers_delay(fake, tmp_path):
    live = transport(fake, tmp_path)
    fake.fail_next(provider="twilio", status=429, code=20429, retry_after=3)
    with pytest.raises(ProviderUnavailable) as limited:
        await live.deliver(message(Channel.SMS, "+14155550123"))
    assert limited.value.retry_after == 3 and not limited.value.maybe_sent
    fake.fail_next(provider="twilio", status=500, code=20500)
    with pytest.raises(ProviderUnavailable):
        await live.deliver(message(Channel.SMS, "+14155550123"))
    with pytest.raises(ProviderUnavailable):  # in doubt: not listed yet, Twilio may be slow
        await live.deliver(message(Channel.SMS, "+14155550123"))
    live.lease = timedelta(0)  # the lease has passed and Twilio never had it
    delivery = await live.deliver(message(Channel.SMS, "+14155550123"))  # the retry sends
    assert not delivery.duplicate and len(fake.messages) == 1


async def test_bad_twilio_credentials_are_reported_once(fake, tmp_path, caplog):
    live = transport(fake, tmp_path, twilio_auth_token="wrong")
    for key in ("k1", "k2"):
        with pytest.raises(CredentialsRejected):
            await live.deliver(message(Channel.SMS, "+14155550123", key=key))
    assert len(fake.requests_for("twilio")) == 1
    [logged] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "Twilio rejected the credentials" in logged.getMessage()


async def test_a_configuration_refusal_is_neither_retried_nor_blamed_on_the_debtor(fake, tmp_path):
    fake.fail_next(provider="twilio", status=400, code=21606, message="From not SMS-capable")
    with pytest.raises(ProviderRefused):
        await transport(fake, tmp_path).deliver(message(Channel.SMS, "+14155550123"))


async def test_an_sms_lost_after_twilio_accepted_it_is_found_not_resent(fake, tmp_path):
    live = transport(fake, tmp_path)
    live.lease = timedelta(0)
    fake.drop_next(provider="twilio", after_processing=True, method="POST")
    with pytest.raises(ProviderUnavailable):
        await live.deliver(message(Channel.SMS, "+14155550123"))
    again = await live.deliver(message(Channel.SMS, "+14155550123"))
    assert again.duplicate and not again.unconfirmed
    assert again.message_id == fake.messages[0]["sid"]
    assert len(fake.messages) == 1
    conforming(fake)  # the reconciling list request too


# ---- voicemail ----------------------------------------------------------------------------


async def test_voicemail_is_a_call_that_waits_for_the_greeting_to_end(fake, tmp_path):
    voicemail = message(
        Channel.VOICEMAIL,
        "+14155550123",
        locale="es",
        text="Hola, este mensaje es para Claire. Llámenos al +1 415 555 0100.",
    )
    delivery = await transport(fake, tmp_path).deliver(voicemail)
    [request] = fake.requests_for("twilio", "POST")
    assert request.path.endswith("/Calls.json")
    token = call_token(voicemail.idempotency_key)
    assert request.form_value("MachineDetection") == "DetectMessageEnd"
    assert request.form_value("Url") == f"https://dunning.example.org/twilio/voice?call={token}"
    assert request.form["StatusCallbackEvent"] == ["answered", "completed"]
    assert delivery.message_id == fake.calls[0]["sid"]
    script = open_store(live_settings(fake, tmp_path).store_url).call_scripts.get(token)
    assert script.account_id == "A-1" and script.text == voicemail.text
    assert (script.language, script.voice) == ("es-US", "Polly.Lupe")  # a us ladder
    assert "Claire" not in request.raw.decode()  # no debtor data in Twilio's call log
    conforming(fake)


# ---- letters ------------------------------------------------------------------------------


async def test_a_letter_is_a_pdf_in_the_days_print_batch(fake, tmp_path):
    letter = message(
        Channel.LETTER,
        "ul. Długa 5, 00-950 Warszawa, PL",
        locale="pl",
        jurisdiction="eu",
        subject="Zaległa płatność",
        text="Szanowna Pani,\n\nprosimy o zapłatę.",
        postal_lines=("Zofia Wiśniewska", "ul. Długa 5", "00-950 Warszawa", "PL"),
    )
    delivery = await transport(fake, tmp_path).deliver(letter)
    assert delivery.provider == "letters"
    [pdf] = (tmp_path / "letters" / "2038-01-05").glob("*.pdf")
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Zaległa płatność" in text and "Wiśniewska" in text
    assert (tmp_path / "letters" / "2038-01-05" / "manifest.csv").exists()
    assert fake.requests == []


def test_live_settings_need_every_credential(tmp_path):
    from config.settings import SettingsError

    with pytest.raises(SettingsError, match="DUNNING_TWILIO_AUTH_TOKEN"):
        load_settings(transport="live", sendgrid_api_key="SG.x", twilio_account_sid="AC1")


async def test_a_provider_that_cannot_be_reached_sent_nothing_and_keeps_no_claim(fake, tmp_path):
    import socket

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    live = transport(fake, tmp_path, sendgrid_api_host=closed, twilio_api_base_url=closed)
    for channel, to in ((Channel.EMAIL, "claire@example.org"), (Channel.SMS, "+14155550123")):
        with pytest.raises(ProviderUnavailable) as caught:
            await live.deliver(message(channel, to, key=f"k-{channel.value}"))
        assert not caught.value.maybe_sent
        assert live.ledger.get(f"k-{channel.value}") is None  # the next attempt sends


def test_provider_errors_keep_contact_data_out_of_histories_and_logs():
    from activities.channels.errors import retry_after_seconds
    from activities.channels.twilio.errors import twilio_error

    error = twilio_error(400, 21211, "The 'To' number +1 415-555-0123 is not a valid phone number.")
    assert "555" not in str(error) and "21211" in str(error)
    assert retry_after_seconds({"Retry-After": "1.5"}) == 1.5
    assert retry_after_seconds({"Retry-After": "soon"}) is None
