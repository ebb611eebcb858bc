"""The audit trail (`store.protocols.AuditLog`), written once for SQLite and PostgreSQL.

Why a hash chain: the records are evidence (what was sent to whom and when, what the debtor
said), kept for years, and must show if anyone changed them behind the application's back. The
database refuses UPDATE and DELETE on `audit_records` (triggers, migration 0003), which stops
mistakes; the chain catches the rest. Each record's hash covers its fields and the previous
record's hash, and the head (last seq and hash) is kept in `audit_heads`, so an edited record,
a deleted one and a deleted tail all show in `verify`.

Why content addressing: personal data (a message's text, the debtor's address, a reply) must
be erasable (GDPR Art. 17) while the chain stays verifiable. Records never hold it: they name
a content by its sha256; the content's body can be erased (a tombstone stays) without touching
any record, and a body still present must hash to its name. An erasure is lawful only with an
erasure record (`erase` writes both in one transaction, stamped with one instant of the store's
clock): `verify` reports a body erased behind the application's back.

A key is appended once: the same record again is a retry and adds nothing; a different record
under a key already there is refused (`AuditConflict`), never dropped nor overwritten.

The hash is sha256 (hex) over the canonical JSON (`canonical_json`) of
{account_id, seq, key, at, kind, body, recorded_at, prev_hash}, timestamps in ISO 8601 UTC with
microseconds (`iso_utc`): exactly what each dialect stores, so it is recomputed from what is
read back.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from store.db import Clock, Database
from store.protocols import (
    AuditAppend,
    AuditConflict,
    AuditRecord,
    ChainReport,
    StoredContent,
)

ERASED_KEY = "erased"  # the first erasure's key; later ones (contents put again) erased/2, ...
ERASED_KIND = "erased"
# Body keys whose 64-hex values name a content (`verify` checks each one's hash).
CONTENT_KEYS = frozenset({"content", "text", "debtor", "ladder"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
RECORD_COLUMNS = "account_id, seq, record_key, at, kind, body, recorded_at, prev_hash, hash"


def canonical_json(value: Any) -> str:
    """One text for one value (sorted keys, no spaces, UTF-8 as is), so a hash recomputed years
    later by any tool matches. NaN and infinities are refused: JSON has no spelling for them."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def iso_utc(value: datetime) -> str:
    """A timestamp as hashed: UTC, microseconds always written (2038-01-04T06:00:00.000000+00:00),
    so the instant, not how it was spelt, decides the hash."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the audit trail takes aware timestamps only")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def record_hash(
    account_id: str,
    seq: int,
    key: str,
    at: datetime,
    kind: str,
    body: dict[str, Any],
    recorded_at: datetime,
    prev_hash: str,
) -> str:
    """The hash a record carries (and `verify` recomputes)."""
    fields = {
        "account_id": account_id,
        "seq": seq,
        "key": key,
        "at": iso_utc(at),
        "kind": kind,
        "body": body,
        "recorded_at": iso_utc(recorded_at),
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def named_contents(body: Any) -> Iterator[str]:
    """The sha256 names a record's body gives (values under `CONTENT_KEYS`, at any depth, a
    64-hex string or a list of them)."""
    if isinstance(body, dict):
        for name, value in body.items():
            if name in CONTENT_KEYS:
                for candidate in value if isinstance(value, list) else [value]:
                    if isinstance(candidate, str) and _SHA256.match(candidate):
                        yield candidate
            yield from named_contents(value)
    elif isinstance(body, list):
        for item in body:
            yield from named_contents(item)


def record_from_row(row: Any, read_time: Any) -> AuditRecord:
    """An `audit_records` row (`RECORD_COLUMNS`) as a record. Raises ValueError for a body that
    is not JSON (tampered with)."""
    return AuditRecord(
        account_id=row[0],
        seq=int(row[1]),
        key=row[2],
        at=read_time(row[3]),
        kind=row[4],
        body=json.loads(row[5]),
        recorded_at=read_time(row[6]),
        prev_hash=row[7],
        hash=row[8],
    )


ERASURE_RECORDS = (
    "FROM audit_records WHERE account_id = ? AND kind = ? AND (record_key = ? OR record_key LIKE ?)"
)


def erasure_records_params(account_id: str) -> tuple[str, str, str, str]:
    return (account_id, ERASED_KIND, ERASED_KEY, ERASED_KEY + "/%")


def erasure_count(db: Database, account_id: str) -> int:
    """How many erasure records (`erased`, `erased/2`, ...) the account has."""
    row = db.execute(
        "SELECT COUNT(*) " + ERASURE_RECORDS, erasure_records_params(account_id)
    ).fetchone()
    return int(row[0])


def same_record(stored: AuditRecord, kind: str, at: datetime, body: dict[str, Any]) -> bool:
    """Whether appending (kind, at, body) under a stored record's key is a retry of it: the
    same instant (however spelt) and the same canonical JSON body."""
    return (
        stored.kind == kind
        and iso_utc(stored.at) == iso_utc(at)
        and canonical_json(stored.body) == canonical_json(body)
    )


class SqlAuditLog:
    """Audit records and contents (`audit_*` tables). See `store.protocols.AuditLog`."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    # ---- writing -------------------------------------------------------------------------

    def append(self, account_id: str, records: Sequence[AuditAppend]) -> list[AuditRecord]:
        with self._db.transaction():
            return self._append_locked(account_id, records)

    def _append_locked(
        self,
        account_id: str,
        records: Sequence[AuditAppend],
        recorded_at: datetime | None = None,
    ) -> list[AuditRecord]:
        """Append inside the caller's transaction. The head row is locked first (PostgreSQL: a
        row lock, taken after the row is made to exist; SQLite: the transaction already holds
        the write lock, BEGIN IMMEDIATE), so concurrent appends to one account queue on it and
        each reads the seq and hash the previous one left: no fork, no gap. `recorded_at`
        (default: the clock, per record) lets `erase` stamp its record and the tombstones with
        one instant."""
        db, t = self._db, self._db.dialect.time
        db.execute(
            "INSERT INTO audit_heads (account_id, seq, hash) VALUES (?, 0, '') "
            "ON CONFLICT (account_id) DO NOTHING",
            (account_id,),
        )
        head = db.execute(
            "SELECT seq, hash FROM audit_heads WHERE account_id = ?" + db.dialect.for_update,
            (account_id,),
        ).fetchone()
        seq, prev_hash = int(head[0]), str(head[1])
        stored: list[AuditRecord] = []
        for item in records:
            # The body as it will read back (tuples become lists...), so the hash recomputes
            # and a retry compares equal.
            body = json.loads(canonical_json(item.body))
            if not isinstance(body, dict):
                raise TypeError(f"an audit body is a JSON object, not {type(item.body).__name__}")
            existing = db.execute(
                f"SELECT {RECORD_COLUMNS} FROM audit_records "
                "WHERE account_id = ? AND record_key = ?",
                (account_id, item.key),
            ).fetchone()
            if existing is not None:
                known = self._record(existing)
                if not same_record(known, item.kind, item.at, body):
                    raise AuditConflict(account_id, item.key, item, known)
                stored.append(known)  # a retried activity: nothing to add
                continue
            seq += 1
            stamp = recorded_at or self._clock()
            digest = record_hash(
                account_id, seq, item.key, item.at, item.kind, body, stamp, prev_hash
            )
            db.execute(
                f"INSERT INTO audit_records ({RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account_id,
                    seq,
                    item.key,
                    t(item.at),
                    item.kind,
                    canonical_json(body),
                    t(stamp),
                    prev_hash,
                    digest,
                ),
            )
            db.execute(
                "UPDATE audit_heads SET seq = ?, hash = ? WHERE account_id = ?",
                (seq, digest, account_id),
            )
            read = db.dialect.read_time
            stored.append(
                AuditRecord(
                    account_id=account_id,
                    seq=seq,
                    key=item.key,
                    at=read(t(item.at)),  # type: ignore[arg-type]
                    kind=item.kind,
                    body=body,
                    recorded_at=read(t(stamp)),  # type: ignore[arg-type]
                    prev_hash=prev_hash,
                    hash=digest,
                )
            )
            prev_hash = digest
        return stored

    def put_content(self, body: bytes, media_type: str, *, account_id: str | None = None) -> str:
        """Content-addressed: the same bytes are one row however often they are put. Putting
        the bytes of an erased content again restores them (they hash to its name, so nothing
        is forged): an account re-opened after an erasure can be recorded again."""
        sha256 = hashlib.sha256(body).hexdigest()
        db = self._db
        with db.transaction():
            inserted = db.execute(
                "INSERT INTO audit_contents (sha256, media_type, body, erased_at) "
                "VALUES (?, ?, ?, NULL) ON CONFLICT (sha256) DO NOTHING",
                (sha256, media_type, bytes(body)),
            ).rowcount
            if inserted != 1:
                db.execute(
                    "UPDATE audit_contents SET body = ?, erased_at = NULL "
                    "WHERE sha256 = ? AND body IS NULL",
                    (bytes(body), sha256),
                )
            if account_id is not None:
                db.execute(
                    "INSERT INTO audit_content_refs (account_id, sha256) VALUES (?, ?) "
                    "ON CONFLICT (account_id, sha256) DO NOTHING",
                    (account_id, sha256),
                )
        return sha256

    def erase(self, account_id: str, at: datetime) -> int:
        """One transaction: the bodies go and the erasure record is appended together, so a
        chain never claims an erasure that did not happen (nor the reverse); the tombstones'
        erased_at is the record's recorded_at, one reading of the clock, which `verify` matches.
        A content another account still needs (one not erased itself) is kept: erasing one
        debtor's data must not take another's evidence. A second call adds no record, unless it
        erased contents put again since (an account re-opened): `erased/2`, `erased/3`, ..."""
        db = self._db
        with db.transaction():
            self._append_locked(account_id, [])  # lock the head first, as append does
            now = self._clock()
            erased = db.execute(
                "UPDATE audit_contents SET body = NULL, erased_at = ? "
                "WHERE body IS NOT NULL AND sha256 IN "
                "(SELECT sha256 FROM audit_content_refs WHERE account_id = ?) "
                "AND NOT EXISTS (SELECT 1 FROM audit_content_refs other "
                "WHERE other.sha256 = audit_contents.sha256 AND other.account_id <> ? "
                "AND NOT EXISTS (SELECT 1 FROM audit_records done "
                "WHERE done.account_id = other.account_id AND done.record_key = ?))",
                (db.dialect.time(now), account_id, account_id, ERASED_KEY),
            ).rowcount
            before = erasure_count(db, account_id)
            if before == 0 or erased:
                key = f"{ERASED_KEY}/{before + 1}" if before else ERASED_KEY
                record = AuditAppend(key, at, ERASED_KIND, {"contents_erased": erased})
                self._append_locked(account_id, [record], recorded_at=now)
        return erased

    # ---- reading -------------------------------------------------------------------------

    def content(self, sha256: str) -> StoredContent | None:
        row = self._db.execute(
            "SELECT sha256, media_type, body, erased_at FROM audit_contents WHERE sha256 = ?",
            (sha256,),
        ).fetchone()
        if row is None:
            return None
        body = bytes(row[2]) if row[2] is not None else None
        return StoredContent(row[0], row[1], body, self._db.dialect.read_time(row[3]))

    def records(self, account_id: str) -> list[AuditRecord]:
        rows = self._db.execute(
            f"SELECT {RECORD_COLUMNS} FROM audit_records WHERE account_id = ? ORDER BY seq",
            (account_id,),
        ).fetchall()
        return [self._record(row) for row in rows]

    def records_of_kinds(self, kinds: Sequence[str]) -> list[AuditRecord]:
        """Every account's records of these kinds, by account then seq, in one query: the
        portfolio report reads them all: one query, not one per account."""
        if not kinds:
            return []
        marks = ", ".join("?" for _ in kinds)
        rows = self._db.execute(
            f"SELECT {RECORD_COLUMNS} FROM audit_records WHERE kind IN ({marks}) "
            "ORDER BY account_id, seq",
            tuple(kinds),
        ).fetchall()
        return [self._record(row) for row in rows]

    def accounts(self) -> list[str]:
        """Accounts with a record, and those whose head says they had some (every record
        deleted behind the database's back): `verify` over `accounts()` then reports them."""
        rows = self._db.execute(
            "SELECT account_id FROM audit_records UNION "
            "SELECT account_id FROM audit_heads WHERE seq > 0 ORDER BY account_id"
        ).fetchall()
        return [row[0] for row in rows]

    def _record(self, row: Any) -> AuditRecord:
        return record_from_row(row, self._db.dialect.read_time)

    # ---- verifying -----------------------------------------------------------------------

    def verify(self, account_id: str) -> ChainReport:
        """Recompute every hash and link, compare the end with the head, check each named
        content (and each erasure); say in plain words what is wrong and at which seq."""
        from store.audit_verify import verify_chain  # it builds on this module's functions

        return verify_chain(self._db, account_id)
