"""`SqlAuditLog.verify` (store/audit.py): what an account's audit trail says about itself.

Three checks, each problem in plain words at the seq it concerns:
- the chain: every record's hash recomputed from its fields, every link to the previous hash,
  no seq missing, and the end agreeing with the head kept apart (a deleted tail shows);
- the contents the records name: present and hashing to their name, or erased;
- each erasure: lawful only as `erase` does it. `erase` removes a body once every account
  that refers to it (`audit_content_refs`) has asked for erasure, and stamps the tombstone with
  the instant its own erasure record is recorded. So an erased content is a problem unless
  every account naming it (this one, whose records name it, and every account referring to it)
  has an erasure record at or before the tombstone's `erased_at`, and one of those records was
  written then. A body nulled by hand (`UPDATE audit_contents SET body = NULL`, which the
  triggers must allow for erasure itself) is found either way.

Accounts that name a content only in their records' bodies, without a reference, are not
searched for here (that would scan every record): their own `verify` reports it, since an
erased content they name needs their own erasure record.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from store.audit import (
    ERASURE_RECORDS,
    RECORD_COLUMNS,
    erasure_records_params,
    named_contents,
    record_from_row,
    record_hash,
)
from store.db import Database
from store.protocols import ChainProblem, ChainReport


def verify_chain(db: Database, account_id: str) -> ChainReport:
    """Recompute every hash and link, compare the end with the head, check each named content
    and each erasure."""
    head, rows = _read_chain(db, account_id)
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
            record = record_from_row(row, db.dialect.read_time)
        except ValueError:  # the body is no longer JSON (JSONDecodeError is a ValueError)
            problems.append(ChainProblem(seq, f"seq {seq} has a body that is not JSON"))
        else:
            recomputed = record_hash(
                account_id, seq, record.key, record.at, record.kind, record.body,
                record.recorded_at, record.prev_hash,
            )  # fmt: skip
            if recomputed != stored_hash:
                problems.append(ChainProblem(seq, f"seq {seq} does not match its hash (changed)"))
            for sha256 in named_contents(record.body):
                named.setdefault(sha256, seq)
        expected, prev_hash = seq + 1, stored_hash
    last_seq = expected - 1
    problems.extend(_head_problems(last_seq, prev_hash, head))
    checked, erased = _check_contents(db, account_id, named, problems)
    return ChainReport(
        account_id=account_id,
        records=len(rows),
        head=prev_hash,
        problems=tuple(sorted(problems, key=lambda p: p.seq)),
        contents_checked=checked,
        contents_erased=erased,
    )


def _read_chain(db: Database, account_id: str) -> tuple[Any, list[Any]]:
    """The head, then the records, with appends held off in between (one landing there would
    look like records past the head): PostgreSQL shares the head's row lock (appends take it
    exclusively), SQLite's transaction holds the write lock. A head not there yet cannot be
    locked: read again if a first append committed meanwhile."""
    share = " FOR SHARE" if db.dialect.name == "postgresql" else ""
    for _ in range(2):
        with db.transaction():
            head = db.execute(
                "SELECT seq, hash FROM audit_heads WHERE account_id = ?" + share,
                (account_id,),
            ).fetchone()
            rows = db.execute(
                f"SELECT {RECORD_COLUMNS} FROM audit_records WHERE account_id = ? ORDER BY seq",
                (account_id,),
            ).fetchall()
        if head is not None or not rows:
            break
    return head, rows


def _check_contents(
    db: Database, account_id: str, named: dict[str, int], problems: list[ChainProblem]
) -> tuple[int, int]:
    """Each content a record names: present and hashing to its name, or erased (counted; a
    problem too when no erasure accounts for it). Returns (checked, erased)."""
    erased = 0
    stamps: dict[str, list[datetime]] = {}  # account -> its erasure records' instants
    for sha256, seq in named.items():
        row = db.execute(
            "SELECT body, erased_at FROM audit_contents WHERE sha256 = ?", (sha256,)
        ).fetchone()
        if row is None:
            problems.append(ChainProblem(seq, f"content {sha256} named by seq {seq} is missing"))
        elif row[0] is None:
            erased += 1
            erased_at = db.dialect.read_time(row[1])
            problems.extend(_erasure_problems(db, account_id, sha256, seq, erased_at, stamps))
        elif hashlib.sha256(bytes(row[0])).hexdigest() != sha256:
            problems.append(
                ChainProblem(seq, f"content {sha256} named by seq {seq} no longer matches its hash")
            )
    return len(named), erased


def _erasure_problems(
    db: Database,
    account_id: str,
    sha256: str,
    seq: int,
    erased_at: datetime | None,
    stamps: dict[str, list[datetime]],
) -> list[ChainProblem]:
    """Why this erased content could not have been erased by `erase` (nothing when it could):
    an account naming it without an erasure record at or before `erased_at`, or no erasure
    record written at that instant. An erasure record's instants are its recorded_at (the
    tombstone's erased_at: one reading of the store's clock) and its `at` (what tombstones
    were stamped with before `erase` read the clock itself)."""
    named_by = f"content {sha256} named by seq {seq}"
    if erased_at is None:
        return [ChainProblem(seq, f"{named_by} has no body and no erasure date")]
    refs = db.execute("SELECT account_id FROM audit_content_refs WHERE sha256 = ?", (sha256,))
    accounts = sorted({account_id, *(row[0] for row in refs.fetchall())})
    for account in accounts:
        if account not in stamps:
            stamps[account] = _erasure_stamps(db, account)
    when = erased_at.isoformat()
    problems = [
        ChainProblem(
            seq,
            f"{named_by} was erased on {when} but account {account} has no erasure record "
            "at or before it",
        )
        for account in accounts
        if not any(stamp <= erased_at for stamp in stamps[account])
    ]
    if not problems and not any(erased_at in stamps[account] for account in accounts):
        problems.append(
            ChainProblem(
                seq,
                f"{named_by} was erased on {when} but no erasure record was written then "
                "(erased outside `erase`)",
            )
        )
    return problems


def _erasure_stamps(db: Database, account_id: str) -> list[datetime]:
    read = db.dialect.read_time
    rows = db.execute(
        "SELECT at, recorded_at " + ERASURE_RECORDS, erasure_records_params(account_id)
    ).fetchall()
    return [stamp for row in rows for stamp in map(read, row) if stamp is not None]


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
