"""The compliance vocabulary the account carries (issue 12): the us validation notice's
itemization and the records the audit store gets. Plain pydantic models, like
`workflows/types.py`, which re-exports them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field


class Itemization(BaseModel):
    """The validation notice's figures (us, 12 CFR 1006.34(c)(2)): the amount on the
    itemization date and what changed since. `from_import`: the CSV had no itemization columns,
    so the notice uses the balance at import as of the import date, and says so."""

    date: dt.date
    amount: Decimal
    interest: Decimal = Decimal("0")
    fees: Decimal = Decimal("0")
    payments: Decimal = Decimal("0")
    credits: Decimal = Decimal("0")
    from_import: bool = False


class AuditEntry(BaseModel):
    """One record for the audit store (store/audit.py), decided by the workflow. `key` is unique
    per account, so a retried write adds nothing. `body` holds no personal data: free text
    (a reply, a dispute's reason) goes in `text`, stored content-addressed and erasable."""

    key: str
    at: AwareDatetime
    kind: Literal["opened", "contact", "event", "milestone", "closed", "continued"]
    body: dict[str, Any] = Field(default_factory=dict)
    text: str | None = None
