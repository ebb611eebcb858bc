"""The webhook server end to end on the real Temporal dev server.

The real application (FastAPI, in process through httpx's ASGI transport), the real account
look-up (keyed contact hashes in search attributes, listed through Temporal's visibility), the
real worker and workflow. Signatures are made by the providers' own SDK code
(`RequestValidator.compute_signature`) and by our documented payment scheme.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio
from babel.dates import format_date
from temporalio.testing import WorkflowEnvironment
from twilio.request_validator import RequestValidator

from activities.channels.outbox import MemoryOutbox
from config.ladder_loader import load_ladder
from config.settings import Settings, load_settings
from inbound.accounts import TemporalAccounts
from inbound.app import create_app
from inbound.security import payment_signature
from intake.contact_keys import debtor_contact_keys
from intake.start import start_account
from store import open_store
from tests.conftest import account
from tests.test_end_to_end import always_open_ladder
from worker import build_worker
from workflows.types import AccountView, workflow_id_for

PUBLIC = "https://dunning.example.org"
DUNNING = str(Path(sys.executable).with_name("dunning"))
AUTH_TOKEN = "twilio-test-token"
PAYMENTS_SECRET = "payments-test-secret"


@dataclass
class Stack:
    env: WorkflowEnvironment
    settings: Settings
    http: httpx.AsyncClient
    tmp_path: Path

    async def start(self, account_id: str, **columns: str) -> None:
        ladder = load_ladder(always_open_ladder(self.tmp_path))
        account_input = account(datetime.now(UTC), ladder=ladder, account_id=account_id, **columns)
        keys = debtor_contact_keys(
            self.settings.link_secret.get_secret_value(), account_input.debtor
        )
        outcome = await start_account(
            self.env.client, account_input, self.settings.task_queue, keys
        )
        assert outcome.started

    async def view(self, account_id: str) -> AccountView:
        handle = self.env.client.get_workflow_handle(workflow_id_for(account_id))
        return await handle.query("status", result_type=AccountView)

    async def findable(self, phone: str) -> None:
        """Visibility is eventually consistent: wait until the contact key is indexed."""
        accounts = TemporalAccounts(self._client, self.settings.link_secret.get_secret_value())
        for _ in range(100):
            if await accounts.find("phone", phone):
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the account never became findable by its phone number")

    async def _client(self):
        return self.env.client

    async def sms(self, sender: str, body: str, sid: str | None = None) -> httpx.Response:
        params = {
            "AccountSid": "AC" + "1" * 32,
            "MessageSid": sid or "SM" + uuid.uuid4().hex,
            "From": sender,
            "To": "+15005550006",
            "Body": body,
        }
        signature = RequestValidator(AUTH_TOKEN).compute_signature(f"{PUBLIC}/twilio/sms", params)
        return await self.http.post(
            "/twilio/sms",
            content=urlencode(params),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
        )

    async def payment(self, body: dict, *, age: int = 0, secret: str = PAYMENTS_SECRET):
        raw = json.dumps(body).encode()
        stamp = str(int(time.time()) - age)
        return await self.http.post(
            "/payments",
            content=raw,
            headers={
                "Content-Type": "application/json",
                "X-Dunning-Timestamp": stamp,
                "X-Dunning-Signature": payment_signature(secret, stamp, raw),
            },
        )


@pytest_asyncio.fixture
async def stack(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    settings = load_settings(
        data_dir=tmp_path / "data",
        task_queue=f"hooks-{uuid.uuid4().hex[:8]}",
        public_base_url=PUBLIC,
        twilio_auth_token=AUTH_TOKEN,
        payments_webhook_secret=PAYMENTS_SECRET,
    )

    async def connect():
        return dev_env.client

    store = open_store(settings.store_url)
    app = create_app(
        settings, TemporalAccounts(connect, settings.link_secret.get_secret_value()), store
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        build_worker(dev_env.client, settings, transport=MemoryOutbox()),
        httpx.AsyncClient(transport=transport, base_url=PUBLIC) as http,
    ):
        yield Stack(dev_env, settings, http, tmp_path)
    store.close()


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def events_of(view: AccountView, kind: str) -> list:
    return [event for event in view.events if event.type == kind]


async def test_a_signed_stop_opts_the_account_out_of_sms_once(stack: Stack):
    await stack.start("W-1", phone="+33612345671")
    await stack.findable("+33612345671")
    first = await stack.sms("+33612345671", "STOP", sid="SM-stop-1")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/xml")
    assert "<Message>" not in first.text  # Twilio confirms STOP itself; we stay silent
    again = await stack.sms("+33612345671", "STOP", sid="SM-stop-1")  # Twilio retried
    assert again.status_code == 200
    view = await stack.view("W-1")
    assert view.unusable_channels.get("sms") == "opted_out"
    assert len(events_of(view, "reply")) == 1


async def test_a_french_reply_with_a_date_becomes_a_promise_and_the_ladder_pauses(stack: Stack):
    await stack.start("W-2", phone="+33612345672")
    await stack.findable("+33612345672")
    day = datetime.now(UTC).date() + timedelta(days=10)
    text = f"Bonjour, je paierai le {format_date(day, 'd MMMM', locale='fr')}, merci"
    answer = await stack.sms("+33612345672", text, sid="SM-promise-1")
    assert answer.status_code == 200
    repeated = await stack.sms("+33612345672", text, sid="SM-promise-1")  # Twilio retried
    assert repeated.status_code == 200 and repeated.text == answer.text
    assert "Merci. Nous avons noté votre engagement de payer" in answer.text
    assert format_date(day, "long", locale="fr") in answer.text
    view = await stack.view("W-2")
    assert view.status.value == "promised"
    assert view.promise is not None and view.promise.date == day
    assert len(events_of(view, "reply")) == 1 and len(events_of(view, "promise")) == 1


async def test_a_number_that_matches_no_account_gets_a_neutral_answer(stack: Stack):
    answer = await stack.sms("+33699999999", "Je paierai demain")
    assert answer.status_code == 200
    assert "Thank you for your message." in answer.text
    assert "pay" not in answer.text.lower().replace("thank you for your message", "")


async def test_a_signed_payment_closes_the_account_and_a_repeat_changes_nothing(stack: Stack):
    await stack.start("W-3", phone="+33612345673", balance="120.50")
    notice = {"payment_id": "pay-1", "account_id": "W-3", "amount": "120.50", "currency": "EUR"}
    paid = await stack.payment(notice)
    assert paid.status_code == 200, paid.text
    assert paid.json()["accepted"] is True and paid.json()["status"] == "paid"
    again = await stack.payment(notice)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    view = await stack.view("W-3")
    assert view.status.value == "paid" and str(view.balance) == "0.00"
    assert len(events_of(view, "payment")) == 1


async def test_forged_replayed_oversized_and_malformed_requests_change_nothing(stack: Stack):
    await stack.start("W-4", phone="+33612345674", balance="80.00")
    notice = {"payment_id": "pay-9", "account_id": "W-4", "amount": "80.00", "currency": "EUR"}
    forged = await stack.payment(notice, secret="guessed")
    replayed = await stack.payment(notice, age=600)
    wrong_currency = await stack.payment({**notice, "payment_id": "pay-10", "currency": "USD"})
    float_amount = await stack.payment({**notice, "payment_id": "pay-11", "amount": 80.0})
    huge = await stack.http.post("/payments", content=b"{" + b" " * 200_000 + b"}")
    unsigned_sms = await stack.http.post(
        "/twilio/sms", data={"From": "+33612345674", "Body": "STOP", "MessageSid": "SM1"}
    )
    assert forged.status_code == 403 and replayed.status_code == 403
    assert wrong_currency.status_code == 422 and "not the account's" in wrong_currency.text
    assert float_amount.status_code == 422
    assert huge.status_code == 413
    assert unsigned_sms.status_code == 403
    for response in (forged, replayed, wrong_currency, float_amount, huge, unsigned_sms):
        assert "Traceback" not in response.text
    view = await stack.view("W-4")
    assert view.status.value == "active" and str(view.balance) == "80.00"
    assert "sms" not in view.unusable_channels


async def test_healthz_says_temporal_answers(stack: Stack):
    health = await stack.http.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok", "temporal": True}


async def test_dunning_webhooks_serves_and_send_payment_pays(stack: Stack, unused_port: int):
    """The commands ops run: `dunning webhooks` as a server, `dunning send-payment` to try it."""
    await stack.start("W-5", phone="+33612345675", balance="42.00")
    env = {
        **os.environ,
        "NO_PROXY": "127.0.0.1,localhost",
        "DUNNING_TEMPORAL_ADDRESS": stack.env.client.service_client.config.target_host,
        "DUNNING_TASK_QUEUE": stack.settings.task_queue,
        "DUNNING_DATA_DIR": str(stack.settings.data_dir),
        "DUNNING_PUBLIC_BASE_URL": f"http://127.0.0.1:{unused_port}",
        "DUNNING_PAYMENTS_WEBHOOK_SECRET": PAYMENTS_SECRET,
    }
    server = subprocess.Popen(
        [DUNNING, "webhooks", "--port", str(unused_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{unused_port}") as client:
            for _ in range(100):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the webhook server never became healthy")
        paid = await asyncio.to_thread(
            subprocess.run,
            [DUNNING, "send-payment", "W-5", "42.00", "--currency", "EUR"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert paid.returncode == 0, paid.stderr
        assert '"status":"paid"' in paid.stdout.replace(" ", "")
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = await asyncio.to_thread(server.communicate, timeout=30)
    assert server.returncode == 0, output
    assert "42.00" not in output and "+33612345675" not in output  # nothing personal logged
    view = await stack.view("W-5")
    assert view.status.value == "paid"
