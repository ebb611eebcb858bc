"""The brake on guessing the console's password or token: slow failures down, bound the work.

Why not lock a client out after N failures: behind a proxy, or a NAT, many people share one
address, so a lockout lets anyone who can reach the login form lock every operator out by
failing on purpose. The principle here is that a correct credential is never refused because
of someone else's failures:

- every failed login or bearer request waits before its answer (`FAILURE_DELAY`), and longer
  when its client has failed many times recently (`FailureLimiter.delay`, doubling past
  `SLOW_AFTER` failures up to `MAX_DELAY`); the check itself always runs, so the right
  password still logs in;
- password checks (argon2, ~250 ms of CPU each) run in a thread behind a small global
  semaphore (`CheckGate`), so a flood of guesses cannot stall the event loop that also answers
  Twilio, SendGrid and the payment processor; when too many checks are already waiting, the
  answer is 429 at once instead of one more queued check;
- a client is its address as the server sees it (uvicorn believes `X-Forwarded-For` only from
  `FORWARDED_ALLOW_IPS`, see deploy/), an IPv6 client its /64: one host usually owns a whole
  /64, and counting each of its addresses apart would let it rotate past the slow-down.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

MAX_FAILURES = 5  # recent failures before a client is slowed down more (SLOW_AFTER)
SLOW_AFTER = MAX_FAILURES
FAILURE_WINDOW = 300.0  # seconds a failure counts for
FAILURE_DELAY = 1.0  # seconds every failure waits before its answer
MAX_DELAY = 16.0  # the longest wait, however many failures
MAX_CLIENTS = 10_000  # clients remembered (a flood of addresses: the oldest are forgotten)
PASSWORD_CHECKS = 2  # argon2 checks running at once (threads)
MAX_QUEUED_CHECKS = 16  # checks waiting for one of those; beyond: 429 at once


class TooBusy(Exception):
    """Too many password checks are already waiting: answer 429, check nothing."""


def client_key(host: str) -> str:
    """The unit the slow-down counts: an IPv4 address as is, an IPv6 address's /64 (an
    IPv4-mapped one as the IPv4 address), anything else (a unix socket) as given."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


@dataclass
class FailureLimiter:
    """Recent failures per client (a sliding window, in memory, per process): how long the
    client's next failure waits. Never a refusal: see the module's docstring."""

    slow_after: int = SLOW_AFTER
    window: float = FAILURE_WINDOW
    base_delay: float = FAILURE_DELAY
    max_delay: float = MAX_DELAY
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def recent(self, client: str) -> int:
        """How many times this client failed within the window."""
        return len(self._recent(client_key(client)))

    def failed(self, client: str) -> float:
        """Count a failure; returns how long its answer should wait (seconds)."""
        key = client_key(client)
        times = self._recent(key)
        times.append(self.clock())
        self._failures[key] = times
        if len(self._failures) > MAX_CLIENTS:
            self._failures.pop(next(iter(self._failures)))
        return self.delay(len(times))

    def delay(self, failures: int) -> float:
        """1 s up to `slow_after` failures, then doubling, at most `max_delay`."""
        extra = max(0, failures - self.slow_after)
        return min(self.base_delay * 2 ** min(extra, 16), self.max_delay)

    def _recent(self, key: str) -> deque[float]:
        now = self.clock()
        # maxlen: past it the delay is at its maximum anyway; bounds the memory per client.
        times = self._failures.get(key, deque(maxlen=self.slow_after + 32))
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times


class CheckGate:
    """At most `running` password checks at once, at most `queued` more waiting; past that
    `TooBusy` at once. Bounds the CPU a flood of guesses can take from the webhooks."""

    def __init__(self, running: int = PASSWORD_CHECKS, queued: int = MAX_QUEUED_CHECKS) -> None:
        self.running = running
        self.queued = queued
        self._semaphore: asyncio.Semaphore | None = None
        self._in_flight = 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._in_flight >= self.running + self.queued:
            raise TooBusy()
        if self._semaphore is None:  # made in the serving loop, not at import
            self._semaphore = asyncio.Semaphore(self.running)
        self._in_flight += 1
        try:
            async with self._semaphore:
                yield
        finally:
            self._in_flight -= 1

    async def run(self, check: Callable[[], bool]) -> bool:
        """`check` (blocking: argon2) in a thread once a slot is free."""
        async with self.slot():
            return await asyncio.to_thread(check)
