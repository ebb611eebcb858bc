"""The webhook server's Prometheus metrics: answers by route template and status, durations,
the events it applied, and the listener that serves them apart from the public port.

The application is the real one (`create_app`) over the in-memory account gateway of
`test_webhooks.py`, signed by the providers' own code paths; the listener and `dunning
webhooks` are real HTTP servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from activities.channels.unsubscribe import unsubscribe_token
from config.ladder import Channel
from config.settings import SettingsError, load_settings
from inbound.app import create_app
from inbound.metrics import ListenerUnavailable, start_listener
from inbound.server import metrics_listener
from store import open_store
from tests.conftest import free_port
from tests.test_webhooks import NOW, PAYMENTS, PUBLIC, TOKEN, MemoryAccounts, payment, signed_form
from workflows.types import AccountEvent

DUNNING = str(Path(sys.executable).parent / "dunning")
STOP = {"MessageSid": "SM-m1", "From": "+33612345678", "Body": "STOP"}


@pytest.fixture
def app(tmp_path: Path):
    """The real application over an in-memory gateway with one account (A-1)."""
    accounts = MemoryAccounts()
    accounts.add("A-1", phone="+33612345678", email="claire@example.org", locale="fr")
    settings = load_settings(
        public_base_url=PUBLIC,
        twilio_auth_token=TOKEN,
        payments_webhook_secret=PAYMENTS,
        webhook_max_body_bytes=8192,
    )
    store = open_store(f"sqlite:///{tmp_path}/store.sqlite3")
    yield create_app(settings, accounts, store, clock=lambda: NOW.timestamp())
    store.close()


@pytest.fixture
async def http(app):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
        yield client


def metric(app, name: str, **labels: str) -> float:
    """One sample of the app's registry (0 when the series does not exist)."""
    text = generate_latest(app.state.metrics.registry).decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def requests(app, route: str, status: int, method: str = "POST") -> float:
    return metric(
        app, "dunning_webhook_requests_total", route=route, method=method, status=str(status)
    )


async def test_signed_and_forged_requests_are_counted_by_route_template_and_status(http, app):
    assert (await http.post("/twilio/sms", **signed_form("/twilio/sms", STOP))).status_code == 200
    forged = signed_form("/twilio/sms", STOP, token="not-the-token")
    assert (await http.post("/twilio/sms", **forged)).status_code == 403
    assert (await http.post("/twilio/sms", **forged)).status_code == 403
    body = json.dumps(
        {"payment_id": "p1", "account_id": "A-1", "amount": "10.00", "currency": "EUR"}
    ).encode()
    assert (await http.post("/payments", **payment(body))).status_code == 200
    assert (await http.post("/payments", **payment(body, secret="guessed"))).status_code == 403

    assert requests(app, "/twilio/sms", 200) == 1
    assert requests(app, "/twilio/sms", 403) == 2
    assert requests(app, "/payments", 200) == 1
    assert requests(app, "/payments", 403) == 1
    count = "dunning_webhook_request_duration_seconds_count"
    assert metric(app, count, route="/twilio/sms") == 3


async def test_a_token_in_the_path_is_never_a_label(http, app):
    token = unsubscribe_token("dev-only-link-secret", "A-1", Channel.EMAIL)
    assert (await http.get(f"/unsubscribe/{token}")).status_code == 200
    assert (await http.post(f"/unsubscribe/{token}")).status_code == 200
    assert (await http.get("/wp-login.php?user=admin")).status_code == 404
    assert (await http.request("BREW", "/payments")).status_code == 405

    assert requests(app, "/unsubscribe/{token}", 200, "GET") == 1
    assert requests(app, "/unsubscribe/{token}", 200) == 1
    assert requests(app, "unmatched", 404, "GET") == 1
    assert requests(app, "/payments", 405, "other") == 1
    text = generate_latest(app.state.metrics.registry).decode()
    assert token not in text and "wp-login" not in text and "BREW" not in text


async def test_a_body_refused_as_too_large_is_counted_under_its_route(http, app):
    big = {**STOP, "Body": "x" * 10_000}
    assert (await http.post("/twilio/sms", **signed_form("/twilio/sms", big))).status_code == 413
    assert requests(app, "/twilio/sms", 413) == 1


