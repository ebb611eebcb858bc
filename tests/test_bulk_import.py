"""A portfolio import streams the file and keeps a bounded number of starts in flight.

`intake/accounts_file.py` (the stream) and `intake/bulk_start.py` (the bounded starter) are
checked here without a server: what they promise is about memory, order and bounds, which a
counting start function shows exactly. The real starts against the dev server (twice, with a
registry) are in tests/test_account_ids.py and tests/test_end_to_end.py.
"""

from __future__ import annotations

import asyncio
import os
import threading
import tracemalloc
from pathlib import Path

import pytest
from temporalio.service import RPCError, RPCStatusCode

from intake.accounts_file import AccountRow, AccountsReader, RowProblem, count_records
from intake.accounts_file import read_accounts as collect
from intake.bulk_start import start_rows
from intake.start import StartOutcome
from tests.test_accounts_csv import LADDERS, NOW, csv_text, row
from workflows.types import AccountInput


def reader(path: Path) -> AccountsReader:
    return AccountsReader(
        path, ladders=LADDERS, default_ladder="consumer-standard", default_locale="en", now=NOW
    )


def portfolio(tmp_path: Path, count: int, bad_every: int = 0) -> Path:
    rows = [
        row(account_id=f"P-{index}", balance="0" if bad_every and index % bad_every == 0 else "50")
        for index in range(count)
    ]
    path = tmp_path / "portfolio.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    return path


# ---- the stream ---------------------------------------------------------------------------------


def test_the_stream_yields_rows_in_file_order_with_their_problems(tmp_path: Path):
    path = portfolio(tmp_path, 7, bad_every=3)
    with reader(path) as rows:
        items = list(rows)
    assert [type(item).__name__ for item in items] == [
        "RowProblem", "AccountRow", "AccountRow", "RowProblem", "AccountRow", "AccountRow",
        "RowProblem",
    ]  # fmt: skip
    assert [item.line for item in items] == [2, 3, 4, 5, 6, 7, 8]
    assert count_records(path) == 7
    collected = collect(
        path, ladders=LADDERS, default_ladder="consumer-standard", default_locale="en", now=NOW
    )
    assert [line for line, _ in collected.accounts] == [3, 4, 6, 7]
    assert [problem.line for problem in collected.problems] == [2, 5, 8]


def test_the_stream_reads_as_it_goes_not_the_whole_file_first(tmp_path: Path):
    """Through a pipe: the first account arrives while the writer has not finished the file."""
    fifo = tmp_path / "accounts.csv"
    os.mkfifo(fifo)
    lines = csv_text([row(account_id=f"F-{index}") for index in range(3)]).splitlines(True)
    finished = threading.Event()
    release = threading.Event()

    def write() -> None:
        with fifo.open("w", encoding="utf-8") as pipe:
            pipe.writelines(lines[:2])  # header and first row
            pipe.flush()
            release.wait(10)
            pipe.writelines(lines[2:])
        finished.set()

    writer = threading.Thread(target=write)
    writer.start()
    with reader(fifo) as rows:
        stream = iter(rows)
        first = next(stream)
        assert isinstance(first, AccountRow) and first.account.account_id == "F-0"
        assert not finished.is_set()
        release.set()
        assert [item.account.account_id for item in stream] == ["F-1", "F-2"]  # type: ignore[union-attr]
    writer.join()


def test_the_stream_holds_a_row_at_a_time_where_collecting_holds_them_all(tmp_path: Path):
    path = portfolio(tmp_path, 1500)

    def peak(consume) -> int:
        tracemalloc.start()
        try:
            consume()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def stream() -> None:
        with reader(path) as rows:
            for _ in rows:
                pass

    def everything() -> None:
        collect(
            path, ladders=LADDERS, default_ladder="consumer-standard", default_locale="en", now=NOW
        )

    streamed, collected = peak(stream), peak(everything)
    assert streamed * 5 < collected, (streamed, collected)


# ---- bounded starts -----------------------------------------------------------------------------


