"""Replay recorded histories of the example ladder with today's workflow code.

If a change to the workflow would make a running account take a different path (a new
command, a reordered activity), replay fails here with a non-determinism error, in CI, before
the change reaches a worker. Guard intended changes with `workflow.patched`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.account.patches import CONSOLE
from workflows.account_workflow import COMPLIANCE, LEAN_RULES, AccountWorkflow
from workflows.search_attributes import STEP

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


# Generations: before the account model, with it, with issue 10's send rules (patches),
# issue 11's lean rules (one patch, `lean-rules`, instead of three), issue 12's compliance
# profiles and audit trail (`compliance-profiles`, asked instead of `lean-rules`), and issue
# 13's ops console (`ops-console`: the next step as a search attribute, asked first).
GENERATIONS = (
    "example-events-",
    "model-example-events-",
    "send-faults-example-events-",
    "lean-example-events-",
    "compliance-example-events-",
    "console-example-events-",
)


def test_there_are_recorded_histories_of_every_generation():
    for generation in GENERATIONS:
        recorded = [path for path in HISTORIES if path.name.startswith(generation)]
        assert len(recorded) >= 5, generation


def patches_marked(history: WorkflowHistory) -> list[str]:
    return [
        json.loads(marker.details["patch-data"].payloads[0].data)["id"]
        for marker in (
            event.marker_recorded_event_attributes
            for event in history.events
            if event.HasField("marker_recorded_event_attributes")
        )
        if marker.marker_name == "core_patch"
    ]


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))


def test_the_patch_generation_marks_every_patch_first():
    """The last generation run by patches marks account-model and send-faults, first thing."""
    for path in HISTORIES:
        if path.name.startswith(GENERATIONS[2]):
            assert patches_marked(load(path))[:2] == ["account-model", "send-faults"], path.name


def test_the_lean_generation_asks_only_the_lean_rules_patch():
    """Accounts started in issue 11 asked `lean-rules` first and no older patch (each asked
    patch would cost two history events)."""
    for path in HISTORIES:
        if path.name.startswith(GENERATIONS[3]):
            assert patches_marked(load(path)) == [LEAN_RULES], path.name


def upserted_names(history: WorkflowHistory) -> set[str]:
    """Every search attribute the workflow upserted (ours and the SDK's TemporalChangeVersion)."""
    upserts = [
        event.upsert_workflow_search_attributes_event_attributes
        for event in history.events
        if event.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    return {name for upsert in upserts for name in upsert.search_attributes.indexed_fields}


def test_the_compliance_generation_asks_only_the_compliance_patch():
    """Accounts started in issue 12 ask `compliance-profiles` first and no older patch, and
    write their audit records (a local activity marker)."""
    for path in HISTORIES:
        if path.name.startswith(GENERATIONS[-2]):
            history = load(path)
            assert patches_marked(history) == [COMPLIANCE], path.name
            markers = [
                event.marker_recorded_event_attributes
                for event in history.events
                if event.HasField("marker_recorded_event_attributes")
            ]
            assert any("record_audit" in str(marker) for marker in markers), path.name
            assert STEP.name not in upserted_names(history), path.name


def test_the_newest_generation_asks_only_the_console_patch_and_publishes_the_step():
    """Accounts started since issue 13 ask `ops-console` first and no older patch (one marker,
    as before), and upsert `DunningStep`; the older generations never do."""
    for path in HISTORIES:
        history = load(path)
        if path.name.startswith(GENERATIONS[-1]):
            assert patches_marked(history) == [CONSOLE], path.name
            assert STEP.name in upserted_names(history), path.name
        else:
            assert CONSOLE not in patches_marked(history), path.name
            assert STEP.name not in upserted_names(history), path.name


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
async def test_recorded_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(workflows=[AccountWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
