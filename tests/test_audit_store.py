"""The audit trail (store/audit.py) on both databases: appends and their keys, the hash chain,
what `verify` finds when rows are changed or deleted behind the database's back (its triggers
bypassed as an attacker with the file or superuser rights would), content addressing, erasure,
concurrent appends to one account, and the erasure helpers of the ledger and call scripts.
Each PostgreSQL test gets a fresh database in a throwaway cluster (tests/postgres_server.py)."""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from store import (
    AuditAppend,
    AuditConflict,
    CallScript,
    SqlStore,
    StoredContent,
    open_store,
    record_hash,
)
from store.schema import available_migrations
from tests.test_store import T0, Clock

SHA_OF_NOTHING = hashlib.sha256(b"").hexdigest()


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


def _entry(key: str, minutes: int = 0, kind: str = "event", **body: Any) -> AuditAppend:
    return AuditAppend(key, T0 + timedelta(minutes=minutes), kind, body)


def _chain(store: SqlStore, account_id: str = "A-1", count: int = 5) -> None:
    store.audit.append(account_id, [_entry(f"k{i}", i, n=i) for i in range(1, count + 1)])


def _driver_errors() -> tuple[type[Exception], ...]:
    import psycopg

    return (sqlite3.Error, psycopg.Error)


def tamper(store: SqlStore, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """Run statements with the audit triggers out of the way, as someone holding the SQLite
    file or a PostgreSQL superuser could: SQLite drops the triggers and puts them back in the
    same transaction, PostgreSQL turns them off for the session (replica role)."""
    url = store.database.url
    if store.dialect == "sqlite":
        conn = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            saved = triggers.fetchall()
            for name, _ in saved:
                conn.execute(f"DROP TRIGGER {name}")
            for sql, params in statements:
                conn.execute(sql, params)
            for _, sql in saved:
                conn.execute(sql)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        for sql, params in statements:
            conn.execute(sql.replace("?", "%s"), params)


# ---- appending ---------------------------------------------------------------------------


def test_append_numbers_records_and_skips_known_keys(store: SqlStore, clock: Clock) -> None:
    audit = store.audit
    first = audit.append("A-1", [_entry("opened", kind="opened", ladder="x"), _entry("c1", 5)])
    assert [(r.seq, r.key, r.kind) for r in first] == [(1, "opened", "opened"), (2, "c1", "event")]
    assert first[0].prev_hash == "" and first[1].prev_hash == first[0].hash
    assert first[0].recorded_at == T0 and first[0].account_id == "A-1"

    clock.advance(minutes=1)
    again = audit.append("A-1", [_entry("c1", 5), _entry("c2", 6), _entry("c2", 6)])
    assert again[0] == first[1]  # a retried record returns it as first stored
    assert again[1].seq == 3 and again[2] == again[1]  # a key twice in one batch: once
    assert audit.records("A-1") == [*first, again[1]]
    assert audit.append("A-2", [_entry("c1")])[0].seq == 1  # keys and seqs are per account
    assert audit.append("A-1", []) == []
    assert audit.accounts() == ["A-1", "A-2"]


def test_a_different_record_under_a_known_key_is_refused(store: SqlStore, clock: Clock) -> None:
    audit = store.audit
    paris = timezone(timedelta(hours=1))
    [first] = audit.append("A-1", [_entry("c1", 5, kind="contact", steps=(1, 2))])
    clock.advance(minutes=1)
    # The same record, however spelt (another offset, a tuple for a list), is a retry.
    same = AuditAppend("c1", (T0 + timedelta(minutes=5)).astimezone(paris), "contact",
                       {"steps": [1, 2]})  # fmt: skip
    assert audit.append("A-1", [same]) == [first]
    for changed in (
        _entry("c1", 5, kind="contact", steps=[1, 3]),  # the body
        _entry("c1", 6, kind="contact", steps=[1, 2]),  # the moment
        _entry("c1", 5, kind="event", steps=[1, 2]),  # the kind
    ):
        with pytest.raises(AuditConflict) as caught:
            audit.append("A-1", [_entry("c2", 7), changed])
        conflict = caught.value
        assert (conflict.account_id, conflict.key) == ("A-1", "c1")
        assert conflict.record == changed and conflict.existing == first
        assert str(conflict) == (
            "account A-1: audit key 'c1' is already recorded with a different kind, time or body"
        )
    assert audit.records("A-1") == [first]  # the refused batch left nothing, c2 neither
    # Two different records under one key in one batch: refused too.
    with pytest.raises(AuditConflict, match="'c3'") as caught:
        audit.append("A-1", [_entry("c3", 1), _entry("c3", 2)])
    assert caught.value.record == _entry("c3", 2)
    assert audit.records("A-1") == [first] and audit.verify("A-1").ok
    assert audit.append("A-2", [_entry("c1")])[0].seq == 1  # keys are per account


def test_records_read_back_exactly_and_their_hash_recomputes(store: SqlStore) -> None:
    paris = timezone(timedelta(hours=1))
    at = datetime(2038, 1, 4, 7, 30, 0, 123456, tzinfo=paris)
    body = {"z": [1, 2.5, None, True], "a": {"é": "ünïcode"}, "t": (1, 2)}
    [stored] = store.audit.append("A-1", [AuditAppend("k", at, "contact", body)])
    [read] = store.audit.records("A-1")
    assert read == stored and read.at == at and read.at.utcoffset() == timedelta()
    assert read.body == {"z": [1, 2.5, None, True], "a": {"é": "ünïcode"}, "t": [1, 2]}
    fields = (read.key, read.at, read.kind, read.body, read.recorded_at, read.prev_hash)
    assert read.hash == record_hash("A-1", 1, *fields)
    with pytest.raises(ValueError, match="naive"):
        store.audit.append("A-1", [AuditAppend("k2", datetime(2038, 1, 4), "event", {})])
    assert store.audit.records("A-1") == [stored]  # the failed batch left nothing


def test_a_chain_verifies(store: SqlStore) -> None:
    assert store.audit.verify("nobody").ok and store.audit.verify("nobody").records == 0
    text = store.audit.put_content(b"Bonjour Claire", "text/plain", account_id="A-1")
    debtor = store.audit.put_content(b'{"name":"Claire"}', "application/json", account_id="A-1")
    records = store.audit.append(
        "A-1",
        [
            _entry("opened", kind="opened", debtor=debtor),
            _entry("c1", 5, kind="contact", content=text, nested={"text": text}),
            _entry("e1", 6, text="not a sha256"),
        ],
    )
    report = store.audit.verify("A-1")
    assert report.ok, report.problems
    assert (report.records, report.head) == (3, records[-1].hash)
    assert (report.contents_checked, report.contents_erased) == (2, 0)


# ---- what the database refuses, and what verify finds behind its back --------------------


def test_the_database_refuses_to_rewrite_history(store: SqlStore) -> None:
    _chain(store, count=2)
    sha = store.audit.put_content(b"x", "text/plain", account_id="A-1")
    db = store.database
    refused = [
        ("UPDATE audit_records SET kind = 'other' WHERE seq = 1", "append-only"),
        ("DELETE FROM audit_records WHERE seq = 2", "append-only"),
        ("DELETE FROM audit_heads", "moves forward"),
        ("UPDATE audit_heads SET seq = 1", "moves forward"),
        ("DELETE FROM audit_contents", "tombstones"),
        (f"UPDATE audit_contents SET media_type = 'x' WHERE sha256 = '{sha}'", "erased"),
        (f"UPDATE audit_contents SET body = NULL WHERE sha256 = '{sha}'", "erase"),
        ("DELETE FROM audit_content_refs", "append-only"),
        ("UPDATE audit_content_refs SET account_id = 'A-2'", "append-only"),
    ]
    for sql, message in refused:
        with pytest.raises(_driver_errors(), match=message):
            db.execute(sql)
    with pytest.raises(_driver_errors()):  # a body rewritten in place
        db.execute("UPDATE audit_contents SET body = ? WHERE sha256 = ?", (b"y", sha))
    if store.dialect == "postgresql":
        for table in ("audit_records", "audit_content_refs"):
            with pytest.raises(_driver_errors(), match="append-only"):
                db.execute(f"TRUNCATE {table}")
    assert [r.seq for r in store.audit.records("A-1")] == [1, 2]
    assert store.audit.content(sha).body == b"x"  # type: ignore[union-attr]
    refs = db.execute("SELECT account_id, sha256 FROM audit_content_refs").fetchall()
    assert [tuple(row) for row in refs] == [("A-1", sha)]
    assert store.audit.verify("A-1").ok


def test_an_edited_record_is_found(store: SqlStore) -> None:
    _chain(store)
    tamper(store, ("UPDATE audit_records SET body = ? WHERE seq = 3", ('{"n":30}',)))
    report = store.audit.verify("A-1")
    assert [(p.seq, p.problem) for p in report.problems] == [
        (3, "seq 3 does not match its hash (changed)")
    ]


def test_a_rewritten_record_with_a_fresh_hash_breaks_the_next_link(store: SqlStore) -> None:
    _chain(store)
    old = store.audit.records("A-1")[1]
    forged = record_hash(
        "A-1", 2, old.key, old.at, old.kind, {"n": 20}, old.recorded_at, old.prev_hash
    )
    tamper(
        store, ("UPDATE audit_records SET body = ?, hash = ? WHERE seq = 2", ('{"n":20}', forged))
    )
    problems = store.audit.verify("A-1").problems
    assert [p.seq for p in problems] == [3] and "does not link to seq 2" in problems[0].problem


def test_a_deleted_record_is_found(store: SqlStore) -> None:
    _chain(store)
    tamper(store, ("DELETE FROM audit_records WHERE seq = 3", ()))
    report = store.audit.verify("A-1")
    assert [(p.seq, p.problem) for p in report.problems] == [(3, "seq 3 missing (deleted)")]
    assert report.records == 4


def test_a_deleted_tail_is_found(store: SqlStore) -> None:
    _chain(store)
    tamper(store, ("DELETE FROM audit_records WHERE seq >= 4", ()))
    report = store.audit.verify("A-1")
    assert [(p.seq, p.problem) for p in report.problems] == [
        (4, "seqs 4-5 missing at the end (the head is at 5)")
    ]
    tamper(store, ("DELETE FROM audit_records", ()))
    assert [p.seq for p in store.audit.verify("A-1").problems] == [1]
    assert store.audit.accounts() == ["A-1"]  # still listed: its head remembers it


def test_a_changed_tail_with_a_fresh_hash_is_found_by_the_head(store: SqlStore) -> None:
    _chain(store)
    last = store.audit.records("A-1")[-1]
    forged = record_hash(
        "A-1", 5, last.key, last.at, last.kind, {}, last.recorded_at, last.prev_hash
    )
    tamper(store, ("UPDATE audit_records SET body = '{}', hash = ? WHERE seq = 5", (forged,)))
    problems = store.audit.verify("A-1").problems
    assert [(p.seq, p.problem) for p in problems] == [
        (5, "seq 5 does not match the head's hash (changed)")
    ]


# ---- contents ----------------------------------------------------------------------------


def test_a_content_is_stored_once(store: SqlStore) -> None:
    audit = store.audit
    sha = audit.put_content(b"Bonjour", "text/plain", account_id="A-1")
    assert sha == hashlib.sha256(b"Bonjour").hexdigest()
    assert audit.put_content(b"Bonjour", "text/html", account_id="A-2") == sha
    assert audit.put_content(b"", "text/plain") == SHA_OF_NOTHING
    stored = audit.content(sha)
    assert stored is not None and (stored.media_type, stored.body, stored.erased_at) == (
        "text/plain", b"Bonjour", None,
    )  # fmt: skip
    count = store.database.execute("SELECT COUNT(*) FROM audit_contents").fetchone()[0]
    refs = store.database.execute("SELECT COUNT(*) FROM audit_content_refs").fetchone()[0]
    assert (count, refs) == (2, 2)
    assert audit.content("0" * 64) is None


def test_a_tampered_or_missing_content_is_found(store: SqlStore) -> None:
    sha = store.audit.put_content(b"Bonjour", "text/plain", account_id="A-1")
    gone = hashlib.sha256(b"never stored").hexdigest()
    store.audit.append("A-1", [_entry("c1", content=sha), _entry("c2", text=[gone])])
    tamper(store, ("UPDATE audit_contents SET body = ? WHERE sha256 = ?", (b"Bye", sha)))
    report = store.audit.verify("A-1")
    assert [(p.seq, p.problem) for p in report.problems] == [
        (1, f"content {sha} named by seq 1 no longer matches its hash"),
        (2, f"content {gone} named by seq 2 is missing"),
    ]
    assert report.contents_checked == 2


# ---- erasure -----------------------------------------------------------------------------


def test_erasure_keeps_the_chain_and_shared_contents(store: SqlStore, clock: Clock) -> None:
    audit = store.audit
    own = audit.put_content(b"Claire's letter", "text/plain", account_id="A-1")
    debtor = audit.put_content(b"Claire, Lyon", "text/plain", account_id="A-1")
    shared = audit.put_content(b"Standard reminder", "text/plain", account_id="A-1")
    audit.put_content(b"Standard reminder", "text/plain", account_id="A-2")
    audit.append("A-1", [_entry("opened", debtor=debtor), _entry("c1", content=own)])
    audit.append("A-1", [_entry("c2", content=shared)])
    audit.append("A-2", [_entry("c1", content=shared)])

    erased_at = clock.advance(days=400)
    assert audit.erase("A-1", erased_at) == 2
    assert audit.content(own) == StoredContent(own, "text/plain", None, erased_at)
    assert audit.content(shared).body == b"Standard reminder"  # type: ignore[union-attr]
    report = audit.verify("A-1")
    assert report.ok, report.problems
    assert (report.records, report.contents_checked, report.contents_erased) == (4, 3, 2)
    last = audit.records("A-1")[-1]
    assert (last.key, last.kind, last.body, last.at) == (
        "erased", "erased", {"contents_erased": 2}, erased_at,
    )  # fmt: skip

    assert audit.erase("A-1", erased_at + timedelta(days=1)) == 0  # idempotent
    assert len(audit.records("A-1")) == 4
    assert audit.verify("A-2").ok and audit.verify("A-2").contents_erased == 0

    # Once the other account is erased too, nobody needs the shared content: erased then, with
    # A-1's erasure record before it and A-2's written with it, it verifies for both.
    later = clock.advance(days=1)
    assert audit.erase("A-2", later) == 1
    assert audit.content(shared) == StoredContent(shared, "text/plain", None, later)
    assert audit.verify("A-1").contents_erased == 3 and audit.verify("A-1").ok
    assert audit.verify("A-2").ok

    # The same bytes put again restore the body (they hash to its name).
    assert audit.put_content(b"Claire's letter", "text/plain") == own
    restored = audit.content(own)
    assert restored is not None and (restored.body, restored.erased_at) == (
        b"Claire's letter",
        None,
    )


def _erased_by_hand(store: SqlStore, sha: str, when: datetime) -> None:
    """What the triggers must allow for erasure itself: a body set to NULL with a date."""
    store.database.execute(
        "UPDATE audit_contents SET body = NULL, erased_at = ? WHERE sha256 = ?",
        (store.database.dialect.time(when), sha),
    )


def test_an_erasure_without_an_erasure_record_is_found(store: SqlStore, clock: Clock) -> None:
    audit = store.audit
    own = audit.put_content(b"Claire's letter", "text/plain", account_id="A-1")
    shared = audit.put_content(b"Standard reminder", "text/plain", account_id="A-1")
    audit.put_content(b"Standard reminder", "text/plain", account_id="A-2")
    audit.append("A-1", [_entry("c1", content=own), _entry("c2", content=shared)])
    audit.append("A-2", [_entry("c1", content=shared)])
    when = clock.advance(days=10)
    _erased_by_hand(store, own, when)
    report = audit.verify("A-1")
    assert report.contents_erased == 1
    assert [(p.seq, p.problem) for p in report.problems] == [
        (1, f"content {own} named by seq 1 was erased on 2038-01-14T06:00:00+00:00 but account "
            "A-1 has no erasure record at or before it"),
    ]  # fmt: skip

    # A-1 erased for real a day later: nothing of its own left to erase (the shared content is
    # kept for A-2), and the erasure by hand came before A-1 asked for it: still found.
    erased_at = clock.advance(days=1)
    assert audit.erase("A-1", erased_at) == 0
    problems = audit.verify("A-1").problems
    assert [p.problem.split(" but ")[1] for p in problems] == [
        "account A-1 has no erasure record at or before it"
    ]
    # The shared content erased by hand, A-2 not erased: found from both sides.
    _erased_by_hand(store, shared, erased_at)
    missing_a2 = (
        f"content {shared} named by seq {{seq}} was erased on {erased_at.isoformat()} but "
        "account A-2 has no erasure record at or before it"
    )
    assert (2, missing_a2.format(seq=2)) in [
        (p.seq, p.problem) for p in audit.verify("A-1").problems
    ]
    assert [(p.seq, p.problem) for p in audit.verify("A-2").problems] == [
        (1, missing_a2.format(seq=1))
    ]


def test_an_erasure_after_the_erasure_record_is_found(store: SqlStore, clock: Clock) -> None:
    """A content put again after its account was erased (a re-opened account), then erased
    behind the application's back later: the old erasure record does not cover it. `erase`
    itself erases it again with a new record (`erased/2`)."""
    audit = store.audit
    letter = audit.put_content(b"Claire's letter", "text/plain", account_id="A-1")
    audit.append("A-1", [_entry("c1", content=letter)])
    first = clock.advance(days=1)
    assert audit.erase("A-1", first) == 1 and audit.verify("A-1").ok
    assert audit.put_content(b"Claire's letter", "text/plain", account_id="A-1") == letter
    assert audit.verify("A-1").ok  # restored: present and hashing to its name

    forged = clock.advance(days=1)
    _erased_by_hand(store, letter, forged)
    assert [(p.seq, p.problem) for p in audit.verify("A-1").problems] == [
        (1, f"content {letter} named by seq 1 was erased on {forged.isoformat()} but no "
            "erasure record was written then (erased outside `erase`)"),
    ]  # fmt: skip

    audit.put_content(b"Claire's letter", "text/plain")  # back again, then erased lawfully
    second = clock.advance(days=1)
    assert audit.erase("A-1", second) == 1
    assert [(r.key, r.kind, r.body) for r in audit.records("A-1")[1:]] == [
        ("erased", "erased", {"contents_erased": 1}),
        ("erased/2", "erased", {"contents_erased": 1}),
    ]
    assert audit.content(letter) == StoredContent(letter, "text/plain", None, second)
    assert audit.verify("A-1").ok
    assert audit.erase("A-1", clock.advance(days=1)) == 0  # nothing left: no record
    assert len(audit.records("A-1")) == 3 and audit.verify("A-1").ok


def test_a_tombstone_stamped_by_the_callers_time_verifies(store: SqlStore, clock: Clock) -> None:
    """Before `erase` stamped tombstones with its record's recorded_at, it used the `at` given
    to it (the record's `at`): such erasures, already in a store, still verify."""
    audit = store.audit
    letter = audit.put_content(b"Claire's letter", "text/plain", account_id="A-1")
    audit.append("A-1", [_entry("c1", content=letter)])
    at = clock.advance(days=1)
    clock.advance(seconds=1)  # the store's clock read a moment later
    audit.append("A-1", [AuditAppend("erased", at, "erased", {"contents_erased": 1})])
    _erased_by_hand(store, letter, at)
    assert audit.verify("A-1").ok


# ---- concurrent appends ------------------------------------------------------------------


def test_threads_appending_to_one_account_make_one_chain(store: SqlStore) -> None:
    threads, each = 8, 10
    barrier = threading.Barrier(threads)

    def append(worker: int) -> None:
        barrier.wait()
        for i in range(each):
            store.audit.append("A-1", [_entry(f"w{worker}-{i}", i), _entry("shared")])

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(append, range(threads)))
    records = store.audit.records("A-1")
    assert [r.seq for r in records] == list(range(1, threads * each + 2))
    assert sum(r.key == "shared" for r in records) == 1
    report = store.audit.verify("A-1")
    assert report.ok and report.records == threads * each + 1, report.problems


