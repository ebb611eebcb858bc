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
any record, and a body still present must hash to its name.

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
    AuditRecord,
    ChainProblem,
    ChainReport,
    StoredContent,
)

ERASED_KEY = "erased"
# Body keys whose 64-hex values name a content (`verify` checks each one's hash).
CONTENT_KEYS = frozenset({"content", "text", "debtor", "ladder"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_RECORD_COLUMNS = "account_id, seq, record_key, at, kind, body, recorded_at, prev_hash, hash"


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


class SqlAuditLog:
    """Audit records and contents (`audit_*` tables). See `store.protocols.AuditLog`."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    # ---- writing -------------------------------------------------------------------------

    def append(self, account_id: str, records: Sequence[AuditAppend]) -> list[AuditRecord]:
        with self._db.transaction():
            return self._append_locked(account_id, records)

    def _append_locked(self, account_id: str, records: Sequence[AuditAppend]) -> list[AuditRecord]:
        """Append inside the caller's transaction. The head row is locked first (PostgreSQL: a
        row lock, taken after the row is made to exist; SQLite: the transaction already holds
        the write lock, BEGIN IMMEDIATE), so concurrent appends to one account queue on it and
        each reads the seq and hash the previous one left: no fork, no gap."""
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
            existing = db.execute(
                f"SELECT {_RECORD_COLUMNS} FROM audit_records "
                "WHERE account_id = ? AND record_key = ?",
                (account_id, item.key),
            ).fetchone()
            if existing is not None:  # a retried activity: the first write stands
                stored.append(self._record(existing))
                continue
            # The body as it will read back (tuples become lists...), so the hash recomputes.
            body = json.loads(canonical_json(item.body))
            if not isinstance(body, dict):
                raise TypeError(f"an audit body is a JSON object, not {type(item.body).__name__}")
            seq += 1
            recorded_at = self._clock()
            digest = record_hash(
                account_id, seq, item.key, item.at, item.kind, body, recorded_at, prev_hash
            )
            db.execute(
                f"INSERT INTO audit_records ({_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account_id,
                    seq,
                    item.key,
                    t(item.at),
                    item.kind,
                    canonical_json(body),
                    t(recorded_at),
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
                    recorded_at=read(t(recorded_at)),  # type: ignore[arg-type]
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
        """One transaction: the bodies go and the `erased` record is appended together, so a
        chain never claims an erasure that did not happen (nor the reverse). A content another
        account still needs (one not erased itself) is kept: erasing one debtor's data must
        not take another's evidence. The `erased` key makes a second call add no record."""
        db = self._db
        with db.transaction():
            self._append_locked(account_id, [])  # lock the head first, as append does
            erased = db.execute(
                "UPDATE audit_contents SET body = NULL, erased_at = ? "
                "WHERE body IS NOT NULL AND sha256 IN "
                "(SELECT sha256 FROM audit_content_refs WHERE account_id = ?) "
                "AND NOT EXISTS (SELECT 1 FROM audit_content_refs other "
                "WHERE other.sha256 = audit_contents.sha256 AND other.account_id <> ? "
                "AND NOT EXISTS (SELECT 1 FROM audit_records done "
                "WHERE done.account_id = other.account_id AND done.record_key = ?))",
                (db.dialect.time(at), account_id, account_id, ERASED_KEY),
            ).rowcount
            self._append_locked(
                account_id, [AuditAppend(ERASED_KEY, at, "erased", {"contents_erased": erased})]
            )
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
            f"SELECT {_RECORD_COLUMNS} FROM audit_records WHERE account_id = ? ORDER BY seq",
            (account_id,),
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
        read = self._db.dialect.read_time
        return AuditRecord(
            account_id=row[0],
            seq=int(row[1]),
            key=row[2],
            at=read(row[3]),  # type: ignore[arg-type]
            kind=row[4],
            body=json.loads(row[5]),
            recorded_at=read(row[6]),  # type: ignore[arg-type]
            prev_hash=row[7],
            hash=row[8],
        )

    # ---- verifying -----------------------------------------------------------------------

    def verify(self, account_id: str) -> ChainReport:
        """Recompute every hash and link, compare the end with the head, check each named
        content; say in plain words what is wrong and at which seq."""
        head, rows = self._read_chain(account_id)
        problems: list[ChainProblem] = []
        named: dict[str, int] = {}  # content sha256 -> the first seq naming it
        expected, prev_hash = 1, ""
        for row in rows:
            seq, stored_hash = int(row[1]), str(row[8])
            if seq != expected:
                missing = f"seq {expected}" if seq == expected + 1 else f"seqs {expected}-{seq - 1}"
                problems.append(ChainProblem(expected, f"{missing} missing (deleted)"))
            elif row[7] != prev_hash:
                problems.append(
                    ChainProblem(
                        seq,
                        f"seq {seq} does not link to seq {seq - 1} (prev_hash differs from "
                        "its hash: a record before it was rewritten)"
                        if seq > 1
                        else "seq 1 has a prev_hash (the first record has none)",
                    )
                )
            try:
                record = self._record(row)
            except ValueError:  # the body is no longer JSON (JSONDecodeError is a ValueError)
                problems.append(ChainProblem(seq, f"seq {seq} has a body that is not JSON"))
            else:
                recomputed = record_hash(
                    account_id, seq, record.key, record.at, record.kind, record.body,
                    record.recorded_at, record.prev_hash,
                )  # fmt: skip
                if recomputed != stored_hash:
                    problems.append(
                        ChainProblem(seq, f"seq {seq} does not match its hash (changed)")
                    )
                for sha256 in named_contents(record.body):
                    named.setdefault(sha256, seq)
            expected, prev_hash = seq + 1, stored_hash
        last_seq = expected - 1
        problems.extend(_head_problems(last_seq, prev_hash, head))
        checked, erased = self._check_contents(named, problems)
        return ChainReport(
            account_id=account_id,
            records=len(rows),
            head=prev_hash,
            problems=tuple(sorted(problems, key=lambda p: p.seq)),
            contents_checked=checked,
            contents_erased=erased,
        )

    def _read_chain(self, account_id: str) -> tuple[Any, list[Any]]:
        """The head, then the records, with appends held off in between (one landing there
        would look like records past the head): PostgreSQL shares the head's row lock (appends
        take it exclusively), SQLite's transaction holds the write lock. A head not there yet
        cannot be locked: read again if a first append committed meanwhile."""
        db = self._db
        share = " FOR SHARE" if db.dialect.name == "postgresql" else ""
        for _ in range(2):
            with db.transaction():
                head = db.execute(
                    "SELECT seq, hash FROM audit_heads WHERE account_id = ?" + share,
                    (account_id,),
                ).fetchone()
                rows = db.execute(
                    f"SELECT {_RECORD_COLUMNS} FROM audit_records WHERE account_id = ? "
                    "ORDER BY seq",
                    (account_id,),
                ).fetchall()
            if head is not None or not rows:
                break
        return head, rows

    def _check_contents(
        self, named: dict[str, int], problems: list[ChainProblem]
    ) -> tuple[int, int]:
        """Each content a record names: present and hashing to its name, or erased (counted:
        erasure is lawful). Returns (checked, erased)."""
        erased = 0
        for sha256, seq in named.items():
            stored = self.content(sha256)
            if stored is None:
                problems.append(
                    ChainProblem(seq, f"content {sha256} named by seq {seq} is missing")
                )
            elif stored.body is None:
                erased += 1
            elif hashlib.sha256(stored.body).hexdigest() != sha256:
                problems.append(
                    ChainProblem(
                        seq, f"content {sha256} named by seq {seq} no longer matches its hash"
                    )
                )
        return len(named), erased


def _head_problems(last_seq: int, last_hash: str, head: Any) -> list[ChainProblem]:
    """What the head, kept apart, says about the end of the chain."""
    if head is None:
        if last_seq == 0:
            return []
        return [ChainProblem(last_seq, f"no head for a chain of {last_seq} records")]
    head_seq, head_hash = int(head[0]), str(head[1])
    if head_seq > last_seq:
        gone = f"seq {head_seq}" if head_seq == last_seq + 1 else f"seqs {last_seq + 1}-{head_seq}"
        return [
            ChainProblem(last_seq + 1, f"{gone} missing at the end (the head is at {head_seq})")
        ]
    if head_seq < last_seq:
        return [
            ChainProblem(head_seq + 1, f"seq {head_seq + 1} onwards are past the head ({head_seq})")
        ]
    if head_hash != last_hash:
        return [ChainProblem(last_seq, f"seq {last_seq} does not match the head's hash (changed)")]
    return []
