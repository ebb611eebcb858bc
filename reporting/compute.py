"""`build_report`: every figure of the report from a portfolio's facts. Pure: no I/O, no clock
(`now` is given), so the same facts always give the same report and every rule is tested
without a server.

Money is summed per currency in Decimal; different currencies are never added.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from reporting.attribution import CreditedPayment, credited_payments, step_name
from reporting.facts import AccountFacts
from reporting.model import (
    BEFORE_ANY_CONTACT,
    NO_VARIANT,
    Attribution,
    AttributionRow,
    Count,
    Period,
    Recovered,
    Report,
)
from reporting.outcomes import plan_outcomes, promise_outcomes, step_rates
from reporting.variants import variant_comparisons


def _aware(moment: datetime | None, name: str) -> None:
    if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
        raise ValueError(f"{name}: {moment.isoformat()} has no time zone (use UTC)")


def build_report(
    accounts: Sequence[AccountFacts],
    *,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    controls: Mapping[tuple[str, str], str] | None = None,
) -> Report:
    """The report over `accounts` for payments, promises, plans and contacts with
    start <= at < end. `controls`: (ladder, step) -> the variant the others are compared with
    (`reporting.variants.controls_of`; otherwise the alphabetically first)."""
    _aware(start, "start")
    _aware(end, "end")
    _aware(now, "now")
    if start is not None and end is not None and end <= start:
        raise ValueError(f"the period is empty: end {end.isoformat()} <= start {start.isoformat()}")
    portfolio = list(accounts)
    payments = list(credited_payments(portfolio, start, end))
    return Report(
        period=Period(start=start, end=end, now=now),
        accounts=len(portfolio),
        by_status=_counts(account.status for account in portfolio),
        by_ladder=_counts(account.ladder for account in portfolio),
        recovered=recovered(payments),
        attribution=Attribution(
            by_step=attribution_rows(payments, _step_key),
            by_channel=attribution_rows(payments, _channel_key),
            by_variant=attribution_rows(payments, _variant_key),
        ),
        promises=promise_outcomes(portfolio, start, end),
        plans=plan_outcomes(portfolio, start, end),
        step_rates=step_rates(portfolio, start, end),
        variants=variant_comparisons(portfolio, payments, start, end, controls or {}),
    )


def _counts(keys: object) -> list[Count]:
    counted = Counter(keys)  # type: ignore[call-overload]
    return [Count(key=key, accounts=n) for key, n in sorted(counted.items())]


def recovered(payments: Sequence[CreditedPayment]) -> list[Recovered]:
    """Per currency: the amount, the number of payments and of paying accounts."""
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    counts: Counter[str] = Counter()
    payers: dict[str, set[str]] = defaultdict(set)
    for payment in payments:
        currency = payment.account.currency
        amounts[currency] += payment.amount
        counts[currency] += 1
        payers[currency].add(payment.account.account_id)
    return [
        Recovered(
            currency=currency,
            amount=amounts[currency],
            payments=counts[currency],
            accounts=len(payers[currency]),
        )
        for currency in sorted(amounts)
    ]


def _step_key(payment: CreditedPayment) -> tuple[str, str | None, str | None]:
    contact = payment.contact
    return (step_name(contact.step) if contact else BEFORE_ANY_CONTACT, None, None)


def _channel_key(payment: CreditedPayment) -> tuple[str, str | None, str | None]:
    contact = payment.contact
    return (contact.channel.value if contact else BEFORE_ANY_CONTACT, None, None)


def _variant_key(payment: CreditedPayment) -> tuple[str, str | None, str | None]:
    contact = payment.contact
    if contact is None:
        return (BEFORE_ANY_CONTACT, None, None)
    if contact.variant is None:
        return (NO_VARIANT, None, None)
    return (f"{contact.step} / {contact.variant}", contact.step, contact.variant)


def attribution_rows(
    payments: Sequence[CreditedPayment],
    key: Callable[[CreditedPayment], tuple[str, str | None, str | None]],
) -> list[AttributionRow]:
    """One row per (key, currency): by currency, then the largest amounts first; the rows of
    payments no contact (or no variant) explains last."""
    amounts: dict[tuple[str, str | None, str | None, str], Decimal] = defaultdict(Decimal)
    counts: Counter[tuple[str, str | None, str | None, str]] = Counter()
    for payment in payments:
        row = (*key(payment), payment.account.currency)
        amounts[row] += payment.amount
        counts[row] += 1

    def order(row: tuple[str, str | None, str | None, str]) -> tuple[object, ...]:
        name, currency = row[0], row[3]
        return (currency, name in (BEFORE_ANY_CONTACT, NO_VARIANT), -amounts[row], name)

    return [
        AttributionRow(
            key=row[0],
            step=row[1],
            variant=row[2],
            currency=row[3],
            amount=amounts[row],
            payments=counts[row],
        )
        for row in sorted(amounts, key=order)
    ]
