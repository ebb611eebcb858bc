"""The store every worker and webhook server shares, behind one URL.

    store = open_store(settings.store_url, migrate=settings.database_auto_migrate)
    if store.ledger.claim(key, "sms", "twilio", content_hash(to, None, text)) is None: ...
    store.close()

`sqlite:///PATH` (the default: one machine, nothing to install) or `postgresql://…` (several
hosts). The interfaces and their semantics are in `store.protocols`; the one implementation
of each, written once for both databases, in `store.repositories`; migrations in
`store.schema` and `store/migrations/<dialect>/`; the audit trail (append-only, hash-chained,
with erasable content-addressed contents) in `store.audit`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from store.audit import SqlAuditLog, record_hash
from store.db import (
    Clock,
    Database,
    StoreError,
    driver_errors_as_store_errors,
    mask_url,
    utc_now,
)
from store.protocols import (
    SETTLED,
    AccountRecord,
    AccountRegistry,
    AuditAppend,
    AuditConflict,
    AuditLog,
    AuditRecord,
    CallScript,
    CallScriptStore,
    ChainProblem,
    ChainReport,
    EmailEvents,
    LedgerEntry,
    LedgerState,
    ProcessedEmail,
    RateLimits,
    Reservation,
    SendLedger,
    Store,
    StoredContent,
    content_hash,
)
from store.repositories import (
    SqlAccounts,
    SqlCallScripts,
    SqlEmailEvents,
    SqlRateLimits,
    SqlSendLedger,
)
from store.schema import (
    AppliedMigration,
    Migration,
    MigrationsPending,
    MigrationStatus,
    migration_status,
    require_current,
    upgrade,
)

__all__ = [
    "SETTLED",
    "AccountRecord",
    "AccountRegistry",
    "AppliedMigration",
    "AuditAppend",
    "AuditConflict",
    "AuditLog",
    "AuditRecord",
    "CallScript",
    "CallScriptStore",
    "ChainProblem",
    "ChainReport",
    "EmailEvents",
    "LedgerEntry",
    "LedgerState",
    "Migration",
    "MigrationStatus",
    "MigrationsPending",
    "ProcessedEmail",
    "RateLimits",
    "Reservation",
    "SendLedger",
    "SqlAuditLog",
    "SqlStore",
    "Store",
    "StoreError",
    "StoredContent",
    "content_hash",
    "mask_url",
    "open_store",
    "record_hash",
    "store_status",
    "upgrade_store",
]


@dataclass
class SqlStore:
    """A `Store` over one database (SQLite or PostgreSQL), safe to share between threads."""

    database: Database
    clock: Clock = utc_now
    url: str = field(init=False)
    dialect: Literal["sqlite", "postgresql"] = field(init=False)
    ledger: SqlSendLedger = field(init=False)
    call_scripts: SqlCallScripts = field(init=False)
    email_events: SqlEmailEvents = field(init=False)
    rate_limits: SqlRateLimits = field(init=False)
    accounts: SqlAccounts = field(init=False)
    audit: SqlAuditLog = field(init=False)

    def __post_init__(self) -> None:
        self.url = self.database.masked_url
        self.dialect = self.database.dialect.name
        self.ledger = SqlSendLedger(self.database, self.clock)
        self.call_scripts = SqlCallScripts(self.database, self.clock)
        self.email_events = SqlEmailEvents(self.database)
        self.rate_limits = SqlRateLimits(self.database)
        self.accounts = SqlAccounts(self.database)
        self.audit = SqlAuditLog(self.database, self.clock)

    def close(self) -> None:
        self.database.close()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_store(url: str, *, migrate: bool = True, clock: Clock | None = None) -> SqlStore:
    """Connect, then apply pending migrations (`migrate=True`) or refuse to run on a database
    that lacks some (`MigrationsPending`, naming `dunning db upgrade`). `clock` stamps claims
    and saved call scripts (tests pass a fixed one). Raises StoreError, one line, password
    masked, for a bad or unreachable URL."""
    database = Database(url)
    try:
        with driver_errors_as_store_errors(database):
            if migrate:
                upgrade(database)
            else:
                require_current(database)
    except BaseException:
        database.close()
        raise
    return SqlStore(database, clock or utc_now)


def upgrade_store(url: str) -> list[Migration]:
    """Apply pending migrations (`dunning db upgrade`); returns those applied by this call."""
    database = Database(url)
    try:
        with driver_errors_as_store_errors(database):
            return upgrade(database)
    finally:
        database.close()


def store_status(url: str) -> MigrationStatus:
    """Applied and pending migrations (`dunning db status`)."""
    database = Database(url)
    try:
        with driver_errors_as_store_errors(database):
            return migration_status(database)
    finally:
        database.close()
