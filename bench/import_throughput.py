"""How fast `dunning accounts import` turns N due accounts into N first emails, against the bare
floor of starting N workflows that each run one no-op activity (issue 11, goal ≥ 0.8 × bare).

Both sides on the same dev server in the same run, each as real processes so that their CPU is
comparable: a `dunning worker` and `dunning accounts import FILE` (the outbox is the transport:
a first email is a `courtesy-email.email.*.json` file under `<data_dir>/outbox/<account>/`),
then a reference worker and a starter (`python -m bench.reference worker|start`) starting N
`BareStart` workflows with the import's concurrency (settings `import_concurrency`). Each side's
worker is warmed up with one account first; the clock starts when the import (or starter)
process is spawned, so the CLI's own start-up is part of dunning's time.

The accounts are due now (days_past_due 1, email only, ladder consumer-standard) in a zone
whose contact window is open at run time (printed).

    .venv/bin/python -m bench.import_throughput [--accounts 300] [--sizes 100,300,1000]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from bench.common import (
    Row,
    dev_server,
    import_concurrency,
    open_zone,
    print_table,
    write_accounts,
)
from bench.processes import (
    DUNNING,
    Child,
    children,
    cpu_ticks,
    descendants,
    dunning_env,
    program_name,
    reference_cli,
    run_main,
    wait_idle,
    wait_until,
)

FIRST_EMAIL = "courtesy-email.email."


@dataclass
class Timing:
    size: int
    dunning: float
    reference: float
    started: tuple[float, float]  # when the import and the starter exited (all started)
    # CPU seconds each side cost the dev server and its own worker: (server, worker)
    cpu: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.0, 0.0))

    @property
    def ratio(self) -> float:
        """dunning throughput / reference throughput (= reference time / dunning time)."""
        return self.reference / self.dunning


def first_emails_in(outbox: Path, pending: set[str]) -> None:
    """Drop from `pending` every account whose first email is a file in the outbox."""
    try:
        present = set(os.listdir(outbox)) & pending
    except FileNotFoundError:
        return
    for account in present:
        names = os.listdir(outbox / account)
        if any(name.startswith(FIRST_EMAIL) and name.endswith(".json") for name in names):
            pending.discard(account)


class Bench:
    """One dev server, one dunning worker, one reference worker; sizes measured in turn."""

    def __init__(
        self,
        tmp: Path,
        address: str,
        kids: list[Child],
        concurrency: int,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.tmp, self.address, self.kids, self.concurrency = tmp, address, kids, concurrency
        self.data = tmp / "data"
        self.env = dunning_env(address, self.data, f"bench-import-{uuid.uuid4().hex[:8]}")
        self.env.update(settings or {})
        self.ref_queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
        self.marks = tmp / "marks"
        self.marks.mkdir()
        self.zone, self.country, self.local = open_zone()
        self.done = 0  # no-op activities run by the reference worker so far

    def start_workers(self, sizes: list[int]) -> None:
        marks = [1]
        for size in sizes:
            marks.append(marks[-1] + size)
        self.kids.append(Child([DUNNING, "worker"], self.env, self.tmp / "worker.log"))
        self.kids.append(
            Child(
                reference_cli(
                    "worker",
                    address=self.address,
                    task_queue=self.ref_queue,
                    marks_dir=self.marks,
                    marks=",".join(map(str, marks)),
                ),
                self.env,
                self.tmp / "reference-worker.log",
            )
        )

    async def dunning(self, size: int, prefix: str) -> tuple[float, float]:
        """Seconds from spawning the import to the last first email in the outbox, and to the
        import's exit."""
        accounts = write_accounts(
            self.tmp / f"{prefix}.csv",
            size,
            prefix,
            days_past_due=1,
            email_only_zone=(self.zone, self.country),
        )
        pending = {f"{prefix}-{index:06d}" for index in range(size)}
        outbox = self.data / "outbox"
        importer = Child(
            [DUNNING, "accounts", "import", str(accounts)],
            self.env,
            self.tmp / f"{prefix}.log",
            stdout=self.tmp / f"{prefix}.out",
        )
        self.kids.append(importer)
        await wait_until(
            lambda: first_emails_in(outbox, pending) or not pending,
            timeout=120 + size,
            what=f"{size} first emails ({prefix})",
            alive=self.kids[:2],
        )
        seconds = time.perf_counter() - importer.started
        finished = await importer.finished()
        if finished.code != 0:
            raise RuntimeError(
                f"dunning accounts import exited {finished.code}:\n{importer.tail()}"
            )
        return seconds, finished.seconds

    async def reference(self, size: int, prefix: str) -> tuple[float, float]:
        """Seconds from spawning the starter to the last no-op activity run, and to the
        starter's exit."""
        self.done += size
        mark = self.marks / f"done-{self.done}"
        starter = Child(
            reference_cli(
                "start",
                address=self.address,
                task_queue=self.ref_queue,
                prefix=prefix,
                count=size,
                concurrency=self.concurrency,
            ),
            self.env,
            self.tmp / f"{prefix}.log",
        )
        self.kids.append(starter)
        await wait_until(
            mark.exists, timeout=120 + size, what=f"{size} bare workflows", alive=self.kids[:2]
        )
        seconds = time.perf_counter() - starter.started
        finished = await starter.finished()
        if finished.code != 0:
            raise RuntimeError(f"reference starter exited {finished.code}:\n{starter.tail()}")
        return seconds, finished.seconds

    def cpu_seconds(self) -> tuple[float, float, float]:
        """CPU seconds so far of the dev server, the dunning worker and the reference worker."""
        server = [
            pid
            for pid in descendants(os.getpid())
            if (program_name(pid) or "").startswith("temporal")
        ]
        ticks = os.sysconf("SC_CLK_TCK")
        return (
            sum(cpu_ticks(pid) for pid in server) / ticks,
            cpu_ticks(self.kids[0].process.pid) / ticks,
            cpu_ticks(self.kids[1].process.pid) / ticks,
        )

    async def run(self, sizes: list[int]) -> list[Timing]:
        self.start_workers(sizes)
        await self.dunning(1, "WARM")  # both workers polling, templates loaded
        await self.reference(1, "warm")
        timings = []
        for size in sizes:
            await wait_idle()
            before = self.cpu_seconds()
            reference, reference_exit = await self.reference(size, f"bare{size}")
            await wait_idle()
            middle = self.cpu_seconds()
            dunning, dunning_exit = await self.dunning(size, f"I{size}")
            await wait_idle()
            after = self.cpu_seconds()
            cpu = (
                (after[0] - middle[0], after[1] - middle[1]),
                (middle[0] - before[0], middle[2] - before[2]),
            )
            timings.append(Timing(size, dunning, reference, (dunning_exit, reference_exit), cpu))
        return timings


