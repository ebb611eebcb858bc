"""The account page's forms → `AccountEvent`s: the same events the CLI and the webhooks send.

Pure: a form (field → text), the account's local date, and who is logged in give an event or a
`FormProblem` naming the field. The checks here are the ones a person wants before anything is
sent (a number that is not a number, a date already past); the account's own rules (a promise
beyond `max_days`, a plan below the balance) are the workflow's, and its refusal is shown as
its answer. The `event_id` is minted when the form is rendered and comes back with it, so a
double submit (or a reload of the POST) applies once.

Numbers and dates are matched by strict ASCII patterns before they are converted: Python's own
parsers accept more than a person means (`"²".isdigit()` is true but `int("²")` fails,
`Decimal("١٢")` is 12, `Decimal("1_0")` is 10, `date.fromisoformat("20270115")` is a date),
and anything they let through would be a 500 or a surprise. `parse_event` turns whatever the
event model still refuses into a `FormProblem` too: a form never gets a stack trace.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from workflows.types import AccountEvent

EVENT_ID = re.compile(r"ops-[0-9a-f]{32}")
AMOUNT = re.compile(r"[-+]?[0-9]{1,15}(?:\.[0-9]{1,6})?")  # fullmatch; ASCII digits only
DAYS = re.compile(r"[0-9]{1,6}")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_AMOUNT = Decimal(10) ** 12
MAX_DAYS = 3650
MAX_TEXT = 500


@dataclass(frozen=True)
class Action:
    name: str  # the form's name, in the URL: /ops/accounts/{id}/{name}
    label: str
    event: str  # the event type it sends
    help: str


ACTIONS: tuple[Action, ...] = (
    Action("payment", "Record a payment", "payment", "The balance falls by the amount."),
    Action(
        "promise",
        "Record a promise",
        "promise",
        "The ladder pauses until the date; no amount: the whole balance.",
    ),
    Action(
        "plan",
        "Set up a payment plan",
        "plan",
        "One installment per line: YYYY-MM-DD AMOUNT. The sum must cover the balance.",
    ),
    Action(
        "dispute",
        "Record a dispute",
        "dispute",
        "All contact stops until it is resolved. Received on: the debtor's local date a mailed "
        "dispute arrived (us: was it within the validation period?); empty: now.",
    ),
    Action(
        "resolve",
        "Resolve the dispute",
        "dispute_resolved",
        "Validated: the ladder resumes. Upheld: the account closes.",
    ),
    Action("hold", "Hold", "hold", "Pause the ladder for some days (paused days do not count)."),
    Action("resume", "Resume", "resume", "End a hold now."),
    Action("cease", "Cease contact", "cease", "No further contact of any kind. Final."),
)
BY_NAME = {action.name: action for action in ACTIONS}


class FormProblem(ValueError):
    """Input a person should fix: `field` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def new_event_id() -> str:
    return f"ops-{uuid.uuid4().hex}"


def amount(form: dict[str, str], field: str, *, required: bool) -> Decimal | None:
    text = form.get(field, "").strip().replace(" ", "")
    if not text:
        if required:
            raise FormProblem(field, "an amount is required, e.g. 20.00")
        return None
    try:
        if not AMOUNT.fullmatch(text):
            raise InvalidOperation
        value = Decimal(text)
    except InvalidOperation:
        raise FormProblem(field, f"{text!r} is not a number (write it like 20.00)") from None
    if not value.is_finite() or value <= 0:
        raise FormProblem(field, "must be more than 0")
    if value >= MAX_AMOUNT:
        raise FormProblem(field, "is too large")
    return value


def a_date(text: str, field: str) -> date:
    text = text.strip()
    if not text:
        raise FormProblem(field, "a date is required (YYYY-MM-DD)")
    try:
        if not ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise FormProblem(field, f"{text!r} is not a date (YYYY-MM-DD)") from None


