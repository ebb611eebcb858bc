"""Regulation F's validation notice (12 CFR 1006.34): its figures, its dates, its plain text.

Why a module of its own: the figures and the validation period are law, not layout, so they
are plain functions tested on their own (tests/test_validation_notice.py), and the renderer
(activities/render.py) only formats them and renders the partial
`templates/<channel>/_validation-notice.<locale>.<ext>` with them.

- The itemization (1006.34(c)(2)(vi)-(viii)): the amount owed on the itemization date, the
  interest, fees, payments and credits since, and the current amount. Without an itemization
  from the account file the notice uses the balance at import as of the import date
  (`Itemization.from_import`), or, for an account started before itemizations were recorded,
  the balance and date of the send itself; either way the notice says so.
- The validation period (1006.34(b)(5)) ends 30 days after the debtor receives the notice, and
  the debtor may be assumed to receive it 5 days after it was sent, not counting Saturdays,
  Sundays and the legal public holidays of 5 U.S.C. 6103(a) (`holidays.US()`: the federal
  holidays and the days they are observed on).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import holidays
from markupsafe import Markup

from workflows.types import Itemization

BUSINESS_DAYS_TO_RECEIPT = 5  # 1006.34(b)(5): receipt assumed this many business days later
VALIDATION_PERIOD_DAYS = 30  # ... and the period ends this many calendar days after receipt
PARTIAL = "_validation-notice"  # templates/<channel>/_validation-notice.<locale>.<ext>
ZERO = Decimal("0")


def federal_holidays(*years: int) -> holidays.HolidayBase:
    """The US legal public holidays (and their observed days) of these years. A fresh object
    per call: a shared one fills in years lazily, which is not safe across the worker's
    rendering threads."""
    return holidays.US(years=years)


def is_business_day(day: date, calendar: holidays.HolidayBase) -> bool:
    """Not a Saturday, a Sunday or a legal public holiday."""
    return day.weekday() < 5 and day not in calendar


def assumed_receipt(sent_on: date) -> date:
    """The day the debtor is assumed to receive a notice sent on `sent_on` (the sender's local
    date): the 5th business day after it."""
    calendar = federal_holidays(sent_on.year, sent_on.year + 1)
    day, counted = sent_on, 0
    while counted < BUSINESS_DAYS_TO_RECEIPT:
        day += timedelta(days=1)
        if is_business_day(day, calendar):
            counted += 1
    return day


def validation_period_end(sent_on: date) -> date:
    """The last day of the validation period: 30 days after the assumed receipt. A dispute
    received by the end of this day stops collection until verification is sent (1006.38)."""
    return assumed_receipt(sent_on) + timedelta(days=VALIDATION_PERIOD_DAYS)


@dataclass(frozen=True)
class NoticeFigures:
    """What the notice states, before formatting. `from_import`: there was no itemization from
    the creditor, the notice uses the balance when the account was placed (and says so)."""

    itemization_date: date
    itemization_amount: Decimal
    interest: Decimal
    fees: Decimal
    payments: Decimal
    credits: Decimal
    current_amount: Decimal
    from_import: bool
    period_ends: date


def notice_figures(
    itemization: Itemization | None, balance: Decimal, sent_on: date
) -> NoticeFigures:
    """The figures of a notice sent on `sent_on` (local date) for an account whose balance is
    now `balance`.

    The current amount is always the account's balance. Payments recorded while the account ran
    (events lowered the balance below what the itemization adds up to) are payments since the
    itemization date too, so the shortfall is added to `payments` and the table adds up. A
    balance above the itemization's sum is left as it is: that is the account file's figure,
    and nothing here may invent a fee to explain it.
    """
    if itemization is None:
        start_date, amount = sent_on, balance
        interest = fees = payments = credits = ZERO
        from_import = True
    else:
        start_date, amount = itemization.date, itemization.amount
        interest, fees = itemization.interest, itemization.fees
        payments, credits = itemization.payments, itemization.credits
        from_import = itemization.from_import
    shortfall = amount + interest + fees - payments - credits - balance
    if shortfall > ZERO:
        payments += shortfall
    return NoticeFigures(
        itemization_date=start_date,
        itemization_amount=amount,
        interest=interest,
        fees=fees,
        payments=payments,
        credits=credits,
        current_amount=balance,
        from_import=from_import,
        period_ends=validation_period_end(sent_on),
    )


def notice_context(
    figures: NoticeFigures,
    money: Callable[[Decimal], str],
    day: Callable[[date], str],
) -> dict[str, Any]:
    """The partial's `notice` variable: every amount and date already formatted (Babel, in the
    debtor's locale, by the renderer's `money` and `day`), plus `from_import`."""
    return {
        "itemization_date": day(figures.itemization_date),
        "itemization_amount": money(figures.itemization_amount),
        "interest": money(figures.interest),
        "fees": money(figures.fees),
        "payments": money(figures.payments),
        "credits": money(figures.credits),
        "current_amount": money(figures.current_amount),
        "period_ends": day(figures.period_ends),
        "from_import": figures.from_import,
    }


@dataclass(frozen=True)
class RenderedNotice:
    """The notice as it goes into one message: plain text (a letter, an email's text part),
    and for an email the HTML (Markup: inserted as is into the autoescaped email)."""

    path: str  # the partial's template path (its hash goes in the audit record)
    text: str
    html: Markup | None
    period_ends: date

    @classmethod
    def of(cls, path: str, rendered: str, period_ends: date, html: bool) -> RenderedNotice:
        """From the rendered partial: an email's (HTML, autoescaped by its own `.html`
        template, so safe as Markup) also gives the text part; a letter's is the text."""
        if html:
            return cls(path, html_to_text(rendered), Markup(rendered), period_ends)
        return cls(path, rendered, None, period_ends)