def rows_for(timings: list[Timing], bench: Bench, label: str = "") -> list[Row]:
    rows = []
    for timing in timings:
        n = timing.size
        rows.append(
            Row(
                row=f"import → first email{label}",
                size=f"{n} accounts",
                dunning=f"{timing.dunning:.1f} s, {n / timing.dunning:.0f}/s",
                reference=f"{timing.reference:.1f} s, {n / timing.reference:.0f}/s",
                ratio=f"{timing.ratio:.2f}",
                goal="≥ 0.80 × ref throughput",
                met=timing.ratio >= 0.8,
            )
        )
    last = timings[-1]
    rows[-1].notes.append(
        f"zone {bench.zone} (local {bench.local:%a %H:%M}), concurrency {bench.concurrency}; "
        "times include each CLI process's start-up; at "
        f"{last.size} the import exited after {last.started[0]:.1f} s, the reference starter "
        f"after {last.started[1]:.1f} s"
    )
    (server, worker), (ref_server, ref_worker) = last.cpu
    per = 1000 / last.size
    rows[-1].notes.append(
        f"CPU per account at {last.size}: dev server {server * per:.0f} ms (reference "
        f"{ref_server * per:.0f} ms), worker {worker * per:.0f} ms (reference "
        f"{ref_worker * per:.0f} ms)"
    )
    if len(timings) > 1:
        rows[-1].notes.append(growth(timings))
    return rows


def growth(timings: list[Timing]) -> str:
    """Per-account time at each size, and whether it is linear (each within ±25 % of the
    median); the marginal time per added account strips the fixed start-up cost."""
    per = [timing.dunning / timing.size * 1000 for timing in timings]
    middle = statistics.median(per)
    linear = all(abs(value - middle) <= 0.25 * middle for value in per)
    parts = [f"{t.size}: {value:.1f} ms/account" for t, value in zip(timings, per, strict=True)]
    marginal = [
        (b.dunning - a.dunning) / (b.size - a.size) * 1000
        for a, b in itertools.pairwise(timings)
        if b.size != a.size
    ]
    extra = ", marginal " + " → ".join(f"{value:.1f}" for value in marginal) if marginal else ""
    verdict = "linear" if linear else "NOT linear"
    return f"growth: {', '.join(parts)}{extra} ms/account ({verdict}, ±25 % of median)"


async def measure(
    accounts: int = 300, sizes: list[int] | None = None, settings: dict[str, str] | None = None
) -> list[Row]:
    """One row per size (default: just `accounts`); `settings`: DUNNING_* variables for the
    dunning worker and import (e.g. the sandbox off), named in the row."""
    sizes = sizes or [accounts]
    with TemporaryDirectory(prefix="bench-import-") as tmp:
        async with dev_server(Path(tmp) / "server.log") as (_, address):
            with children() as kids:  # stopped before the server goes away
                bench = Bench(Path(tmp), address, kids, import_concurrency(), settings)
                timings = await bench.run(sizes)
    label = "".join(
        f" ({key.removeprefix('DUNNING_').lower()}={value})"
        for key, value in (settings or {}).items()
    )
    return rows_for(timings, bench, label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--sizes", help="comma-separated sizes, e.g. 100,300,1000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")] if args.sizes else None
    rows = run_main(measure(args.accounts, sizes))
    print_table(rows, "import throughput (dev server, same run)")


if __name__ == "__main__":
    main()
