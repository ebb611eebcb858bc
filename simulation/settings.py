"""The settings a simulation's workers run with: the worker's own, outside the sandbox.

The sandbox re-executes the workflow module for every account and wraps every workflow task in
its import guards: a simulation spends a third of its time there (README, "Performance"). It
guards against code that is not deterministic, which the test suite already checks by running
every workflow path in it; a simulation's results are the same either way
(tests/test_simulation_sandbox.py compares them), so simulating leaves it out.
"""

from __future__ import annotations

from config.settings import Settings


def simulation_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"worker_sandbox": False})
