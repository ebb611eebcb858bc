"""The brake on guessing the console's password or token (`inbound/ops/brake.py`): one check
in flight per client, the client's delay applied before its next check (429 with Retry-After at
once, unchecked), no answer ever held, another client never kept out by a flood, argon2 behind
a bounded global gate."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time

import httpx
import pytest

from inbound.ops.brake import CheckGate, FailureLimiter, Refused, TooBusy, client_key
from tests.test_ops_console_http import BASE, HTML, PASSWORD, TOKEN, accounts, http, search

__all__ = ["accounts", "http", "search"]  # fixtures, shared with test_ops_console_http

WRONG_BEARER = {"Authorization": "Bearer not-the-token-000000000000000"}


def over(app, host: str) -> httpx.AsyncClient:
    """A client of `app` seen by the server at address `host`."""
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


async def nonce_of(client: httpx.AsyncClient) -> str:
    form = await client.get("/ops/login", headers=HTML)
    return re.search(r'name="nonce" value="([^"]+)"', form.text).group(1)


async def post_login(client: httpx.AsyncClient, nonce: str, secret: str, user: str = "alice"):
    """A login with the form's nonce cookie sent by hand: the same nonce for many requests."""
    data = {"user": user, "secret": secret, "nonce": nonce, "next": "/ops/"}
    return await client.post(
        "/ops/login", data=data, headers={"Cookie": f"dunning_ops_login={nonce}"}
    )


def counted_checks(ops, seconds: float = 0.0) -> list[str]:
    """Count (and slow down, in the check's thread) the password checks that really run."""
    checks: list[str] = []
    real = ops.auth.password_ok

    def password_ok(password: str) -> bool:
        checks.append(password)
        time.sleep(seconds)
        return real(password)

    ops.auth.password_ok = password_ok
    return checks


def fake_clock(ops) -> list[float]:
    now = [1000.0]
    ops.auth.limiter.clock = lambda: now[0]
    return now


# ---- the limiter alone ------------------------------------------------------------------------


def test_the_first_failures_cost_nothing_then_the_wait_doubles_and_is_forgotten():
    now = [0.0]
    limiter = FailureLimiter(slow_after=3, window=60, max_delay=8, clock=lambda: now[0])
    waits = [limiter.failed("10.0.0.1") for _ in range(8)]
    assert waits == [0, 0, 0, 1, 2, 4, 8, 8]
    assert limiter.wait("10.0.0.1") == 8
    assert limiter.failed("10.0.0.2") == 0 and limiter.wait("10.0.0.2") == 0  # its own count
    now[0] = 59.0
    assert limiter.recent("10.0.0.1") == 8 and limiter.wait("10.0.0.1") == 0
    now[0] = 60.0
    assert limiter.recent("10.0.0.1") == 0 and limiter.failed("10.0.0.1") == 0
    assert len(limiter._clients) == 2  # 10.0.0.2's failure is not forgotten yet
    now[0] = 200.0
    limiter.recent("10.0.0.1"), limiter.recent("10.0.0.2")
    assert limiter._clients == {}  # nothing left to remember: forgotten


def test_one_address_sending_50_logins_a_second_gets_about_one_guess_per_16_s():
    """The review's simulation: 50 tries a second from one address for a minute, each check
    failing at once. Before: ~8 guesses a second were checked. Now: the free first five, then
    one per not-before moment, ending at one per 16 s."""
    now = [0.0]
    limiter = FailureLimiter(clock=lambda: now[0])
    checked, refused = [], 0
    for tick in range(50 * 60):
        now[0] = tick / 50
        try:
            with limiter.turn("198.51.100.7"):
                checked.append(now[0])
                limiter.failed("198.51.100.7")
        except Refused as refusal:
            refused += 1
            assert refusal.retry_after >= 1
        with limiter.turn("203.0.113.9"):  # another client: checked every time
            pass
    assert len(checked) == 12 and refused == 50 * 60 - 12
    assert checked[-1] - checked[-2] == pytest.approx(16)


def test_one_check_in_flight_per_client_and_an_ipv6_client_is_its_64():
    limiter = FailureLimiter()
    with limiter.turn("2001:db8:1:2::1"):
        with pytest.raises(Refused) as busy, limiter.turn("2001:db8:1:2::99"):
            pass
        assert busy.value.busy and busy.value.retry_after == 1
        with limiter.turn("2001:db8:1:3::1"):  # another /64: another client
            pass
    with limiter.turn("2001:db8:1:2::99"):  # the check is over: its turn again
        pass
    assert limiter._clients == {}


def test_client_keys():
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:10.0.0.7") == client_key("10.0.0.7") == "10.0.0.7"
    assert client_key("10.0.0.8") != client_key("10.0.0.7")
    assert client_key("unknown") == "unknown"


# ---- over HTTP -------------------------------------------------------------------------------


async def test_a_parallel_flood_gets_one_check_and_another_client_gets_in_meanwhile(http):
    """One address sends 30 wrong logins at once while another logs in with the password:
    the flood gets one argon2 check (the rest 429 at once, unchecked, unqueued), the other
    address gets in."""
    checks = counted_checks(http.ops, seconds=0.3)
    async with over(http.app, "198.51.100.7") as flood, over(http.app, "203.0.113.9") as alice:
        flood_nonce, alice_nonce = await nonce_of(flood), await nonce_of(alice)
        started = time.monotonic()
        *flooded, right = await asyncio.gather(
            *(post_login(flood, flood_nonce, f"guess {n}") for n in range(30)),
            post_login(alice, alice_nonce, PASSWORD),
        )
        elapsed = time.monotonic() - started
    statuses = sorted(answer.status_code for answer in flooded)
    assert statuses == [401] + [429] * 29
    assert all(a.headers["retry-after"] == "1" for a in flooded if a.status_code == 429)
    assert "being checked" in next(a for a in flooded if a.status_code == 429).text
    assert right.status_code == 303 and "dunning_ops=" in right.headers["set-cookie"]
    assert sorted(checks) == sorted([PASSWORD, next(c for c in checks if c != PASSWORD)])
    assert elapsed < 3  # two checks of 0.3 s side by side; nothing waits for a slow-down


