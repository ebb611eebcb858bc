"""The worker is built from the tuning settings (README, "Worker tuning"), on a real client.

These check what `build_worker` hands the SDK (its own `Worker.config()`, on the time-skipping
server), and that the workflow module's bytecode is written at start,
which the sandbox then loads instead of compiling the source for every new account.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

import workflows.account_workflow as account_workflow
from activities.channels.outbox import MemoryOutbox
from config.settings import Settings
from worker import build_worker


async def test_the_tuning_settings_reach_the_worker(env, settings: Settings, tmp_path: Path):
    tuned = settings.model_copy(
        update={
            "worker_max_concurrent_activities": 7,
            "worker_max_concurrent_workflow_tasks": 5,
            "worker_max_cached_workflows": 3,
            "worker_sandbox": False,
        }
    )
    async with build_worker(
        env.client, tuned, transport=MemoryOutbox(), handoff_dir=tmp_path, task_queue="tuned"
    ) as worker:
        config = worker.config()
    assert config["max_concurrent_activities"] == 7
    assert config["max_concurrent_workflow_tasks"] == 5
    assert config["max_cached_workflows"] == 3
    assert isinstance(config["workflow_runner"], UnsandboxedWorkflowRunner)
    async with build_worker(
        env.client, settings, transport=MemoryOutbox(), handoff_dir=tmp_path, task_queue="plain"
    ) as worker:
        default = worker.config()
    assert (default["max_cached_workflows"], default["max_concurrent_activities"]) == (1000, 100)
    assert isinstance(default["workflow_runner"], SandboxedWorkflowRunner)


async def test_the_worker_writes_the_workflow_modules_bytecode(
    env, settings: Settings, tmp_path: Path
):
    compiled = Path(importlib.util.cache_from_source(account_workflow.__file__))
    if compiled.exists():
        os.remove(compiled)
    async with build_worker(env.client, settings, transport=MemoryOutbox(), handoff_dir=tmp_path):
        assert compiled.exists()
    assert compiled.stat().st_mtime >= Path(account_workflow.__file__).stat().st_mtime