def _append_in_process(url: str, worker: int, count: int, start_at: float) -> None:
    with open_store(url) as store:
        time.sleep(max(0.0, start_at - time.time()))
        for i in range(count):
            store.audit.append("A-1", [AuditAppend(f"p{worker}-{i}", T0, "event", {"i": i})])


def test_processes_appending_to_one_account_make_one_chain(url: str) -> None:
    open_store(url).close()  # migrated once, so the race is on the appends
    start_at = time.time() + 1.0  # spawned interpreters need a moment to import
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.starmap(_append_in_process, [(url, worker, 10, start_at) for worker in range(4)])
    with open_store(url) as store:
        assert [r.seq for r in store.audit.records("A-1")] == list(range(1, 41))
        assert store.audit.verify("A-1").ok


# ---- erasing personal data elsewhere -----------------------------------------------------


def test_forget_recipients(store: SqlStore) -> None:
    ledger = store.ledger
    ledger.claim("dunning-A-1/s1/sms/1", "sms", "twilio", "h", recipient="+33612345678")
    ledger.claim("dunning-A-1/s2/email/1", "email", "sendgrid", "h", recipient="c@example.org")
    ledger.claim("dunning-A-10/s1/sms/1", "sms", "twilio", "h", recipient="+33600000000")
    ledger.claim("dunning-A_1/s1/sms/1", "sms", "twilio", "h", recipient="+33611111111")
    assert ledger.forget_recipients("dunning-A-1/") == 2
    assert ledger.forget_recipients("dunning-A-1/") == 0
    assert {e.key: e.recipient for e in ledger.entries()} == {
        "dunning-A-1/s1/sms/1": "",
        "dunning-A-1/s2/email/1": "",
        "dunning-A-10/s1/sms/1": "+33600000000",
        "dunning-A_1/s1/sms/1": "+33611111111",  # `_` is literal, not a pattern
    }
    assert ledger.get("dunning-A-1/s1/sms/1").state == "pending"  # type: ignore[union-attr]


