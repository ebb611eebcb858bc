"""Start a whole portfolio: rows streamed from the file, a bounded number of starts in flight.

Starting a workflow is one round trip to Temporal (plus one to the store's registry), so one at
a time an import waits on the network for most of its run. `start_rows` keeps `concurrency`
starts in flight; rows are pulled from the stream only as a starter frees up, so memory holds
`concurrency` rows whatever the file's size (bench/import_throughput.py measures the effect).

Safe to run twice: each start is refused by Temporal (and by the registry) when the account is
already running or was ever closed, so a re-run, or a run stopped halfway and started again,
duplicates nothing. A row that cannot be started is reported and the others go on; only an
unreachable Temporal stops the import, since every later row would fail the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from temporalio.service import RPCError, RPCStatusCode

from intake.accounts_file import AccountRow, RowProblem
from intake.start import StartOutcome
from workflows.types import AccountInput

# Temporal answers these when it is down or overloaded: stop rather than fail every row.
UNREACHABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})


@dataclass
class ImportTally:
    started: int = 0
    existing: int = 0
    refused: int = 0  # bad rows, closed ids, rows Temporal refused
    rows: int = 0
    stopped: str | None = None  # why the import stopped before the end, if it did


class ImportStopped(Exception):
    pass


async def start_rows(
    rows: Iterable[AccountRow | RowProblem],
    start: Callable[[AccountInput], Awaitable[StartOutcome]],
    *,
    concurrency: int,
    report: Callable[[str], None],
    advance: Callable[[], None] = lambda: None,
) -> ImportTally:
    """Start every good row with at most `concurrency` starts in flight.

    `report` gets one line per refused row (`line N (ID): reason`), as soon as it is known;
    `advance` is called once per row (a progress bar).
    """
    tally = ImportTally()
    stream = iter(rows)

    async def starter() -> None:
        # Only this task touches the iterator between awaits: next() runs without yielding.
        for item in stream:
            tally.rows += 1
            try:
                if isinstance(item, RowProblem):
                    tally.refused += 1
                    report(str(item))
                    continue
                outcome = await _start(item, start)
                if outcome.started:
                    tally.started += 1
                elif outcome.refused:
                    tally.refused += 1
                    report(f"line {item.line} ({item.account.account_id}): {outcome.reason}")
                else:
                    tally.existing += 1
            finally:
                advance()

    tasks = [asyncio.create_task(starter()) for _ in range(concurrency)]
    try:
        await asyncio.gather(*tasks)
    except ImportStopped as stop:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        tally.stopped = str(stop)
    return tally


async def _start(
    row: AccountRow, start: Callable[[AccountInput], Awaitable[StartOutcome]]
) -> StartOutcome:
    try:
        return await start(row.account)
    except RPCError as exc:
        if exc.status in UNREACHABLE:
            raise ImportStopped(
                f"line {row.line} ({row.account.account_id}): Temporal did not answer "
                f"({exc.message}); import stopped. Run it again: rows already started are not "
                "started twice"
            ) from None
        return StartOutcome(
            row.account.account_id, False, f"Temporal refused the start: {exc.message}", True
        )
