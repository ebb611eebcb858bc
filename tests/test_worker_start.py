"""`dunning worker` refuses a namespace without the Dunning* search attributes: its accounts'
first upsert would fail every workflow task (an upgrade that adds `DunningStep` must create it
before the workers roll)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.testing import WorkflowEnvironment

from connection.temporal import missing_search_attributes
from workflows.search_attributes import ALL

DUNNING = str(Path(sys.executable).parent / "dunning")


async def _bare_namespace(env: WorkflowEnvironment) -> str:
    name = f"bare-{uuid.uuid4().hex[:8]}"
    await env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name, workflow_execution_retention_period=Duration(seconds=86_400)
        )
    )
    return name


async def test_the_missing_attributes_are_named(dev_env: WorkflowEnvironment, env):
    assert await missing_search_attributes(dev_env.client, "default") == []
    bare = await _bare_namespace(dev_env)
    assert await missing_search_attributes(dev_env.client, bare) == [key.name for key in ALL]
    # The time-skipping server cannot list them: no verdict, the worker starts.
    assert await missing_search_attributes(env.client, "default") is None


async def test_dunning_worker_refuses_a_namespace_without_them(
    dev_env: WorkflowEnvironment, tmp_path: Path
):
    bare = await _bare_namespace(dev_env)
    variables = {
        **os.environ,
        "NO_PROXY": "127.0.0.1,localhost",
        "DUNNING_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "DUNNING_TEMPORAL_NAMESPACE": bare,
        "DUNNING_DATA_DIR": str(tmp_path / "data"),
        "DUNNING_WORKER_METRICS_ADDRESS": "",
    }
    result = subprocess.run(
        [DUNNING, "worker"], env=variables, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stdout + result.stderr
    said = " ".join(result.stderr.split())
    assert f"namespace {bare} lacks the search attributes" in said
    assert "DunningStep" in said and "setup-namespace.sh" in said
