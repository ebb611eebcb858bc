"""The protocols of `store.protocols`, written once over `store.db.Database`.

Each method is one statement in autocommit, or one explicit transaction where a read decides a
write (the rate limit), so every worker, webhook server and host sharing the database sees the
same facts. The atomic step each protocol relies on is a single SQL statement that both SQLite
and PostgreSQL execute atomically: INSERT … ON CONFLICT DO NOTHING (claim, record_started,
record_processed), a conditional UPDATE (reclaim, mark_in_doubt) and a conditional DELETE
(release). The last three compare `claimed_at` too (compare-and-set), so an attempt acts only on
the claim it holds, never on one a later attempt took over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from store.db import Clock, Database
from store.protocols import (
    AccountRecord,
    CallScript,
    LedgerEntry,
    ProcessedEmail,
    Reservation,
)

_OPEN_STATES = "('pending', 'in_doubt')"
_SETTLED_STATES = "('sent', 'unconfirmed')"
_LEDGER_COLUMNS = (
    "idempotency_key, state, channel, provider, claimed_at, content_hash, message_id, sent_at, "
    "recipient"
)


class SqlSendLedger:
    """The send ledger (`sends` table). See `store.protocols.SendLedger` for the semantics."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def claim(
        self, key: str, channel: str, provider: str, content_hash: str, recipient: str = ""
    ) -> LedgerEntry | None:
        t = self._db.dialect.time
        while True:
            inserted = self._db.execute(
                "INSERT INTO sends (idempotency_key, state, channel, provider, claimed_at, "
                "content_hash, recipient) VALUES (?, 'pending', ?, ?, ?, ?, ?) "
                "ON CONFLICT (idempotency_key) DO NOTHING",
                (key, channel, provider, t(self._clock()), content_hash, recipient),
            ).rowcount
            if inserted == 1:
                return None
            existing = self.get(key)
            if existing is not None:
                return existing
            # Released between our insert and our read: the key is free again, claim it.

    def record_sent(
        self, key: str, message_id: str, *, sent_at: datetime, unconfirmed: bool = False
    ) -> None:
        t = self._db.dialect.time
        state = "unconfirmed" if unconfirmed else "sent"
        self._db.execute(
            "INSERT INTO sends (idempotency_key, state, channel, provider, claimed_at, "
            "message_id, sent_at) VALUES (?, ?, '', '', ?, ?, ?) "
            "ON CONFLICT (idempotency_key) DO UPDATE SET state = excluded.state, "
            "message_id = excluded.message_id, sent_at = excluded.sent_at",
            (key, state, t(self._clock()), message_id, t(sent_at)),
        )

    def mark_in_doubt(self, key: str, claimed_at: datetime | None = None) -> bool:
        held, params = self._held(key, claimed_at)
        cursor = self._db.execute(
            f"UPDATE sends SET state = 'in_doubt' WHERE state = 'pending' AND {held}", params
        )
        return cursor.rowcount == 1

    def release(self, key: str, claimed_at: datetime | None = None) -> bool:
        held, params = self._held(key, claimed_at)
        cursor = self._db.execute(
            f"DELETE FROM sends WHERE state IN {_OPEN_STATES} AND {held}", params
        )
        return cursor.rowcount == 1

    def _held(self, key: str, claimed_at: datetime | None) -> tuple[str, tuple[Any, ...]]:
        """The row of `key`, and only while it holds `claimed_at` when one is given."""
        if claimed_at is None:
            return "idempotency_key = ?", (key,)
        return "idempotency_key = ? AND claimed_at = ?", (key, self._db.dialect.time(claimed_at))

    def reclaim(self, key: str, claimed_at: datetime, content_hash: str) -> datetime | None:
        t = self._db.dialect.time
        # The new claimed_at is always later than the old one, so a second reclaim holding the
        # old value fails even when the clock has not moved (a frozen test clock, coarse time).
        renewed = max(self._clock(), claimed_at + timedelta(microseconds=1))
        cursor = self._db.execute(
            "UPDATE sends SET state = 'pending', claimed_at = ?, content_hash = ? "
            f"WHERE idempotency_key = ? AND state IN {_OPEN_STATES} AND claimed_at = ?",
            (t(renewed), content_hash, key, t(claimed_at)),
        )
        return renewed if cursor.rowcount == 1 else None

    def unsettled(self, prefix: str) -> list[LedgerEntry]:
        # substr, not LIKE: a key may hold % or _ and needs no escaping (both dialects count
        # characters, as len() does).
        rows = self._db.execute(
            f"SELECT {_LEDGER_COLUMNS} FROM sends WHERE state IN {_OPEN_STATES} "
            "AND substr(idempotency_key, 1, ?) = ? ORDER BY claimed_at, idempotency_key",
            (len(prefix), prefix),
        ).fetchall()
        return [self._entry(row) for row in rows]

    def get(self, key: str) -> LedgerEntry | None:
        row = self._db.execute(
            f"SELECT {_LEDGER_COLUMNS} FROM sends WHERE idempotency_key = ?", (key,)
        ).fetchone()
        return self._entry(row) if row else None

    def knows(self, message_id: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM sends WHERE message_id = ? LIMIT 1", (message_id,)
        ).fetchone()
        return row is not None

    def entries(self) -> list[LedgerEntry]:
        rows = self._db.execute(
            f"SELECT {_LEDGER_COLUMNS} FROM sends ORDER BY claimed_at, idempotency_key"
        ).fetchall()
        return [self._entry(row) for row in rows]

    def prune(self, settled_before: datetime) -> int:
        cursor = self._db.execute(
            f"DELETE FROM sends WHERE state IN {_SETTLED_STATES} AND sent_at < ?",
            (self._db.dialect.time(settled_before),),
        )
        return cursor.rowcount

    def stuck(self, claimed_before: datetime) -> list[LedgerEntry]:
        rows = self._db.execute(
            f"SELECT {_LEDGER_COLUMNS} FROM sends WHERE state IN {_OPEN_STATES} "
            "AND claimed_at < ? ORDER BY claimed_at, idempotency_key",
            (self._db.dialect.time(claimed_before),),
        ).fetchall()
        return [self._entry(row) for row in rows]

    def forget_recipients(self, prefix: str) -> int:
        # substr for a literal prefix, as `unsettled`; rows already blank are not counted.
        cursor = self._db.execute(
            "UPDATE sends SET recipient = '' WHERE substr(idempotency_key, 1, ?) = ? "
            "AND recipient <> ''",
            (len(prefix), prefix),
        )
        return cursor.rowcount

    def _entry(self, row: Any) -> LedgerEntry:
        read = self._db.dialect.read_time
        claimed_at = read(row[4])
        assert claimed_at is not None  # NOT NULL in the schema
        return LedgerEntry(
            key=row[0],
            state=row[1],
            channel=row[2],
            provider=row[3],
            claimed_at=claimed_at,
            content_hash=row[5],
            message_id=row[6],
            sent_at=read(row[7]),
            recipient=row[8],
        )


