"""The report as rich tables, for the terminal (`dunning report --format table`)."""

from __future__ import annotations

from rich.table import Table

from reporting.format import (
    ARM_COLUMNS,
    DIFFERENCE_COLUMNS,
    arm_cells,
    difference_cells,
    percent,
    period,
)
from reporting.model import AttributionRow, Report


def _table(title: str, *columns: str) -> Table:
    # As wide as its title at least: rich would wrap a title wider than the table's columns.
    table = Table(title=title, title_justify="left", title_style="bold", min_width=len(title))
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    return table


def _attribution(title: str, rows: list[AttributionRow]) -> Table:
    table = _table(title, "credited to", "currency", "recovered", "payments")
    for row in rows:
        table.add_row(row.key, row.currency, str(row.amount), str(row.payments))
    return table


def report_tables(report: Report) -> list[Table]:
    """Every section of the report, one table each, in reading order."""
    tables = []
    summary = _table(f"Portfolio: {report.accounts} accounts, {period(report.period)}", "status")
    summary.add_column("accounts", justify="right")
    for row in report.by_status:
        summary.add_row(row.key, str(row.accounts))
    tables.append(summary)
    ladders = _table("Accounts by ladder", "ladder", "accounts")
    for row in report.by_ladder:
        ladders.add_row(row.key, str(row.accounts))
    tables.append(ladders)

    recovered = _table("Recovered in the period", "currency", "amount", "payments", "accounts")
    for item in report.recovered:
        recovered.add_row(item.currency, str(item.amount), str(item.payments), str(item.accounts))
    tables.append(recovered)
    attribution = report.attribution
    tables.append(_attribution("Recovered by step (last contact sent before)", attribution.by_step))
    tables.append(_attribution("Recovered by channel", attribution.by_channel))
    tables.append(_attribution("Recovered by variant", attribution.by_variant))

    promises, plans = report.promises, report.plans
    arrangements = _table("Promises and plans accepted in the period", "", "promises", "plans")
    arrangements.add_row("accepted", str(promises.accepted), str(plans.accepted))
    arrangements.add_row("kept / completed", str(promises.kept), str(plans.completed))
    arrangements.add_row("broken / defaulted", str(promises.broken), str(plans.defaulted))
    arrangements.add_row("pending", str(promises.pending), str(plans.pending))
    arrangements.add_row("replaced", str(promises.replaced), "–")
    arrangements.add_row("cancelled", str(promises.cancelled), str(plans.cancelled))
    arrangements.add_row(
        "[bold]kept / completion rate[/bold]",
        percent(promises.kept_rate),
        percent(plans.completion_rate),
    )
    tables.append(arrangements)

    rates = _table(
        "Opt-outs and disputes by step (last contact sent before)",
        "step",
        "exposed",
        "opted out",
        "opt-out rate",
        "disputed",
        "dispute rate",
    )
    for row in report.step_rates:
        rates.add_row(
            row.step,
            str(row.exposed),
            str(row.opted_out),
            percent(row.opt_out_rate),
            str(row.disputed),
            percent(row.dispute_rate),
        )
    tables.append(rates)

    for comparison in report.variants:
        arms = _table(
            f"Variants of {comparison.name} (control: {comparison.control})", *ARM_COLUMNS
        )
        for arm in comparison.arms:
            arms.add_row(*arm_cells(arm))
        tables.append(arms)
        differences = _table(
            f"{comparison.name}: difference against {comparison.control}", *DIFFERENCE_COLUMNS
        )
        for difference in comparison.differences:
            *cells, verdict = difference_cells(difference)
            differences.add_row(*cells, f"[bold]{verdict}[/bold]")
        tables.append(differences)
    return tables
