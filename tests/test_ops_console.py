"""The ops console in a real browser: Debian's chromium driven by Playwright, against the real
webhook application served by uvicorn on a localhost port, the real Temporal dev server (real
visibility for the list's filters), the real worker and a SQLite store (the audit store the
account page reads the rendered messages from).

Skipped when /usr/bin/chromium is missing, unless DUNNING_REQUIRE_BROWSER=1 (set by .ci/run,
which installs chromium): then its absence fails. No browser is ever downloaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from temporalio.client import Client

from activities.channels.outbox import MemoryOutbox
from config.ladder_loader import load_ladder
from config.settings import Settings, load_settings
from inbound.accounts import TemporalAccounts
from inbound.app import create_app
from inbound.ops.listing import TemporalSearch
from inbound.server import embedded_server
from intake.start import start_account
from store import SqlStore, open_store
from tests.conftest import account, free_port
from tests.test_end_to_end import always_open_ladder
from worker import build_worker
from workflows.types import AccountEvent, AccountView, workflow_id_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "browser test password"
PASSWORD_HASH = PasswordHasher().hash(PASSWORD)
PARIS = ZoneInfo("Europe/Paris")


@dataclass
class ConsoleStack:
    """The webhook server with its console on `base`, a worker, and the dev server's client."""

    client: Client
    settings: Settings
    store: SqlStore
    base: str
    tmp_path: Path

    async def start(self, account_id: str, **columns: str) -> None:
        ladder = load_ladder(always_open_ladder(self.tmp_path))
        given = account(datetime.now(UTC), ladder=ladder, account_id=account_id, **columns)
        outcome = await start_account(self.client, given, self.settings.task_queue)
        assert outcome.started, outcome

    async def view(self, account_id: str) -> AccountView:
        handle = self.client.get_workflow_handle(workflow_id_for(account_id))
        return await handle.query("status", result_type=AccountView)

    async def send(self, account_id: str, **fields: object) -> None:
        accounts = TemporalAccounts(self._client, self.settings.link_secret.get_secret_value())
        result = await accounts.apply(account_id, AccountEvent.model_validate(fields))
        assert result.accepted, result

    async def paused_view(self, account_id: str) -> AccountView:
        """The view once the workflow has planned again after a promise: the update answers
        before the workflow's loop wakes up and sets the next contact."""
        view = await self.view(account_id)
        for _ in range(100):
            if view.promise is not None and view.next_contact_at == view.promise.reminder_at:
                return view
            await asyncio.sleep(0.05)
            view = await self.view(account_id)
        return view

    async def _client(self) -> Client:
        return self.client

    async def listed(self, query: str, wanted: set[str]) -> None:
        """Visibility is eventually consistent: wait until the query lists these accounts."""
        search = TemporalSearch(TemporalAccounts(self._client, ""))
        found: set[str] = set()
        for _ in range(150):
            page = await search.page(query, 50, None)
            found = {row.account_id for row in page.rows}
            if wanted <= found:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{query!r} lists {found}, not {wanted}")


@contextlib.asynccontextmanager
async def console_stack(
    client: Client, tmp_path: Path, **settings_fields: object
) -> AsyncIterator[ConsoleStack]:
    """Serve the webhook app (console on) on a free localhost port beside a real worker."""
    settings = load_settings(
        data_dir=tmp_path / "data",
        task_queue=f"ops-{uuid.uuid4().hex[:8]}",
        **({"ops_password_hash": PASSWORD_HASH} | settings_fields),
    )
    store = open_store(settings.store_url)

    async def connect() -> Client:
        return client

    accounts = TemporalAccounts(connect, settings.link_secret.get_secret_value())
    port = free_port()
    server = embedded_server(create_app(settings, accounts, store), "127.0.0.1", port)
    serving = asyncio.create_task(server.serve())
    try:
        async with build_worker(client, settings, transport=MemoryOutbox(), audit=store.audit):
            for _ in range(100):
                if server.started:
                    break
                await asyncio.sleep(0.05)
            assert server.started, "uvicorn did not start"
            yield ConsoleStack(client, settings, store, f"http://127.0.0.1:{port}", tmp_path)
    finally:
        server.should_exit = True
        await serving
        store.close()


