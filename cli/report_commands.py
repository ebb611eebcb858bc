"""`dunning report`: what the portfolio recovered, from which step, channel and variant, and
how promises, plans, opt-outs and disputes went (reporting/), as a table, JSON or a
self-contained HTML file.

Two sources: `--simulation FILE.json` (a `dunning simulate --format json` document) or, by
default, the live portfolio: the shared store's audit records, with the open accounts'
statuses from Temporal (an unreachable Temporal is a warning: those show as `unknown`).

Dates are ISO 8601 in UTC: `--from 2027-01-04` starts at that day's midnight UTC, `--to
2027-01-31` includes that whole day (ends at the next midnight); a date-time is taken as given
(UTC when it has no offset), `--to` excluded.

Exit codes: 0 done, 2 bad input (one line saying what) or a store that cannot be read.
cli/main.py registers `report` (`app.command("report")(report)`).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from config.settings import Settings
    from reporting.facts import AccountFacts
    from reporting.model import Report


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    html = "html"


def parse_moment(raw: str, option: str, *, end: bool = False) -> datetime:
    """An ISO date or date-time as an aware UTC datetime (see the module docstring). Raises
    ValueError naming the option."""
    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time(0), tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{option} {raw!r}: not an ISO date or date-time (2027-01-04, 2027-01-04T06:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def controls_from_ladders(paths: Sequence[Path]) -> dict[tuple[str, str], str]:
    """(ladder, step) -> its first variant's template (the control), from ladder files.
    Raises ValueError (the ladder's own message) for a bad file."""
    from config.ladder_loader import LadderError, load_ladder
    from reporting.variants import controls_of

    ladders = []
    for path in paths:
        try:
            ladders.append(load_ladder(path))
        except LadderError as exc:
            raise ValueError(str(exc.problems[0]) if exc.problems else str(exc)) from None
    return controls_of(ladders)


def simulated_facts(path: Path) -> list[AccountFacts]:
    """The facts of a simulation document; ValueError naming the file and what is wrong."""
    from reporting.sources import SourceError, facts_from_simulation

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    try:
        return facts_from_simulation(document)
    except SourceError as exc:
        raise ValueError(f"{path}: {exc}") from None


def render(report: Report, format: ReportFormat, width: int | None = None) -> str:
    """The report as text in the chosen format."""
    if format == ReportFormat.json:
        return report.model_dump_json(indent=2) + "\n"
    if format == ReportFormat.html:
        from reporting.render_html import html_document

        return html_document(report)
    from io import StringIO

    from rich.console import Console

    from reporting.render_table import report_tables

    buffer = StringIO()
    console = Console(file=buffer, width=width or 160, color_system=None, soft_wrap=False)
    for table in report_tables(report):
        console.print(table)
    return buffer.getvalue()


def report(
    simulation: Annotated[
        Path | None,
        typer.Option(
            "--simulation",
            metavar="FILE.json",
            help="A `dunning simulate --format json` document (default: the live portfolio).",
        ),
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", metavar="DATE", help="Period start, ISO, UTC.")
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", metavar="DATE", help="Period end, ISO, UTC (a date: included)."),
    ] = None,
    format: Annotated[
        ReportFormat, typer.Option("--format", help="table, json or html.")
    ] = ReportFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", metavar="FILE", help="Write here (default: stdout).")
    ] = None,
    ladder: Annotated[
        list[Path] | None,
        typer.Option(
            "--ladder",
            metavar="FILE",
            help="Ladder file whose steps' first variant is the control (repeatable; live: the "
            "configured ladders' too).",
        ),
    ] = None,
) -> None:
    """Recovered amounts, attribution by step/channel/variant, promise and plan rates,
    opt-outs and disputes by step, and A/B/n variant comparisons."""
    from cli.main import err, fail, out, settings_or_exit
    from reporting.compute import build_report
    from reporting.sources import configured_controls

    try:
        start = parse_moment(from_, "--from") if from_ else None
        end = parse_moment(to, "--to", end=True) if to else None
        controls = controls_from_ladders(ladder or [])
        if simulation is not None:
            accounts = simulated_facts(simulation)
        else:
            settings = settings_or_exit()
            controls = {**configured_controls(settings), **controls}
            accounts = live_facts(settings, err)
        result = build_report(
            accounts, start=start, end=end, now=datetime.now(UTC), controls=controls
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    # A terminal's own width; piped or written to a file, wide enough for every column.
    text = render(result, format, width=out.width if out.is_terminal and not output else 160)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"--output {output}: {exc.strerror or exc}") from None
    err.print(f"report written to {output}", markup=False, highlight=False)


def live_facts(settings: Settings, err: Console) -> list[AccountFacts]:
    """The live portfolio (reporting.sources.load_portfolio); a store that cannot be read is
    bad input (ValueError, one line)."""
    from reporting.sources import load_portfolio
    from store import StoreError

    def warn(text: str) -> None:
        err.print(f"warning: {text}", markup=False, highlight=False)

    try:
        return asyncio.run(load_portfolio(settings, None, warn=warn))
    except StoreError as exc:
        raise ValueError(f"store: {' '.join(str(exc).split())}") from None
