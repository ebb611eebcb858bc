"""`python -m bench` (`make bench`): every row of issue 11 ("Throughput") in one table, each
against its bare reference on the same server in the same run.

Absolute times on a shared 2-core machine mean little, so the ratio column is what to compare
from one run to the next; the goal column says what each row must reach. The default sizes fit
a few minutes; the goals are stated for larger ones (1000 simulated accounts, 10 000 open
accounts), so pass those sizes to check them for real:

    .venv/bin/python -m bench --import-accounts 1000 --simulate-accounts 500 --open-accounts 10000

A row that fails to run is reported in the table (met? no, the error in the notes) and the
other rows still run. Each script also runs alone: `python -m bench.import_throughput` etc.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Awaitable, Callable

from bench import history_size, import_throughput, simulate_throughput, webhook_latency
from bench.common import Row, print_table
from bench.processes import run_main


async def section(name: str, size: str, run: Callable[[], Awaitable[list[Row]]]) -> list[Row]:
    print(f"bench: {name} ({size}) ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        rows = await run()
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        lines = [line for line in f"{type(exc).__name__}: {exc}".splitlines() if line.strip()]
        error = lines[0] + (f" … {lines[-1].strip()}" if len(lines) > 1 else "")
        rows = [Row(name, size, "failed", "", "", "", False, notes=[error])]
    print(f"bench: {name} took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return rows


async def run_all(args: argparse.Namespace) -> list[Row]:
    n = args.simulate_accounts
    return [
        *await section(
            "import",
            f"{args.import_accounts} accounts",
            lambda: import_throughput.measure(args.import_accounts),
        ),
        # The same with the worker outside the sandbox: half the worker's CPU per account
        # (README, "Worker tuning").
        *await section(
            "import, sandbox off",
            f"{args.import_accounts} accounts",
            lambda: import_throughput.measure(
                args.import_accounts, settings={"DUNNING_WORKER_SANDBOX": "false"}
            ),
        ),
        *await section(
            "simulate", f"{n} and {2 * n} accounts", lambda: simulate_throughput.measure(n)
        ),
        *await section(
            "webhooks",
            f"{args.open_accounts} open accounts, {args.samples} samples",
            lambda: webhook_latency.measure(args.open_accounts, args.samples),
        ),
        *await section("history", "one account", history_size.measure),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--import-accounts", type=int, default=500)
    parser.add_argument("--simulate-accounts", type=int, default=100, help="N (2N runs too)")
    parser.add_argument("--open-accounts", type=int, default=1000, help="K for the webhooks")
    parser.add_argument("--samples", type=int, default=100, help="requests per webhook path")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = run_main(run_all(args))
    minutes = (time.perf_counter() - started) / 60
    print_table(rows, f"dunning vs bare Temporal, same server, same run ({minutes:.1f} min)")
    if any(row.dunning == "failed" for row in rows):
        sys.exit(1)  # a row could not be measured; unmet goals alone do not fail the run


if __name__ == "__main__":
    main()
