"""What every bench script shares: the result row and its table, percentiles, the dev server,
and the generated accounts files.

Separate from `bench/reference.py` on purpose: that module holds workflows, which Temporal's
sandbox re-imports for every workflow run, so it must stay light (temporalio and the standard
library only). Child processes are `bench/processes.py`.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import re
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.processes import PROJECT, output_to

LADDER = PROJECT / "config" / "ladders" / "consumer-standard.yaml"
COLUMNS = [
    *("account_id", "name", "email", "phone", "address", "postal_code", "city", "country"),
    *("timezone", "locale", "balance", "currency", "days_past_due", "due_date", "ladder"),
]


@dataclass
class Row:
    """One line of the `python -m bench` table."""

    row: str
    size: str
    dunning: str
    reference: str
    ratio: str
    goal: str
    met: bool | None
    notes: list[str] = field(default_factory=list)


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (p99 of 100 samples is the 99th smallest, not the maximum)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def megabytes(kib: int) -> str:
    return f"{kib / 1024:.0f} MB"


class CoreWarnings(logging.Handler):
    """The Temporal core's warnings of this process, written to a log file and counted by their
    first words (e.g. "[TMPRL1104] ... Workflow task duration exceeded 5 seconds"), instead of
    printed over the table."""

    def __init__(self, log: Path) -> None:
        super().__init__(logging.WARNING)
        self.file = log.open("a", encoding="utf-8")
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.file.write(message + "\n")
        found = re.search(r"\[TMPRL\d+\][^.]*", message)
        text = found.group(0) if found else message[:80]
        # Without the run ids (a run id and event "01a2...-...:4:1"), so alike warnings count up.
        self.counts[re.sub(r"\s[0-9a-f]{8}-[0-9a-f-]+(:\d+)*", "", text)] += 1

    def summary(self) -> str:
        return ", ".join(f"{count}× {code}" for code, count in self.counts.most_common()) or "none"


def core_runtime(log: Path) -> tuple[Any, CoreWarnings]:
    """A Temporal runtime whose core logs (WARN and up) go to `log`, and their counter."""
    from temporalio.runtime import (
        LogForwardingConfig,
        LoggingConfig,
        Runtime,
        TelemetryConfig,
        TelemetryFilter,
    )

    handler = CoreWarnings(log)
    logger = logging.getLogger(f"bench.core.{log.name}")
    logger.propagate = False
    logger.addHandler(handler)
    filters = TelemetryFilter(core_level="WARN", other_level="WARN")
    logging_config = LoggingConfig(filter=filters, forwarding=LogForwardingConfig(logger=logger))
    return Runtime(telemetry=TelemetryConfig(logging=logging_config)), handler


@contextlib.asynccontextmanager
async def dev_server(log: Path, runtime: Any = None) -> AsyncIterator[tuple[Any, str]]:
    """The Temporal dev server (pip-installed binary, in memory, no UI, its output in `log`)
    and its host:port. `runtime`: the client's Temporal runtime (see `core_runtime`)."""
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from connection.temporal import bundled_binary
    from workflows.search_attributes import ALL

    with output_to(log):
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=bundled_binary("temporal"),
            search_attributes=ALL,
            data_converter=pydantic_data_converter,
            runtime=runtime,
        )
    async with env:
        yield env, env.client.service_client.config.target_host


def import_concurrency() -> int:
    """How many workflows `dunning accounts import` starts at once (settings, default 32)."""
    from config.settings import load_settings

    return int(getattr(load_settings(), "import_concurrency", 32))


# ---- accounts files ----------------------------------------------------------------------------

# Candidate zones, US first (the example ladder's holidays are the US's), then around the world
# so that some zone has a weekday (else a Saturday) daytime at most hours of the week.
ZONES = (
    ("America/New_York", "US"),
    ("America/Chicago", "US"),
    ("America/Denver", "US"),
    ("America/Los_Angeles", "US"),
    ("America/Anchorage", "US"),
    ("Pacific/Honolulu", "US"),
    ("America/Sao_Paulo", "BR"),
    ("Europe/London", "GB"),
    ("Europe/Paris", "FR"),
    ("Europe/Athens", "GR"),
    ("Asia/Dubai", "AE"),
    ("Asia/Kolkata", "IN"),
    ("Asia/Bangkok", "TH"),
    ("Asia/Shanghai", "CN"),
    ("Asia/Tokyo", "JP"),
    ("Australia/Sydney", "AU"),
    ("Pacific/Auckland", "NZ"),
)


