"""One database behind a URL, with the few places SQLite and PostgreSQL differ kept in one spot.

The repositories write their SQL once, with `?` placeholders and ISO-free Python values; the
`Dialect` turns placeholders into psycopg's `%s`, timestamps into what each database stores, and
says how to lock a row. `Database` hands every thread its own connection (neither sqlite3 nor
psycopg connections may be shared by threads running statements at once), in autocommit, so
that each call is its own short transaction unless it asks for `transaction()`.

Timestamps: PostgreSQL stores `timestamptz`; SQLite stores UTC text of a fixed width
(`2038-01-04T06:00:00.000000+00:00`), so that `<`, `MAX` and equality on the text agree with
the instants they name. Every value read back is an aware datetime in UTC.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DialectName = Literal["sqlite", "postgresql"]
SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")
SQLITE_TEXT_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"
BUSY_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 10


class StoreError(Exception):
    """The store cannot be opened or used as configured (bad URL, unreachable, not migrated).
    The message is one line, names the URL with its password masked, and never a secret."""


def mask_url(url: str) -> str:
    """The URL with any password (in the user part or a `password=` parameter) replaced by
    `***`, so it can be logged and printed."""
    if url.startswith(SQLITE_PREFIX):
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostinfo = netloc.rpartition("@")
            if ":" in userinfo:
                userinfo = userinfo.split(":", 1)[0] + ":***"
            netloc = f"{userinfo}@{hostinfo}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            pairs = [(k, "***" if k.lower() == "password" else v) for k, v in pairs]
            query = urlencode(pairs, safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<unparseable database URL>"


def dialect_of(url: str) -> DialectName:
    if url.startswith(SQLITE_PREFIX):
        return "sqlite"
    if url.startswith(POSTGRES_PREFIXES):
        return "postgresql"
    raise StoreError(
        f"unsupported database URL {mask_url(url)!r}: use sqlite:///PATH or "
        "postgresql://USER:PASSWORD@HOST:PORT/DB"
    )


def sqlite_path(url: str) -> Path:
    """`sqlite:///relative/x.db` or `sqlite:////absolute/x.db` (SQLAlchemy's convention)."""
    path = url[len(SQLITE_PREFIX) :].split("?", 1)[0]
    if not path or path == ":memory:":
        raise StoreError(
            f"{url!r}: the store needs a file (each thread and process opens it), not memory"
        )
    return Path(path)


@dataclass(frozen=True)
class Dialect:
    name: DialectName

    @property
    def for_update(self) -> str:
        """Row lock suffix for a SELECT inside a transaction (SQLite locks the whole file at
        BEGIN IMMEDIATE instead)."""
        return " FOR UPDATE" if self.name == "postgresql" else ""

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.name == "postgresql" else text

    def time(self, value: datetime | None) -> Any:
        """A timestamp as a query parameter (aware datetimes only: a naive one is a bug)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store takes aware timestamps only")
        utc = value.astimezone(UTC)
        return utc if self.name == "postgresql" else utc.strftime(SQLITE_TEXT_FORMAT)

    def read_time(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return datetime.fromisoformat(value).astimezone(UTC)


class Database:
    """Per-thread connections to one database; `execute` runs one statement in autocommit."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.masked_url = mask_url(url)
        self.dialect = Dialect(dialect_of(url))
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[tuple[int, Any]] = []  # (the process that opened it, connection)
        self._closed = False
        if self.dialect.name == "sqlite":
            self._path = sqlite_path(url)
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{self.masked_url}: {exc.strerror or exc}") from None
        self.connection()  # fail now, with one clear line, if the database is unreachable

    # ---- connections ---------------------------------------------------------------------

    def connection(self) -> Any:
        """This thread's connection (a new one after a fork: a socket or a SQLite handle is
        never shared with a parent process)."""
        if self._closed:
            raise StoreError(f"{self.masked_url}: the store is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid() or _broken(conn):
            conn = self._connect()
            self._local.conn, self._local.pid = conn, os.getpid()
            with self._lock:
                self._all.append((os.getpid(), conn))
        return conn

    def _connect(self) -> Any:
        if self.dialect.name == "sqlite":
            return self._connect_sqlite()
        return self._connect_postgresql()

    def _connect_sqlite(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,  # autocommit; transactions are explicit
                check_same_thread=False,  # used by one thread, but close() may run elsewhere
            )
            conn.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            conn.execute("PRAGMA synchronous=FULL")  # a recorded send survives a power cut
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.masked_url}: {exc}") from None
        return conn

    def _connect_postgresql(self) -> Any:
        import psycopg  # only deployments on PostgreSQL need the driver loaded

        try:
            return psycopg.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        except psycopg.Error as exc:
            reason = _scrub(" ".join(str(exc).split()) or type(exc).__name__, self.url)
            raise StoreError(f"{self.masked_url}: cannot connect: {reason}") from None

    def close(self) -> None:
        """Close this process's connections. Those inherited across a fork belong to the
        parent: closing a PostgreSQL socket here would end the parent's session."""
        with self._lock:
            connections, self._all = self._all, []
            self._closed = True
        pid = os.getpid()
        for owner, conn in connections:
            if owner != pid:
                continue
            with suppress(Exception):  # best effort: a dead socket is closed enough
                conn.close()

    # ---- statements ----------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (in the open transaction, if this thread has one); returns the
        cursor (`rowcount`, `fetchone`, `fetchall` behave alike on both drivers)."""
        return self.connection().execute(self.dialect.sql(sql), tuple(params))

    def script(self, sql: str) -> None:
        """Several statements, no parameters (a migration file)."""
        conn = self.connection()
        if self.dialect.name == "sqlite":
            for statement in split_statements(sql):
                conn.execute(statement)
        else:
            conn.execute(sql)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction: SQLite takes the write lock at once (BEGIN IMMEDIATE, so two
        processes never both read-then-write), PostgreSQL relies on row locks (`for_update`)."""
        conn = self.connection()
        if self.dialect.name == "postgresql":
            with conn.transaction():
                yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


@contextmanager
def driver_errors_as_store_errors(db: Database) -> Iterator[None]:
    """Opening, migrating and status are run by ops and at start-up: a database error there
    becomes one StoreError line naming the database, not a driver traceback."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        if not _is_driver_error(exc):
            raise
        reason = _scrub(" ".join(str(exc).split()) or type(exc).__name__, db.url)
        raise StoreError(f"{db.masked_url}: {reason}") from exc


def _is_driver_error(exc: Exception) -> bool:
    if isinstance(exc, sqlite3.Error):
        return True
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.Error)


def _broken(conn: Any) -> bool:
    """A PostgreSQL connection lost to a server restart or a network cut: the next call opens
    a new one (the failed call itself raised; its caller, a Temporal activity, retries)."""
    return bool(getattr(conn, "broken", False) or getattr(conn, "closed", False))


def split_statements(sql: str) -> list[str]:
    """A migration file's statements, for SQLite's one-statement `execute` (sqlite3's
    `executescript` would commit the surrounding transaction). Uses SQLite's own notion of a
    complete statement, so semicolons in strings and triggers are handled."""
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not _only_comments(current):
        raise StoreError(f"incomplete SQL statement at the end of a migration: {current[:60]!r}")
    return statements


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())


def _scrub(message: str, url: str) -> str:
    """A driver message with the password taken out, should the driver ever echo the URL."""
    password = urlsplit(url).password if "://" in url else None
    return message.replace(password, "***") if password else message


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
