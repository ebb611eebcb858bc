"""The send ledger: what makes a live send happen once although activities run at least once.

Temporal may run the send activity again after it handed a message to a provider (the worker
died, the result was lost, a timeout fired). SendGrid and Twilio have no idempotency key on their
send endpoints, so the project keeps its own record, keyed by the workflow's idempotency key
(workflow id / step / channel / the step's attempt):

1. `claim(key)` before the provider call: an atomic insert of a `pending` row. If a row is
   already there, the caller gets it back instead and does not call the provider blindly.
2. `record_sent(key, …)` right after the provider accepted the message.
3. `release(key)` when the provider definitely did not take the message (a 4xx or 5xx answer,
   a connection refused), so a later attempt may send.

The window that remains: the provider accepted the message, and the worker died (or the answer
was lost to a read timeout) before step 2. The ledger then holds a `pending` row. A later attempt
finds it and asks the channel to reconcile: Twilio's message and call lists are searched for a
send to the same number since the claim; if one is there it is recorded and not sent again.
When the channel cannot tell (SendGrid has no lookup by our key), the message is treated as sent,
marked `unconfirmed` and logged, because a duplicate demand is worse than a missing one that the
next step repeats. A claim younger than `lease` belongs to an attempt that may still be running,
so a second attempt waits instead of deciding.

`SqliteSendLedger` is the embedded default (WAL mode, safe for several workers on one machine).
Several machines need a shared database: implement `SendLedger` over it with the same semantics
(an insert that fails on a duplicate key is the whole trick).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

LedgerState = Literal["pending", "sent", "unconfirmed"]


@dataclass(frozen=True)
class LedgerEntry:
    key: str
    state: LedgerState
    channel: str
    provider: str
    claimed_at: datetime
    message_id: str | None = None
    sent_at: datetime | None = None


class SendLedger(Protocol):
    def claim(self, key: str, channel: str, provider: str) -> LedgerEntry | None:
        """Insert a pending row and return None, or return the row already there."""

    def record_sent(self, key: str, message_id: str, *, unconfirmed: bool = False) -> None: ...

    def release(self, key: str) -> None: ...

    def reclaim(self, key: str, claimed_at: datetime) -> bool:
        """Renew a stale pending claim; False when another attempt renewed it first."""

    def get(self, key: str) -> LedgerEntry | None: ...

    def knows(self, message_id: str) -> bool:
        """Whether some key already recorded this provider id."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS sends (
    idempotency_key TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'unconfirmed')),
    channel TEXT NOT NULL,
    provider TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    message_id TEXT,
    sent_at TEXT
)
"""


class SqliteSendLedger:
    """One SQLite file; every call is its own short transaction (autocommit)."""

    def __init__(self, path: Path, *, clock=lambda: datetime.now(UTC)) -> None:
        self.path = path
        self._clock = clock
        self._local = threading.local()  # sqlite3 connections are per thread
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            db.execute("CREATE INDEX IF NOT EXISTS sends_message_id ON sends (message_id)")

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA synchronous=FULL")  # a recorded send survives a power cut
            self._local.db = db
        return db

    def claim(self, key: str, channel: str, provider: str) -> LedgerEntry | None:
        db = self._connection()
        while True:
            inserted = db.execute(
                "INSERT INTO sends (idempotency_key, state, channel, provider, claimed_at) "
                "VALUES (?, 'pending', ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
                (key, channel, provider, self._clock().isoformat()),
            ).rowcount
            if inserted == 1:
                return None
            existing = self.get(key)
            if existing is not None:
                return existing
            # Released between the insert and the read: try to claim it again.

    def record_sent(self, key: str, message_id: str, *, unconfirmed: bool = False) -> None:
        """Record the provider's id; an upsert, so a row lost to a release still ends recorded."""
        now = self._clock().isoformat()
        state = "unconfirmed" if unconfirmed else "sent"
        self._connection().execute(
            "INSERT INTO sends (idempotency_key, state, channel, provider, claimed_at, "
            "message_id, sent_at) VALUES (?, ?, '', '', ?, ?, ?) "
            "ON CONFLICT (idempotency_key) DO UPDATE SET state = excluded.state, "
            "message_id = excluded.message_id, sent_at = excluded.sent_at",
            (key, state, now, message_id, now),
        )

    def knows(self, message_id: str) -> bool:
        row = (
            self._connection()
            .execute("SELECT 1 FROM sends WHERE message_id = ? LIMIT 1", (message_id,))
            .fetchone()
        )
        return row is not None

    def release(self, key: str) -> None:
        self._connection().execute(
            "DELETE FROM sends WHERE idempotency_key = ? AND state = 'pending'", (key,)
        )

    def reclaim(self, key: str, claimed_at: datetime) -> bool:
        return (
            self._connection()
            .execute(
                "UPDATE sends SET claimed_at = ? "
                "WHERE idempotency_key = ? AND state = 'pending' AND claimed_at = ?",
                (self._clock().isoformat(), key, claimed_at.isoformat()),
            )
            .rowcount
            == 1
        )

    def get(self, key: str) -> LedgerEntry | None:
        row = (
            self._connection()
            .execute(
                "SELECT idempotency_key, state, channel, provider, claimed_at, message_id, "
                "sent_at FROM sends WHERE idempotency_key = ?",
                (key,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return LedgerEntry(
            key=row[0],
            state=row[1],
            channel=row[2],
            provider=row[3],
            claimed_at=datetime.fromisoformat(row[4]),
            message_id=row[5],
            sent_at=datetime.fromisoformat(row[6]) if row[6] else None,
        )

    def entries(self) -> list[LedgerEntry]:
        keys = (
            self._connection()
            .execute("SELECT idempotency_key FROM sends ORDER BY claimed_at")
            .fetchall()
        )
        return [entry for (key,) in keys if (entry := self.get(key)) is not None]


DEFAULT_LEASE = timedelta(minutes=2)
