"""The worker's Prometheus metrics: the pure counting of an account's records, and the real
worker on the time-skipping server with a Temporal runtime serving /metrics, scraped over HTTP.

A runtime with Prometheus binds its port for the life of the process, so this module makes one
(on a free port) and every test here shares it; each test reads the series of its own task
queue (the SDK labels every workflow and activity metric with it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities.channels.base import (
    CredentialsRejected,
    Delivery,
    OutgoingMessage,
    OutsideWindow,
    ProviderRefused,
    ProviderUnavailable,
    Undeliverable,
)
from activities.channels.metered import send_result
from activities.channels.outbox import MemoryOutbox
from config.ladder import Channel
from config.settings import Settings, load_settings
from connection.temporal import (
    MetricsUnavailable,
    bundled_binary,
    prometheus_runtime,
    register_search_attributes,
    start_worker_metrics,
)
from intake.events import send_event
from simulation.engine import advance_to
from tests.conftest import MONDAY, Harness, account, free_port, ladder_from
from workflows.account import metrics
from workflows.account_workflow import AccountWorkflow
from workflows.types import AccountEvent, AccountState, ContactRecord, EventRecord, Status

DAY = timedelta(days=1)
DUNNING = str(Path(sys.executable).parent / "dunning")
HISTORIES = Path(__file__).parent / "histories"
LADDER = """
name: metered
version: 1
jurisdiction: eu
holidays: FR
contact_window: {start: "08:00", end: "21:00", days: [mon, tue, wed, thu, fri, sat]}
min_balance: "10.00"
steps:
  - {id: courtesy, day: 1, channel: email, template: courtesy}
  - {id: reminder, day: 2, channel: sms, template: reminder}
  - {id: handoff, day: 30, action: handoff}
"""


ADDRESS = f"127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return prometheus_runtime(ADDRESS)


def scrape(address: str = ADDRESS) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain")
        return answer.read().decode()


def samples(text: str, prefix: str = "") -> dict[tuple[str, frozenset], float]:
    """Every sample whose name starts with `prefix`: (name, labels) → value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith(prefix)
    }


def ours(text: str, task_queue: str) -> Counter[metrics.Count]:
    """Our counters on one task queue, as Counts without the SDK's own labels."""
    sdk_labels = {"namespace", "task_queue", "workflow_type", "activity_type", "service_name"}
    found: Counter[metrics.Count] = Counter()
    for (name, labels), value in samples(text, "dunning_").items():
        if dict(labels).get("task_queue") != task_queue:
            continue
        kept = tuple(sorted((k, v) for k, v in labels if k not in sdk_labels))
        found[metrics.Count(name, kept)] += int(value)
    return found


def recorded(found: Counter[metrics.Count]) -> Counter[metrics.Count]:
    """The workflow's counters (of the account's records), without the activities'."""
    return Counter({c: n for c, n in found.items() if c.name in metrics.DESCRIPTIONS})


# ---- the pure part --------------------------------------------------------------------------


def contact(channel="email", outcome="sent", minute=0, **fields) -> ContactRecord:
    return ContactRecord(
        at=MONDAY + timedelta(minutes=minute),
        step="courtesy",
        channel=Channel(channel),
        template="courtesy",
        outcome=outcome,
        **fields,
    )


def event(kind="payment", accepted=True, minute=0, event_id=None) -> EventRecord:
    return EventRecord(
        at=MONDAY + timedelta(minutes=minute), type=kind, accepted=accepted, event_id=event_id
    )


def test_each_record_gives_its_counters_with_bounded_labels():
    counted = metrics.counts(
        [
            contact("sms", confirmed=False),
            contact("email", "suppressed", reason="text_cap", rule="reg-f-7-in-7"),
            contact("letter", "suppressed", reason="opted_out"),
        ],
        [event("promise"), event("promise", accepted=False), event("handoff")],
    )
    assert counted == {
        metrics.Count(metrics.CONTACTS, (("channel", "sms"), ("outcome", "sent"))): 1,
        metrics.Count(metrics.UNCONFIRMED, (("channel", "sms"),)): 1,
        metrics.Count(metrics.CONTACTS, (("channel", "email"), ("outcome", "suppressed"))): 1,
        metrics.Count(
            metrics.SUPPRESSIONS,
            (("channel", "email"), ("reason", "text_cap"), ("rule", "reg-f-7-in-7")),
        ): 1,
        metrics.Count(metrics.CONTACTS, (("channel", "letter"), ("outcome", "suppressed"))): 1,
        metrics.Count(
            metrics.SUPPRESSIONS, (("channel", "letter"), ("reason", "opted_out"), ("rule", "none"))
        ): 1,
        metrics.Count(metrics.EVENTS, (("answer", "accepted"), ("type", "promise"))): 1,
        metrics.Count(metrics.EVENTS, (("answer", "refused"), ("type", "promise"))): 1,
        metrics.Count(metrics.MILESTONES, (("type", "handoff"),)): 1,
    }
    assert set(metrics.DESCRIPTIONS) >= {count.name for count in counted}


