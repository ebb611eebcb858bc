"""The report's charts as SVG text, drawn with matplotlib (Agg, no display needed).

Why SVG: the HTML report must be one self-contained file (no image files beside it, no
external URL) and the ops console embeds the same charts in its page; SVG inlines as text,
scales, and its text stays text (`svg.fonttype: none`), escaped by matplotlib. The XML prolog,
the DOCTYPE (a DTD URL) and the metadata block are dropped; what remains is a valid `<svg>`
element whose only URLs are the SVG and XLink namespace names (never fetched).

Each chart gets its own `svg.hashsalt`, so the ids inside two charts of one page never clash,
and the same report draws byte-identical charts.
"""

from __future__ import annotations

import io
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from reporting.model import AttributionRow, Report, StepRates, VariantComparison

WIDTH = 7.0  # inches
BAR_HEIGHT = 0.38  # inches per bar
COLORS = ("#3465a4", "#f57900", "#4e9a06", "#cc0000", "#75507b", "#c4a000", "#555753")

_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)


# matplotlib's rcParams are global: two threads drawing at once (the ops console renders the
# report off its event loop) must not see each other's settings.
_DRAWING = threading.Lock()


@contextmanager
def _figure(name: str, height: float, panels: int = 1) -> Iterator[tuple[Any, list[Any]]]:
    """A figure of `panels` stacked axes. A bare `Figure`, not pyplot's: nothing global keeps
    it alive after the chart is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    settings = {
        "svg.fonttype": "none",
        "svg.hashsalt": f"dunning-report-{name}",
        "text.parse_math": False,  # a "$" in a step id is text, not TeX
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    with _DRAWING, matplotlib.rc_context(settings):
        figure = Figure(figsize=(WIDTH, max(1.6, height)), layout="constrained")
        axes = figure.subplots(panels, 1, squeeze=False)
        yield figure, list(axes[:, 0])


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = _PROLOG.sub("", buffer.getvalue(), count=1)
    return _METADATA.sub("", text).strip()


def _bars(
    axes: Any,
    labels: list[str],
    values: list[float],
    xlabel: str,
    color: str,
    notes: list[str] | None = None,
) -> None:
    """Horizontal bars, each annotated with its note (default: its value)."""
    positions = list(range(len(labels)))
    axes.barh(positions, values, color=color)
    axes.set_yticks(positions, labels)
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    for position, value, note in zip(
        positions, values, notes or [f"{value:g}" for value in values], strict=True
    ):
        axes.annotate(
            note,
            (value, position),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )


def _payments(count: int) -> str:
    return f"{count} payment" if count == 1 else f"{count} payments"


def status_chart(report: Report) -> str:
    """Accounts by status."""
    labels = [row.key for row in report.by_status] or ["(no accounts)"]
    values = [float(row.accounts) for row in report.by_status] or [0.0]
    with _figure("status", 0.6 + BAR_HEIGHT * len(labels)) as (figure, (axes,)):
        _bars(axes, labels, values, "accounts", COLORS[0])
        axes.set_title("Accounts by status", loc="left")
        return _svg(figure)


def recovered_chart(title: str, name: str, rows: list[AttributionRow]) -> str:
    """Recovered amounts credited to each key, one panel per currency (never added up)."""
    by_currency: dict[str, list[AttributionRow]] = defaultdict(list)
    for row in rows:
        by_currency[row.currency].append(row)
    currencies = sorted(by_currency) or ["–"]
    bars = sum(len(items) for items in by_currency.values()) or 1
    height = 0.7 * len(currencies) + BAR_HEIGHT * bars
    with _figure(name, height, panels=len(currencies)) as (figure, panels):
        for index, (currency, axes) in enumerate(zip(currencies, panels, strict=True)):
            items = by_currency.get(currency, [])
            # Float only to place the bars; the labels print the Decimal amounts.
            _bars(
                axes,
                [row.key for row in items] or ["(no payments)"],
                [float(row.amount) for row in items] or [0.0],
                f"recovered ({currency})",
                COLORS[(index + 1) % len(COLORS)],
                [f"{row.amount} ({_payments(row.payments)})" for row in items] or None,
            )
        panels[0].set_title(title, loc="left")
        return _svg(figure)


def variant_chart(comparison: VariantComparison) -> str:
    """Each variant's conversion rate with its Wilson 95% interval as an error bar."""
    arms = comparison.arms
    with _figure(f"variants-{comparison.ladder}-{comparison.step}", 0.8 + 0.5 * len(arms)) as (
        figure,
        (axes,),
    ):
        for position, arm in enumerate(arms):
            rate = arm.conversion_rate or 0.0
            low, high = arm.rate_low or 0.0, arm.rate_high or 0.0
            axes.errorbar(
                [rate * 100],
                [position],
                xerr=[[max(0.0, (rate - low) * 100)], [max(0.0, (high - rate) * 100)]],
                fmt="o",
                capsize=4,
                color=COLORS[position % len(COLORS)],
            )
            axes.annotate(
                f"{rate * 100:.1f}% ({arm.converted}/{arm.exposed})",
                (high * 100, position),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        axes.set_yticks(range(len(arms)), [arm.variant for arm in arms])
        axes.set_ylim(len(arms) - 0.5, -0.5)
        axes.set_xlim(0, 100)
        axes.set_xlabel("conversion rate, % (95% Wilson interval)")
        axes.set_title(f"{comparison.name}: conversion by variant", loc="left")
        return _svg(figure)


def step_rates_chart(rows: list[StepRates]) -> str:
    """Opt-out and dispute rates by step, side by side."""
    labels = [row.step for row in rows] or ["(no contacts)"]
    opt_outs = [(row.opt_out_rate or 0.0) * 100 for row in rows] or [0.0]
    disputes = [(row.dispute_rate or 0.0) * 100 for row in rows] or [0.0]
    with _figure("step-rates", 0.8 + 1.3 * BAR_HEIGHT * len(labels)) as (figure, (axes,)):
        positions = list(range(len(labels)))
        axes.barh([p - 0.2 for p in positions], opt_outs, 0.4, label="opt-out", color=COLORS[1])
        axes.barh([p + 0.2 for p in positions], disputes, 0.4, label="dispute", color=COLORS[3])
        axes.set_yticks(positions, labels)
        axes.invert_yaxis()
        axes.set_xlabel("% of accounts sent the step")
        # Above the plot, beside the title: never over a bar.
        axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, frameon=False)
        axes.set_title("Opt-outs and disputes by step", loc="left")
        return _svg(figure)


def charts(report: Report) -> list[tuple[str, str]]:
    """(title, svg) of every chart, in reading order."""
    attribution = report.attribution
    drawn: list[tuple[str, Callable[[], str]]] = [
        ("Accounts by status", lambda: status_chart(report)),
        (
            "Recovered by step",
            lambda: recovered_chart("Recovered by step", "by-step", attribution.by_step),
        ),
        (
            "Recovered by channel",
            lambda: recovered_chart("Recovered by channel", "by-channel", attribution.by_channel),
        ),
        (
            "Recovered by variant",
            lambda: recovered_chart("Recovered by variant", "by-variant", attribution.by_variant),
        ),
    ]
    for comparison in report.variants:
        drawn.append(
            (f"Variants of {comparison.name}", lambda c=comparison: variant_chart(c))  # type: ignore[misc]
        )
    drawn.append(("Opt-outs and disputes by step", lambda: step_rates_chart(report.step_rates)))
    return [(title, draw()) for title, draw in drawn]