async def test_past_the_threshold_even_the_right_password_waits_its_turn_unchecked(http, caplog):
    caplog.set_level(logging.INFO, logger="dunning.ops")
    now = fake_clock(http.ops)
    checks = counted_checks(http.ops)
    async with over(http.app, "198.51.100.7") as client:
        nonce = await nonce_of(client)
        for _ in range(6):  # the free five, and one that sets a not-before 1 s ahead
            assert (await post_login(client, nonce, "guess")).status_code == 401
        early = await post_login(client, nonce, PASSWORD)
        assert early.status_code == 429 and early.headers["retry-after"] == "1"
        assert "Too many failed logins from your address" in early.text
        assert len(checks) == 6  # not checked
        now[0] += 1
        assert (await post_login(client, nonce, "guess")).status_code == 401  # 7th: 2 s
        now[0] += 1.5
        refused = await post_login(client, nonce, PASSWORD)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        now[0] += 0.5
        assert (await post_login(client, nonce, PASSWORD)).status_code == 303
    assert "7 recent failures, 1 refused unchecked" in caplog.text
    assert len(checks) == 8


async def test_a_wrong_bearer_token_is_answered_at_once_and_counted_like_a_failed_login(
    http, caplog
):
    """No sleep (a held connection is one the webhooks do not get): 401 at once, then 429
    with Retry-After at once, the token not even compared, until the not-before moment."""
    caplog.set_level(logging.INFO, logger="dunning.ops")
    right = {"Authorization": f"Bearer {TOKEN}"}
    async with over(http.app, "198.51.100.7") as script, over(http.app, "203.0.113.9") as other:
        started = time.monotonic()
        answers = [await script.get("/ops/accounts", headers=WRONG_BEARER) for _ in range(40)]
        elapsed = time.monotonic() - started
        assert [a.status_code for a in answers] == [401] * 6 + [429] * 34
        assert answers[-1].headers["retry-after"] == "1"
        assert (await script.get("/ops/accounts", headers=right)).status_code == 429
        assert (await other.get("/ops/accounts", headers=right)).status_code == 200
        http.ops.auth.limiter.clock = lambda: time.monotonic() + 1.01  # its moment came
        assert (await script.get("/ops/accounts", headers=right)).status_code == 200
    assert elapsed < 2  # 40 answers; the old slow-down held them 1 + 1 + ... + 16 s each
    assert http.ops.auth.limiter.recent("198.51.100.7") == 6
    assert "ops bearer token refused" in caplog.text and "not-the-token" not in caplog.text


async def test_the_form_and_the_bearer_header_share_one_count(http):
    async with over(http.app, "198.51.100.7") as client:
        nonce = await nonce_of(client)
        for _ in range(3):
            assert (await client.get("/ops/", headers=WRONG_BEARER)).status_code == 401
        for _ in range(3):
            assert (await post_login(client, nonce, "guess")).status_code == 401
        assert (await client.get("/ops/", headers=WRONG_BEARER)).status_code == 429
        assert (await post_login(client, nonce, PASSWORD)).status_code == 429


async def test_a_session_is_never_braked(http):
    """Logged in before a flood from the same address: the session's pages still answer."""
    async with over(http.app, "198.51.100.7") as client:
        nonce = await nonce_of(client)
        assert (await post_login(client, nonce, PASSWORD)).status_code == 303
        for _ in range(8):
            await client.get("/ops/", headers=WRONG_BEARER | {"Cookie": ""})
        assert (await client.get("/ops/accounts", headers=HTML)).status_code == 200


# ---- the global gate: the backstop against many clients ------------------------------------------


async def test_password_checks_run_off_the_loop_two_at_a_time_and_a_flood_gets_429():
    gate = CheckGate(running=2, queued=1)
    loop_thread = threading.get_ident()
    started, release = threading.Semaphore(0), threading.Event()
    running, most, threads = [0], [0], set()

    def slow_check() -> bool:
        threads.add(threading.get_ident())
        running[0] += 1
        most[0] = max(most[0], running[0])
        started.release()
        release.wait(5)
        running[0] -= 1
        return True

    checks = [asyncio.create_task(gate.run(slow_check)) for _ in range(3)]
    await asyncio.to_thread(started.acquire)
    await asyncio.to_thread(started.acquire)
    await asyncio.sleep(0.05)  # the third waits for a slot; a fourth is one too many
    with pytest.raises(TooBusy):
        await gate.run(slow_check)
    release.set()
    assert await asyncio.gather(*checks) == [True] * 3
    assert most[0] == 2 and loop_thread not in threads


async def test_a_login_while_the_checks_are_flooded_is_answered_429_at_once(http, monkeypatch):
    """Too many checks queued (many clients): 429 without checking, no failure counted; the
    token is compared without the queue, so it still logs in."""

    @contextlib.asynccontextmanager
    async def busy():
        raise TooBusy()
        yield

    monkeypatch.setattr(http.ops.auth.gate, "slot", busy)
    async with over(http.app, "198.51.100.7") as client:
        nonce = await nonce_of(client)
        refused = await post_login(client, nonce, PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert "dunning_ops=" not in refused.headers.get("set-cookie", "")
        assert (await post_login(client, nonce, TOKEN, user="")).status_code == 303
    assert http.ops.auth.limiter.recent("198.51.100.7") == 0
