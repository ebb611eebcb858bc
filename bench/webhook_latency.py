"""How long a webhook takes to reach an account, against the 1-second goal of issue 5.

Measured side by side in one run on the real dev server, for the same accounts:

- `direct`: the `apply_event` update sent straight from a Temporal client (the floor: what
  Temporal and the workflow cost);
- `payment`: a signed `POST /payments` through the webhook application (signature check, status
  query for the currency, the update);
- `sms`: a signed `POST /twilio/sms` with a French promise (signature, look-up by keyed contact
  hash through Temporal's visibility, status query, the update with its classification activity,
  the TwiML answer).

Prints p50/p95 in milliseconds and the ratios webhook/direct and p95/1 s budget.

    .venv/bin/python -m bench.webhook_latency [--accounts 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from urllib.parse import urlencode

import httpx
from babel.dates import format_date
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from twilio.request_validator import RequestValidator

from activities.channels.outbox import MemoryOutbox
from config.ladder_loader import load_catalog
from config.settings import PROJECT_ROOT, load_settings
from connection.temporal import bundled_binary
from inbound.accounts import TemporalAccounts
from inbound.app import create_app
from inbound.security import payment_signature
from intake.accounts_csv import build_account
from intake.contact_keys import debtor_contact_keys
from intake.events import send_event
from intake.start import start_account
from store import open_store
from worker import build_worker
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES
from workflows.types import AccountEvent

PUBLIC = "https://bench.example.org"
TOKEN = "bench-token"
SECRET = "bench-payments"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def main(count: int) -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=bundled_binary("temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
    )
    with TemporaryDirectory() as tmp:
        settings = load_settings(
            data_dir=Path(tmp),
            task_queue=f"bench-{uuid.uuid4().hex[:6]}",
            public_base_url=PUBLIC,
            twilio_auth_token=TOKEN,
            payments_webhook_secret=SECRET,
        )
        secret = settings.link_secret.get_secret_value()

        async def connect():
            return env.client

        store = open_store(settings.store_url)
        app = create_app(settings, TemporalAccounts(connect, secret), store)
        catalog = load_catalog(PROJECT_ROOT / "config" / "ladders")
        now = datetime.now(UTC)
        phones = [f"+336123{index:05d}" for index in range(count)]
        async with (
            env,
            build_worker(env.client, settings, transport=MemoryOutbox()),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as http,
        ):
            for index, phone in enumerate(phones):
                account = build_account(
                    {
                        "account_id": f"B-{index}",
                        "name": "Bench Debtor",
                        "phone": phone,
                        "country": "FR",
                        "timezone": "Europe/Paris",
                        "locale": "fr",
                        "balance": "500.00",
                        "currency": "EUR",
                        "days_past_due": "0",
                    },
                    ladders=catalog,
                    default_ladder="consumer-standard",
                    default_locale="en",
                    now=now,
                )
                keys = debtor_contact_keys(secret, account.debtor)
                await start_account(env.client, account, settings.task_queue, keys)
            await asyncio.sleep(2)  # let visibility index the contact keys

            direct, payment, sms = [], [], []
            day = format_date(now.date() + timedelta(days=7), "d MMMM", locale="fr")
            for index, phone in enumerate(phones):
                started = time.perf_counter()
                await send_event(
                    env.client,
                    f"B-{index}",
                    AccountEvent(type="payment", amount="1.00", event_id=f"d-{index}"),
                )
                direct.append(time.perf_counter() - started)

                body = json.dumps(
                    {
                        "payment_id": f"p-{index}",
                        "account_id": f"B-{index}",
                        "amount": "1.00",
                        "currency": "EUR",
                    }
                ).encode()
                stamp = str(int(time.time()))
                started = time.perf_counter()
                answer = await http.post(
                    "/payments",
                    content=body,
                    headers={
                        "X-Dunning-Timestamp": stamp,
                        "X-Dunning-Signature": payment_signature(SECRET, stamp, body),
                    },
                )
                payment.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text

                params = {"MessageSid": f"SM{index}", "From": phone, "Body": f"je paierai le {day}"}
                signature = RequestValidator(TOKEN).compute_signature(
                    f"{PUBLIC}/twilio/sms", params
                )
                started = time.perf_counter()
                answer = await http.post(
                    "/twilio/sms",
                    content=urlencode(params),
                    headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "X-Twilio-Signature": signature,
                    },
                )
                sms.append(time.perf_counter() - started)
                assert "Merci" in answer.text, answer.text

    floor = statistics.median(direct)
    print(f"{count} accounts, dev server, one process")
    print(f"{'path':<10}{'p50 ms':>10}{'p95 ms':>10}{'p50 / direct':>15}{'p95 / 1 s':>12}")
    for name, values in (("direct", direct), ("payment", payment), ("sms", sms)):
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        print(f"{name:<10}{p50 * 1000:>10.1f}{p95 * 1000:>10.1f}{p50 / floor:>15.2f}{p95:>12.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=30)
    asyncio.run(main(parser.parse_args().accounts))
