"""Child processes measured from outside: wall time, peak memory, CPU per program, and always
stopped (SIGTERM, then SIGKILL), error or not.

Memory is read from Linux's /proc (VmHWM, the kernel's own peak-RSS high-water mark, per
process) and from `os.wait4`'s rusage of the one child, because psutil is not a dependency and
`getrusage(RUSAGE_CHILDREN)` is a running maximum over every child ever reaped, so it cannot tell
a second run from the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
PROJECT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DUNNING = str(Path(PYTHON).parent / "dunning")


def _status_kib(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def program_name(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


def descendants(root: int) -> set[int]:
    """`root` and every process under it, from each /proc/<pid>/stat's parent id."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    stat = handle.read()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in found]
        found.update(children)
        frontier.extend(children)
    return found


@dataclass
class Finished:
    seconds: float
    code: int
    peak_kib: int  # the child itself (VmHWM)
    tree_kib: int  # sum of each process's peak in the child's tree (the test server included)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per program in the tree

    def cpu_text(self) -> str:
        return ", ".join(f"{name} {used:.1f} s" for name, used in sorted(self.cpu.items()))


class Child:
    """A subprocess, reaped by its own thread the moment it exits (`os.wait4`: exit time and
    rusage), whose peak memory and CPU are sampled while it runs, and which is always stopped:
    SIGTERM to its process group, then SIGKILL after a grace period."""

    def __init__(
        self, argv: Sequence[str], env: dict[str, str], log: Path, stdout: Path | None = None
    ) -> None:
        self.log = log
        self.started = time.perf_counter()
        with log.open("ab") as err, (stdout or log).open("ab") as out:
            # Its own process group, so that stopping it stops what it started (a test server).
            self.process = subprocess.Popen(
                list(argv),
                env=env,
                cwd=PROJECT,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.peaks: dict[int, int] = {}
        self.cpu: dict[int, tuple[str, int]] = {}
        self.code: int | None = None  # set once it has exited
        self._exit: tuple[float, int] | None = None  # seconds since start, ru_maxrss (KiB)
        self._exited = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()
        threading.Thread(target=self._reap, daemon=True).start()

    def _reap(self) -> None:
        _, status, usage = os.wait4(self.process.pid, 0)
        self._exit = (time.perf_counter() - self.started, usage.ru_maxrss)
        self.code = self.process.returncode = os.waitstatus_to_exitcode(status)
        self._exited.set()

    def _sample(self, every: float = 0.2) -> None:
        while not self._exited.is_set():
            for pid in descendants(self.process.pid):
                self.peaks[pid] = max(self.peaks.get(pid, 0), _status_kib(pid, "VmHWM:"))
                ticks = cpu_ticks(pid)
                if ticks:
                    self.cpu[pid] = (program_name(pid) or self.cpu.get(pid, ("?", 0))[0], ticks)
            self._exited.wait(every)

    def cpu_by_name(self) -> dict[str, float]:
        """CPU seconds per program in the child's tree, as last sampled (a lower bound)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total: dict[str, float] = {}
        for name, used in self.cpu.values():
            total[name] = total.get(name, 0.0) + used / ticks
        return total

    async def finished(self) -> Finished:
        """Wait for the child to exit on its own: when it exited, its code, memory and CPU."""
        await asyncio.to_thread(self._exited.wait)
        assert self._exit is not None and self.code is not None
        seconds, max_rss = self._exit
        # VmHWM as last sampled; else ru_maxrss, the largest of the child and its reaped
        # descendants (KiB on Linux).
        return Finished(
            seconds,
            self.code,
            self.peaks.get(self.process.pid) or max_rss,
            sum(self.peaks.values()),
            self.cpu_by_name(),
        )

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, grace: float = 40.0) -> None:
        """SIGTERM to its process group (a worker finishes in-flight work), SIGKILL after
        `grace` seconds; then whatever is left of the group is killed."""
        group = self.process.pid  # start_new_session: the group id is the child's pid
        if not self._exited.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)
            if not self._exited.wait(grace):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
                self._exited.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


@contextlib.contextmanager
def children() -> Iterator[list[Child]]:
    """Collect the children started inside; each one is stopped on the way out, error or not."""
    started: list[Child] = []
    try:
        yield started
    finally:
        for child in reversed(started):
            child.stop()


def reference_cli(command: str, **options: object) -> list[str]:
    """`python -m bench.reference COMMAND --option value ...` (underscores become dashes)."""
    argv = [PYTHON, "-m", "bench.reference", command]
    for name, value in options.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv


TUNING = ("DUNNING_WORKER_", "DUNNING_IMPORT_")


def dunning_env(address: str, data_dir: Path, task_queue: str) -> dict[str, str]:
    # Only the tuning knobs reach the children (DUNNING_WORKER_*, DUNNING_IMPORT_*), so a run
    # can measure their effect; everything else comes from here, not the caller's shell.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DUNNING_") or key.startswith(TUNING)
    }
    env.update(
        DUNNING_TEMPORAL_ADDRESS=address,
        DUNNING_DATA_DIR=str(data_dir),
        DUNNING_TASK_QUEUE=task_queue,
        PYTHONUNBUFFERED="1",
    )
    return env


async def wait_until(
    check: Callable[[], Awaitable[bool] | bool],
    *,
    timeout: float,
    every: float = 0.1,
    what: str = "condition",
    alive: Sequence[Child] = (),
) -> None:
    """Poll `check` until it holds; fail early with the log when a child in `alive` died."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if isinstance(answer, Awaitable):
            answer = await answer
        if answer:
            return
        for child in alive:
            if child.code is not None:
                raise RuntimeError(f"{what}: a child exited early:\n{child.tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f} s")
        await asyncio.sleep(every)


@contextlib.contextmanager
def output_to(log: Path) -> Iterator[None]:
    """Point this process's stdout and stderr at `log` for a moment: a server binary spawned
    meanwhile (the SDK lets it inherit them) writes its banner and logs there, not over the
    table."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    target = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, target):
            os.close(fd)


def cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, ValueError, IndexError):
        return 0


async def wait_idle(*, window: float = 0.5, share: float = 0.1, timeout: float = 120.0) -> None:
    """Wait until this process and every process under it (dev server, workers, a worker in
    this process) together use under `share` of one core over `window` seconds, so a phase
    never pays for the last one's tail."""
    ticks = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = descendants(os.getpid())
        before = sum(cpu_ticks(pid) for pid in pids)
        await asyncio.sleep(window)
        used = (sum(cpu_ticks(pid) for pid in pids) - before) / ticks
        if used < share * window:
            return


def run_main(main: Awaitable[T]) -> T:
    """`asyncio.run`, with SIGTERM treated as Ctrl-C: the coroutine is cancelled, so every
    `finally` runs (children stopped, the server shut down, temp dirs removed)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    return asyncio.run(main)  # type: ignore[arg-type]
