"""`dunning simulate` runs its worker outside Temporal's sandbox, for speed: simulation/settings.py.

That is only sound if the sandbox changes nothing a simulation shows. Here the same example
portfolio and events run once in the sandbox and once outside it, from the same start, on the
real time-skipping server: the two documents must be equal, contact for contact (a sent
contact's time to within a minute: it includes the real time its send took).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

import simulation.engine as engine
from config.settings import PROJECT_ROOT, Settings, load_settings
from simulation.engine import SimulationRequest, simulate
from simulation.settings import simulation_settings

SPEC = PROJECT_ROOT.parent / "shared" / "spec"


def test_simulation_settings_leave_the_sandbox_and_nothing_else():
    settings = load_settings()
    simulated = simulation_settings(settings)
    assert settings.worker_sandbox and not simulated.worker_sandbox
    assert simulated.model_dump(exclude={"worker_sandbox"}) == settings.model_dump(
        exclude={"worker_sandbox"}
    )


async def test_the_example_simulates_the_same_in_and_out_of_the_sandbox():
    request = SimulationRequest(
        ladder=PROJECT_ROOT / "config" / "ladders" / "consumer-standard.yaml",
        accounts=SPEC / "accounts.example.csv",
        events=SPEC / "events.example.yaml",
        days=90,
        start=datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1),
    )
    runners: list[type] = []
    real_build_worker = engine.build_worker

    def recording_build_worker(client, settings: Settings, **options):
        worker = real_build_worker(client, settings, **options)
        runners.append(type(worker.config()["workflow_runner"]))
        return worker

    with mock.patch.object(engine, "build_worker", recording_build_worker):
        outside = await simulate(request, load_settings())
        with mock.patch.object(engine, "simulation_settings", lambda settings: settings):
            inside = await simulate(request, load_settings())
    assert runners == [UnsandboxedWorkflowRunner, SandboxedWorkflowRunner]
    assert without_send_times(outside) == without_send_times(inside)
    for mine, theirs in zip(contacts(outside), contacts(inside), strict=True):
        # A sent contact's time is when the provider accepted it: the attempt's start on the
        # server's clock plus the real time the send took, which differs between two runs by
        # as much as the machine is loaded.
        gap = datetime.fromisoformat(mine["at"]) - datetime.fromisoformat(theirs["at"])
        assert abs(gap) <= timedelta(minutes=1), (mine, theirs)
    assert len(contacts(inside)) > 10


def contacts(document: dict) -> list[dict]:
    return [contact for account in document["accounts"] for contact in account["contacts"]]


def without_send_times(document: dict) -> dict:
    """The document without contacts' `at`, `local`, `day` and events' `at` (compared apart)."""
    copy = {**document, "accounts": [dict(account) for account in document["accounts"]]}
    for account in copy["accounts"]:
        account["contacts"] = [
            {key: value for key, value in contact.items() if key not in ("at", "local", "day")}
            for contact in account["contacts"]
        ]
        account["events"] = [
            {key: value for key, value in event.items() if key != "at"}
            for event in account["events"]
        ]
    return copy
