"""How figures read, the same in the terminal, the HTML file and the ops console."""

from __future__ import annotations

from datetime import UTC, datetime

from reporting.model import Money, Period, VariantArm, VariantDifference


def percent(value: float | None, places: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{places}f}%"


def signed_points(value: float) -> str:
    """A difference of rates, in percentage points."""
    return f"{value * 100:+.1f} pp"


def interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "–"
    return f"{low * 100:+.1f} to {high * 100:+.1f} pp"


def money(items: list[Money]) -> str:
    return ", ".join(f"{item.amount} {item.currency}" for item in items) or "–"


def _moment(value: datetime | None, open_side: str) -> str:
    if value is None:
        return open_side
    # To the minute, in UTC: the period of the console's "last 30 days" starts at now's second.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def period(value: Period) -> str:
    if value.start is None and value.end is None:
        return "all time"
    return f"{_moment(value.start, 'the beginning')} to {_moment(value.end, 'now')} (end excluded)"


# The variant tables' columns and cells: one definition for the terminal and the HTML report.
ARM_COLUMNS = (
    "variant",
    "exposed",
    "converted",
    "conversion",
    "95% interval",
    "recovered",
    "per exposed",
)
DIFFERENCE_COLUMNS = ("variant", "difference", "95% interval (Newcombe)", "verdict")


def arm_cells(arm: VariantArm) -> tuple[str, ...]:
    return (
        arm.variant,
        str(arm.exposed),
        str(arm.converted),
        percent(arm.conversion_rate),
        f"{percent(arm.rate_low)} to {percent(arm.rate_high)}",
        money(arm.recovered),
        money(arm.recovered_per_exposed),
    )


def difference_cells(difference: VariantDifference) -> tuple[str, str, str, str]:
    return (
        difference.variant,
        signed_points(difference.difference),
        interval(difference.low, difference.high),
        difference.verdict,
    )
