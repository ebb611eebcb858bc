"""A/B/n comparison of a step's template variants: does one wording bring more payments?

Per variant: the accounts sent it in the period (exposed) and those of them with a payment in
the period credited to it (converted: the last-touch rule of `reporting.attribution`), the
conversion rate with its Wilson interval, the money recovered and per exposed account. Each
variant is compared with the control (the ladder's first variant when the caller says which it
is, otherwise the alphabetically first): the difference of conversion rates with Newcombe's 95%
interval, and the verdict of `reporting.stats.verdict`.

Variant assignment is per account and step, so an account is exposed to one variant of a step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from reporting.attribution import CreditedPayment, SentContacts, in_period
from reporting.facts import AccountFacts
from reporting.model import Money, VariantArm, VariantComparison, VariantDifference
from reporting.stats import newcombe, verdict, wilson

CENT = Decimal("0.01")


def _money(amounts: Mapping[str, Decimal]) -> list[Money]:
    return [Money(currency=currency, amount=amounts[currency]) for currency in sorted(amounts)]


def variant_comparisons(
    accounts: Sequence[AccountFacts],
    payments: Sequence[CreditedPayment],
    start: datetime | None,
    end: datetime | None,
    controls: Mapping[str, str],
) -> list[VariantComparison]:
    exposed: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for account in accounts:
        for contact in SentContacts(account).contacts:
            if contact.variant is not None and in_period(contact.at, start, end):
                exposed[contact.step][contact.variant].add(account.account_id)
    converted: dict[tuple[str, str], set[str]] = defaultdict(set)
    recovered: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for payment in payments:
        contact = payment.contact
        # Credited to a contact sent in the period: its account is among the exposed.
        if contact is None or contact.variant is None or not in_period(contact.at, start, end):
            continue
        key = (contact.step, contact.variant)
        converted[key].add(payment.account.account_id)
        recovered[key][payment.account.currency] += payment.amount
    comparisons = []
    for step, arms in exposed.items():
        if len(arms) < 2:
            continue
        chosen = controls.get(step)
        control = chosen if chosen in arms else sorted(arms)[0]
        names = [control, *sorted(name for name in arms if name != control)]
        built = [
            _arm(name, len(arms[name]), len(converted[(step, name)]), recovered[(step, name)])
            for name in names
        ]
        comparisons.append(
            VariantComparison(
                step=step,
                control=control,
                arms=built,
                differences=[_difference(built[0], arm) for arm in built[1:]],
            )
        )
    return comparisons


def _arm(name: str, exposed: int, converted: int, recovered: Mapping[str, Decimal]) -> VariantArm:
    low, high = wilson(converted, exposed) if exposed else (None, None)
    return VariantArm(
        variant=name,
        exposed=exposed,
        converted=converted,
        conversion_rate=converted / exposed if exposed else None,
        recovered=_money(recovered),
        recovered_per_exposed=[
            Money(
                currency=currency,
                amount=(recovered[currency] / exposed).quantize(CENT, ROUND_HALF_EVEN),
            )
            for currency in sorted(recovered)
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
