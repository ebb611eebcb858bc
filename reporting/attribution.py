"""Which contact gets the credit for a payment, and the period test every figure shares.

The rule (last touch): a payment is credited to the last contact SENT to the same account
strictly before it. A suppressed contact reached nobody, so it earns nothing; a payment before
any sent contact is credited to no contact. Each payment has one such contact or none, so each
is counted once in every breakdown (by step, by channel, by variant).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from reporting.facts import AccountFacts
from workflows.types import ContactRecord

# Messages outside the ladder carry the number of their promise, plan, installment or dispute
# (`promise-2-reminder`, `plan-1-installment-3-missed`, `dispute-1-verification`): the report
# groups them under the ladder's name for the message (`promise.reminder`, `plan.missed`,
# `dispute.verification`), as `dunning preview --step` names them.
_NUMBERED = (
    (re.compile(r"^promise-\d+-(reminder|broken)$"), "promise.{}"),
    (re.compile(r"^plan-\d+-installment-\d+-(reminder|missed)$"), "plan.{}"),
    (re.compile(r"^dispute-\d+-(verification)$"), "dispute.{}"),
)


def step_name(step: str) -> str:
    """A contact's step as the report groups it: ladder steps as they are, numbered messages
    of promises, plans and disputes under the ladder's name for the message."""
    for pattern, name in _NUMBERED:
        matched = pattern.match(step)
        if matched:
            return name.format(matched.group(1))
    return step


def in_period(at: datetime, start: datetime | None, end: datetime | None) -> bool:
    """start <= at < end; a None side is open."""
    return (start is None or at >= start) and (end is None or at < end)


class SentContacts:
    """An account's sent contacts in time order, to find the last one before a moment."""

    def __init__(self, account: AccountFacts) -> None:
        indexed = [
            (contact.at, position, contact)
            for position, contact in enumerate(account.contacts)
            if contact.outcome == "sent"
        ]
        indexed.sort(key=lambda item: (item[0], item[1]))  # same instant: recorded order
        self.times = [at for at, _, _ in indexed]
        self.contacts = [contact for _, _, contact in indexed]

    def last_before(self, at: datetime) -> ContactRecord | None:
        position = bisect_left(self.times, at)  # the first sent at or after `at`
        return self.contacts[position - 1] if position else None


@dataclass(frozen=True)
class CreditedPayment:
    """An accepted payment in the period and the contact credited with it (None: none sent
    before it)."""

    account: AccountFacts
    at: datetime
    amount: Decimal
    contact: ContactRecord | None


def credited_payments(
    accounts: list[AccountFacts] | tuple[AccountFacts, ...],
    start: datetime | None,
    end: datetime | None,
) -> Iterator[CreditedPayment]:
    for account in accounts:
        sent = SentContacts(account)
        for at, amount in account.payments():
            if in_period(at, start, end):
                yield CreditedPayment(account, at, amount, sent.last_before(at))
