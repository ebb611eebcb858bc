"""One account as the report sees it: what was sent, what happened, where it stands.

The same shape whether it was read from the audit store (live accounts) or from a simulation's
JSON document, so every figure of the report is computed by one set of pure functions.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, Field

from workflows.types import ContactRecord, EventRecord

UNKNOWN_STATUS = "unknown"


class AccountFacts(BaseModel):
    account_id: str
    ladder: str
    currency: str
    # A `workflows.types.Status` value, or UNKNOWN_STATUS (an open account whose workflow
    # could not be asked).
    status: str
    opened_at: AwareDatetime | None = None
    opening_balance: Decimal | None = None
    balance: Decimal | None = None
    contacts: list[ContactRecord] = Field(default_factory=list)  # in the order they happened
    events: list[EventRecord] = Field(default_factory=list)  # events and milestones, in order

    def payments(self) -> list[tuple[datetime, Decimal]]:
        """Accepted payments: when, and how much."""
        return [
            (event.at, Decimal(event.detail["amount"]))
            for event in self.events
            if event.type == "payment" and event.accepted and "amount" in event.detail
        ]
