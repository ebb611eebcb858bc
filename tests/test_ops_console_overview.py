"""The console's overview: the report is built at most once a minute per period (one build at a
time), a malformed audit record is a message, and an unreachable Temporal a note, never a 500
or a 503 for the whole page."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from config.settings import load_settings
from inbound.accounts import AccountsUnavailable
from inbound.app import create_app
from inbound.ops.overview import TEMPORAL_NOTE, BuiltReport, ReportCache
from store import open_store
from store.protocols import AuditAppend, AuditRecord
from tests.test_ops_console_http import BASE, TOKEN
from tests.test_webhooks import MemoryAccounts

BEARER = {"Authorization": f"Bearer {TOKEN}"}
OPENED = {
    "workflow_id": "dunning-account-R-1",
    "ladder_name": "consumer-standard",
    "ladder_version": 1,
    "jurisdiction": "none",
    "currency": "EUR",
    "balance": "120.50",
    "due_at": "2026-11-01T00:00:00Z",
}


class TemporalDown(MemoryAccounts):
    """A gateway whose Temporal client cannot be had (as `TemporalAccounts` when it is down)."""

    async def client(self):
        raise AccountsUnavailable("Temporal unreachable: connection refused")


async def test_one_build_per_period_per_minute_however_many_ask():
    now = [0.0]
    builds: list[int] = []

    async def build(days: int) -> BuiltReport:
        builds.append(days)
        await asyncio.sleep(0.05)  # the others arrive while it builds
        return BuiltReport(None if days == 90 else "html", None, None, datetime.now(UTC))  # type: ignore[arg-type]

    cache = ReportCache(build, ttl=60, problem_ttl=10, clock=lambda: now[0])
    first = await asyncio.gather(*(cache.get(30) for _ in range(5)), cache.get(7))
    assert builds == [30, 7] and len({id(report) for report in first[:5]}) == 1
    now[0] = 59.0
    await cache.get(30)
    assert builds == [30, 7]
    now[0] = 60.0
    await cache.get(30)
    assert builds == [30, 7, 30]
    await cache.get(90)  # no report (a problem): kept a shorter while
    now[0] = 69.0
    await cache.get(90)
    now[0] = 70.0
    await cache.get(90)
    assert builds == [30, 7, 30, 90, 90]


def app_over(tmp_path, accounts, records):
    settings = load_settings(
        data_dir=tmp_path, ops_token=TOKEN, temporal_address="127.0.0.1:1"
    )  # nothing listens on port 1: the report's own connection attempt fails at once
    store = open_store(settings.store_url)
    if records:
        store.audit.append("R-1", records)
    return create_app(settings, accounts, store, close_store=store.close)


async def get_overview(app) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=BEARER) as http:
        return await http.get("/ops/?days=30")


async def test_a_malformed_audit_record_is_named_not_a_500(tmp_path):
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    broken = {key: value for key, value in OPENED.items() if key != "currency"}
    app = app_over(tmp_path, MemoryAccounts(), [AuditAppend("opened", at, "opened", broken)])
    page = await get_overview(app)
    assert page.status_code == 200
    assert "The report cannot be built" in page.text and "R-1" in page.text


@pytest.mark.parametrize("gateway", [TemporalDown, MemoryAccounts])
async def test_with_temporal_unreachable_the_report_is_shown_with_a_note(tmp_path, gateway):
    at = datetime.now(UTC).replace(microsecond=0)
    app = app_over(tmp_path, gateway(), [AuditAppend("opened", at, "opened", OPENED)])
    page = await get_overview(app)
    assert page.status_code == 200
    assert 'class="report"' in page.text and TEMPORAL_NOTE.split(":")[0] in page.text


def test_the_audit_timeline_skips_conflict_copies():
    """A conflict copy is kept for whoever investigates, never read as the account's record:
    the timeline skips it, as the report and `account show` do."""
    from inbound.ops.timeline import from_audit

    at = datetime(2026, 11, 2, 9, tzinfo=UTC)

    def record(seq: int, key: str, amount: str) -> AuditRecord:
        body = {"type": "payment", "accepted": True, "detail": {"amount": amount}}
        return AuditRecord("A-1", seq, key, at, "event", body, at, "", f"h{seq}")

    entries = from_audit([record(1, "event:0", "12"), record(2, "event:0/conflict-ab", "99")], None)
    assert [entry.facts["amount"] for entry in entries] == ["12"]