async def test_events_are_counted_by_type_and_the_answer_they_got(http, app):
    stop = signed_form("/twilio/sms", STOP)
    assert (await http.post("/twilio/sms", **stop)).status_code == 200
    assert (await http.post("/twilio/sms", **stop)).status_code == 200  # Twilio retries
    # An event for an account the workflows do not know (gone between look-up and apply).
    late = AccountEvent(type="payment", amount="1.00", event_id="payment:p9", source="payments")
    assert await app.state.webhooks.apply("A-404", late) is None

    events = "dunning_webhook_events_total"
    assert metric(app, events, type="reply", answer="accepted") == 1
    assert metric(app, events, type="reply", answer="duplicate") == 1
    assert metric(app, events, type="payment", answer="no_account") == 1


# ---- the listener ---------------------------------------------------------------------------


def fetch(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.headers["Content-Type"], answer.read().decode()


async def test_the_listener_serves_the_registry_in_the_prometheus_text_format(http, app):
    await http.post("/twilio/sms", **signed_form("/twilio/sms", STOP))
    listener = start_listener(app.state.metrics.registry, "127.0.0.1:0")
    try:
        status, kind, text = await asyncio.to_thread(fetch, listener.url)
        assert listener.url.endswith("/metrics")
        assert status == 200 and kind.startswith("text/plain; version=0.0.4")
        assert "# TYPE dunning_webhook_requests_total counter" in text
        assert 'route="/twilio/sms"' in text
        families = {family.name for family in text_string_to_metric_families(text)}
        assert {"dunning_webhook_requests", "dunning_webhook_events"} <= families
    finally:
        listener.close()
    with pytest.raises(urllib.error.URLError):
        fetch(listener.url)


def test_an_address_in_use_is_named_and_the_server_runs_without_metrics(app):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(ListenerUnavailable, match="DUNNING_WEBHOOK_METRICS_ADDRESS"):
            start_listener(app.state.metrics.registry, address)
        said: list[str] = []
        settings = load_settings(webhook_metrics_address=address)
        with metrics_listener(app, settings, said.append) as listener:
            assert listener is None
        assert "DUNNING_WEBHOOK_METRICS_ADDRESS" in said[0]
    with metrics_listener(app, load_settings(webhook_metrics_address=""), said.append) as off:
        assert off is None


def test_a_metrics_address_must_be_host_and_port():
    for bad in ("9465", "localhost:", "localhost:http", "127.0.0.1:70000"):
        with pytest.raises(SettingsError, match="WEBHOOK_METRICS_ADDRESS"):
            load_settings(webhook_metrics_address=bad)
    assert load_settings(worker_metrics_address=" ").worker_metrics_address == ""


async def test_dunning_webhooks_serves_metrics_on_their_own_address(tmp_path: Path):
    """The command ops run: the public port answers webhooks but not /metrics; the metrics
    address answers /metrics, counting the public port's answers."""
    public, private = free_port(), free_port()
    env = {
        **os.environ,
        "NO_PROXY": "127.0.0.1,localhost",
        "DUNNING_DATA_DIR": str(tmp_path / "data"),
        "DUNNING_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # nothing there: /healthz 503
        "DUNNING_WEBHOOK_METRICS_ADDRESS": f"127.0.0.1:{private}",
    }
    server = subprocess.Popen(
        [DUNNING, "webhooks", "--port", str(public)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{public}") as client:
            for _ in range(150):
                try:
                    answer = await client.get("/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("the webhook server never answered")
            assert answer.status_code == 503  # no Temporal: not healthy, but serving
            assert (await client.get("/metrics")).status_code == 404
        status, _, text = await asyncio.to_thread(fetch, f"http://127.0.0.1:{private}/metrics")
        assert status == 200
        assert 'dunning_webhook_requests_total{method="GET",route="/healthz",status="503"}' in text
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = await asyncio.to_thread(server.communicate, timeout=30)
    assert server.returncode == 0, output
    said = " ".join(output.split())  # rich wraps long lines
    assert f"metrics on http://127.0.0.1:{private}/metrics" in said


async def test_ops_console_requests_are_counted_under_their_route_templates(tmp_path: Path):
    """The console is mounted under /ops: its routes are labelled with the mount's path, and a
    request without the login is counted like any other answer."""
    accounts = MemoryAccounts()
    accounts.add("A-1", phone="+33612345678")
    settings = load_settings(public_base_url=PUBLIC, ops_token="t" * 32)
    store = open_store(f"sqlite:///{tmp_path}/store.sqlite3")
    app = create_app(settings, accounts, store, clock=lambda: NOW.timestamp())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
            answer = await client.get("/ops/accounts/A-1")
    finally:
        store.close()
    assert answer.status_code in (303, 401, 403)
    route = "/ops/accounts/{account_id}"
    assert requests(app, route, answer.status_code, "GET") == 1
    assert 'route="/ops/accounts/A-1"' not in generate_latest(app.state.metrics.registry).decode()
