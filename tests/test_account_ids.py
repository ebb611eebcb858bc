"""A workflow id is never reused: `dunning accounts import` against the store's account registry.

Temporal refuses a second start of an id only while it remembers the first run; after the
namespace's retention it forgets, and only the registry still knows. These tests run the CLI's
import on the real dev server with a real SQLite store, and make Temporal forget a closed
account by deleting its workflow.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from typer.testing import CliRunner

import cli.account_commands as account_commands
from cli.main import app
from config.settings import PROJECT_ROOT, Settings
from store import open_store
from tests.test_accounts_csv import csv_text, row


def accounts_file(tmp_path: Path, *account_ids: str) -> Path:
    path = tmp_path / "accounts.csv"
    path.write_text(csv_text([row(account_id=id_) for id_ in account_ids]), encoding="utf-8")
    return path


async def run_import(file: Path, settings: Settings) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await account_commands.import_accounts(
        file, None, settings, Console(file=out, width=300), Console(file=err, width=300)
    )
    return code, out.getvalue(), err.getvalue().strip("\n")  # the progress bar leaves a line


async def known_to_temporal(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def forget(client: Client, workflow_id: str) -> None:
    """What the namespace's retention does to a closed workflow, now."""
    await client.workflow_service.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id),
        )
    )
    for _ in range(600):  # the server deletes asynchronously
        if not await known_to_temporal(client, workflow_id):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} was not deleted")


@pytest.fixture
def on_dev_server(dev_env, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose import reaches the dev server (and a task queue no worker polls)."""

    async def connected(_settings, _err):
        return dev_env.client

    monkeypatch.setattr(account_commands, "connected", connected)
    return settings.model_copy(update={"task_queue": f"ids-{uuid.uuid4().hex[:8]}"})


async def test_importing_twice_starts_nothing_the_second_time(
    dev_env, on_dev_server: Settings, tmp_path: Path
):
    file = accounts_file(tmp_path, "ID-1", "ID-2")
    assert await run_import(file, on_dev_server) == (
        0,
        "started 2, already started 0, refused 0 (of 2 rows)\n",
        "",
    )
    assert await run_import(file, on_dev_server) == (
        0,
        "started 0, already started 2, refused 0 (of 2 rows)\n",
        "",
    )
    with open_store(on_dev_server.store_url) as store:
        records = [store.accounts.get(f"dunning-ID-{n}") for n in (1, 2)]
    assert [(r.account_id, r.closed_at) for r in records if r] == [("ID-1", None), ("ID-2", None)]


async def test_a_closed_id_is_refused_after_temporal_has_forgotten_it(
    dev_env, on_dev_server: Settings, tmp_path: Path
):
    client: Client = dev_env.client
    file = accounts_file(tmp_path, "ID-1", "ID-2")
    assert (await run_import(file, on_dev_server))[0] == 0
    # ID-1 is paid and closes, its close is recorded, retention passes and Temporal forgets it.
    # (Deleting the workflow closes and forgets it at once; deleting a closed one takes the dev
    # server half a minute.)
    with open_store(on_dev_server.store_url) as store:
        store.accounts.record_closed("dunning-ID-1", "paid", datetime(2038, 1, 4, 12, tzinfo=UTC))
    await forget(client, "dunning-ID-1")

    code, out, err = await run_import(file, on_dev_server)
    assert (code, out) == (1, "started 0, already started 1, refused 1 (of 2 rows)\n")
    assert err == (
        f"{file}:line 2 (ID-1): closed on 2038-01-04 as paid; the workflow id dunning-ID-1 is "
        "never reused"
    )
    assert not await known_to_temporal(client, "dunning-ID-1")  # nothing was started
    # Safe to run again: the same answer, still nothing started.
    assert (await run_import(file, on_dev_server))[:2] == (code, out)
    assert not await known_to_temporal(client, "dunning-ID-1")


async def test_an_id_recorded_but_never_started_is_started(
    dev_env, on_dev_server: Settings, tmp_path: Path
):
    """A first import recorded the id, then could not start it (Temporal unreachable)."""
    with open_store(on_dev_server.store_url) as store:
        assert store.accounts.record_started("dunning-ID-3", "ID-3", datetime.now(UTC))
    code, out, _ = await run_import(accounts_file(tmp_path, "ID-3"), on_dev_server)
    assert (code, out) == (0, "started 1, already started 0, refused 0 (of 1 rows)\n")
    assert await known_to_temporal(dev_env.client, "dunning-ID-3")


def test_simulate_leaves_the_shared_store_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A simulation is an isolated run: it must not mark real workflow ids as used."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("DUNNING_DATA_DIR", str(data_dir))
    ladder = PROJECT_ROOT / "config" / "ladders" / "consumer-standard.yaml"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--ladder",
            str(ladder),
            "--accounts",
            str(accounts_file(tmp_path, "SIM-1")),
            "--start",
            "2030-01-07T06:00:00Z",
            "--days",
            "2",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert not (data_dir / "dunning.sqlite3").exists()
