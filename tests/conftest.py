"""Shared fixtures: a fresh time-skipping Temporal test server per test, and a harness that
runs the real worker (real workflow, real activities, real templates) against it.

A fresh server per workflow test keeps tests independent: the test server's clock only moves
forward, and several tests need absolute dates (a DST change, a holiday).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.channels.base import Transport
from activities.channels.outbox import MemoryOutbox
from config.ladder import Ladder
from config.ladder_loader import load_catalog, parse_ladder
from config.settings import PROJECT_ROOT, Settings, load_settings
from connection.temporal import bundled_binary, register_search_attributes
from intake.accounts_csv import build_account
from intake.start import start_account
from simulation.engine import advance_to
from tests.fakes.live import ACCOUNT_SID, AUTH_TOKEN, SENDGRID_KEY
from tests.fakes.providers import FakeProviders
from worker import build_worker
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES
from workflows.types import AccountInput, AccountView, workflow_id_for

pytest_plugins = ["tests.postgres_server"]  # postgres_server, postgres_url, postgres_database

LADDERS_DIR = PROJECT_ROOT / "config" / "ladders"
EXAMPLE_LADDER_TEXT = (LADDERS_DIR / "consumer-standard.yaml").read_text(encoding="utf-8")
# A Monday, 06:00 UTC: 07:00 in Paris, before the 08:00 window opens.
MONDAY = datetime(2038, 1, 4, 6, 0, tzinfo=UTC)


def ladder_from(text: str = EXAMPLE_LADDER_TEXT) -> Ladder:
    return parse_ladder(text, Path("test-ladder.yaml"))


def account(
    now: datetime,
    *,
    ladder: Ladder | None = None,
    account_id: str = "T-1",
    **columns: str,
) -> AccountInput:
    """An AccountInput built through the real CSV row validation."""
    row = {
        "account_id": account_id,
        "name": "Claire Martin",
        "email": "claire@example.org",
        "phone": "+33612345678",
        "address": "12 rue des Lilas",
        "postal_code": "69003",
        "city": "Lyon",
        "country": "FR",
        "timezone": "Europe/Paris",
        "locale": "fr",
        "balance": "120.50",
        "currency": "EUR",
        "days_past_due": "0",
    }
    row.update(columns)
    row = {key: value for key, value in row.items() if value is not None}
    catalog = load_catalog(LADDERS_DIR)
    if ladder is not None:
        catalog[ladder.name] = ladder
    return build_account(
        row,
        ladders=catalog,
        default_ladder=(ladder.name if ladder else "consumer-standard"),
        default_locale="en",
        now=now,
    )


@dataclass
class Harness:
    """The real worker on a fresh test server, with an in-memory outbox by default."""

    env: WorkflowEnvironment
    settings: Settings
    handoff_dir: Path
    transport: Transport = field(default_factory=MemoryOutbox)
    task_queue: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:8]}")

    def worker(self, transport: Transport | None = None, *, cache: bool = True) -> Worker:
        """`cache=False` makes every workflow task replay the history from the start (and
        avoids sticky queues, which the test server cannot fail over while time is locked)."""
        return build_worker(
            self.env.client,
            self.settings,
            transport=transport or self.transport,
            handoff_dir=self.handoff_dir,
            task_queue=self.task_queue,
            max_cached_workflows=1000 if cache else 0,
        )

    async def start(self, account_input: AccountInput) -> WorkflowHandle:
        outcome = await start_account(self.env.client, account_input, self.task_queue)
        assert outcome.started, outcome
        return self.env.client.get_workflow_handle(workflow_id_for(account_input.account_id))

    async def advance_to(self, moment: datetime) -> None:
        await advance_to(self.env, moment)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def view(self, account_id: str = "T-1") -> AccountView:
        handle = self.env.client.get_workflow_handle(workflow_id_for(account_id))
        return await handle.query("status", result_type=AccountView)

    @property
    def outbox(self) -> MemoryOutbox:
        assert isinstance(self.transport, MemoryOutbox)
        return self.transport


def free_port() -> int:
    """A localhost port free right now (a server started on it may still lose a race)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


@pytest_asyncio.fixture
async def env():
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=bundled_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    async with environment:
        await register_search_attributes(environment.client, "default")
        yield environment


@pytest_asyncio.fixture
async def dev_env():
    """The real Temporal dev server (wall-clock time, real visibility for search attributes)."""
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=bundled_binary("temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
    )
    async with environment:
        yield environment


@pytest_asyncio.fixture
async def harness(env: WorkflowEnvironment, settings: Settings, tmp_path: Path) -> Harness:
    """A harness whose clock stands at MONDAY."""
    await advance_to(env, MONDAY)
    return Harness(env=env, settings=settings, handoff_dir=tmp_path / "handoff")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProviders]:
    """The fake Twilio and SendGrid, reached without a proxy and without Twilio's edge/region
    host rewriting (TWILIO_EDGE / TWILIO_REGION would send the SDK elsewhere)."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("TWILIO_EDGE", "TWILIO_REGION"):
        monkeypatch.delenv(name, raising=False)
    with FakeProviders(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, sendgrid_api_key=SENDGRID_KEY
    ) as providers:
        yield providers
    assert providers.errors == [], "the fake providers crashed"