class SqlCallScripts:
    """Voicemail scripts (`call_scripts`), kept from the send until Twilio fetches the TwiML."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def save(self, script: CallScript) -> None:
        self._db.execute(
            "INSERT INTO call_scripts (token, account_id, idempotency_key, locale, language, "
            "voice, text, saved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (token) DO UPDATE SET account_id = excluded.account_id, "
            "idempotency_key = excluded.idempotency_key, locale = excluded.locale, "
            "language = excluded.language, voice = excluded.voice, text = excluded.text, "
            "saved_at = excluded.saved_at",
            (
                script.token,
                script.account_id,
                script.idempotency_key,
                script.locale,
                script.language,
                script.voice,
                script.text,
                self._db.dialect.time(self._clock()),
            ),
        )

    def get(self, token: str) -> CallScript | None:
        row = self._db.execute(
            "SELECT token, account_id, idempotency_key, locale, language, voice, text "
            "FROM call_scripts WHERE token = ?",
            (token,),
        ).fetchone()
        return CallScript(*row) if row else None

    def prune(self, saved_before: datetime) -> int:
        cursor = self._db.execute(
            "DELETE FROM call_scripts WHERE saved_at < ?", (self._db.dialect.time(saved_before),)
        )
        return cursor.rowcount

    def forget_account(self, account_id: str) -> int:
        cursor = self._db.execute("DELETE FROM call_scripts WHERE account_id = ?", (account_id,))
        return cursor.rowcount


class SqlEmailEvents:
    """SendGrid's `processed` events (`email_events`), one row per sg_event_id."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record_processed(self, event: ProcessedEmail) -> None:
        self._db.execute(
            "INSERT INTO email_events (sg_event_id, idempotency_key, sg_message_id, "
            "processed_at) VALUES (?, ?, ?, ?) ON CONFLICT (sg_event_id) DO NOTHING",
            (
                event.sg_event_id,
                event.idempotency_key,
                event.sg_message_id,
                self._db.dialect.time(event.processed_at),
            ),
        )

    def record_all(self, events: Sequence[ProcessedEmail]) -> None:
        """A whole webhook post in one transaction: one commit (one fsync on SQLite), not one
        per event; all or nothing, so SendGrid's retry of a refused post finds none half-kept."""
        with self._db.transaction():
            for event in events:
                self.record_processed(event)

    def processed(self, idempotency_key: str) -> ProcessedEmail | None:
        """The first event recorded for the key (SendGrid may report a message once per
        recipient or retry with a new event id; any of them proves acceptance)."""
        row = self._db.execute(
            "SELECT idempotency_key, sg_message_id, processed_at, sg_event_id FROM email_events "
            "WHERE idempotency_key = ? ORDER BY processed_at, sg_event_id LIMIT 1",
            (idempotency_key,),
        ).fetchone()
        if row is None:
            return None
        processed_at = self._db.dialect.read_time(row[2])
        assert processed_at is not None
        return ProcessedEmail(
            idempotency_key=row[0],
            sg_message_id=row[1],
            processed_at=processed_at,
            sg_event_id=row[3],
        )

    def latest_processed_at(self) -> datetime | None:
        row = self._db.execute("SELECT MAX(processed_at) FROM email_events").fetchone()
        return self._db.dialect.read_time(row[0]) if row else None

    def prune(self, processed_before: datetime) -> int:
        cursor = self._db.execute(
            "DELETE FROM email_events WHERE processed_at < ?",
            (self._db.dialect.time(processed_before),),
        )
        return cursor.rowcount


