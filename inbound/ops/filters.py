"""The account list's filters → a Temporal visibility query, validated and quoted.

Every value is checked by pydantic against what it can be (a status of the contract, a ladder
or step id as the ladder schema allows them, whole days, a date) before it goes near a query,
and string values are then quoted with their quotes and backslashes escaped: a filter can
narrow the list, never change the query's shape. A bad filter is a `FilterProblem` naming the
field, shown above the list (never a 500).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workflows.search_attributes import DAYS_PAST_DUE, LADDER, NEXT_CONTACT, STATUS, STEP
from workflows.types import Status

Slug = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
PAGE_SIZES = (25, 50, 100)
WORKFLOW_TYPE = "DunningAccount"
FIELD_LABELS = {
    "status": "status",
    "ladder": "ladder",
    "step": "step",
    "min_days": "days past due (min)",
    "max_days": "days past due (max)",
    "contact_before": "next contact by",
    "page_size": "page size",
    "page": "page",
}


class FilterProblem(ValueError):
    """A filter that cannot be used: `field` names it, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{FIELD_LABELS[field]}: {message}" if field in FIELD_LABELS else message)
        self.field = field


class AccountFilter(BaseModel):
    """What the list form asks for; every field optional."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    status: Status | None = None
    ladder: Slug | None = None
    step: Slug | None = None
    min_days: int | None = Field(default=None, ge=0, le=100_000)
    max_days: int | None = Field(default=None, ge=0, le=100_000)
    contact_before: date | None = None  # next contact on or before this date (UTC)
    page_size: int = 50
    page: str | None = Field(default=None, max_length=4096)  # opaque visibility page token

    @model_validator(mode="after")
    def _consistent(self) -> AccountFilter:
        if (
            self.min_days is not None
            and self.max_days is not None
            and self.min_days > self.max_days
        ):
            raise ValueError("days past due: min is above max")
        if self.page_size not in PAGE_SIZES:
            raise ValueError(f"page size: one of {', '.join(map(str, PAGE_SIZES))}")
        if self.page is not None:
            page_token(self.page)
        return self

    def without_page(self) -> dict[str, str]:
        """The filter as query parameters (for the next page's link), empty ones left out."""
        values = self.model_dump(mode="json", exclude={"page"}, exclude_none=True)
        return {key: str(value) for key, value in values.items()}


def parse_filter(params: dict[str, str]) -> AccountFilter:
    """The form's values (empty fields are unset) → a filter, or a FilterProblem."""
    given = {key: value for key, value in params.items() if value.strip() != ""}
    try:
        return AccountFilter.model_validate(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "filter"
        message = first["msg"].removeprefix("Value error, ")
        if field == "status":
            message = "one of " + ", ".join(status.value for status in Status)
        elif first["type"] == "string_pattern_mismatch":
            message = "letters, digits, . _ - only"
        raise FilterProblem(field, message) from None


def quoted(value: str) -> str:
    """A visibility query string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def utc_literal(moment: datetime) -> str:
    return quoted(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def visibility_query(chosen: AccountFilter) -> str:
    """The list query over the Dunning* search attributes, newest accounts first."""
    clauses = [f"WorkflowType = {quoted(WORKFLOW_TYPE)}"]
    if chosen.status is not None:
        clauses.append(f"{STATUS.name} = {quoted(chosen.status.value)}")
    if chosen.ladder is not None:
        clauses.append(f"{LADDER.name} = {quoted(chosen.ladder)}")
    if chosen.step is not None:
        clauses.append(f"{STEP.name} = {quoted(chosen.step)}")
    if chosen.min_days is not None:
        clauses.append(f"{DAYS_PAST_DUE.name} >= {int(chosen.min_days)}")
    if chosen.max_days is not None:
        clauses.append(f"{DAYS_PAST_DUE.name} <= {int(chosen.max_days)}")
    if chosen.contact_before is not None:
        end = datetime.combine(chosen.contact_before + timedelta(days=1), time(), UTC)
        clauses.append(f"{NEXT_CONTACT.name} < {utc_literal(end)}")
    return " AND ".join(clauses)


def page_token(text: str) -> bytes:
    """The opaque page token from its URL form."""
    try:
        padded = text.encode("ascii") + b"=" * (-len(text) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ValueError("page: not a page of this list") from None


def page_text(token: bytes) -> str:
    return base64.urlsafe_b64encode(token).decode("ascii").rstrip("=")