def test_a_carried_state_is_not_counted_again():
    """A new run (continue-as-new) starts its tally from the records it carries."""
    state = AccountState(balance="10", contacts=[contact()], events=[event()])
    assert metrics.Tally(state).new(state) == {}


# One step of a run: a contact appended, an event appended, an event inserted before the
# milestones it caused (`journal._record`), identical records included, or a count taken.
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("contact"), st.sampled_from(["sent", "suppressed"]), st.integers(0, 3)),
        st.tuples(st.just("event"), st.sampled_from(["payment", "handoff"]), st.integers(0, 3)),
        st.tuples(st.just("insert"), st.sampled_from(["promise", "opt_out"]), st.integers(0, 9)),
        st.tuples(st.just("count"), st.just(""), st.just(0)),
    ),
    max_size=40,
)


@given(carried=st.integers(0, 3), steps=STEPS)
def test_every_record_of_a_run_is_counted_exactly_once(carried, steps):
    carried_events = [event(minute=m) for m in range(carried)]
    state = AccountState(balance="10", events=list(carried_events))
    tally = metrics.Tally(state)
    total: Counter[metrics.Count] = Counter()
    for kind, label, number in steps:
        if kind == "contact":
            reason = "opted_out" if label == "suppressed" else None
            state.contacts.append(contact(outcome=label, minute=number, reason=reason))
        elif kind == "event":
            state.events.append(event(label, minute=number))
        elif kind == "insert":
            position = min(number, len(state.events))
            state.events.insert(position, event(label, accepted=number % 2 == 0, minute=number))
        else:
            total.update(tally.new(state))
    total.update(tally.new(state))
    everything = metrics.counts(state.contacts, state.events)
    assert total == everything - metrics.counts([], carried_events)
    assert tally.new(state) == {}


def test_the_result_of_each_delivery_attempt():
    assert send_result(Delivery("m1")) == "accepted"
    assert send_result(Delivery("m1", duplicate=True)) == "duplicate"
    assert send_result(Delivery("m1", duplicate=True, unconfirmed=True)) == "unconfirmed"
    assert send_result(ProviderUnavailable("5xx", maybe_sent=True)) == "in_doubt"
    assert send_result(ProviderUnavailable("429")) == "failed"
    assert send_result(Undeliverable("landline")) == "undeliverable"
    assert send_result(ProviderRefused("no")) == "refused"
    assert send_result(CredentialsRejected("Twilio", "401")) == "refused"
    assert send_result(OutsideWindow("closed")) == "outside_window"
    assert send_result(RuntimeError("crash")) == "failed"


def test_an_address_in_use_is_named_with_the_variable_to_change(runtime):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(MetricsUnavailable, match="DUNNING_WORKER_METRICS_ADDRESS"):
            prometheus_runtime(address)
    assert prometheus_runtime(ADDRESS) is runtime  # one runtime per address


# ---- the real worker, scraped -----------------------------------------------------------------


class UnconfirmedSms(MemoryOutbox):
    """An outbox whose SMS come back as a crash left them: treated as sent, unconfirmed."""

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        delivery = await super().deliver(message)
        if message.channel == Channel.SMS:
            return replace(delivery, duplicate=True, unconfirmed=True)
        return delivery


@pytest_asyncio.fixture
async def metered_env(runtime: Runtime):
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=bundled_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )
    async with environment:
        await register_search_attributes(environment.client, "default")
        yield environment


@pytest.fixture
def metered_settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", worker_metrics_address=ADDRESS)