def test_forget_account_call_scripts(store: SqlStore) -> None:
    scripts = store.call_scripts
    for token, account_id in (("t1", "A-1"), ("t2", "A-1"), ("t3", "A-2")):
        scripts.save(CallScript(token, account_id, f"k-{token}", "fr", "fr-FR", "Polly.Lea", "Hi"))
    assert scripts.forget_account("A-1") == 2
    assert scripts.forget_account("A-1") == 0
    assert scripts.get("t1") is None and scripts.get("t3") is not None


# ---- the migration -----------------------------------------------------------------------


def test_the_audit_migration_ships_for_both_dialects() -> None:
    for dialect in ("sqlite", "postgresql"):
        audit, refs_kept = available_migrations(dialect)[2:4]
        assert audit.label == "0003_audit"
        for table in ("audit_records", "audit_heads", "audit_contents", "audit_content_refs"):
            assert f"CREATE TABLE {table}" in audit.sql
        assert "TRIGGER" in audit.sql
        assert refs_kept.label == "0004_audit_refs_kept"
        assert "BEFORE UPDATE OR DELETE ON audit_content_refs" in refs_kept.sql or (
            "BEFORE DELETE ON audit_content_refs" in refs_kept.sql
        )


def test_hashes_use_utc_iso_timestamps() -> None:
    paris = timezone(timedelta(hours=1))
    in_paris = record_hash("A", 1, "k", T0.astimezone(paris), "e", {}, T0, "")
    assert in_paris == record_hash("A", 1, "k", T0, "e", {}, T0.astimezone(UTC), "")
