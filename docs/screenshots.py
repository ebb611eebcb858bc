"""Take the ops console's screenshots for docs/ops.md: `.venv/bin/python docs/screenshots.py`.

Runs what the browser test runs (tests/test_ops_console.py): the Temporal dev server, a worker,
the webhook server with its console on a free localhost port and a SQLite store in a temporary
directory, then drives Debian's chromium (headless, through Playwright; never a downloaded
browser): a few accounts in different states, a login, a promise recorded on one account, and
a screenshot of that account's page (docs/img/ops-console.png), of the list
(docs/img/ops-accounts.png) and of the overview (docs/img/ops-overview.png). Runnable again
whenever the pages change; nothing outside docs/img/ is written.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from connection.temporal import bundled_binary  # noqa: E402
from tests.test_ops_console import (  # noqa: E402
    PARIS,
    PASSWORD,
    chromium,
    console_stack,
)
from workflows.search_attributes import ALL  # noqa: E402

IMAGES = ROOT / "docs" / "img"
WIDTH, HEIGHT = 1280, 900
# (account id, days past due, balance, events sent before the screenshots)
ACCOUNTS = [
    ("A-2001", "6", "120.50", []),
    ("A-2002", "12", "89.90", [{"type": "payment", "amount": "20.00"}]),
    ("A-2003", "2", "240.00", [{"type": "hold", "days": 10}]),
    ("A-2004", "16", "57.00", [{"type": "dispute", "reason": "already paid in cash"}]),
    ("A-2005", "31", "410.00", []),
    ("A-2006", "6", "35.00", [{"type": "payment", "amount": "35.00"}]),
]


async def take(target: Path) -> list[Path]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=bundled_binary("temporal"),
        search_attributes=ALL,
        data_converter=pydantic_data_converter,
    )
    written: list[Path] = []
    async with env:
        with tempfile.TemporaryDirectory() as tmp:
            async with console_stack(env.client, Path(tmp)) as stack:
                for account_id, days, balance, _ in ACCOUNTS:
                    await stack.start(account_id, days_past_due=days, balance=balance)
                for account_id, _, _, events in ACCOUNTS:
                    for number, event in enumerate(events):
                        await stack.send(
                            account_id, event_id=f"shot-{account_id}-{number}", **event
                        )
                await stack.listed("DunningStatus = 'disputed'", {"A-2004"})
                written = await browse(stack.base, target)
    return written


async def browse(base: str, target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    shots = []
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        page = await context.new_page()
        await page.goto(f"{base}/ops/login")
        await page.fill("input[name=user]", "alice")
        await page.fill("input[name=secret]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url("**/ops/")
        await page.wait_for_timeout(500)
        shots.append(target / "ops-overview.png")
        await page.screenshot(path=str(shots[-1]), full_page=True)

        await page.goto(f"{base}/ops/accounts")
        shots.append(target / "ops-accounts.png")
        await page.screenshot(path=str(shots[-1]))

        await page.goto(f"{base}/ops/accounts/A-2002")
        promised = datetime.now(PARIS).date() + timedelta(days=7)
        await page.click("#action-promise summary")
        await page.fill("#action-promise input[name=date]", promised.isoformat())
        await page.click("#action-promise button[type=submit]")
        await page.wait_for_selector("#answer")
        await page.click("section.timeline details.message summary")
        shots.append(target / "ops-console.png")
        await page.screenshot(path=str(shots[-1]), full_page=True)
    return shots


if __name__ == "__main__":
    for path in asyncio.run(take(IMAGES)):
        print(path.relative_to(ROOT))