@pytest_asyncio.fixture
async def stack(dev_env, tmp_path: Path) -> AsyncIterator[ConsoleStack]:
    async with console_stack(dev_env.client, tmp_path) as built:
        yield built


@contextlib.asynccontextmanager
async def chromium():
    """Debian's chromium through Playwright (never a downloaded browser)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
        except Exception as exc:  # a launch failure is mostly a version mismatch: say which
            exc.add_note(browser_versions())
            raise
        try:
            yield browser
        finally:
            await browser.close()


def browser_versions() -> str:
    """Chromium's and Playwright's versions, for the message of a browser that did not start.
    `subprocess.run` with a timeout kills the process when it runs out."""
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    try:
        done = subprocess.run(
            [str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=20, check=False
        )
        chromium_version = (done.stdout or done.stderr).strip() or f"exit {done.returncode}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        chromium_version = f"unknown ({exc})"
    try:
        playwright_version = version("playwright")
    except PackageNotFoundError:
        playwright_version = "not installed"
    return f"{CHROMIUM}: {chromium_version}; playwright {playwright_version}"


@pytest.fixture
def browser_available() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("DUNNING_REQUIRE_BROWSER") == "1":
        pytest.fail(
            "DUNNING_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing (apt-get install chromium)"
        )
    pytest.skip("/usr/bin/chromium is missing (Debian's chromium package)")


ROUTES = [
    ("GET", "/ops/"),
    ("GET", "/ops/accounts"),
    ("GET", "/ops/accounts?status=active"),
    ("GET", "/ops/accounts/O-1"),
    ("POST", "/ops/accounts/O-1/promise"),
    ("POST", "/ops/accounts/O-1/payment"),
    ("POST", "/ops/accounts/O-1/cease"),
    ("POST", "/ops/logout"),
    ("GET", "/ops/anything"),
]


async def test_without_a_login_the_real_server_gives_nothing(stack: ConsoleStack):
    await stack.start("O-1", days_past_due="6")
    async with httpx.AsyncClient(base_url=stack.base) as http:
        for method, path in ROUTES:
            form = {"amount": "10.00", "date": "2030-01-01", "confirm": "yes"}
            browser = await http.request(method, path, headers={"Accept": "text/html"}, data=form)
            script = await http.request(method, path, data=form)
            assert browser.status_code == 303, (method, path)
            assert browser.headers["location"].startswith("/ops/login"), (method, path)
            assert script.status_code == 401, (method, path)
            for answer in (browser, script):
                assert "O-1" not in answer.text and "Claire" not in answer.text
    view = await stack.view("O-1")
    assert [event.type for event in view.events] == []  # nothing was applied


async def test_log_in_filter_open_an_account_and_record_a_promise(
    browser_available: None, stack: ConsoleStack
):
    await stack.start("O-1", days_past_due="6")  # the sms reminder goes out; next: first-letter
    await stack.start("O-2", days_past_due="6")
    await stack.send("O-2", type="hold", days=10, event_id="hold-O-2", source="test")
    await stack.listed("DunningStatus = 'held'", {"O-2"})
    await stack.listed("DunningStatus = 'active' AND DunningStep = 'first-letter'", {"O-1"})
    before = await stack.view("O-1")
    assert before.next_contact_at is not None

    async with chromium() as browser:
        page = await (await browser.new_context()).new_page()
        await page.goto(f"{stack.base}/ops/accounts")
        assert "/ops/login" in page.url  # sent to the login page, nothing shown

        await page.fill("input[name=user]", "alice")
        await page.fill("input[name=secret]", "not the password")
        await page.click("button[type=submit]")
        assert "Wrong name, password or token" in await page.inner_text("main")
        assert "O-1" not in await page.content()

        await page.fill("input[name=user]", "alice")
        await page.fill("input[name=secret]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url("**/ops/accounts")

        await page.select_option("select[name=status]", "held")
        await page.click("form.filters button[type=submit]")
        await page.wait_for_url("**/ops/accounts?status=held*")
        listed = await page.inner_text("table.list tbody")
        assert "O-2" in listed and "O-1" not in listed

        await page.select_option("select[name=status]", "active")
        await page.fill("input[name=step]", "first-letter")
        await page.click("form.filters button[type=submit]")
        await page.wait_for_url("**/ops/accounts?status=active*")
        listed = await page.inner_text("table.list tbody")
        assert "O-1" in listed and "O-2" not in listed

        await page.click("text=O-1")
        await page.wait_for_url("**/ops/accounts/O-1")
        assert await page.inner_text("#status") == "active"
        assert await page.inner_text("#next-step") == "first-letter"
        timeline = await page.inner_text("section.timeline")
        assert "sms-reminder" in timeline and "sent" in timeline
        await page.click("section.timeline details.message summary")
        # The rendered message, from the audit store.
        assert "pay.acme.example/a/O-1" in await page.inner_text("section.timeline")

        promised = datetime.now(PARIS).date() + timedelta(days=7)
        await page.click("#action-promise summary")
        await page.fill("#action-promise input[name=date]", promised.isoformat())
        await page.click("#action-promise button[type=submit]")
        await page.wait_for_selector("#answer")
        assert "accepted" in await page.inner_text("#answer")
        assert await page.inner_text("#status") == "promised"
        paused = await page.inner_text("#paused")
        assert paused.startswith("promise of ") and f"by {promised.isoformat()}" in paused
        shown = await stack.paused_view("O-1")  # what the page shows as the next contact
        await page.reload()
        expected = (
            shown.next_contact_at.strftime("%Y-%m-%d %H:%M UTC") if shown.next_contact_at else "–"
        )
        assert await page.inner_text("#next-contact") == expected
        await page.screenshot(path=str(stack.tmp_path / "account.png"), full_page=True)

        await page.click("header nav >> text=Overview")
        await page.select_option("select[name=days]", "7")
        await page.click("form.period button[type=submit]")
        await page.wait_for_url("**/ops/?days=7")
        assert await page.locator(".report figure svg").count() > 0  # the report's charts

    after = await stack.paused_view("O-1")
    assert after.status.value == "promised" and after.promise is not None
    assert after.promise.date == promised
    [promise] = [event for event in after.events if event.type == "promise"]
    assert promise.accepted
    # The ladder is paused: its next step (first-letter) is not what comes next any more; the
    # only contact planned is the promise's own reminder (the ladder's `promise.reminder`, a
    # day before the date), or none; and nothing was sent since.
    assert after.contacts == before.contacts
    assert after.next_contact_at == after.promise.reminder_at
    if after.next_contact_at is not None:
        reminded = after.next_contact_at.astimezone(PARIS).date()
        assert promised - timedelta(days=5) <= reminded < promised
        assert after.next_contact_at > before.next_contact_at


async def test_the_next_step_is_a_search_attribute_until_the_account_closes(stack: ConsoleStack):
    """`DunningStep` (the `ops-console` patch): the list's step filter finds an open account by
    its next step, and a closed account has none."""
    await stack.start("O-3", days_past_due="6")
    await stack.listed("DunningStep = 'first-letter'", {"O-3"})
    await stack.send("O-3", type="payment", amount="120.50", event_id="pay-O-3", source="test")
    await stack.listed("DunningStatus = 'paid' AND DunningStep IS NULL", {"O-3"})


def test_a_browser_that_does_not_start_says_which_versions_met(browser_available: None):
    said = browser_versions()
    assert said.startswith(f"{CHROMIUM}: ") and "Chromium" in said and "playwright " in said
