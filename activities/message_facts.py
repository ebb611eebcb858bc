"""What a message may say, before formatting: `MessageFacts`, and a sample of them.

The send activity builds the facts of each message from its request (`activities/outgoing.py`
`message_facts`); `ladder validate` and `preview` render with `sample_facts`, an account made
to exercise every template (a long name with non-ASCII letters, every optional figure set, and
for a us ladder the validation notice with a non-zero itemization). The renderer
(`activities/render.py`) formats them in the debtor's locale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from workflows.types import Itemization


@dataclass
class MessageFacts:
    """What a message may say, before formatting. Built by the send activity."""

    account_id: str
    debtor_name: str
    balance: Decimal
    currency: str
    days_past_due: int
    locale: str
    today: date  # the send's local date in the debtor's primary zone
    payment_link: str
    jurisdiction: str
    deadline: date | None = None
    promise_amount: Decimal | None = None
    promise_date: date | None = None
    installment_amount: Decimal | None = None
    installment_date: date | None = None
    installment_number: int | None = None
    installment_count: int | None = None
    # 12 CFR 1006.34: this email or letter must carry the validation notice, with these figures
    # (None: the balance as of `today`, and the notice says so).
    validation_notice: bool = False
    itemization: Itemization | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def sample_facts(
    locale: str, jurisdiction: str = "us", validation_notice: bool | None = None
) -> MessageFacts:
    """A realistic account used by `ladder validate` and `preview` to prove templates render.

    A `us` sample asks for the validation notice (unless told otherwise), so validation
    renders the notice's partials too, with an itemization whose every line is non-zero."""
    return MessageFacts(
        account_id="A-100004",
        debtor_name="Maria-Magdalena Wiśniewska-Kowalczyk",
        balance=Decimal("1234.56"),
        currency="EUR",
        days_past_due=12,
        locale=locale,
        today=date(2027, 1, 4),
        payment_link="https://pay.example/a/A-100004",
        jurisdiction=jurisdiction,
        deadline=date(2027, 1, 15),
        promise_amount=Decimal("100.50"),
        promise_date=date(2027, 1, 10),
        installment_amount=Decimal("25.00"),
        installment_date=date(2027, 1, 10),
        installment_number=2,
        installment_count=3,
        validation_notice=jurisdiction == "us" if validation_notice is None else validation_notice,
        itemization=Itemization(
            date=date(2026, 11, 30),
            amount=Decimal("1200.00"),
            interest=Decimal("24.56"),
            fees=Decimal("25.00"),
            payments=Decimal("10.00"),
            credits=Decimal("5.00"),
        ),
    )
