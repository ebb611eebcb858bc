"""The overview's report, built at most once a minute per period.

Why a cache: the report reads every audit record and lists every open workflow; built on each
GET, a few operators reloading the overview (or one script) would load the store and Temporal
and the event loop that answers the webhooks. A built report is kept `REPORT_TTL` seconds per
period, and one build per period runs at a time (an `asyncio.Lock` each): a second request
waits for the first one's result instead of building again. A report that could not be built
(the store down) is kept only `PROBLEM_TTL` seconds, so a fixed store is seen soon.

Why it degrades instead of failing: the report is made from the audit store; Temporal only adds
the live status of open accounts. With Temporal unreachable the report is still built (those
statuses `unknown`) and says so in a note; a malformed audit record names itself instead of
being a 500.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from markupsafe import Markup

from config.settings import Settings
from inbound.accounts import AccountGateway, AccountsUnavailable

log = logging.getLogger("dunning.ops")

REPORT_TTL = 60.0  # seconds a built report is shown again
PROBLEM_TTL = 10.0  # seconds a failure to build is shown again
TEMPORAL_NOTE = (
    "Temporal is not answering: open accounts' statuses are shown as unknown; the figures from "
    "the audit store are complete."
)


@dataclass(frozen=True)
class BuiltReport:
    html: Markup | None  # trusted: `reporting.render_html` from our own figures
    problem: str | None  # why there is no report
    note: str | None  # what is missing from it
    built_at: datetime


class ReportCache:
    """`build(days)` once per period per `ttl`, one build at a time per period."""

    def __init__(
        self,
        build: Callable[[int], Awaitable[BuiltReport]],
        *,
        ttl: float = REPORT_TTL,
        problem_ttl: float = PROBLEM_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._build = build
        self._ttl = ttl
        self._problem_ttl = problem_ttl
        self._clock = clock
        self._locks: dict[int, asyncio.Lock] = {}
        self._built: dict[int, tuple[float, BuiltReport]] = {}

    async def get(self, days: int) -> BuiltReport:
        lock = self._locks.setdefault(days, asyncio.Lock())
        async with lock:
            kept = self._built.get(days)
            if kept is not None:
                at, report = kept
                ttl = self._problem_ttl if report.html is None else self._ttl
                if self._clock() - at < ttl:
                    return report
            report = await self._build(days)
            self._built[days] = (self._clock(), report)
            return report


async def build_report(settings: Settings, accounts: AccountGateway, days: int) -> BuiltReport:
    """The report of the last `days` days from the audit store, with Temporal's statuses
    when it answers; variants compared with the configured ladders' first variant."""
    from reporting.compute import build_report as compute
    from reporting.render_html import html_fragment
    from reporting.sources import SourceError, configured_controls, load_portfolio
    from store import StoreError

    now = datetime.now(UTC).replace(microsecond=0)

    warnings: list[str] = []
    client = None
    source = getattr(accounts, "client", None)  # TemporalAccounts has one
    if source is not None:
        try:
            client = await source()
        except AccountsUnavailable as exc:
            warnings.append(str(exc))

    def warn(message: str) -> None:
        log.warning("ops overview: %s", message)
        warnings.append(message)

    try:
        portfolio = await load_portfolio(settings, client, warn=warn)
    except StoreError as exc:
        log.warning("ops overview: the store cannot be read: %s", exc)
        problem = "The audit store cannot be read right now; try again shortly."
        return BuiltReport(None, problem, None, now)
    except SourceError as exc:
        log.warning("ops overview: an audit record cannot be read: %s", exc)
        problem = f"The report cannot be built: an audit record cannot be read ({exc})."
        return BuiltReport(None, problem, None, now)
    controls = await asyncio.to_thread(configured_controls, settings)
    report = await asyncio.to_thread(
        compute, portfolio, start=now - timedelta(days=days), end=now, now=now, controls=controls
    )
    html = Markup(await asyncio.to_thread(html_fragment, report))
    return BuiltReport(html, None, TEMPORAL_NOTE if warnings else None, now)
