"""Twilio's list endpoints in the fake: filters (`To`, `From`, `Status`, the date filters with
`<`/`>`) and paging (`PageSize`, `Page`, the next and previous page URIs), as the SDK reads them."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from tests.fakes.common import Reply


class InvalidFilter(ValueError):
    """A filter or paging value Twilio would refuse (answered 400, code 20001)."""


def list_page(
    items: list[dict[str, Any]], kind: str, query: dict[str, list[str]], account_path: str
) -> Reply:
    """One page of a Messages or Calls list, newest first, filtered as Twilio filters."""

    def first(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    items.reverse()  # newest first, as Twilio lists
    for name in ("To", "From", "Status", "ParentCallSid"):
        wanted = first(name)
        key = {"ParentCallSid": "parent_call_sid"}.get(name, name.lower())
        if wanted is not None and (kind == "Calls" or name in ("To", "From")):
            items = [item for item in items if item.get(key) == wanted]
    date_filters = (
        (("DateSent", "date_sent"),)
        if kind == "Messages"
        else (("StartTime", "start_time"), ("EndTime", "end_time"))
    )
    for param, key in date_filters:
        items = _filter_dates(items, key, param, query)

    page_size = _int_param(first("PageSize"), "PageSize", default=50)
    page = _int_param(first("Page"), "Page", default=0)
    page_size = min(max(page_size, 1), 1000)
    start = page * page_size
    chunk = items[start : start + page_size]
    filters = [
        (name, value)
        for name, values in query.items()
        if name not in ("PageSize", "Page", "PageToken")
        for value in values
    ]
    base = f"{account_path}/{kind}.json"

    def page_uri(number: int, token: str | None = None) -> str:
        params = [*filters, ("PageSize", page_size), ("Page", number)]
        if token:
            params.append(("PageToken", token))
        return f"{base}?{urlencode(params)}"

    has_next = start + page_size < len(items)
    return Reply(
        200,
        {
            kind.lower(): chunk,
            "end": start + len(chunk) - 1 if chunk else start,
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1, "PA" + chunk[-1]["sid"]) if has_next else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        },
    )


def _int_param(value: str | None, name: str, *, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise InvalidFilter(f"Invalid {name} value: {value}")
    return int(value)


def _parse_filter_moment(value: str, param: str) -> date | datetime:
    """Twilio's date filters take `YYYY-MM-DD` or an ISO 8601 UTC time (what the SDK sends)."""
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidFilter(f"Invalid {param} value: {value}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _filter_dates(
    items: list[dict[str, Any]], key: str, param: str, query: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """`Param` = on that (UTC) day, `Param<` = on or before, `Param>` = on or after.

    Twilio documents the filters with dates (YYYY-MM-DD); the SDK sends date-times
    (`2038-01-04T00:00:00Z`, even for a `date`), so `<`/`>` compare to the second.
    """
    tests: list[Callable[[datetime], bool]] = []
    for suffix in ("", "<", ">"):
        for raw in query.get(param + suffix, []):
            bound = _parse_filter_moment(raw, param + suffix)
            tests.append(_date_test(bound, suffix))
    if not tests:
        return items
    kept = []
    for item in items:
        value = item.get(key)
        moment = email.utils.parsedate_to_datetime(value) if value else None
        if moment is not None and all(test(moment) for test in tests):
            kept.append(item)
    return kept


def _date_test(bound: date | datetime, suffix: str) -> Callable[[datetime], bool]:
    if isinstance(bound, datetime):
        if suffix == "<":
            return lambda moment: moment <= bound
        if suffix == ">":
            return lambda moment: moment >= bound
        bound = bound.astimezone(UTC).date()  # `DateSent=` names a day, whatever the SDK sends
    if suffix == "<":
        return lambda moment: moment.astimezone(UTC).date() <= bound
    if suffix == ">":
        return lambda moment: moment.astimezone(UTC).date() >= bound
    return lambda moment: moment.astimezone(UTC).date() == bound
