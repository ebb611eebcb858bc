"""A throwaway PostgreSQL cluster for the tests: initdb in a temporary directory, a server on a
free port of 127.0.0.1, removed at the end of the session. Nothing is downloaded and no
installed cluster is touched.

Fixtures (registered for every test module through `pytest_plugins` in tests/conftest.py):

- `postgres_server`: the running cluster (session-scoped); `create_database()` gives a URL.
- `postgres_url`: one database for the whole session.
- `postgres_database`: a fresh empty database per test (dropped afterwards), so tests never
  see each other's rows.

The server binaries come from `$DUNNING_POSTGRES_BINDIR`, `pg_config --bindir`,
`/usr/lib/postgresql/*/bin` (newest first) or the PATH. When they are missing the tests that
need them are skipped with the reason, or fail when `DUNNING_REQUIRE_POSTGRES=1` (CI), so a CI
image without PostgreSQL cannot pass by skipping. initdb refuses to run as root: as root the
cluster runs as the `postgres` user, in a directory handed to it.

The URLs carry a password and the cluster checks it over TCP (scram-sha-256), so the tests
exercise real authentication and can check that a password is never printed.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SUPERUSER = "dunning"
PASSWORD = "s3cret-pg-pass"
REQUIRE_ENV = "DUNNING_REQUIRE_POSTGRES"
_SERVER_USER = "postgres"


class PostgresUnavailable(Exception):
    """No usable PostgreSQL server binaries (or no user to run them as)."""


def find_bindir() -> Path:
    """The directory holding initdb and pg_ctl."""
    candidates: list[Path] = []
    if os.environ.get("DUNNING_POSTGRES_BINDIR"):
        candidates.append(Path(os.environ["DUNNING_POSTGRES_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(out.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda p: _version_key(Path(p).parent.name), reverse=True)
    candidates.extend(Path(p) for p in versions)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql-15 or set "
        "DUNNING_POSTGRES_BINDIR"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit()) or (0,)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One cluster in a temporary directory; `start()` then `stop()`."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="dunning-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"
        self.port = 0
        self.startup_seconds = 0.0
        self._names = itertools.count(1)
        self._server_version = 0
        self._owner: pwd.struct_passwd | None = None
        if self.as_root:
            try:
                self._owner = pwd.getpwnam(_SERVER_USER)
            except KeyError:
                shutil.rmtree(self.root, ignore_errors=True)
                raise PostgresUnavailable(
                    f"running as root and there is no {_SERVER_USER!r} user to run initdb as"
                ) from None
            if not shutil.which("runuser"):
                shutil.rmtree(self.root, ignore_errors=True)
                raise PostgresUnavailable("running as root and `runuser` is missing")

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", _SERVER_USER, "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(args[:1])} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\n{log}"
            )
        return result

    def start(self) -> None:
        self.sockets.mkdir()
        password_file = self.root / "password"
        password_file.write_text(PASSWORD + "\n")
        if self._owner is not None:
            for path in (self.root, self.sockets, password_file):
                os.chown(path, self._owner.pw_uid, self._owner.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            f"--pwfile={password_file}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        last_error: Exception | None = None
        for _ in range(3):  # a free port can be taken between the probe and the bind
            self.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sockets} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200"
            )
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                )
                return
            except RuntimeError as exc:
                last_error = exc
        raise RuntimeError(f"PostgreSQL would not start: {last_error}")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            if self.data.exists():
                self._run(
                    "pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60
                )
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def _version(self) -> int:
        if not self._server_version:
            import psycopg

            with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
                row = conn.execute("SHOW server_version_num").fetchone()
            self._server_version = int(row[0]) if row else 0
        return self._server_version

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database; returns its URL."""
        name = f"{prefix}_{next(self._names)}_{os.getpid()}"
        # FILE_COPY (PostgreSQL 15+) copies the small template in half the time of WAL_LOG.
        strategy = " STRATEGY FILE_COPY" if self._version() >= 150000 else ""
        self._admin(f'CREATE DATABASE "{name}"{strategy}')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with contextlib.suppress(Exception):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"PostgreSQL required ({REQUIRE_ENV}=1) but unavailable: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer(find_bindir())
    except PostgresUnavailable as exc:
        _unavailable(str(exc))
        raise  # unreachable: skip and fail raise
    started = time.monotonic()
    try:
        server.start()
    except Exception:
        server.stop()
        raise
    server.startup_seconds = time.monotonic() - started
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """One database shared by the whole session (`postgresql://dunning:…@127.0.0.1:PORT/…`)."""
    return postgres_server.create_database("session")


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh empty database for one test; its URL."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)
