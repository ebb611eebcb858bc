"""Replay recorded histories of the example ladder with today's workflow code.

If a change to the workflow would make a running account take a different path (a new
command, a reordered activity), replay fails here with a non-determinism error, in CI, before
the change reaches a worker. Guard intended changes with `workflow.patched`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.account_workflow import AccountWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_recorded_histories():
    assert len(HISTORIES) >= 5


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
async def test_recorded_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(workflows=[AccountWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
