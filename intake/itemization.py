"""The itemization columns of an accounts-CSV row (CONTRACT §1) → the validation notice's figures.

Why: a us validation notice (Regulation F, 12 CFR 1006.34(c)(2)) states what was owed on an
itemization date and the interest, fees, payments and credits since, which must add up to the
current balance. A notice whose figures do not add up misstates the debt, so a row whose
figures disagree with its balance is refused at intake rather than sent.

Rules:
- `itemization_date` and `itemization_amount` together; the four `*_since` columns are
  optional (0 when empty) but only with both. Anything partial is refused: half an itemization
  would be guessed, and a guessed figure in a legal notice is worse than none.
- The date may be after the due date (charge-off, last statement...) but not in the future.
- itemization_amount + interest + fees - payments - credits = balance.
- No column at all: the balance at import, as of the import date, marked `from_import` so the
  notice says where its figures come from.

The cells arrive already parsed to Decimal by `intake/accounts_csv.py` (`parse_money`, the same
rules as the balance): this module holds the rules above and nothing about CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from workflows.types import Itemization

DATE_COLUMN = "itemization_date"
AMOUNT_COLUMN = "itemization_amount"
SINCE_COLUMNS = ("interest_since", "fees_since", "payments_since", "credits_since")
AMOUNT_COLUMNS = (AMOUNT_COLUMN, *SINCE_COLUMNS)
ITEMIZATION_COLUMNS = (DATE_COLUMN, *AMOUNT_COLUMNS)
ZERO = Decimal("0")


class ItemizationError(ValueError):
    """The row's itemization is partial or inconsistent (the message says how)."""


def parse_itemization_date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ItemizationError(
            f"{DATE_COLUMN} {raw!r} is not an ISO date such as 2026-11-10"
        ) from None


def build_itemization(
    raw_date: str | None,
    figures: Mapping[str, Decimal],
    *,
    balance: Decimal,
    today: date,
) -> Itemization:
    """The row's Itemization. `figures`: the amount columns that were filled, parsed; `today`:
    the import date in the debtor's zone (the date of an itemization taken from the import)."""
    if raw_date is None and not figures:
        return Itemization(date=today, amount=balance, from_import=True)
    if raw_date is None or AMOUNT_COLUMN not in figures:
        given = [DATE_COLUMN] if raw_date is not None else []
        given += [column for column in AMOUNT_COLUMNS if column in figures]
        missing = [column for column in (DATE_COLUMN, AMOUNT_COLUMN) if column not in given]
        raise ItemizationError(
            f"partial itemization: {', '.join(given)} given without {' and '.join(missing)} "
            f"(give both, or no itemization column)"
        )
    day = parse_itemization_date(raw_date)
    if day > today:
        raise ItemizationError(f"{DATE_COLUMN} {day} is in the future (today is {today})")
    since = {column: figures.get(column, ZERO) for column in SINCE_COLUMNS}
    amount = figures[AMOUNT_COLUMN]
    total = (
        amount
        + since["interest_since"]
        + since["fees_since"]
        - since["payments_since"]
        - since["credits_since"]
    )
    if total != balance:
        raise ItemizationError(
            f"itemization does not add up to the balance: {AMOUNT_COLUMN} {amount} "
            f"+ interest {since['interest_since']} + fees {since['fees_since']} "
            f"- payments {since['payments_since']} - credits {since['credits_since']} "
            f"= {total}, but balance is {balance}"
        )
    return Itemization(
        date=day,
        amount=amount,
        interest=since["interest_since"],
        fees=since["fees_since"],
        payments=since["payments_since"],
        credits=since["credits_since"],
    )
