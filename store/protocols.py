"""What the workers and webhook servers share, as interfaces: one store behind all of them.

Several workers on several hosts, and several webhook servers, must agree on a few facts:
which messages were claimed and sent (the send ledger), what a voicemail call says (call
scripts), what SendGrid reported it accepted (`processed` events), how fast each provider
account may be used (rate limits), and which workflow ids were ever used (accounts). One
database holds them all (`DUNNING_DATABASE_URL`: SQLite by default, PostgreSQL in production);
`store.open_store(url)` returns a `Store` whose attributes implement these protocols.

Every method is synchronous and short (one transaction): callers on an event loop run them in
a thread (`asyncio.to_thread`). Every timestamp passed in or returned is timezone-aware.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

# ---- the send ledger ---------------------------------------------------------------------

LedgerState = Literal["pending", "in_doubt", "sent", "unconfirmed"]
"""pending: an attempt claimed the key and may be calling the provider right now (or died).
in_doubt: an attempt ended without knowing whether the provider took the message (a 5xx, a
timeout): the next attempt reconciles before anything is sent.
sent: the provider accepted it (`message_id`, `sent_at` = when it accepted).
unconfirmed: reconciliation could not tell; treated as sent, never sent again."""

SETTLED: tuple[LedgerState, ...] = ("sent", "unconfirmed")


def content_hash(to: str, subject: str | None, text: str) -> str:
    """What a claim remembers of the message it covers, so a later attempt reconciles against
    what was really handed to the provider, not a fresh render (a payment may have changed the
    balance in between)."""
    digest = hashlib.sha256()
    for part in (to, subject or "", text):
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    key: str
    state: LedgerState
    channel: str
    provider: str
    claimed_at: datetime
    content_hash: str = ""
    message_id: str | None = None
    sent_at: datetime | None = None  # when the provider accepted the message
    # Whom the claim was for (a number, an address): a later round or a fallback channel asks
    # the provider about an earlier claim with it. "" for rows claimed before it was stored.
    recipient: str = ""


class SendLedger(Protocol):
    def claim(
        self, key: str, channel: str, provider: str, content_hash: str, recipient: str = ""
    ) -> LedgerEntry | None:
        """Insert a pending row and return None, or return the row already there (atomic:
        of two concurrent claims exactly one gets None). The claimer learns its `claimed_at`
        with `get(key)` right after: nothing but its own attempt changes a pending row younger
        than the lease (the return value stays "None: yours", which every caller tests)."""

    def record_sent(
        self, key: str, message_id: str, *, sent_at: datetime, unconfirmed: bool = False
    ) -> None:
        """Settle the key (an unconditional upsert: a provider's acceptance is always recorded,
        even on a row lost to a release or taken over by another attempt)."""

    def mark_in_doubt(self, key: str, claimed_at: datetime | None = None) -> bool:
        """The attempt ended and the provider may have the message (pending → in_doubt), only
        while the row still holds the caller's `claimed_at` (compare-and-set: a stale attempt
        never touches a claim another attempt took over). None: whatever claim is there (ops,
        tests). True when a row changed."""

    def release(self, key: str, claimed_at: datetime | None = None) -> bool:
        """The provider certainly does not have it: delete a pending or in_doubt row, only
        while it still holds the caller's `claimed_at` (compare-and-set, as `mark_in_doubt`).
        True when a row was deleted."""

    def reclaim(self, key: str, claimed_at: datetime, content_hash: str) -> datetime | None:
        """Take over a pending or in_doubt row whose `claimed_at` is still `claimed_at`
        (→ pending, new claimed_at and hash): returns the new `claimed_at`, the one the taker
        then releases or doubts with; None when another attempt took it first."""

    def unsettled(self, prefix: str) -> list[LedgerEntry]:
        """Pending or in_doubt rows whose key starts with `prefix` (a literal prefix, no
        pattern), oldest claim first: the earlier rounds and channels of one step."""

    def get(self, key: str) -> LedgerEntry | None: ...

    def knows(self, message_id: str) -> bool:
        """Whether some key already recorded this provider id."""

    def entries(self) -> list[LedgerEntry]:
        """Every row, oldest claim first (tests and ops)."""

    def prune(self, settled_before: datetime) -> int:
        """Delete settled rows whose sent_at is before the cutoff; returns how many."""

    def stuck(self, claimed_before: datetime) -> list[LedgerEntry]:
        """Pending or in_doubt rows claimed before the cutoff (housekeeping reports them)."""

    def forget_recipients(self, prefix: str) -> int:
        """Erasure (GDPR Art. 17): blank the recipient (a number, an address) of every row
        whose key starts with `prefix` (a literal prefix, as `unsettled`: the workflow id
        `dunning-<account_id>` names one account's rows). The rows stay, so a settled send is
        still never repeated. Returns how many rows changed (0 on a second call)."""


# ---- voicemail call scripts ------------------------------------------------------------


@dataclass(frozen=True)
class CallScript:
    token: str
    account_id: str
    idempotency_key: str
    locale: str
    language: str  # the <Say> language, e.g. fr-FR
    voice: str  # the <Say> voice, e.g. Polly.Lea
    text: str


class CallScriptStore(Protocol):
    def save(self, script: CallScript) -> None: ...

    def get(self, token: str) -> CallScript | None: ...

    def prune(self, saved_before: datetime) -> int: ...

    def forget_account(self, account_id: str) -> int:
        """Erasure (GDPR Art. 17): delete the account's scripts (they hold the spoken text).
        Returns how many were deleted."""


# ---- SendGrid's `processed` events -----------------------------------------------------


@dataclass(frozen=True)
class ProcessedEmail:
    idempotency_key: str
    sg_message_id: str
    processed_at: datetime  # SendGrid's timestamp of the event
    sg_event_id: str


class EmailEvents(Protocol):
    """SendGrid posts `processed` (with our custom_args) for every message it accepted: the
    only way to learn, after a lost answer, whether an email left."""

    def record_processed(self, event: ProcessedEmail) -> None:
        """Idempotent on sg_event_id (SendGrid retries its posts)."""

    def record_all(self, events: Sequence[ProcessedEmail]) -> None:
        """Several events (one webhook post) in one transaction."""

    def processed(self, idempotency_key: str) -> ProcessedEmail | None: ...

    def latest_processed_at(self) -> datetime | None:
        """The newest SendGrid timestamp among every recorded event: evidence of how far the
        event stream has reported (an email claimed well before it and not reported was not
        accepted)."""

    def prune(self, processed_before: datetime) -> int: ...


# ---- provider rate limits --------------------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    wait: float  # seconds from now until the reserved slot (0 when it is now)
    reserved: bool  # False: the queue is longer than max_wait and nothing was reserved


class RateLimits(Protocol):
    def reserve(self, key: str, interval: float, *, now: float, max_wait: float) -> Reservation:
        """Reserve the next slot for `key` (a provider account and sender), one every
        `interval` seconds across every worker sharing the store. `now` is Unix time."""


# ---- accounts: every workflow id ever used ---------------------------------------------


@dataclass(frozen=True)
class AccountRecord:
    workflow_id: str
    account_id: str
    started_at: datetime
    closed_at: datetime | None = None
    status: str | None = None  # the final status once closed


class AccountRegistry(Protocol):
    """Temporal forgets a closed workflow after the namespace's retention; this does not, so an
    account id is never dunned twice."""

    def record_started(self, workflow_id: str, account_id: str, started_at: datetime) -> bool:
        """True when the id is new; False (nothing changed) when it was recorded before."""

    def record_closed(self, workflow_id: str, status: str, closed_at: datetime) -> None: ...

    def get(self, workflow_id: str) -> AccountRecord | None: ...


# ---- the audit trail ----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditAppend:
    """A record to append. `key` is unique per account: appending the same record under a key
    already there adds nothing (activities are retried); a different record under it is refused
    (`AuditConflict`). `body` is JSON (str, int, bool, None, lists, dicts) with no personal
    data; personal data goes in `contents` (stored content-addressed, erasable) and the body
    names it by sha256 (`AuditLog.put_content`)."""

    key: str
    at: datetime
    kind: str
    body: dict[str, Any]


@dataclass(frozen=True)
class AuditRecord:
    account_id: str
    seq: int  # 1, 2, 3, ... per account
    key: str
    at: datetime  # when it happened (workflow time)
    kind: str
    body: dict[str, Any]
    recorded_at: datetime  # when it was written
    prev_hash: str  # the previous record's hash ("" for seq 1)
    hash: str  # sha256 over the canonical JSON of every field above and prev_hash


# A record refused for its key is kept under `<key>/conflict-<hash>` (audit_activities.py):
# kept for whoever investigates, never read as the account's record (reports, `account show`).
CONFLICT = "/conflict-"


def is_conflict_copy(key: str) -> bool:
    return CONFLICT in key


class AuditConflict(Exception):
    """`append` was given a record under a key the account already has (or had earlier in the
    same batch) with a different kind, `at` or body. Nothing of the batch is written: keeping
    the first silently would lose what was decided the second time, overwriting it would
    rewrite history. `record` is the refused record, `existing` the one stored under the key
    (None when the clash is inside the batch and nothing is stored yet)."""

    def __init__(
        self,
        account_id: str,
        key: str,
        record: AuditAppend | None = None,
        existing: AuditRecord | None = None,
    ) -> None:
        super().__init__(account_id, key)
        self.account_id = account_id
        self.key = key
        self.record = record
        self.existing = existing

    def __str__(self) -> str:
        return (
            f"account {self.account_id}: audit key {self.key!r} is already recorded with a "
            "different kind, time or body"
        )


@dataclass(frozen=True)
class StoredContent:
    sha256: str
    media_type: str  # text/plain, application/json, ...
    body: bytes | None  # None once erased
    erased_at: datetime | None = None


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: str  # "hash does not match its record", "seq 4 is missing", ...


@dataclass(frozen=True)
class ChainReport:
    account_id: str
    records: int
    head: str  # the last record's hash ("" when there is none)
    problems: tuple[ChainProblem, ...]
    contents_checked: int = 0
    contents_erased: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


class AuditLog(Protocol):
    """Append-only, hash-chained records per account, and content-addressed contents.

    Records are never updated or deleted (the database refuses it: triggers); a record changed
    or deleted behind the database's back is found by `verify`: each record's hash covers its
    fields and the previous record's hash, and the head (last seq and hash) is kept apart so a
    removed tail shows too."""

    def append(self, account_id: str, records: Sequence[AuditAppend]) -> list[AuditRecord]:
        """Append in order, in one transaction. A key already recorded with the same kind, `at`
        and body (canonical JSON) is skipped (a retry); with anything different the whole batch
        is refused: `AuditConflict`. Returns the records as stored (existing ones for skipped
        keys)."""

    def put_content(self, body: bytes, media_type: str, *, account_id: str | None = None) -> str:
        """Store once (by sha256) and return the sha256; `account_id` remembers who it is
        about, so `erase` can find it."""

    def content(self, sha256: str) -> StoredContent | None: ...

    def records(self, account_id: str) -> list[AuditRecord]:
        """Every record of the account, by seq."""

    def accounts(self) -> list[str]:
        """Every account with a record."""

    def verify(self, account_id: str) -> ChainReport:
        """Recompute the chain and check each referenced content's hash. An erased content is
        counted, and is a problem unless `erase` could have erased it: every account naming it
        has an erasure record by then, one of them written with it."""

    def erase(self, account_id: str, at: datetime) -> int:
        """Erase the bodies of the account's contents not referenced by another account not
        erased itself (tombstones stay: sha256, media type, erased_at, the store's clock) and
        append an erasure record (`erased`; `erased/2`... when contents put again since are
        erased by a later call; none when a later call erases nothing). Returns how many
        contents were erased."""


class Store(Protocol):
    url: str  # with any password masked
    dialect: Literal["sqlite", "postgresql"]
    ledger: SendLedger
    call_scripts: CallScriptStore
    email_events: EmailEvents
    rate_limits: RateLimits
    accounts: AccountRegistry
    audit: AuditLog

    def close(self) -> None: ...
