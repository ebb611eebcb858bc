"""How long the workflow waits for its activities, and how they are retried."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from workflows.types import ErrorType

# Window and schedule look-ups are local activities: short, CPU-bound, recorded in history.
WINDOW_LOOKUP_TIMEOUT = timedelta(seconds=10)
LOOKUP_RETRY = RetryPolicy(maximum_attempts=5)
SEND_START_TO_CLOSE = timedelta(minutes=1)
# The send activity heartbeats while it runs: a worker killed mid-send has its send retried
# (and reconciled, see activities/channels/ledger.py) after this, not after the whole minute.
SEND_HEARTBEAT = timedelta(seconds=15)
# A send that cannot complete within this long is abandoned and planned again for a later
# window (a new send round), so a provider outage never pushes a message outside hours.
SEND_SCHEDULE_TO_CLOSE = timedelta(minutes=30)
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    non_retryable_error_types=[ErrorType.UNDELIVERABLE, ErrorType.TEMPLATE],
)
