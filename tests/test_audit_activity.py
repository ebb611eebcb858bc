"""The `record_audit` activity (activities/audit_activities.py) against a SQLite store."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.audit_activities import AuditActivities, model_json, write_batch
from config.ladder_loader import load_catalog
from store import AuditAppend, AuditConflict, SqlStore, open_store
from store.audit import canonical_json, iso_utc
from tests.conftest import MONDAY, Harness, account
from worker import build_worker
from workflows.activity_types import AuditBatch
from workflows.types import AuditEntry, Debtor

LADDER = load_catalog(Path(__file__).resolve().parent.parent / "config" / "ladders")[
    "consumer-standard"
]
AT = datetime(2038, 1, 4, 9, 0, tzinfo=UTC)
DEBTOR = Debtor(
    name="Claire Martin",
    email="claire@example.org",
    address="12 rue des Lilas",
    postal_code="69003",
    city="Lyon",
    country="FR",
    locale="fr",
    zones=("Europe/Paris",),
)


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    with open_store(f"sqlite:///{tmp_path / 'dunning.sqlite3'}") as opened:
        yield opened


def record(audit: AuditActivities, batch: AuditBatch) -> None:
    assert asyncio.run(ActivityEnvironment().run(audit.record_audit, batch)) is None


def opening_batch() -> AuditBatch:
    return AuditBatch(
        account_id="A-1",
        workflow_id="dunning-A-1",
        entries=[
            AuditEntry(key="opened", at=AT, kind="opened", body={"balance": "120.50"}),
            AuditEntry(
                key="event:e-1",
                at=AT,
                kind="event",
                body={"type": "reply", "accepted": True},
                text="je paierai le 15 août",
            ),
            AuditEntry(key="milestone:1", at=AT, kind="milestone", body={"type": "x"}),
        ],
        ladder=LADDER,
        debtor=DEBTOR,
    )


def test_a_batch_becomes_records_in_order_with_contents_named_by_hash(store: SqlStore):
    record(AuditActivities(store.audit), opening_batch())

    records = store.audit.records("A-1")
    assert [(r.seq, r.key, r.kind) for r in records] == [
        (1, "opened", "opened"),
        (2, "event:e-1", "event"),
        (3, "milestone:1", "milestone"),
    ]
    assert all(r.at == AT for r in records)
    opened, event, milestone = records
    ladder_json = model_json(LADDER)
    debtor_json = model_json(DEBTOR)
    assert opened.body == {
        "balance": "120.50",
        "ladder": sha(ladder_json),
        "debtor": sha(debtor_json),
    }
    assert event.body == {
        "type": "reply",
        "accepted": True,
        "text": sha("je paierai le 15 août".encode()),
    }
    assert milestone.body == {"type": "x"}  # no contents on other entries

    text = store.audit.content(event.body["text"])
    assert text is not None and text.body == "je paierai le 15 août".encode()
    assert text.media_type == "text/plain"
    ladder = store.audit.content(opened.body["ladder"])
    assert ladder is not None and json.loads(ladder.body or b"") == LADDER.model_dump(mode="json")
    debtor = store.audit.content(opened.body["debtor"])
    assert debtor is not None and Debtor.model_validate_json(debtor.body or b"") == DEBTOR
    assert store.audit.verify("A-1").ok


def test_recording_the_same_batch_again_adds_nothing(store: SqlStore):
    audit = AuditActivities(store.audit)
    record(audit, opening_batch())
    first = store.audit.records("A-1")
    record(audit, opening_batch())  # a retried activity
    assert store.audit.records("A-1") == first
    # A later batch goes on the same chain; a key already there is skipped.
    later = AuditBatch(
        account_id="A-1",
        workflow_id="dunning-A-1",
        entries=[
            AuditEntry(key="milestone:1", at=AT, kind="milestone", body={"type": "x"}),
            AuditEntry(key="closed", at=AT, kind="closed", body={"status": "paid"}),
        ],
    )
    record(audit, later)
    records = store.audit.records("A-1")
    assert [r.key for r in records] == ["opened", "event:e-1", "milestone:1", "closed"]
    assert records[3].prev_hash == records[2].hash
    assert store.audit.verify("A-1").ok


def test_personal_contents_are_erasable_but_the_ladder_is_not_about_the_account(
    store: SqlStore,
):
    record(AuditActivities(store.audit), opening_batch())
    opened, event, _ = store.audit.records("A-1")
    assert store.audit.erase("A-1", AT) == 2  # the reply's text and the debtor, not the ladder
    assert store.audit.content(opened.body["debtor"]).body is None  # type: ignore[union-attr]
    assert store.audit.content(event.body["text"]).body is None  # type: ignore[union-attr]
    assert store.audit.content(opened.body["ladder"]).body is not None  # type: ignore[union-attr]


def test_the_ladder_and_debtor_are_stored_only_with_an_opened_entry(store: SqlStore):
    batch = AuditBatch(
        account_id="A-2",
        workflow_id="dunning-A-2",
        entries=[AuditEntry(key="contact:1", at=AT, kind="contact", body={"step": "s"})],
        ladder=LADDER,
        debtor=DEBTOR,
    )
    [stored] = write_batch(store.audit, batch)
    assert stored.body == {"step": "s"}
    assert store.audit.content(sha(model_json(DEBTOR))) is None


def conflict_key(key: str, kind: str, at: datetime, body: dict[str, object]) -> str:
    fields = {"kind": kind, "at": iso_utc(at), "body": body}
    return f"{key}/conflict-{sha(canonical_json(fields).encode())[:12]}"


def test_a_different_record_under_a_known_key_is_kept_under_a_conflict_key(
    store: SqlStore, caplog: pytest.LogCaptureFixture
):
    audit = AuditActivities(store.audit)
    record(audit, opening_batch())
    first = store.audit.records("A-1")
    # The workflow decided differently for milestone:1 this time (a replay after a change).
    changed = {"type": "y"}
    later = AuditBatch(
        account_id="A-1",
        workflow_id="dunning-A-1",
        entries=[
            AuditEntry(key="milestone:1", at=AT, kind="milestone", body=changed),
            AuditEntry(key="closed", at=AT, kind="closed", body={"status": "paid"}),
            AuditEntry(key="closed", at=AT, kind="closed", body={"status": "withdrawn"}),
        ],
    )
    with caplog.at_level("WARNING"):
        record(audit, later)
    moved = conflict_key("milestone:1", "milestone", AT, changed)
    withdrawn = conflict_key("closed", "closed", AT, {"status": "withdrawn"})
    records = store.audit.records("A-1")
    assert records[:3] == first  # the first record stands
    assert [(r.key, r.body) for r in records[3:]] == [
        (moved, changed),
        ("closed", {"status": "paid"}),
        (withdrawn, {"status": "withdrawn"}),  # a clash inside one batch too
    ]
    assert f"key 'milestone:1' already holds a different record; this one is kept as '{moved}'" in (
        caplog.text
    )
    assert store.audit.verify("A-1").ok

    record(audit, later)  # retried: the same conflict keys, nothing added
    assert store.audit.records("A-1") == records
    # The store itself refuses such a record (the activity moved it, not the store).
    with pytest.raises(AuditConflict):
        store.audit.append("A-1", [AuditAppend("milestone:1", AT, "milestone", changed)])


def test_model_json_is_the_stores_canonical_json():
    assert model_json(DEBTOR) == canonical_json(DEBTOR.model_dump(mode="json")).encode()
    assert b'": ' not in model_json(LADDER) and b'", "' not in model_json(LADDER)


def test_without_an_audit_log_nothing_is_recorded():
    record(AuditActivities(None), opening_batch())  # no store: a no-op, not a failure


def test_an_empty_batch_writes_nothing(store: SqlStore):
    record(AuditActivities(store.audit), AuditBatch(account_id="A-3", workflow_id="w", entries=[]))
    assert store.audit.records("A-3") == []


# --- with the workflow: a worker given an audit log writes the account's trail ---------------


async def test_a_worker_with_an_audit_log_records_the_account(harness: Harness, store: SqlStore):
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
        view = await harness.view()
    assert [contact.outcome for contact in view.contacts] == ["sent"]
    records = store.audit.records("T-1")
    assert records[0].kind == "opened"
    ladder = store.audit.content(records[0].body["ladder"])
    assert ladder is not None and ladder.media_type == "application/json"
    debtor = store.audit.content(records[0].body["debtor"])
    assert debtor is not None and b"Claire Martin" in (debtor.body or b"")
    assert "contact" in [record.kind for record in records]
    assert store.audit.verify("T-1").ok


class FailingFirst:
    """An audit log whose first `failures` appends fail (a store briefly down)."""

    def __init__(self, inner, failures: int) -> None:
        self.inner, self.failures, self.refused = inner, failures, 0

    def append(self, account_id, records):
        if self.refused < self.failures:
            self.refused += 1
            raise RuntimeError("the store is down")
        return self.inner.append(account_id, records)

    def __getattr__(self, name):
        return getattr(self.inner, name)


async def test_a_store_outage_delays_no_contact_and_loses_no_record(
    harness: Harness, store: SqlStore
):
    """The records a window look-up carries cannot be written: it looks up again without them,
    the contacts go on time, and the records are written at a later write."""
    flaky = FailingFirst(store.audit, failures=3)
    worker = build_worker(
        harness.env.client,
        harness.settings,
        transport=harness.transport,
        handoff_dir=harness.handoff_dir,
        task_queue=harness.task_queue,
        audit=flaky,  # type: ignore[arg-type]
    )
    async with worker:
        await harness.start(account(MONDAY))
        await harness.advance_to(MONDAY + timedelta(days=12))
        view = await harness.view()
    assert flaky.refused == 3
    sent = [c for c in view.contacts if c.outcome == "sent"]
    assert [c.step for c in sent][:3] == ["courtesy-email", "sms-reminder", "first-letter"]
    written = [r.body.get("step") for r in store.audit.records("T-1") if r.kind == "contact"]
    assert written[:2] == ["courtesy-email", "sms-reminder"]  # the last one at the next write
    assert store.audit.verify("T-1").ok
