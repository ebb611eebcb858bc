"""End to end on the real Temporal dev server (the `temporal` binary from pip), wall-clock time.

`dunning accounts import` runs as a subprocess, as ops would run it; the worker runs here with a
file outbox. The ladder used is the example ladder with an always-open window, so the test does
not depend on the hour at which CI runs.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from activities.channels.outbox import FileOutbox
from config.settings import PROJECT_ROOT, load_settings
from worker import build_worker

SPEC = PROJECT_ROOT.parent / "shared" / "spec"
DUNNING = str(Path(sys.executable).parent / "dunning")


def always_open_ladder(tmp_path: Path) -> Path:
    text = (PROJECT_ROOT / "config" / "ladders" / "consumer-standard.yaml").read_text()
    text = (
        text.replace('start: "08:00"', 'start: "00:00"')
        .replace('end: "21:00"', 'end: "23:59"')
        .replace(
            "days: [mon, tue, wed, thu, fri, sat]", "days: [mon, tue, wed, thu, fri, sat, sun]"
        )
        .replace("jurisdiction: us", "jurisdiction: none")
        .replace("holidays: US", "holidays: FR")
    )
    path = tmp_path / "consumer-standard.yaml"
    path.write_text(text)
    return path


def example_accounts_due_recently() -> list[str]:
    """The shared example accounts with every due_date 20 days before today (wall-clock time):
    the file's fixed due_date (2026-11-10, A-1003) would reach the handoff day (45) and be
    handed off at once instead of getting its latest due step."""
    due = (datetime.now(UTC).date() - timedelta(days=20)).isoformat()
    with (SPEC / "accounts.example.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns, rows = list(reader.fieldnames or []), list(reader)
    for row in rows:
        if row["due_date"]:
            row["due_date"] = due
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().splitlines()


async def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [DUNNING, *args], env=env, capture_output=True, text=True, timeout=120
    )


async def wait_for_files(directory: Path, count: int, seconds: float = 30) -> list[Path]:
    for _ in range(int(seconds * 10)):
        files = sorted(directory.rglob("*.json"))
        if len(files) >= count:
            return files
        await asyncio.sleep(0.1)
    return sorted(directory.rglob("*.json"))


async def test_import_run_restart_and_reimport_on_the_dev_server(dev_env, tmp_path: Path):
    task_queue = f"e2e-{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "data"
    cli_env = {
        **os.environ,
        "DUNNING_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "DUNNING_TASK_QUEUE": task_queue,
        "DUNNING_DATA_DIR": str(data_dir),
    }
    settings = load_settings(data_dir=data_dir, task_queue=task_queue)
    ladder = always_open_ladder(tmp_path)
    accounts = tmp_path / "accounts.csv"
    rows = example_accounts_due_recently()
    rows.append("B-9,No Balance,,,,,,FR,Europe/Paris,fr,,EUR,3,,consumer-standard")
    accounts.write_text("\n".join(rows) + "\n")

    async with build_worker(dev_env.client, settings, transport=FileOutbox(settings.outbox_dir)):
        first = await run_cli(
            "accounts", "import", str(accounts), "--ladder", str(ladder), env=cli_env
        )
        assert first.returncode == 1, first.stderr  # one row refused
        assert "started 5, already started 0, refused 1" in first.stdout
        assert f"{accounts}:line 7 (B-9): balance is required" in first.stderr
        # Each account past a step gets its latest due step at once (late entry), one message
        # each; A-1001 is at ladder day 0 and waits for day 1.
        files = await wait_for_files(settings.outbox_dir, 4)
        assert sorted(path.parent.name for path in files) == [
            "A-1002",
            "A-1003",
            "A-1004",
            "A-1005",
        ]

    # The worker dies; a new one takes over the same accounts.
    async with build_worker(dev_env.client, settings, transport=FileOutbox(settings.outbox_dir)):
        again = await run_cli(
            "accounts", "import", str(accounts), "--ladder", str(ladder), env=cli_env
        )
        assert "started 0, already started 5, refused 1" in again.stdout
        paid = await run_cli("account", "pay", "A-1004", "50.00", "--event-id", "p-1", env=cli_env)
        assert paid.returncode == 0 and "accepted: payment" in paid.stdout, paid.stderr
        again_paid = await run_cli(
            "account", "pay", "A-1004", "50.00", "--event-id", "p-1", env=cli_env
        )
        assert "duplicate" in again_paid.stdout
        zero = await run_cli("account", "pay", "A-1004", "0", env=cli_env)
        assert zero.returncode == 1 and "refused: amount must be greater than 0" in zero.stderr
        far = await run_cli("account", "promise", "A-1004", "--days", "90", env=cli_env)
        assert far.returncode == 1 and "more than 30 days away" in far.stderr
        plan = await run_cli(
            "account",
            "plan",
            "A-1004",
            "--installment",
            "7:200.00",
            "--installment",
            "21:200.00",
            env=cli_env,
        )
        assert plan.returncode == 0 and "status plan" in plan.stdout, plan.stderr
        shown = await run_cli("account", "show", "A-1004", env=cli_env)
        assert shown.returncode == 0, shown.stderr
        assert "first-letter" in shown.stdout and "sent" in shown.stdout
        assert "courtesy-email, sms-reminder" in shown.stdout  # skipped by late entry
        assert "400.00 PLN" in shown.stdout and "plan" in shown.stdout
        await asyncio.sleep(1)
    assert len(sorted(settings.outbox_dir.rglob("*.json"))) == 4

    missing = await run_cli("account", "show", "NOPE", env=cli_env)
    assert missing.returncode == 1 and "no account NOPE" in missing.stderr