class SqlRateLimits:
    """One row per key holding the next free slot (Unix seconds). The read and the write are
    one transaction holding a lock, so workers on every host draw from one queue."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def reserve(self, key: str, interval: float, *, now: float, max_wait: float) -> Reservation:
        db = self._db
        with db.transaction():
            db.execute(
                "INSERT INTO rate_limits (key, next_free) VALUES (?, ?) "
                "ON CONFLICT (key) DO NOTHING",
                (key, now),
            )
            row = db.execute(
                "SELECT next_free FROM rate_limits WHERE key = ?" + db.dialect.for_update, (key,)
            ).fetchone()
            slot = max(float(now), float(row[0]))
            wait = slot - now
            if wait > max_wait:
                return Reservation(wait=wait, reserved=False)
            db.execute("UPDATE rate_limits SET next_free = ? WHERE key = ?", (slot + interval, key))
        return Reservation(wait=wait, reserved=True)


class SqlAccounts:
    """Every workflow id ever started (`accounts`), beyond Temporal's retention."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record_started(self, workflow_id: str, account_id: str, started_at: datetime) -> bool:
        cursor = self._db.execute(
            "INSERT INTO accounts (workflow_id, account_id, started_at) VALUES (?, ?, ?) "
            "ON CONFLICT (workflow_id) DO NOTHING",
            (workflow_id, account_id, self._db.dialect.time(started_at)),
        )
        return cursor.rowcount == 1

    def record_closed(self, workflow_id: str, status: str, closed_at: datetime) -> None:
        """An upsert: a workflow started before the registry existed still ends recorded (its
        account id unknown, '', and its start taken as its close), so its id stays used."""
        t = self._db.dialect.time
        self._db.execute(
            "INSERT INTO accounts (workflow_id, account_id, started_at, closed_at, status) "
            "VALUES (?, '', ?, ?, ?) ON CONFLICT (workflow_id) DO UPDATE SET "
            "closed_at = excluded.closed_at, status = excluded.status",
            (workflow_id, t(closed_at), t(closed_at), status),
        )

    def get(self, workflow_id: str) -> AccountRecord | None:
        row = self._db.execute(
            "SELECT workflow_id, account_id, started_at, closed_at, status FROM accounts "
            "WHERE workflow_id = ?",
            (workflow_id,),
        ).fetchone()
        if row is None:
            return None
        read = self._db.dialect.read_time
        started_at = read(row[2])
        assert started_at is not None
        return AccountRecord(
            workflow_id=row[0],
            account_id=row[1],
            started_at=started_at,
            closed_at=read(row[3]),
            status=row[4],
        )
