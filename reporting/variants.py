"""A/B/n comparison of a step's template variants: does one wording bring more payments?

Per variant: the accounts sent it in the period (exposed) and those of them with a payment in
the period credited to it (converted: the last-touch rule of `reporting.attribution`), the
conversion rate with its Wilson interval, the money recovered and per exposed account. Each
variant is compared with the control (the ladder's first variant when the caller passes the
ladders, `controls_of`; otherwise the alphabetically first): the difference of conversion
rates with Newcombe's 95% interval, and the verdict of `reporting.stats.verdict`.

Variant assignment is per account and step, so an account is exposed to one variant of a step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from babel.numbers import get_currency_precision

from config.ladder import Ladder
from reporting.attribution import CreditedPayment, SentContacts, in_period
from reporting.facts import AccountFacts
from reporting.model import Money, VariantArm, VariantComparison, VariantDifference
from reporting.stats import newcombe, verdict, wilson


def _money(amounts: Mapping[str, Decimal]) -> list[Money]:
    return [Money(currency=currency, amount=amounts[currency]) for currency in sorted(amounts)]


def controls_of(ladders: Iterable[Ladder]) -> dict[tuple[str, str], str]:
    """(ladder, step) -> the step's first variant (the control the others are compared with)."""
    return {
        (ladder.name, step.id): step.variants[0].template
        for ladder in ladders
        for step in ladder.steps
        if step.variants
    }


def variant_comparisons(
    accounts: Sequence[AccountFacts],
    payments: Sequence[CreditedPayment],
    start: datetime | None,
    end: datetime | None,
    controls: Mapping[tuple[str, str], str],
) -> list[VariantComparison]:
    """One comparison per (ladder, step) with two variants or more sent in the period: the
    assignment hashes the ladder's name, so two ladders' arms are two experiments."""
    # (ladder, step) -> variant -> currency -> accounts sent it
    exposed: dict[tuple[str, str], dict[str, dict[str, set[str]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(set))
    )
    for account in accounts:
        for contact in SentContacts(account).contacts:
            if contact.variant is not None and in_period(contact.at, start, end):
                arms = exposed[(account.ladder, contact.step)]
                arms[contact.variant][account.currency].add(account.account_id)
    converted: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    recovered: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    for payment in payments:
        contact = payment.contact
        # Credited to a contact sent in the period: its account is among the exposed.
        if contact is None or contact.variant is None or not in_period(contact.at, start, end):
            continue
        key = (payment.account.ladder, contact.step, contact.variant)
        converted[key].add(payment.account.account_id)
        recovered[key][payment.account.currency] += payment.amount
    comparisons = []
    for (ladder, step), arms in sorted(exposed.items()):
        if len(arms) < 2:
            continue
        chosen = controls.get((ladder, step))
        control = chosen if chosen in arms else sorted(arms)[0]
        names = [control, *sorted(name for name in arms if name != control)]
        built = [
            _arm(
                name,
                {currency: len(ids) for currency, ids in arms[name].items()},
                len(converted[(ladder, step, name)]),
                recovered[(ladder, step, name)],
            )
            for name in names
        ]
        comparisons.append(
            VariantComparison(
                ladder=ladder,
                step=step,
                control=control,
                arms=built,
                differences=[_difference(built[0], arm) for arm in built[1:]],
            )
        )
    return comparisons


def _arm(
    name: str,
    exposed_by_currency: Mapping[str, int],
    converted: int,
    recovered: Mapping[str, Decimal],
) -> VariantArm:
    exposed = sum(exposed_by_currency.values())
    low, high = wilson(converted, exposed) if exposed else (None, None)
    return VariantArm(
        variant=name,
        exposed=exposed,
        converted=converted,
        conversion_rate=converted / exposed if exposed else None,
        recovered=_money(recovered),
        # Each currency's money over the accounts in that currency sent the variant, to the
        # currency's own precision (JPY has none, KWD three).
        recovered_per_exposed=[
            Money(
                currency=currency,
                amount=(recovered[currency] / exposed_by_currency[currency]).quantize(
                    Decimal(1).scaleb(-get_currency_precision(currency)), ROUND_HALF_EVEN
                ),
            )
            for currency in sorted(recovered)
            if exposed_by_currency.get(currency)
        ],
        rate_low=low,
        rate_high=high,
    )


def _difference(control: VariantArm, arm: VariantArm) -> VariantDifference:
    interval = newcombe(arm.converted, arm.exposed, control.converted, control.exposed)
    return VariantDifference(
        variant=arm.variant,
        control=control.variant,
        difference=interval.difference,
        low=interval.low,
        high=interval.high,
        verdict=verdict(
            control.variant,
            (control.exposed, control.converted),
            arm.variant,
            (arm.exposed, arm.converted),
            interval,
        ),
    )