async def test_a_worker_serves_the_sdk_metrics_and_counts_each_record_once(
    metered_env: WorkflowEnvironment, metered_settings: Settings, tmp_path: Path
):
    """Without a cache every workflow task replays the history from the start: a replayed
    record counted again would show here as a count above the account's records."""
    await advance_to(metered_env, MONDAY)
    harness = Harness(
        env=metered_env,
        settings=metered_settings,
        handoff_dir=tmp_path / "handoff",
        transport=UnconfirmedSms(),
    )
    ladder = ladder_from(LADDER)
    client = metered_env.client
    async with harness.worker(cache=False):
        await harness.start(account(MONDAY, ladder=ladder))
        opt_out = AccountEvent(type="opt_out", channel="email", event_id="stop-1", source="cli")
        assert (await send_event(client, "T-1", opt_out)).accepted
        assert (await send_event(client, "T-1", opt_out)).duplicate
        refused = AccountEvent(type="dispute_resolved", outcome="validated", source="cli")
        assert not (await send_event(client, "T-1", refused)).accepted
        await harness.advance_to(MONDAY + 3 * DAY)
        paid = AccountEvent(type="payment", amount="120.50", source="cli")
        assert (await send_event(client, "T-1", paid)).accepted
        view = await harness.view()
        assert view.status == Status.PAID
        await harness.advance_to(MONDAY + 12 * DAY)  # past the week a closed account lingers
        await harness.env.client.get_workflow_handle("dunning-T-1").result()

    expected = metrics.counts(view.contacts, view.events)
    expected[metrics.duplicate_count("opt_out")] += 1
    text = await _scraped(lambda text: recorded(ours(text, harness.task_queue)) == expected)
    found = ours(text, harness.task_queue)
    assert recorded(found) == expected
    assert found[metrics.Count(metrics.CONTACTS, (("channel", "email"), ("outcome", "suppressed")))]
    suppressed = (("channel", "email"), ("reason", "opted_out"), ("rule", "opt_out"))
    assert found[metrics.Count(metrics.SUPPRESSIONS, suppressed)] == 1
    assert found[metrics.Count(metrics.UNCONFIRMED, (("channel", "sms"),))] == 1
    for answer, kind in (("accepted", "opt_out"), ("duplicate", "opt_out"), ("refused", "")):
        kind = kind or "dispute_resolved"
        assert found[metrics.Count(metrics.EVENTS, (("answer", answer), ("type", kind)))] == 1
    # The send activity's count of delivery attempts: the SMS, none for the opted-out email.
    sends = {
        c.attributes["channel"]: (c.attributes["result"], n)
        for c, n in found.items()
        if c.name == "dunning_provider_sends_total"
    }
    assert sends == {"sms": ("unconfirmed", 1)}
    # The SDK's own metrics on the same endpoint (its counters carry no `_total`).
    queue = f'task_queue="{harness.task_queue}"'
    lines = text.splitlines()
    assert any(line.startswith("temporal_request{") for line in lines)
    assert any(line.startswith("temporal_workflow_completed{") and queue in line for line in lines)
    assert any(line.startswith("temporal_activity_execution_latency") for line in lines)


async def test_replaying_a_recorded_history_counts_nothing(runtime: Runtime):
    """The replayer runs the same code with the same meter: every count is dropped."""
    before = samples(scrape(), "dunning_")
    replayer = Replayer(
        workflows=[AccountWorkflow], data_converter=pydantic_data_converter, runtime=runtime
    )
    for path in sorted(HISTORIES.glob("compliance-example-events-*.json")):
        history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
        await replayer.replay_workflow(history)
    assert samples(scrape(), "dunning_") == before


async def _scraped(done, timeout: float = 10.0) -> str:
    """The endpoint's text once `done(text)` holds (core exports as it records; allow it a
    moment), or the last text read."""
    deadline = datetime.now(UTC) + timedelta(seconds=timeout)
    while True:
        text = await asyncio.to_thread(scrape)
        if done(text) or datetime.now(UTC) > deadline:
            return text
        await asyncio.sleep(0.2)


def test_a_worker_whose_address_is_taken_runs_without_metrics_and_says_why():
    said: list[str] = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        settings = load_settings(worker_metrics_address=address)
        assert start_worker_metrics(settings, said.append) == "no metrics"
    assert "DUNNING_WORKER_METRICS_ADDRESS" in said[0] and address in said[0]
    assert start_worker_metrics(load_settings(worker_metrics_address=""), said.append) == (
        "metrics off"
    )


async def test_dunning_worker_serves_its_metrics(env: WorkflowEnvironment, tmp_path: Path):
    """The command ops run, against the test server: its endpoint answers with the SDK's own
    metrics for its task queue."""
    address, queue = f"127.0.0.1:{free_port()}", f"metrics-{uuid.uuid4().hex[:8]}"
    variables = {
        **os.environ,
        "NO_PROXY": "127.0.0.1,localhost",
        "DUNNING_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "DUNNING_DATA_DIR": str(tmp_path / "data"),
        "DUNNING_TASK_QUEUE": queue,
        "DUNNING_WORKER_METRICS_ADDRESS": address,
    }
    worker = subprocess.Popen(
        [DUNNING, "worker"],
        env=variables,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        text = ""
        for _ in range(200):
            try:
                text = await asyncio.to_thread(scrape, address)
            except OSError:
                text = ""
            if f'task_queue="{queue}"' in text:
                break
            await asyncio.sleep(0.1)
        assert f'task_queue="{queue}"' in text, "the worker's endpoint never showed its queue"
        assert "temporal_worker_start" in text or "temporal_num_pollers" in text
    finally:
        worker.send_signal(signal.SIGINT)
        output, _ = await asyncio.to_thread(worker.communicate, timeout=60)
    assert worker.returncode == 0, output
    assert f"metrics on http://{address}/metrics" in " ".join(output.split())