def open_zone(now: datetime | None = None) -> tuple[str, str, datetime]:
    """A zone where it is now 09:00-20:00 on a weekday (else a Saturday), not a US holiday: the
    example ladder's window (08:00-21:00 mon-sat, US holidays) is open with an hour to spare.
    US zones first, then the one closest to 14:00."""
    import holidays

    now = now or datetime.now(UTC)
    fits = []
    for zone, country in ZONES:
        local = now.astimezone(ZoneInfo(zone))
        holiday = local.date() in holidays.country_holidays("US", years=local.year)
        if local.weekday() < 6 and 9 <= local.hour < 20 and not holiday:
            fits.append((zone, country, local))
    if not fits:
        raise RuntimeError(
            f"no candidate zone has the contact window open at {now:%a %Y-%m-%d %H:%M} UTC "
            "(Sunday everywhere in daytime?): run the import row later"
        )
    return min(fits, key=lambda fit: (fit[2].weekday() == 5, fit[1] != "US", abs(fit[2].hour - 14)))


# Example-like debtors for the simulation, one per language of the example file.
PEOPLE = (
    ("FR", "Europe/Paris", "fr", "EUR", "+3361{:07d}", "12 rue des Lilas", "69003", "Lyon"),
    ("IT", "Europe/Rome", "it", "EUR", "+39347{:07d}", "Via Roma 5", "20121", "Milano"),
    ("ES", "Europe/Madrid", "es", "EUR", "+3461{:07d}", "Calle Mayor 7", "28013", "Madrid"),
    ("PL", "Europe/Warsaw", "pl", "PLN", "+48601{:06d}", "ul. Długa 3", "00-238", "Warszawa"),
    ("US", "America/New_York", "en", "USD", "+12126{:06d}", "500 Main St", "10001", "New York"),
)


def write_accounts(
    path: Path,
    count: int,
    prefix: str,
    *,
    days_past_due: int,
    email_only_zone: tuple[str, str] | None = None,
) -> Path:
    """An accounts CSV as in CONTRACT section 1 with `count` distinct debtors.

    `email_only_zone` (zone, country): every debtor has an email and nothing else, in that zone
    (the import row); otherwise the debtors cycle through PEOPLE with every contact (the
    simulation: each step uses its own channel)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for index in range(count):
            row = {
                "account_id": f"{prefix}-{index:06d}",
                "name": f"Debtor {index}",
                "email": f"debtor.{prefix.lower()}.{index}@example.org",
                "balance": f"{50 + (index * 37) % 900}.{index % 100:02d}",
                "days_past_due": str(days_past_due),
                "ladder": "consumer-standard",
            }
            if email_only_zone is not None:
                zone, country = email_only_zone
                row.update(timezone=zone, country=country, locale="en", currency="USD")
            else:
                country, zone, locale, currency, phone, street, postal, city = PEOPLE[
                    index % len(PEOPLE)
                ]
                row.update(
                    phone=phone.format(index % 1_000_000),
                    address=street,
                    postal_code=postal,
                    city=city,
                    country=country,
                    timezone=zone,
                    locale=locale,
                    currency=currency,
                )
            writer.writerow(row)
    return path


def print_table(rows: Sequence[Row], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name in ("row", "size", "dunning", "reference", "ratio", "goal", "met?"):
        table.add_column(name, justify="right" if name in ("size", "ratio") else "left")
    for row in rows:
        met = "—" if row.met is None else ("[green]yes[/]" if row.met else "[red]no[/]")
        table.add_row(row.row, row.size, row.dunning, row.reference, row.ratio, row.goal, met)
    console = Console(width=max(150, Console().width))
    console.print(table)
    for row in rows:
        for note in row.notes:
            console.print(f"  {row.row}: {note}", markup=False, highlight=False)
