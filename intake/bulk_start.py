"""Start a whole portfolio: rows streamed from the file, a bounded number of starts in flight.

Starting a workflow is one round trip to Temporal (plus one to the store's registry), so one at
a time an import waits on the network for most of its run. `start_rows` keeps `concurrency`
starts in flight; rows are pulled from the stream only as a starter frees up, so memory holds
`concurrency` rows whatever the file's size (bench/import_throughput.py measures the effect).

Safe to run twice: each start is refused by Temporal (and by the registry) when the account is
already running or was ever closed, so a re-run, or a run stopped halfway and started again,
duplicates nothing. A row that cannot be started is reported and the others go on; an
unreachable Temporal or store stops the import (every later row would fail the same way), and
so does anything unexpected: the starts in flight are cancelled and awaited, and the caller
still gets the tally of what was done, with the reason it stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass

from temporalio.service import RPCError, RPCStatusCode

from intake.accounts_file import AccountRow, RowProblem
from intake.start import StartOutcome
from store import StoreError
from workflows.types import AccountInput

# Temporal answers these when it is down or overloaded: stop rather than fail every row.
UNREACHABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})
AGAIN = "import stopped. Run it again: rows already started are not started twice"


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
        while (item := _next_row(stream, tally)) is not None:
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
        tally.stopped = str(stop)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return tally


def _next_row(
    stream: Iterator[AccountRow | RowProblem], tally: ImportTally
) -> AccountRow | RowProblem | None:
    try:
        return next(stream, None)
    except Exception as exc:  # a bug in reading, not a bad row (those are RowProblems)
        raise ImportStopped(
            f"line ~{tally.rows + 2}: cannot read further ({exc!r}); import stopped"
        ) from exc


async def _start(
    row: AccountRow, start: Callable[[AccountInput], Awaitable[StartOutcome]]
) -> StartOutcome:
    where = f"line {row.line} ({row.account.account_id})"
    try:
        return await start(row.account)
    except RPCError as exc:
        if exc.status in UNREACHABLE:
            message = f"{where}: Temporal did not answer ({exc.message}); {AGAIN}"
            raise ImportStopped(message) from None
        return StartOutcome(
            row.account.account_id, False, f"Temporal refused the start: {exc.message}", True
        )
    except StoreError as exc:
        raise ImportStopped(f"{where}: the store did not answer ({exc}); {AGAIN}") from None
    except Exception as exc:
        raise ImportStopped(f"{where}: {exc!r}; {AGAIN}") from exc
