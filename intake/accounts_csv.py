"""One accounts-CSV row into a workflow input, or a RowError saying what is wrong with it.

The file around the rows (header, line numbers, duplicates, streaming) is
`intake/accounts_file.py`. Money is parsed straight into Decimal (never float); the time zones
are resolved here, once, and travel in the workflow input. What is the same for every row (the
known currencies, a locale tag already checked) is computed once: a portfolio repeats them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from zoneinfo import ZoneInfo

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.numbers import get_currency_precision, list_currencies

from activities.calendar import local_midnight
from config.ladder import Ladder
from intake.itemization import (
    AMOUNT_COLUMN,
    AMOUNT_COLUMNS,
    DATE_COLUMN,
    ITEMIZATION_COLUMNS,
    ItemizationError,
    build_itemization,
)
from intake.uk_regions import NATIONS, nation_for_postcode
from intake.zones import ZoneError, candidate_zones
from workflows.types import AccountInput, Debtor, Itemization

REQUIRED_COLUMNS = ("account_id", "name", "balance", "currency")
KNOWN_COLUMNS = (
    "account_id",
    "name",
    "email",
    "phone",
    "address",
    "postal_code",
    "city",
    "country",
    "timezone",
    "locale",
    "balance",
    "currency",
    "days_past_due",
    "due_date",
    "ladder",
    *ITEMIZATION_COLUMNS,
    "region",  # GB: ENG, SCT, WLS or NIR, overriding the nation derived from the postcode
)
ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
AMOUNT = re.compile(r"^[0-9]+(\.[0-9]+)?$")
DIGITS = re.compile(r"[0-9]+")
# Babel knows these region codes, but they are not countries.
NOT_COUNTRIES = frozenset({"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"})


class RowError(ValueError):
    pass


def cell(row: Mapping[str, str | None], column: str) -> str | None:
    value = row.get(column)
    value = value.strip() if isinstance(value, str) else None
    return value or None


def parse_money(
    raw: str, currency: str, *, column: str = "balance", allow_zero: bool = False
) -> Decimal:
    """A decimal string in the currency's precision (extra zeros allowed) → Decimal; `column`
    names the cell in the error, `allow_zero` admits 0 (an itemization's fees since, ...)."""
    if not AMOUNT.match(raw):
        raise RowError(f"{column} {raw!r} is not a decimal amount such as 120.50")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise RowError(f"{column} {raw!r} is not a decimal amount") from None
    places = get_currency_precision(currency)
    if -amount.as_tuple().exponent > places:  # type: ignore[operator]
        raise RowError(f"{column} {raw} has more than {places} decimals for {currency}")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise RowError(f"{column} must be greater than 0")
    return amount


def format_money(amount: Decimal, currency: str) -> str:
    """The inverse of parse_money: a plain decimal string with the currency's decimals."""
    places = get_currency_precision(currency)
    return str(amount.quantize(Decimal(1).scaleb(-places)))


def _country(raw: str | None) -> str | None:
    if raw is None:
        return None
    code = raw.upper()
    if (
        not re.fullmatch(r"[A-Z]{2}", code)
        or code in NOT_COUNTRIES
        or code not in get_global("territory_zones")
    ):
        raise RowError(f"country {raw!r} is not an ISO 3166 alpha-2 code")
    return code


def _locale(raw: str | None, default: str) -> str:
    if raw is None:
        return default
    if not _known_locale(raw):
        raise RowError(f"locale {raw!r} is not a BCP 47 language tag we know")
    return raw.replace("_", "-")


@cache
def _known_locale(raw: str) -> bool:
    """Locale.parse reads Babel's data files: once per tag, not once per row."""
    try:
        Locale.parse(raw.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return False
    return True


@cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def _phone(raw: str | None, country: str | None) -> phonenumbers.PhoneNumber | None:
    if raw is None:
        return None
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        hint = "" if raw.startswith("+") or country else " (national numbers need country)"
        raise RowError(f"phone {raw!r} is not a phone number{hint}") from None
    if not phonenumbers.is_valid_number(number):
        raise RowError(f"phone {raw!r} is not a valid number")
    return number


def _region(
    row: Mapping[str, str | None], country: str | None, number: phonenumbers.PhoneNumber | None
) -> str | None:
    """GB only: the nation whose bank holidays apply (uk profile). The `region` column if given,
    else from the postcode when the debtor is in GB (country GB, or a +44 number and no
    country); None when unknown (every nation's bank holidays then apply)."""
    raw = cell(row, "region")
    if raw is not None:
        region = raw.upper()
        if region not in NATIONS:
            raise RowError(f"region {raw!r} is not one of {', '.join(NATIONS)}")
        if country is not None and country != "GB":
            raise RowError(f"region {region} is for debtors in GB, not country {country}")
        return region
    in_gb = country == "GB" or (
        country is None and number is not None and number.country_code == 44
    )
    return nation_for_postcode(cell(row, "postal_code")) if in_gb else None


def _itemization(
    row: Mapping[str, str | None], balance: Decimal, currency: str, today: date
) -> Itemization:
    """The validation notice's figures (intake/itemization.py has the rules)."""
    figures: dict[str, Decimal] = {}
    for column in AMOUNT_COLUMNS:
        raw = cell(row, column)
        if raw is not None:
            figures[column] = parse_money(
                raw, currency, column=column, allow_zero=column != AMOUNT_COLUMN
            )
    try:
        return build_itemization(cell(row, DATE_COLUMN), figures, balance=balance, today=today)
    except ItemizationError as exc:
        raise RowError(str(exc)) from None


def _due_at(row: Mapping[str, str | None], zone: str, now: datetime) -> datetime:
    dpd, due = cell(row, "days_past_due"), cell(row, "due_date")
    if dpd and due:
        raise RowError("give days_past_due or due_date, not both")
    today = now.astimezone(ZoneInfo(zone)).date()
    if dpd:
        if not DIGITS.fullmatch(dpd):
            raise RowError(f"days_past_due {dpd!r} is not a whole number of days")
        due_date = today - timedelta(days=int(dpd))
    elif due:
        try:
            due_date = date.fromisoformat(due)
        except ValueError:
            raise RowError(f"due_date {due!r} is not an ISO date such as 2026-11-10") from None
        if due_date > today:
            raise RowError(f"due_date {due} is in the future: the account is not overdue yet")
    else:
        raise RowError("days_past_due or due_date is required")
    return local_midnight(due_date, zone)


def build_account(
    row: Mapping[str, str | None],
    *,
    ladders: Mapping[str, Ladder],
    default_ladder: str | None,
    default_locale: str,
    now: datetime,
) -> AccountInput:
    """One CSV row → one workflow input, or RowError saying what is wrong."""
    account_id = cell(row, "account_id")
    if account_id is None:
        raise RowError("account_id is required")
    if not ACCOUNT_ID.match(account_id):
        raise RowError(f"account_id {account_id!r} may hold only letters, digits, . _ -")
    name = cell(row, "name")
    if name is None:
        raise RowError("name is required")
    currency = (cell(row, "currency") or "").upper()
    if not currency:
        raise RowError("currency is required")
    if currency not in _currencies():
        raise RowError(f"currency {currency!r} is not an ISO 4217 code")
    raw_balance = cell(row, "balance")
    if raw_balance is None:
        raise RowError("balance is required")
    balance = parse_money(raw_balance, currency)
    email = cell(row, "email")
    if email is not None and not EMAIL.match(email):
        raise RowError(f"email {email!r} is not an email address")
    country = _country(cell(row, "country"))
    number = _phone(cell(row, "phone"), country)
    try:
        zones = candidate_zones(cell(row, "timezone"), number, country, now)
    except ZoneError as exc:
        raise RowError(str(exc)) from None
    ladder_name = cell(row, "ladder") or default_ladder
    if ladder_name is None:
        raise RowError("no ladder: fill the ladder column or pass --ladder")
    ladder = ladders.get(ladder_name)
    if ladder is None:
        known = ", ".join(sorted(ladders)) or "none"
        raise RowError(f"unknown ladder {ladder_name!r} (known: {known})")
    if balance <= ladder.min_balance:
        # At or below min_balance an account counts as paid (CONTRACT §2): there is nothing to
        # collect, so no workflow is started for it.
        raise RowError(
            f"balance {format_money(balance, currency)} is at or below the ladder "
            f"{ladder.name}'s min_balance {ladder.min_balance}: nothing to collect"
        )
    debtor = Debtor(
        name=name,
        email=email,
        phone=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if number
        else None,
        address=cell(row, "address"),
        postal_code=cell(row, "postal_code"),
        city=cell(row, "city"),
        country=country,
        locale=_locale(cell(row, "locale"), default_locale),
        zones=zones,
        region=_region(row, country, number),
    )
    today = now.astimezone(ZoneInfo(debtor.primary_zone)).date()
    return AccountInput(
        account_id=account_id,
        debtor=debtor,
        balance=balance,
        currency=currency,
        due_at=_due_at(row, debtor.primary_zone, now),
        ladder=ladder,
        itemization=_itemization(row, balance, currency, today),
    )
