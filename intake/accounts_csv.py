"""Read the accounts CSV into workflow inputs, reporting each bad row by line and reason.

A bad row never stops the good ones: `read_accounts` returns both the inputs it could build and
the problems it found. Money is parsed straight into Decimal (never float); the time zones are
resolved here, once, and travel in the workflow input.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.numbers import get_currency_precision, list_currencies

from activities.calendar import local_midnight
from config.ladder import Ladder
from intake.zones import ZoneError, candidate_zones
from workflows.types import AccountInput, Debtor

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
)
ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
AMOUNT = re.compile(r"^[0-9]+(\.[0-9]+)?$")
DIGITS = re.compile(r"[0-9]+")
# Babel knows these region codes, but they are not countries.
NOT_COUNTRIES = frozenset({"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"})


@dataclass(frozen=True)
class RowProblem:
    line: int
    account_id: str | None
    message: str

    def __str__(self) -> str:
        who = f" ({self.account_id})" if self.account_id else ""
        return f"line {self.line}{who}: {self.message}"


class AccountsFileError(Exception):
    """The file as a whole cannot be read (missing, not CSV, required columns absent)."""


class RowError(ValueError):
    pass


@dataclass
class AccountsFile:
    accounts: list[tuple[int, AccountInput]]
    problems: list[RowProblem]
    warnings: list[str]


def _text(row: Mapping[str, str | None], column: str) -> str | None:
    value = row.get(column)
    value = value.strip() if isinstance(value, str) else None
    return value or None


def parse_money(raw: str, currency: str) -> Decimal:
    if not AMOUNT.match(raw):
        raise RowError(f"balance {raw!r} is not a decimal amount such as 120.50")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise RowError(f"balance {raw!r} is not a decimal amount") from None
    places = get_currency_precision(currency)
    if -amount.as_tuple().exponent > places:  # type: ignore[operator]
        raise RowError(f"balance {raw} has more than {places} decimals for {currency}")
    if amount <= 0:
        raise RowError("balance must be greater than 0")
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
    try:
        Locale.parse(raw.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        raise RowError(f"locale {raw!r} is not a BCP 47 language tag we know") from None
    return raw.replace("_", "-")


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


def _due_at(row: Mapping[str, str | None], zone: str, now: datetime) -> datetime:
    dpd, due = _text(row, "days_past_due"), _text(row, "due_date")
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
    account_id = _text(row, "account_id")
    if account_id is None:
        raise RowError("account_id is required")
    if not ACCOUNT_ID.match(account_id):
        raise RowError(f"account_id {account_id!r} may hold only letters, digits, . _ -")
    name = _text(row, "name")
    if name is None:
        raise RowError("name is required")
    currency = (_text(row, "currency") or "").upper()
    if not currency:
        raise RowError("currency is required")
    if currency not in list_currencies():
        raise RowError(f"currency {currency!r} is not an ISO 4217 code")
    raw_balance = _text(row, "balance")
    if raw_balance is None:
        raise RowError("balance is required")
    balance = parse_money(raw_balance, currency)
    email = _text(row, "email")
    if email is not None and not EMAIL.match(email):
        raise RowError(f"email {email!r} is not an email address")
    country = _country(_text(row, "country"))
    number = _phone(_text(row, "phone"), country)
    try:
        zones = candidate_zones(_text(row, "timezone"), number, country, now)
    except ZoneError as exc:
        raise RowError(str(exc)) from None
    ladder_name = _text(row, "ladder") or default_ladder
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
        address=_text(row, "address"),
        postal_code=_text(row, "postal_code"),
        city=_text(row, "city"),
        country=country,
        locale=_locale(_text(row, "locale"), default_locale),
        zones=zones,
    )
    return AccountInput(
        account_id=account_id,
        debtor=debtor,
        balance=balance,
        currency=currency,
        due_at=_due_at(row, debtor.primary_zone, now),
        ladder=ladder,
    )


def read_accounts(
    path: Path,
    *,
    ladders: Mapping[str, Ladder],
    default_ladder: str | None,
    default_locale: str,
    now: datetime,
) -> AccountsFile:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise AccountsFileError(f"{path}: {exc.strerror or exc}") from None
    with handle:
        # csv.reader rather than DictReader: it yields blank lines too, so the first physical
        # line of every record (which ops look for) is one past the previous record's last.
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise AccountsFileError(f"{path}: not a UTF-8 CSV file ({exc})") from None
        if not header:
            raise AccountsFileError(f"{path}: empty file (a header row is required)")
        columns = [column.strip() for column in header]
        missing = [column for column in REQUIRED_COLUMNS if column not in columns]
        if missing:
            raise AccountsFileError(f"{path}:1: missing column(s): {', '.join(missing)}")
        warnings = [
            f"{path}:1: unknown column {column!r} ignored"
            for column in columns
            if column not in KNOWN_COLUMNS
        ]
        accounts: list[tuple[int, AccountInput]] = []
        problems: list[RowProblem] = []
        first_seen: dict[str, int] = {}
        line = last_line = reader.line_num
        try:
            for fields in reader:
                line, last_line = last_line + 1, reader.line_num
                if not any(field.strip() for field in fields):
                    continue
                row = dict(zip(columns, fields, strict=False))
                if len(fields) > len(columns):
                    problems.append(RowProblem(line, _text(row, "account_id"), "too many fields"))
                    continue
                try:
                    account = build_account(
                        row,
                        ladders=ladders,
                        default_ladder=default_ladder,
                        default_locale=default_locale,
                        now=now,
                    )
                except RowError as exc:
                    problems.append(RowProblem(line, _text(row, "account_id"), str(exc)))
                    continue
                if account.account_id in first_seen:
                    problems.append(
                        RowProblem(
                            line,
                            account.account_id,
                            f"duplicate account_id (first on line "
                            f"{first_seen[account.account_id]})",
                        )
                    )
                    continue
                first_seen[account.account_id] = line
                accounts.append((line, account))
        except (csv.Error, UnicodeDecodeError) as exc:
            problems.append(RowProblem(last_line + 1, None, f"unreadable row: {exc}"))
    return AccountsFile(accounts, problems, warnings)
