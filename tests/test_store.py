"""The shared store on both databases: every protocol's semantics, races between threads and
between OS processes, migrations, and `dunning db`. Each PostgreSQL test gets a fresh database
in a throwaway cluster (tests/postgres_server.py)."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from store import (
    CallScript,
    MigrationsPending,
    ProcessedEmail,
    SqlStore,
    StoreError,
    mask_url,
    open_store,
    store_status,
    upgrade_store,
)
from store.schema import available_migrations
from tests.postgres_server import PASSWORD

T0 = datetime(2038, 1, 4, 6, 0, tzinfo=UTC)
ALL_MIGRATIONS = ["0001_initial", "0002_send_recipient", "0003_audit", "0004_audit_refs_kept"]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(url: str, clock: Clock) -> Iterator[SqlStore]:
    with open_store(url, clock=clock) as opened:
        yield opened


# ---- the send ledger -------------------------------------------------------------------


def test_ledger_state_machine(store: SqlStore, clock: Clock) -> None:
    ledger = store.ledger
    assert ledger.claim("k1", "sms", "twilio", "h1") is None
    first = ledger.claim("k1", "sms", "twilio", "other")
    assert first is not None and first.state == "pending" and first.content_hash == "h1"
    assert first.claimed_at == T0 and first.claimed_at.tzinfo is not None
    assert (first.channel, first.provider, first.message_id, first.sent_at) == (
        "sms", "twilio", None, None,
    )  # fmt: skip

    assert ledger.mark_in_doubt("k1", first.claimed_at) is True
    in_doubt = ledger.get("k1")
    assert in_doubt is not None and in_doubt.state == "in_doubt"

    clock.advance(minutes=5)
    assert ledger.reclaim("k1", in_doubt.claimed_at, "h2") == clock.now  # the new claimed_at
    assert ledger.reclaim("k1", in_doubt.claimed_at, "h3") is None  # compare-and-set
    renewed = ledger.get("k1")
    assert renewed is not None and renewed.state == "pending" and renewed.content_hash == "h2"
    assert renewed.claimed_at == clock.now

    sent_at = clock.advance(seconds=3)
    ledger.record_sent("k1", "SM1", sent_at=sent_at)
    sent = ledger.get("k1")
    assert sent is not None and (sent.state, sent.message_id, sent.sent_at) == (
        "sent", "SM1", sent_at,
    )  # fmt: skip
    assert sent.channel == "sms" and sent.content_hash == "h2"  # the claim's facts survive
    assert ledger.knows("SM1") and not ledger.knows("SM2")

    # A settled row is never released, doubted or reclaimed.
    assert ledger.release("k1") is False and ledger.release("k1", sent.claimed_at) is False
    assert ledger.mark_in_doubt("k1") is False
    assert ledger.reclaim("k1", sent.claimed_at, "h4") is None
    assert ledger.get("k1") == sent


def test_reclaim_with_a_frozen_clock_still_compares_and_sets(store: SqlStore) -> None:
    store.ledger.claim("k", "email", "sendgrid", "h")
    entry = store.ledger.get("k")
    assert entry is not None
    renewed = store.ledger.reclaim("k", entry.claimed_at, "h2")
    assert renewed is not None and renewed > entry.claimed_at
    assert store.ledger.reclaim("k", entry.claimed_at, "h3") is None
    assert store.ledger.get("k").claimed_at == renewed  # type: ignore[union-attr]


def test_release_and_upsert(store: SqlStore, clock: Clock) -> None:
    ledger = store.ledger
    ledger.claim("k", "email", "sendgrid", "h")
    ledger.release("k")
    assert ledger.get("k") is None
    assert ledger.claim("k", "email", "sendgrid", "h") is None  # free again
    ledger.mark_in_doubt("k")
    ledger.release("k")  # in_doubt rows are released too
    assert ledger.get("k") is None

    # record_sent after a release (or with no claim at all) still ends recorded.
    ledger.record_sent("lost", "SG1", sent_at=T0, unconfirmed=True)
    lost = ledger.get("lost")
    assert lost is not None and (lost.state, lost.message_id) == ("unconfirmed", "SG1")
    assert ledger.claim("lost", "email", "sendgrid", "h") == lost


def test_prune_stuck_and_entries(store: SqlStore, clock: Clock) -> None:
    ledger = store.ledger
    ledger.claim("old-sent", "sms", "twilio", "h")
    ledger.record_sent("old-sent", "SM1", sent_at=T0)
    ledger.claim("old-pending", "sms", "twilio", "h")
    clock.advance(minutes=1)
    ledger.claim("old-doubt", "sms", "twilio", "h")
    ledger.mark_in_doubt("old-doubt")
    ledger.claim("new-unconfirmed", "email", "sendgrid", "h")
    ledger.record_sent("new-unconfirmed", "SG1", sent_at=T0 + timedelta(days=30), unconfirmed=True)
    clock.advance(days=30)
    ledger.claim("new-pending", "sms", "twilio", "h")

    assert [e.key for e in ledger.entries()] == [
        "old-pending", "old-sent", "new-unconfirmed", "old-doubt", "new-pending",
    ]  # fmt: skip
    cutoff = T0 + timedelta(days=1)
    assert [e.key for e in ledger.stuck(cutoff)] == ["old-pending", "old-doubt"]
    assert ledger.prune(cutoff) == 1
    assert ledger.get("old-sent") is None and ledger.get("old-pending") is not None
    assert ledger.prune(T0 + timedelta(days=31)) == 1  # pending rows are never pruned
    assert {e.key for e in ledger.entries()} == {"old-pending", "old-doubt", "new-pending"}


def test_timestamps_are_aware_utc(store: SqlStore) -> None:
    paris = timezone(timedelta(hours=1))
    local = datetime(2038, 1, 4, 7, 30, 0, 123456, tzinfo=paris)
    store.ledger.record_sent("k", "SM1", sent_at=local)
    entry = store.ledger.get("k")
    assert entry is not None and entry.sent_at == local and entry.sent_at.utcoffset() == timedelta()
    with pytest.raises(ValueError, match="naive"):
        store.ledger.record_sent("k", "SM1", sent_at=datetime(2038, 1, 4))


# ---- call scripts, email events, accounts ----------------------------------------------


def _script(token: str, text: str = "Bonjour") -> CallScript:
    return CallScript(token, "A-1", f"key-{token}", "fr", "fr-FR", "Polly.Lea", text)


def test_call_scripts(store: SqlStore, clock: Clock) -> None:
    scripts = store.call_scripts
    assert scripts.get("t1") is None
    scripts.save(_script("t1"))
    scripts.save(_script("t1", "Bonjour encore"))  # saved again: the last one wins
    assert scripts.get("t1") == _script("t1", "Bonjour encore")
    clock.advance(days=10)
    scripts.save(_script("t2"))
    assert scripts.prune(T0 + timedelta(days=1)) == 1
    assert scripts.get("t1") is None and scripts.get("t2") == _script("t2")


def test_email_events(store: SqlStore) -> None:
    events = store.email_events
    assert events.latest_processed_at() is None and events.processed("k") is None
    first = ProcessedEmail("k", "sg-msg-1", T0, "ev-1")
    events.record_processed(first)
    events.record_processed(ProcessedEmail("k", "changed", T0, "ev-1"))  # a retried post
    assert events.processed("k") == first
    later = ProcessedEmail("k2", "sg-msg-2", T0 + timedelta(hours=2), "ev-2")
    events.record_processed(later)
    assert events.latest_processed_at() == later.processed_at
    assert events.prune(T0 + timedelta(hours=1)) == 1
    assert events.processed("k") is None and events.processed("k2") == later


def test_accounts(store: SqlStore) -> None:
    accounts = store.accounts
    assert accounts.record_started("dunning-A-1", "A-1", T0) is True
    assert accounts.record_started("dunning-A-1", "A-1", T0 + timedelta(days=1)) is False
    record = accounts.get("dunning-A-1")
    assert record is not None and (record.account_id, record.started_at) == ("A-1", T0)
    assert record.closed_at is None and record.status is None
    accounts.record_closed("dunning-A-1", "paid", T0 + timedelta(days=3))
    closed = accounts.get("dunning-A-1")
    assert closed is not None and (closed.status, closed.closed_at) == (
        "paid", T0 + timedelta(days=3),
    )  # fmt: skip
    assert closed.started_at == T0
    assert accounts.get("dunning-A-2") is None
    accounts.record_closed("dunning-A-2", "closed", T0)  # started before the registry existed
    assert accounts.record_started("dunning-A-2", "A-2", T0) is False


# ---- rate limits -----------------------------------------------------------------------


def test_rate_limit_queue(store: SqlStore) -> None:
    limits = store.rate_limits
    assert limits.reserve("twilio:+1", 2.0, now=100.0, max_wait=5).wait == 0
    assert limits.reserve("twilio:+1", 2.0, now=100.5, max_wait=5).wait == pytest.approx(1.5)
    assert limits.reserve("twilio:+1", 2.0, now=101.0, max_wait=5).wait == pytest.approx(3.0)
    refused = limits.reserve("twilio:+1", 2.0, now=101.0, max_wait=4)
    assert refused.reserved is False and refused.wait == pytest.approx(5.0)
    assert limits.reserve("twilio:+1", 2.0, now=101.0, max_wait=5).wait == pytest.approx(5.0)
    assert limits.reserve("other", 2.0, now=101.0, max_wait=0).reserved is True
    assert limits.reserve("twilio:+1", 2.0, now=500.0, max_wait=0).wait == 0  # idle: now


# ---- races -----------------------------------------------------------------------------


def _claim_in_process(url: str, key: str, start_at: float) -> bool:
    with open_store(url) as store:
        time.sleep(max(0.0, start_at - time.time()))
        return store.ledger.claim(key, "sms", "twilio", "h") is None


def _reserve_in_process(url: str, count: int, start_at: float) -> list[float]:
    with open_store(url) as store:
        time.sleep(max(0.0, start_at - time.time()))
        reservations = [
            store.rate_limits.reserve("shared", 0.5, now=1000.0, max_wait=3600)
            for _ in range(count)
        ]
    assert all(r.reserved for r in reservations)
    return [1000.0 + r.wait for r in reservations]


def test_threads_race_one_claim_wins(store: SqlStore) -> None:
    barrier = threading.Barrier(16)

    def claim(_: int) -> bool:
        barrier.wait()
        return store.ledger.claim("race", "sms", "twilio", "h") is None

    with ThreadPoolExecutor(16) as pool:
        assert sorted(pool.map(claim, range(16))) == [False] * 15 + [True]


def test_threads_share_the_rate_limit(store: SqlStore) -> None:
    barrier = threading.Barrier(8)

    def reserve(_: int) -> list[float]:
        barrier.wait()
        got = [store.rate_limits.reserve("k", 1.0, now=0.0, max_wait=100) for _ in range(5)]
        return [r.wait for r in got]

    with ThreadPoolExecutor(8) as pool:
        waits = sorted(w for batch in pool.map(reserve, range(8)) for w in batch)
    assert waits == [float(i) for i in range(40)]


def test_processes_race_one_claim_wins(url: str) -> None:
    open_store(url).close()  # migrated once, so the race is on the claim
    start_at = time.time() + 1.0  # spawned interpreters need a moment to import
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(_claim_in_process, [(url, "race", start_at)] * 4)
    assert sorted(results) == [False] * 3 + [True]


def test_processes_share_the_rate_limit(url: str) -> None:
    open_store(url).close()
    start_at = time.time() + 1.0
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        batches = pool.starmap(_reserve_in_process, [(url, 10, start_at)] * 4)
    slots = sorted(slot for batch in batches for slot in batch)
    assert slots == pytest.approx([1000.0 + 0.5 * i for i in range(40)])  # none shared, no gap


# ---- migrations ------------------------------------------------------------------------


def test_migration_files_ship_for_both_dialects() -> None:
    for dialect in ("sqlite", "postgresql"):
        migrations = available_migrations(dialect)
        assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
        assert migrations[0].label == "0001_initial" and "CREATE TABLE sends" in migrations[0].sql
        assert migrations[1].label == "0002_send_recipient" and "recipient" in migrations[1].sql


def test_the_recipient_migration_keeps_the_rows_claimed_before_it(url: str) -> None:
    from store.db import Database
    from store.schema import _apply_if_pending

    database = Database(url)
    try:  # a database at 0001, as the release before this one left it, with a claim in doubt
        assert _apply_if_pending(database, available_migrations(database.dialect.name)[0])
        database.execute(
            "INSERT INTO sends (idempotency_key, state, channel, provider, claimed_at) "
            "VALUES (?, 'in_doubt', 'sms', 'twilio', ?)",
            ("wf/s/sms/1", database.dialect.time(T0)),
        )
    finally:
        database.close()
    assert [m.label for m in upgrade_store(url)] == ALL_MIGRATIONS[1:]
    with open_store(url, migrate=False) as store:
        [entry] = store.ledger.unsettled("wf/s/")
        assert (entry.key, entry.state, entry.recipient) == ("wf/s/sms/1", "in_doubt", "")


def test_migrations_apply_once(url: str) -> None:
    assert [m.label for m in store_status(url).pending] == ALL_MIGRATIONS
    with pytest.raises(MigrationsPending, match="dunning db upgrade"):
        open_store(url, migrate=False)
    with ThreadPoolExecutor(4) as pool:  # workers starting together
        stores = list(pool.map(lambda _: open_store(url), range(4)))
    for opened in stores:
        assert PASSWORD not in opened.url
        opened.close()
    status = store_status(url)
    assert [m.label for m in status.applied] == ALL_MIGRATIONS and status.pending == []
    assert status.applied[0].applied_at.tzinfo is not None
    assert upgrade_store(url) == []
    open_store(url, migrate=False).close()


def test_unreachable_database_is_one_clear_error() -> None:
    url = f"postgresql://dunning:{PASSWORD}@127.0.0.1:1/nowhere"
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert PASSWORD not in str(caught.value) and "127.0.0.1" in str(caught.value)
    with pytest.raises(StoreError, match="unsupported"):
        open_store("mysql://x/y")


def test_mask_url() -> None:
    assert mask_url("postgresql://u:p%40ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask_url("postgres://u@h/db?password=x&sslmode=require") == (
        "postgres://u@h/db?password=***&sslmode=require"
    )
    assert mask_url("sqlite:////var/lib/dunning.sqlite3") == "sqlite:////var/lib/dunning.sqlite3"


# ---- dunning db ------------------------------------------------------------------------


def test_db_commands(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import app  # here, not at the top: spawned race workers import this module

    monkeypatch.setenv("DUNNING_DATABASE_URL", url)
    runner = CliRunner()
    status = runner.invoke(app, ["db", "status"])
    assert status.exit_code == 0, status.output
    assert "pending  0001_initial" in status.stdout and mask_url(url) in status.stdout
    assert "pending  0002_send_recipient" in status.stdout
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0 and "applied 0001_initial" in upgraded.stdout
    assert "applied 0002_send_recipient" in upgraded.stdout
    again = runner.invoke(app, ["db", "upgrade"])
    assert again.exit_code == 0 and "up to date" in again.stdout
    status = runner.invoke(app, ["db", "status"])
    assert "applied  0001_initial" in status.stdout and "up to date" in status.stdout
    assert "applied  0002_send_recipient" in status.stdout
    for result in (status, upgraded, again):
        assert PASSWORD not in result.output


def test_db_command_on_an_unreachable_database(monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import app

    monkeypatch.setenv("DUNNING_DATABASE_URL", f"postgresql://u:{PASSWORD}@127.0.0.1:1/x")
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert "u:***@127.0.0.1:1/x" in result.stderr and PASSWORD not in result.output


def test_a_lost_postgres_connection_is_replaced(postgres_database: str) -> None:
    import psycopg

    with open_store(postgres_database) as store:
        pid = store.database.connection().info.backend_pid
        with psycopg.connect(postgres_database, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.OperationalError):
            store.accounts.get("dunning-A-1")  # this call fails; its activity would retry
        assert store.accounts.get("dunning-A-1") is None  # the next one reconnects
