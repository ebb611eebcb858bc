"""The brake on guessing the console's password or token: refuse early, never hold a connection.

What it defends against: one client (an address) guessing the password as fast as it can, in
parallel. What it must not do: hold connections open (nginx has ~1,000 for the console and the
webhooks together, so sleeping before an answer lets a flood starve Twilio, SendGrid and the
payment processor), or let a flood from one client keep another client's operator out.

- At most ONE credential check in flight per client (`FailureLimiter.turn`): a second request
  from the same client while its check runs gets 429 at once, unchecked. Parallel requests
  therefore buy an attacker nothing.
- Each failure is counted (login form and wrong bearer token alike). The first `SLOW_AFTER`
  failures in `FAILURE_WINDOW` cost nothing (an operator's typo), each one past that sets the
  client's "not before" moment (1 s, doubling, at most `MAX_DELAY`); a request that comes
  earlier gets 429 with Retry-After at once, unchecked and unqueued. The delay is applied
  before the next check, never by sleeping: every answer leaves at once.
- The trade-off: clients sharing one address (a NAT, an office) share its brake, so a guesser
  there keeps that address's logins refused for at most `MAX_DELAY` after each of its failures.
  Other addresses are never refused for it; logged-in sessions are never braked.
- argon2 checks (~250 ms of CPU each) run in a thread behind a small global gate (`CheckGate`),
  the backstop against many clients at once: when too many are already waiting the answer is
  429 at once, so a flood cannot stall the event loop the webhooks share.
- A client is its address as the server sees it (uvicorn believes `X-Forwarded-For` only from
  `FORWARDED_ALLOW_IPS`, see deploy/), an IPv6 client its /64: one host usually owns a whole
  /64, and counting each of its addresses apart would let it rotate past the brake.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

SLOW_AFTER = 5  # recent failures a client may have before each further one costs it a wait
FAILURE_WINDOW = 300.0  # seconds a failure counts for
FAILURE_DELAY = 1.0  # the wait after the first failure past SLOW_AFTER, doubling after
MAX_DELAY = 16.0  # the longest wait, however many failures
MAX_CLIENTS = 10_000  # clients remembered (a flood of addresses: the oldest are forgotten)
PASSWORD_CHECKS = 2  # argon2 checks running at once (threads)
MAX_QUEUED_CHECKS = 16  # checks waiting for one of those; beyond: 429 at once
BUSY_RETRY = 1  # Retry-After (s) for a request refused while its client's check runs


class TooBusy(Exception):
    """Too many password checks are already waiting: answer 429, check nothing."""


class Refused(Exception):
    """This client may not be checked now: answer 429 with `retry_after` (whole seconds) at
    once. `busy`: its previous check is still running (else: before its not-before moment)."""

    def __init__(self, retry_after: int, *, busy: bool = False) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after
        self.busy = busy


def client_key(host: str) -> str:
    """The unit the brake counts: an IPv4 address as is, an IPv6 address's /64 (an
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
class _Client:
    failures: deque[float]
    not_before: float = 0.0
    checking: bool = False
    refused: int = 0  # requests refused unchecked since the log last said (`take_refused`)


@dataclass
class FailureLimiter:
    """Per client (in memory, per process): recent failures (a sliding window), the moment
    before which it is refused, and whether a check of it is running. See the module's
    docstring for why it refuses early instead of making answers wait."""

    slow_after: int = SLOW_AFTER
    window: float = FAILURE_WINDOW
    base_delay: float = FAILURE_DELAY
    max_delay: float = MAX_DELAY
    clock: Callable[[], float] = time.monotonic
    _clients: dict[str, _Client] = field(default_factory=dict)

    def recent(self, client: str) -> int:
        """How many times this client failed within the window."""
        entry = self._entry(client_key(client))
        return len(entry.failures) if entry else 0

    def take_refused(self, client: str) -> int:
        """Requests of this client refused unchecked since this was last asked (for the log:
        one line per failure, not one per refused request of a flood)."""
        entry = self._entry(client_key(client))
        if entry is None:
            return 0
        refused, entry.refused = entry.refused, 0
        return refused

    def wait(self, client: str) -> float:
        """Seconds until this client may be checked again (0: now)."""
        entry = self._entry(client_key(client))
        return max(0.0, entry.not_before - self.clock()) if entry else 0.0

    def refuse_early(self, client: str) -> None:
        """`Refused` when the client is before its not-before moment. For checks that cannot
        overlap (a token comparison, no await); a check that awaits takes a `turn`."""
        key = client_key(client)
        entry = self._entry(key)
        if entry is None:
            return
        wait = entry.not_before - self.clock()
        if wait > 0:
            entry.refused += 1
            raise Refused(max(1, math.ceil(wait)))

    @contextlib.contextmanager
    def turn(self, client: str) -> Iterator[None]:
        """The client's one check in flight: `Refused` at once when it is before its
        not-before moment or already has a check running. Count a failure (`failed`) inside
        the turn, so that no other request of the client slips in between."""
        self.refuse_early(client)
        key = client_key(client)
        entry = self._entry(key)
        if entry is not None and entry.checking:
            entry.refused += 1
            raise Refused(BUSY_RETRY, busy=True)
        if entry is None:
            entry = self._remember(key, _Client(self._new_deque()))
        entry.checking = True
        try:
            yield
        finally:
            entry.checking = False
            self._entry(key)  # forgotten when nothing is left to remember

    def failed(self, client: str) -> float:
        """Count a failure; returns how long the client is now refused (seconds, 0: not)."""
        key = client_key(client)
        entry = self._entry(key) or _Client(self._new_deque())
        now = self.clock()
        entry.failures.append(now)
        delay = self.delay(len(entry.failures))
        entry.not_before = max(entry.not_before, now + delay)
        self._remember(key, entry)
        return delay

    def delay(self, failures: int) -> float:
        """0 up to `slow_after` failures, then `base_delay` doubling, at most `max_delay`."""
        extra = failures - self.slow_after
        if extra <= 0:
            return 0.0
        return min(self.base_delay * 2 ** min(extra - 1, 16), self.max_delay)

    def _new_deque(self) -> deque[float]:
        # maxlen: past it the delay is at its maximum anyway; bounds the memory per client.
        return deque(maxlen=self.slow_after + 32)

    def _remember(self, key: str, entry: _Client) -> _Client:
        """Stored last (the most recent), the oldest idle client forgotten past MAX_CLIENTS."""
        self._clients.pop(key, None)
        self._clients[key] = entry
        if len(self._clients) > MAX_CLIENTS:
            idle = next((k for k, c in self._clients.items() if not c.checking), None)
            if idle is not None:
                del self._clients[idle]
        return entry

    def _entry(self, key: str) -> _Client | None:
        entry = self._clients.get(key)
        if entry is None:
            return None
        now = self.clock()
        while entry.failures and now - entry.failures[0] >= self.window:
            entry.failures.popleft()
        if not entry.failures and not entry.checking and entry.not_before <= now:
            del self._clients[key]
            return None
        return entry


class CheckGate:
    """At most `running` password checks at once, at most `queued` more waiting; past that
    `TooBusy` at once. The backstop against many clients: bounds the CPU their guesses take
    from the webhooks."""

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