# ASCII whitespace only: the no-break spaces Babel puts in amounts and dates stay.
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_BREAKS = (
    (re.compile(r"<br\s*/?>", re.IGNORECASE), "\n"),
    (re.compile(r"</(p|h[1-6]|div|table|ul|ol)\s*>", re.IGNORECASE), "\n\n"),
    (re.compile(r"</(tr|li)\s*>", re.IGNORECASE), "\n"),
    (re.compile(r"<li\b[^>]*>", re.IGNORECASE), "- "),
    (re.compile(r"</t[hd]\s*>", re.IGNORECASE), " "),
)
_TAGS = re.compile(r"<[^>]+>")


def html_to_text(markup: str) -> str:
    """An email partial as the email's plain-text part: paragraphs and headings apart, one
    line per table row or list item, tags dropped, entities decoded. Enough for the notice's
    own simple HTML; not a general converter."""
    text = _SPACES.sub(" ", markup)
    for pattern, replacement in _BREAKS:
        text = pattern.sub(replacement, text)
    text = html.unescape(_TAGS.sub("", text))
    lines = [_SPACES.sub(" ", line).strip(" ") for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# What is appended to an email's HTML sits below the layout's card: it brings its own frame.
APPENDED_HTML = Markup(
    '<div style="max-width:600px; margin:0 auto; padding:0 12px 24px 12px; '
    "font-family:Arial, Helvetica, sans-serif; font-size:14px; line-height:1.5; "
    'color:#1f2933;">{}</div>'
)


def append_text(text: str, additions: list[str]) -> str:
    """The text with each addition it does not contain yet (the template did not print it),
    a blank line apart: a notice or an opt-out line a template forgot still goes out."""
    missing = [addition for addition in additions if addition and addition not in text]
    return "\n\n".join([text.rstrip(), *missing]) if missing else text


def append_html(markup: str, additions: list[tuple[str, Markup]]) -> str:
    """The HTML document with each `(printed, addition)` whose `printed` form it does not
    contain appended at the end of its body (before the last `</body>`, or at the very end when
    there is none), in one frame. `printed`: what the template shows when it printed the
    variable itself (the escaped sentence, the notice's markup)."""
    missing = [addition for printed, addition in additions if printed and printed not in markup]
    if not missing:
        return markup
    framed = APPENDED_HTML.format(Markup("\n").join(missing))
    at = markup.lower().rfind("</body>")
    if at < 0:
        return f"{markup.rstrip()}\n{framed}"
    return f"{markup[:at].rstrip()}\n{framed}\n{markup[at:]}"
