"""The report as HTML: `html_fragment` (tables and charts, for the ops console's page) and
`html_document` (one self-contained file to mail or archive: inline CSS, inline SVG charts, no
script, no link, no external URL).

Every text from the data (step ids, variant names, currencies, statuses) is escaped. The
fragment's CSS is scoped under `.dunning-report`, so it styles nothing else on the page it
sits in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from reporting.charts import charts
from reporting.format import (
    ARM_COLUMNS,
    DIFFERENCE_COLUMNS,
    arm_cells,
    difference_cells,
    percent,
    period,
)
from reporting.model import AttributionRow, Report

CSS = """
.dunning-report { font-family: system-ui, sans-serif; color: #1d1d1f; max-width: 60rem; }
.dunning-report h2 { font-size: 1.25rem; margin: 1.5rem 0 0.5rem; }
.dunning-report h3 { font-size: 1rem; margin: 1rem 0 0.25rem; }
.dunning-report p.period { color: #555; margin: 0 0 1rem; }
.dunning-report table { border-collapse: collapse; margin: 0.25rem 0 1rem; font-size: 0.9rem; }
.dunning-report caption { text-align: left; font-weight: 600; padding: 0.25rem 0; }
.dunning-report th, .dunning-report td {
  border-bottom: 1px solid #ddd; padding: 0.2rem 0.6rem; text-align: right;
}
.dunning-report th:first-child, .dunning-report td:first-child { text-align: left; }
.dunning-report td.verdict { font-weight: 600; text-align: left; }
.dunning-report figure { margin: 0.5rem 0 1.5rem; }
.dunning-report figure svg { max-width: 100%; height: auto; }
.dunning-report dl.definitions dt { font-weight: 600; margin-top: 0.5rem; }
.dunning-report dl.definitions dd { margin-left: 1rem; color: #444; }
"""

DEFINITIONS = (
    (
        "Recovered",
        "Accepted payments with start <= time < end, summed per currency (currencies are "
        "never added together).",
    ),
    (
        "Attribution",
        "Each payment is credited to the last contact sent to its account before it; "
        "payments before any sent contact have their own row.",
    ),
    (
        "Kept and completion rates",
        "Promises (plans) accepted in the period that were kept (completed), out of those kept "
        "or broken (completed or defaulted); pending, replaced and cancelled ones are shown "
        "apart and left out.",
    ),
    (
        "Opt-out and dispute rates",
        "Of the accounts sent a contact of the step in the period, those that opted out or "
        "disputed while that contact was the last one sent to them.",
    ),
    (
        "Variant comparison",
        "Converted: an exposed account with a payment credited to the variant's contact. The "
        "difference of conversion rates against the control has Newcombe's 95% hybrid score "
        "interval; a variant is ahead when the interval excludes 0. With fewer than 30 "
        "exposed, 5 conversions or 5 non-conversions in an arm, the sample is too small to "
        "tell.",
    ),
)


def _table(
    caption: str, headers: Sequence[str], rows: Iterable[Sequence[str]], last_class: str = ""
) -> str:
    head = "".join(f'<th scope="col">{escape(header)}</th>' for header in headers)
    body = []
    for row in rows:
        cells = [f"<td>{escape(cell)}</td>" for cell in row]
        if last_class and cells:
            cells[-1] = f'<td class="{last_class}">{escape(row[-1])}</td>'
        body.append(f"<tr>{''.join(cells)}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}">none</td></tr>')
    return (
        f"<table><caption>{escape(caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _attribution(caption: str, rows: list[AttributionRow]) -> str:
    return _table(
        caption,
        ("credited to", "currency", "recovered", "payments"),
        [(row.key, row.currency, str(row.amount), str(row.payments)) for row in rows],
    )


def _tables(report: Report) -> list[str]:
    promises, plans = report.promises, report.plans
    parts = [
        "<h2>Accounts</h2>",
        _table(
            "Accounts by status",
            ("status", "accounts"),
            [(r.key, str(r.accounts)) for r in report.by_status],
        ),
        _table(
            "Accounts by ladder",
            ("ladder", "accounts"),
            [(r.key, str(r.accounts)) for r in report.by_ladder],
        ),
        "<h2>Recovered</h2>",
        _table(
            "Recovered in the period",
            ("currency", "amount", "payments", "accounts"),
            [
                (r.currency, str(r.amount), str(r.payments), str(r.accounts))
                for r in report.recovered
            ],
        ),
        _attribution("Recovered by step", report.attribution.by_step),
        _attribution("Recovered by channel", report.attribution.by_channel),
        _attribution("Recovered by variant", report.attribution.by_variant),
        "<h2>Promises and plans</h2>",
        _table(
            "Promises and plans accepted in the period",
            ("", "promises", "plans"),
            [
                ("accepted", str(promises.accepted), str(plans.accepted)),
                ("kept / completed", str(promises.kept), str(plans.completed)),
                ("broken / defaulted", str(promises.broken), str(plans.defaulted)),
                ("pending", str(promises.pending), str(plans.pending)),
                ("replaced", str(promises.replaced), "–"),
                ("cancelled", str(promises.cancelled), str(plans.cancelled)),
                (
                    "kept / completion rate",
                    percent(promises.kept_rate),
                    percent(plans.completion_rate),
                ),
            ],
        ),
        "<h2>Opt-outs and disputes</h2>",
        _table(
            "Opt-outs and disputes by step",
            ("step", "exposed", "opted out", "opt-out rate", "disputed", "dispute rate"),
            [
                (
                    r.step,
                    str(r.exposed),
                    str(r.opted_out),
                    percent(r.opt_out_rate),
                    str(r.disputed),
                    percent(r.dispute_rate),
                )
                for r in report.step_rates
            ],
        ),
        "<h2>Variants</h2>",
    ]
    if not report.variants:
        parts.append("<p>No step had two variants sent in the period.</p>")
    for comparison in report.variants:
        parts.append(
            _table(
                f"Variants of {comparison.name} (control: {comparison.control})",
                ARM_COLUMNS,
                [arm_cells(arm) for arm in comparison.arms],
            )
        )
        parts.append(
            _table(
                f"{comparison.name}: difference against {comparison.control}",
                DIFFERENCE_COLUMNS,
                [difference_cells(d) for d in comparison.differences],
                last_class="verdict",
            )
        )
    return parts


def html_fragment(report: Report) -> str:
    """The report's tables, charts and definitions in a `<div class="dunning-report">`, with
    its own scoped `<style>`: no `<html>`, `<head>` or `<body>` (the console embeds it)."""
    figures = [
        f'<figure aria-label="{escape(title)}">{svg}</figure>' for title, svg in charts(report)
    ]
    summary = f"{report.accounts} accounts; period: {period(report.period)}"
    definitions = "".join(
        f"<dt>{escape(term)}</dt><dd>{escape(text)}</dd>" for term, text in DEFINITIONS
    )
    return "\n".join(
        [
            '<div class="dunning-report">',
            f"<style>{CSS}</style>",
            f'<p class="period">{escape(summary)}</p>',
            *_tables(report),
            "<h2>Charts</h2>",
            *figures,
            "<h2>Definitions</h2>",
            f'<dl class="definitions">{definitions}</dl>',
            "</div>",
        ]
    )


def html_document(report: Report) -> str:
    """One self-contained HTML file: the fragment in a page (no script, no link, no URL)."""
    made = report.period.now.isoformat().replace("+00:00", "Z")
    title = f"Dunning report, {made}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            "</head>",
            '<body style="margin: 1.5rem;">',
            f'<h1 style="font-family: system-ui, sans-serif;">{escape(title)}</h1>',
            html_fragment(report),
            "</body>",
            "</html>",
            "",
        ]
    )