class CountingStarts:
    """A start that takes a moment, counting how many are in flight and which ids it saw."""

    def __init__(self, refuse: set[str] = frozenset(), fail: dict[str, RPCError] | None = None):
        self.in_flight = self.most = 0
        self.seen: list[str] = []
        self.refuse, self.fail = refuse, fail or {}

    async def __call__(self, account: AccountInput) -> StartOutcome:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.001 * (hash(account.account_id) % 5))
            self.seen.append(account.account_id)
            if account.account_id in self.fail:
                raise self.fail[account.account_id]
            if account.account_id in self.refuse:
                return StartOutcome(account.account_id, False, "closed before", refused=True)
            if account.account_id.endswith("-1"):
                return StartOutcome(account.account_id, False, "already started")
            return StartOutcome(account.account_id, True)
        finally:
            self.in_flight -= 1


def pulled_lazily(items: list, pulled: list[int]):
    for index, item in enumerate(items):
        pulled.append(index)
        yield item


async def test_starts_are_bounded_and_rows_are_pulled_only_as_starters_free_up(tmp_path: Path):
    with reader(portfolio(tmp_path, 200, bad_every=50)) as rows:
        items = list(rows)
    pulled: list[int] = []
    starts = CountingStarts(refuse={"P-7"})
    reports: list[str] = []
    advanced = 0

    def advance() -> None:
        nonlocal advanced
        advanced += 1
        # never more rows taken from the file than finished rows plus the starters
        assert len(pulled) <= advanced + 8

    tally = await start_rows(
        pulled_lazily(items, pulled), starts, concurrency=8, report=reports.append, advance=advance
    )
    assert starts.most == 8
    assert (tally.rows, advanced) == (200, 200)
    bad = [item for item in items if isinstance(item, RowProblem)]
    assert (tally.started, tally.existing, tally.refused) == (200 - 4 - 1 - 1, 1, 4 + 1)
    assert sorted(starts.seen) == sorted(
        item.account.account_id for item in items if isinstance(item, AccountRow)
    )
    assert set(reports) == {str(problem) for problem in bad} | {"line 9 (P-7): closed before"}
    assert tally.stopped is None


async def test_a_row_temporal_refuses_is_reported_and_the_others_go_on(tmp_path: Path):
    with reader(portfolio(tmp_path, 20)) as rows:
        items = list(rows)
    refusal = RPCError("namespace is throttled", RPCStatusCode.INVALID_ARGUMENT, b"")
    reports: list[str] = []
    tally = await start_rows(
        items, CountingStarts(fail={"P-3": refusal}), concurrency=4, report=reports.append
    )
    assert (tally.started, tally.refused, tally.rows) == (18, 1, 20)
    assert reports == ["line 5 (P-3): Temporal refused the start: namespace is throttled"]


@pytest.mark.parametrize("status", [RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED])
async def test_an_unreachable_temporal_stops_the_import_and_says_to_run_it_again(
    tmp_path: Path, status: RPCStatusCode
):
    with reader(portfolio(tmp_path, 500)) as rows:
        items = list(rows)
    down = RPCError("connection refused", status, b"")
    starts = CountingStarts(fail={"P-40": down})
    tally = await start_rows(items, starts, concurrency=4, report=lambda _: None)
    assert tally.stopped is not None
    assert tally.stopped.startswith("line 42 (P-40): Temporal did not answer")
    assert "Run it again" in tally.stopped
    assert tally.rows < 100  # stopped soon, not after trying every row


async def test_a_store_failure_or_a_bug_stops_the_import_with_its_tally(tmp_path: Path):
    """Anything but a refused row stops every starter (none left running) and keeps the tally."""
    from store import StoreError

    with reader(portfolio(tmp_path, 300)) as rows:
        items = list(rows)
    for failure, words in ((StoreError("database is locked"), "the store did not answer"),
                           (KeyError("boom"), "KeyError('boom')")):  # fmt: skip
        starts = CountingStarts(fail={"P-30": failure})  # type: ignore[dict-item]
        tally = await start_rows(items, starts, concurrency=4, report=lambda _: None)
        assert tally.stopped is not None and words in tally.stopped, tally.stopped
        assert tally.stopped.startswith("line 32 (P-30)")
        assert starts.in_flight == 0  # every other start was cancelled and awaited
        assert tally.started + tally.existing < 300


def test_the_count_for_the_progress_bar_counts_a_record_that_is_not_utf8(tmp_path: Path):
    """It is a row ops must hear about (the import reports it by line), not the end of the
    count."""
    path = tmp_path / "accounts.csv"
    text = csv_text([row(account_id=f"C-{index}") for index in range(3)])
    path.write_bytes(text.encode() + b"C-9,\xff\xfe broken\n")
    assert count_records(path) == 4
