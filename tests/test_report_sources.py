"""Where the report's facts come from (reporting/sources.py): the audit trail a real workflow
wrote to a real SQLite store (the same contacts and events as the workflow's own view), the
bulk read it uses (store/audit.py `records_of_kinds`, SQLite and PostgreSQL), the live
statuses from Temporal's visibility (the real dev server), an unreachable Temporal (a warning,
never a failure), and a simulation's JSON document (errors name the field)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from config.settings import load_settings
from intake.events import deliver_event
from intake.start import start_account
from reporting.facts import UNKNOWN_STATUS
from reporting.sources import (
    SourceError,
    facts_from_audit,
    facts_from_simulation,
    load_portfolio,
)
from store import AuditAppend, SqlStore, open_store
from tests.conftest import MONDAY, Harness, account
from worker import build_worker
from workflows.account.audit import contact_entry, event_entry
from workflows.types import AccountEvent, AuditEntry, ContactRecord, EventRecord


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    with open_store(f"sqlite:///{tmp_path / 'data' / 'dunning.sqlite3'}") as opened:
        yield opened


def _append(store: SqlStore, account_id: str, entries: list[AuditEntry]) -> None:
    store.audit.append(
        account_id, [AuditAppend(entry.key, entry.at, entry.kind, entry.body) for entry in entries]
    )


def _opened(balance: str = "120.50", ladder: str = "consumer-standard") -> AuditEntry:
    body = {"ladder_name": ladder, "ladder_version": 1, "currency": "EUR", "balance": balance}
    return AuditEntry(key="opened", at=MONDAY, kind="opened", body=body)


def _record_account(store: SqlStore, account_id: str, *, closed: str | None = None) -> None:
    """An account's trail as the workflow writes it (workflows/account/audit.py's entries)."""
    contact = ContactRecord(
        at=MONDAY + timedelta(days=1),
        step="sms-reminder",
        channel="sms",
        template="reminder-direct",
        outcome="sent",
        variant="reminder-direct",
    )
    payment = EventRecord(
        at=MONDAY + timedelta(days=3), type="payment", detail={"amount": "20.00", "source": "ops"}
    )
    entries = [_opened(), contact_entry(contact, 0), event_entry(payment, 0)]
    if closed is not None:
        body = {"status": closed, "balance": "0.00"}
        entries.append(
            AuditEntry(key="closed", at=MONDAY + timedelta(days=3), kind="closed", body=body)
        )
    _append(store, account_id, entries)


# ---- the audit store ----------------------------------------------------------------------


async def test_facts_from_a_workflows_audit_trail_match_its_own_view(
    harness: Harness, store: SqlStore
):
    worker = build_worker(
        harness.env.client,
        harness.settings,
        transport=harness.transport,
        handoff_dir=harness.handoff_dir,
        task_queue=harness.task_queue,
        audit=store.audit,
    )
    async with worker:
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + timedelta(days=2))
        client = harness.env.client
        await deliver_event(client, "T-1", AccountEvent(type="payment", amount=Decimal("20.00")))
        await deliver_event(client, "T-1", AccountEvent(type="promise", due_in_days=5))
        await harness.advance_to(MONDAY + timedelta(days=3))
        open_view = await harness.view()
        (open_facts,) = await asyncio.to_thread(facts_from_audit, store.audit, {})
        await deliver_event(client, "T-1", AccountEvent(type="payment", amount=Decimal("100.50")))
        await harness.advance_to(MONDAY + timedelta(days=4))
        closed_view = await harness.view()
    assert open_facts.status == UNKNOWN_STATUS  # open, and no live status given
    assert (open_facts.ladder, open_facts.currency) == ("consumer-standard", "EUR")
    assert open_facts.opening_balance == Decimal("120.50") and open_facts.balance is None
    assert open_facts.contacts == open_view.contacts
    assert open_facts.events == open_view.events
    assert open_facts.payments() == [(open_view.events[0].at, Decimal("20.00"))]

    (closed,) = facts_from_audit(store.audit, {"T-1": "active"})  # the closed record wins
    assert (closed.status, closed.balance) == ("paid", Decimal("0.00"))
    assert closed.contacts == closed_view.contacts
    assert closed.events == closed_view.events
    assert [event.type for event in closed.events][-2:] == ["payment", "promise_kept"]


def test_status_comes_from_the_closed_record_then_the_live_one_then_unknown(store: SqlStore):
    _record_account(store, "A-1", closed="paid")
    _record_account(store, "A-2")
    _record_account(store, "A-3")
    _append(store, "A-4", [contact_entry(ContactRecord(
        at=MONDAY, step="x", channel="sms", template="x", outcome="sent"), 0)])  # fmt: skip
    facts = facts_from_audit(store.audit, {"A-1": "active", "A-2": "promised"})
    # A-4 has no `opened` record: nothing says its ladder or currency.
    assert [(f.account_id, f.status) for f in facts] == [
        ("A-1", "paid"),
        ("A-2", "promised"),
        ("A-3", UNKNOWN_STATUS),
    ]
    first = facts[0]
    assert [(c.step, c.variant) for c in first.contacts] == [("sms-reminder", "reminder-direct")]
    assert first.payments() == [(MONDAY + timedelta(days=3), Decimal("20.00"))]


def test_a_conflict_copy_is_not_counted_again(store: SqlStore):
    """A different body under a key the account has (a batch rewritten by a newer worker) is
    kept as `<key>/conflict-…` for whoever investigates; the report counts the record, once."""
    from activities.audit_activities import append_keeping_conflicts

    _record_account(store, "A-1", closed="paid")
    other = EventRecord(
        at=MONDAY + timedelta(days=3), type="payment", detail={"amount": "25.00", "source": "x"}
    )
    entry = event_entry(other, 0)
    append_keeping_conflicts(
        store.audit, "A-1", [AuditAppend(entry.key, entry.at, entry.kind, entry.body)]
    )
    assert any("/conflict-" in record.key for record in store.audit.records("A-1"))
    (facts,) = facts_from_audit(store.audit, {})
    assert facts.payments() == [(MONDAY + timedelta(days=3), Decimal("20.00"))]


def test_a_contact_without_a_variant_keeps_the_body_it_had_before_variants():
    """A record rewritten by a newer worker (a task retried across the deploy) must match the
    one an older worker wrote: no `variant` key unless the step has variants."""
    plain = ContactRecord(
        at=MONDAY, step="courtesy-email", channel="email", template="courtesy", outcome="sent"
    )
    assert "variant" not in contact_entry(plain, 0).body
    varied = plain.model_copy(update={"variant": "courtesy"})
    assert contact_entry(varied, 0).body["variant"] == "courtesy"


def test_a_record_the_report_cannot_read_is_named(store: SqlStore):
    _append(store, "A-1", [_opened(balance="lots")])
    with pytest.raises(SourceError, match=r"audit record A-1 opened \(seq 1\): "):
        facts_from_audit(store.audit, {})


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bulk.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_database")
    with open_store(url) as opened:
        yield opened


def test_records_of_kinds_reads_every_account_in_order(any_store: SqlStore):
    for account_id in ("B-2", "B-1"):
        _record_account(any_store, account_id, closed="paid")
    records = any_store.audit.records_of_kinds(("opened", "closed"))
    assert [(r.account_id, r.seq, r.kind) for r in records] == [
        ("B-1", 1, "opened"),
        ("B-1", 4, "closed"),
        ("B-2", 1, "opened"),
        ("B-2", 4, "closed"),
    ]
    assert any_store.audit.records_of_kinds(()) == []
    every = any_store.audit.records_of_kinds(("opened", "contact", "event", "closed"))
    assert every == any_store.audit.records("B-1") + any_store.audit.records("B-2")


# ---- the live portfolio -------------------------------------------------------------------


async def test_load_portfolio_asks_temporal_for_the_open_accounts_status(dev_env, tmp_path: Path):
    settings = load_settings(data_dir=tmp_path / "data")
    with open_store(settings.store_url) as shared:
        _record_account(shared, "L-1")
        _record_account(shared, "L-2", closed="paid")
        _record_account(shared, "L-3")  # open, but its workflow is gone from Temporal
    outcome = await start_account(dev_env.client, account(MONDAY, account_id="L-1"), "no-worker")
    assert outcome.started
    warnings: list[str] = []
    for _ in range(100):  # visibility is eventually consistent
        facts = await load_portfolio(settings, dev_env.client, warn=warnings.append)
        if facts[0].status != UNKNOWN_STATUS:
            break
        await asyncio.sleep(0.1)
    assert [(f.account_id, f.status) for f in facts] == [
        ("L-1", "active"),
        ("L-2", "paid"),
        ("L-3", UNKNOWN_STATUS),
    ]
    assert warnings == []


async def test_load_portfolio_without_temporal_warns_and_reports_unknown(tmp_path: Path):
    settings = load_settings(data_dir=tmp_path / "data", temporal_address="127.0.0.1:9")
    with open_store(settings.store_url) as shared:
        _record_account(shared, "U-1")
        _record_account(shared, "U-2", closed="handed_off")
    warnings: list[str] = []
    facts = await load_portfolio(settings, None, warn=warnings.append)
    assert [(f.account_id, f.status) for f in facts] == [
        ("U-1", UNKNOWN_STATUS),
        ("U-2", "handed_off"),
    ]
    (warning,) = warnings
    assert warning.startswith("Temporal at 127.0.0.1:9 could not be asked")
    assert warning.endswith(f"they are reported as {UNKNOWN_STATUS}")


# ---- a simulation's document --------------------------------------------------------------

DOCUMENT = {
    "start": "2030-01-07T06:00:00Z",
    "accounts": [
        {
            "account_id": "A-1001",
            "ladder": {"name": "consumer-ab", "version": 1},
            "status": "paid",
            "balance": "0.00",
            "currency": "USD",
            "contacts": [
                {
                    "day": 4.2,
                    "at": "2030-01-11T14:00:00Z",
                    "local": "2030-01-11T09:00:00-05:00",
                    "step": "sms-reminder",
                    "channel": "sms",
                    "template": "reminder-direct",
                    "locale": "en",
                    "outcome": "sent",
                    "reason": None,
                    "variant": "reminder-direct",
                    "confirmed": True,
                }
            ],
            "events": [
                {
                    "day": 7.5,
                    "type": "payment",
                    "accepted": True,
                    "reason": None,
                    "at": "2030-01-14T18:00:00Z",
                    "detail": {"amount": "75.00", "source": "simulation"},
                }
            ],
        }
    ],
}


def test_facts_from_a_simulation_document():
    (facts,) = facts_from_simulation(DOCUMENT)
    assert (facts.account_id, facts.ladder, facts.status, facts.currency) == (
        "A-1001",
        "consumer-ab",
        "paid",
        "USD",
    )
    assert facts.balance == Decimal("0.00")
    assert (
        facts.opened_at is not None and facts.opened_at.isoformat() == "2030-01-07T06:00:00+00:00"
    )
    assert facts.contacts[0].variant == "reminder-direct"
    assert [(at.isoformat(), amount) for at, amount in facts.payments()] == [
        ("2030-01-14T18:00:00+00:00", Decimal("75.00"))
    ]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("accounts"), r"^accounts: Field required$"),
        (
            lambda d: d["accounts"][0]["events"][0].pop("at"),
            r"^accounts\[0\]\.events\[0\]\.at: Field required \(events carry `at` since issue 13",
        ),
        (
            lambda d: d["accounts"][0]["contacts"][0].update(channel="pigeon"),
            r"^accounts\[0\]\.contacts\[0\]\.channel: Input should be",
        ),
        (lambda d: d.update(start="yesterday"), r"^start: Input should be a valid datetime"),
    ],
)
def test_a_document_that_is_not_a_simulation_is_refused_naming_the_field(mutate, message):
    import copy

    document = copy.deepcopy(DOCUMENT)
    mutate(document)
    with pytest.raises(SourceError, match=message):
        facts_from_simulation(document)


def test_a_json_list_is_not_a_simulation_document():
    with pytest.raises(SourceError, match=r"expected the JSON object .* not list"):
        facts_from_simulation([])  # type: ignore[arg-type]