def future_date(text: str, field: str, today: date) -> date:
    value = a_date(text, field)
    if value < today:
        raise FormProblem(field, f"{value.isoformat()} is in the past (today is {today})")
    if value.year > 2100:
        raise FormProblem(field, "is too far ahead")
    return value


def past_date(form: dict[str, str], field: str, today: date) -> date | None:
    """An optional date not after `today` (the debtor's): when something already happened."""
    if not form.get(field, "").strip():
        return None
    value = a_date(form[field], field)
    if value > today:
        raise FormProblem(field, f"{value.isoformat()} is in the future (today is {today})")
    if value.year < 2000:
        raise FormProblem(field, "is too long ago")
    return value


def whole_days(form: dict[str, str], field: str) -> int:
    text = form.get(field, "").strip()
    if not DAYS.fullmatch(text) or not 1 <= int(text) <= MAX_DAYS:
        raise FormProblem(field, f"a whole number of days from 1 to {MAX_DAYS}")
    return int(text)


def short_text(form: dict[str, str], field: str, *, required: bool) -> str | None:
    text = " ".join(form.get(field, "").split())
    if not text:
        if required:
            raise FormProblem(field, "is required")
        return None
    if len(text) > MAX_TEXT:
        raise FormProblem(field, f"at most {MAX_TEXT} characters")
    return text


def installments(form: dict[str, str], today: date) -> list[dict[str, object]]:
    lines = [line.strip() for line in form.get("installments", "").splitlines() if line.strip()]
    if not lines:
        raise FormProblem("installments", "one line per installment: YYYY-MM-DD AMOUNT")
    found = []
    for number, line in enumerate(lines, start=1):
        parts = line.replace(":", " ").replace(";", " ").split()
        if len(parts) != 2:
            raise FormProblem("installments", f"line {number}: write YYYY-MM-DD AMOUNT")
        when = future_date(parts[0], f"installments line {number}", today)
        value = amount({"a": parts[1]}, "a", required=True)
        found.append({"date": when, "amount": value})
    return found


def build_event(action: Action, form: dict[str, str], *, today: date, source: str) -> AccountEvent:
    """The event the form asks for, or a FormProblem. `today`: the debtor's local date."""
    event_id = form.get("event_id", "")
    if not EVENT_ID.fullmatch(event_id):
        raise FormProblem("event_id", "the form is stale: reload the page and try again")
    fields: dict[str, object] = {"type": action.event, "event_id": event_id, "source": source}
    match action.name:
        case "payment":
            fields["amount"] = amount(form, "amount", required=True)
        case "promise":
            fields["amount"] = amount(form, "amount", required=False)
            fields["date"] = future_date(form.get("date", ""), "date", today)
        case "plan":
            fields["installments"] = installments(form, today)
        case "dispute":
            fields["reason"] = short_text(form, "reason", required=True)
            fields["received_on"] = past_date(form, "received_on", today)
        case "resolve":
            outcome = form.get("outcome", "")
            if outcome not in ("validated", "upheld"):
                raise FormProblem("outcome", "choose validated or upheld")
            fields["outcome"] = outcome
        case "hold":
            fields["days"] = whole_days(form, "days")
        case "cease":
            if form.get("confirm") != "yes":
                raise FormProblem("confirm", "tick the box to confirm: this cannot be undone")
    return AccountEvent.model_validate(fields)


def parse_event(action: Action, form: dict[str, str], *, today: date, source: str) -> AccountEvent:
    """`build_event`, with anything else the event model refuses as a `FormProblem` too (the
    checks above are meant to catch all of it; this is the net under them)."""
    try:
        return build_event(action, form, today=today, source=source)
    except FormProblem:
        raise
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or action.name
        raise FormProblem(field, first["msg"].removeprefix("Value error, ")) from None
    except (ValueError, ArithmeticError) as exc:
        raise FormProblem(action.name, str(exc) or "is not valid") from None
