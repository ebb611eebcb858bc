"""Versioned migrations: plain SQL files ops can read, applied in order, each exactly once.

`store/migrations/<dialect>/NNNN_name.sql` holds them (shipped as package data, read through
`importlib.resources`, so an installed wheel finds them as a checkout does). The table
`schema_migrations(version, name, applied_at)` records what ran. Each file runs in its own
transaction together with its record, so a failing migration leaves nothing behind.

Two workers starting together must not both apply a migration: SQLite serialises them with
BEGIN IMMEDIATE (the whole file is locked), PostgreSQL with a transaction-scoped advisory lock;
either way the list of applied versions is read again once the lock is held.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

from store.db import Database, StoreError, utc_now

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# pg_advisory_xact_lock takes a bigint: a fixed number that means "dunning migrations".
ADVISORY_LOCK_ID = 0x64756E6E696E67  # "dunning" in ASCII

_CREATE_TABLE = {
    "sqlite": (
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    ),
    "postgresql": (
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
        "name text NOT NULL, applied_at timestamptz NOT NULL)"
    ),
}


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    applied_at: datetime

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


@dataclass(frozen=True)
class MigrationStatus:
    url: str  # masked
    dialect: str
    applied: list[AppliedMigration]
    pending: list[Migration]


class MigrationsPending(StoreError):
    """The database lacks migrations this code needs, and the caller may not apply them."""


def available_migrations(dialect: str) -> list[Migration]:
    """The migration files shipped for the dialect, by version."""
    folder = resources.files("store").joinpath("migrations", dialect)
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if not match:
            continue
        version = int(match.group(1))
        if version in found:
            raise StoreError(f"two migrations numbered {version:04d} for {dialect}")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[version] for version in sorted(found)]


def applied_migrations(db: Database) -> list[AppliedMigration]:
    if not _has_migrations_table(db):
        return []
    rows = db.execute(
        "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
    ).fetchall()
    read = db.dialect.read_time
    return [AppliedMigration(int(v), n, read(at)) for v, n, at in rows]  # type: ignore[arg-type]


def migration_status(db: Database) -> MigrationStatus:
    applied = applied_migrations(db)
    done = {m.version for m in applied}
    pending = [m for m in available_migrations(db.dialect.name) if m.version not in done]
    return MigrationStatus(db.masked_url, db.dialect.name, applied, pending)


def upgrade(db: Database) -> list[Migration]:
    """Apply every pending migration in order; returns those this call applied (another
    process may have applied some of them meanwhile: those are not repeated)."""
    applied_now: list[Migration] = []
    for migration in migration_status(db).pending:  # no lock taken when nothing is pending
        if _apply_if_pending(db, migration):
            applied_now.append(migration)
    return applied_now


def require_current(db: Database) -> None:
    """Refuse to run on a database that lacks migrations (ops apply them as a release step)."""
    pending = migration_status(db).pending
    if pending:
        names = ", ".join(m.label for m in pending)
        raise MigrationsPending(
            f"{db.masked_url}: {len(pending)} pending migration(s) ({names}); "
            "run `dunning db upgrade` first"
        )


def _apply_if_pending(db: Database, migration: Migration) -> bool:
    with db.transaction():
        if db.dialect.name == "postgresql":
            db.execute("SELECT pg_advisory_xact_lock(?)", (ADVISORY_LOCK_ID,))
        db.execute(_CREATE_TABLE[db.dialect.name])
        done = db.execute(
            "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
        ).fetchone()
        if done:
            return False
        db.script(migration.sql)
        db.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, db.dialect.time(utc_now())),
        )
    return True


def _has_migrations_table(db: Database) -> bool:
    if db.dialect.name == "sqlite":
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        return db.execute(sql).fetchone() is not None
    return db.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is not None
