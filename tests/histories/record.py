"""Record workflow histories for the replay test: `python -m tests.histories.record [DIR] [PREFIX]`.

Histories are kept by generation: `example-events-*` were recorded before the account model,
`model-example-events-*` with it (the default PREFIX). Record a new generation under a new
PREFIX; never overwrite an old one, which is what proves that running accounts still replay.

Runs the shared example accounts and events through the example ladder on
the time-skipping server and writes one JSON history per workflow run. Re-record only when a
change is *meant* to alter the command sequence, and guard that change with `workflow.patched`
so the old histories (still checked in) keep replaying.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.channels.outbox import MemoryOutbox
from config.settings import PROJECT_ROOT, load_settings
from connection.temporal import bundled_binary, register_search_attributes
from intake.start import start_account
from simulation.engine import SimulationRequest, advance_to, apply_scripted, load_inputs
from simulation.events_file import load_events
from worker import build_worker
from workflows.types import workflow_id_for

HERE = Path(__file__).parent
SPEC = PROJECT_ROOT.parent / "shared" / "spec"
START = datetime(2038, 1, 4, 6, 0, tzinfo=UTC)


async def record(target: Path, prefix: str = "model-") -> list[Path]:
    settings = load_settings()
    request = SimulationRequest(
        ladder=PROJECT_ROOT / "config" / "ladders" / "consumer-standard.yaml",
        accounts=SPEC / "accounts.example.csv",
    )
    written: list[Path] = []
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=bundled_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    ) as env:
        await register_search_attributes(env.client, "default")
        await advance_to(env, START)
        accounts, _ = load_inputs(request, settings, START)
        with tempfile.TemporaryDirectory() as handoff:
            async with build_worker(
                env.client,
                settings,
                transport=MemoryOutbox(),
                handoff_dir=Path(handoff),
                task_queue="record",
            ):
                for _, account in accounts:
                    await start_account(env.client, account, "record")
                known = {account.account_id for _, account in accounts}
                for timed in load_events(SPEC / "events.example.yaml"):
                    await advance_to(env, START + timedelta(days=timed.day))
                    await apply_scripted(env.client, timed, known, None)
                await advance_to(env, START + timedelta(days=120))
                for _, account in accounts:
                    handle = env.client.get_workflow_handle(workflow_id_for(account.account_id))
                    history = await handle.fetch_history()
                    path = target / f"{prefix}example-events-{account.account_id}.json"
                    path.write_text(history.to_json(), encoding="utf-8")
                    written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for path in asyncio.run(record(target, *sys.argv[2:3])):
        print(path)
