"""Account intake: the CSV reader (intake/accounts_csv.py) and time-zone evidence (intake/zones.py).

`now` is fixed at Monday 2038-01-04 06:00 UTC (07:00 in Paris, still Sunday evening in
California), so local "today" differs between zones and every due_at is exact.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest

from config.ladder_loader import load_catalog
from intake.accounts_csv import RowError, build_account, parse_money
from intake.accounts_file import AccountsFileError, RowProblem, read_accounts
from intake.zones import ZoneError, candidate_zones

LADDERS = load_catalog(Path(__file__).resolve().parent.parent / "config" / "ladders")
NOW = datetime(2038, 1, 4, 6, 0, tzinfo=UTC)
EXAMPLE_CSV = Path("/work/shared/spec/accounts.example.csv")

COLUMNS = [
    "account_id",
    "name",
    "email",
    "phone",
    "country",
    "timezone",
    "locale",
    "balance",
    "currency",
    "days_past_due",
    "due_date",
    "ladder",
]
GOOD = {
    "account_id": "G-1",
    "name": "Claire Martin",
    "email": "claire@example.org",
    "phone": "+33612345678",
    "country": "FR",
    "timezone": "Europe/Paris",
    "locale": "fr",
    "balance": "120.50",
    "currency": "EUR",
    "days_past_due": "0",
    "due_date": "",
    "ladder": "consumer-standard",
}


def csv_text(rows: list[dict[str, str]], columns: list[str] = COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "") for column in columns})
    return buffer.getvalue()


def read(tmp_path: Path, text: str, default_ladder: str | None = "consumer-standard"):
    path = tmp_path / "accounts.csv"
    path.write_text(text, encoding="utf-8")
    return read_accounts(
        path, ladders=LADDERS, default_ladder=default_ladder, default_locale="en", now=NOW
    )


def row(**changes: str) -> dict[str, str]:
    return {**GOOD, **changes}


def build(**changes: str | None):
    values = {key: value for key, value in {**GOOD, **changes}.items() if value is not None}
    return build_account(
        values, ladders=LADDERS, default_ladder="consumer-standard", default_locale="en", now=NOW
    )


# --- the shared example ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example():
    if not EXAMPLE_CSV.exists():
        pytest.skip("shared spec not mounted")
    return read_accounts(
        EXAMPLE_CSV, ladders=LADDERS, default_ladder=None, default_locale="en", now=NOW
    )


def test_example_csv_parses_to_five_accounts_without_problems(example):
    assert [account.account_id for _, account in example.accounts] == [
        "A-1001",
        "A-1002",
        "A-1003",
        "A-1004",
        "A-1005",
    ]
    assert [line for line, _ in example.accounts] == [2, 3, 4, 5, 6]
    assert example.problems == []
    assert example.warnings == []


def test_example_csv_balances_are_exact_decimals(example):
    balances = {account.account_id: account.balance for _, account in example.accounts}
    assert balances == {
        "A-1001": Decimal("120.50"),
        "A-1002": Decimal("89.90"),
        "A-1003": Decimal("310.00"),
        "A-1004": Decimal("450.00"),
        "A-1005": Decimal("75.00"),
    }
    for balance in balances.values():
        assert isinstance(balance, Decimal)
    assert str(balances["A-1001"]) == "120.50"
    currencies = {account.account_id: account.currency for _, account in example.accounts}
    assert currencies["A-1004"] == "PLN"
    assert currencies["A-1005"] == "USD"


def test_example_csv_phones_are_e164(example):
    phones = {account.account_id: account.debtor.phone for _, account in example.accounts}
    assert phones == {
        "A-1001": "+33612345678",
        "A-1002": "+393471234567",
        "A-1003": "+34612345678",
        "A-1004": "+48601234567",
        "A-1005": "+14155550123",
    }


def test_example_csv_zones_come_from_timezone_else_phone(example):
    zones = {account.account_id: account.debtor.zones for _, account in example.accounts}
    assert zones == {
        "A-1001": ("Europe/Paris",),
        "A-1002": ("Europe/Rome",),  # no timezone: from +39, narrowed to IT
        "A-1003": ("Europe/Madrid",),
        "A-1004": ("Europe/Warsaw",),
        "A-1005": ("America/Los_Angeles",),  # no timezone: from +1 415
    }


def test_example_csv_due_at_is_local_midnight_of_the_due_date(example):
    due = {account.account_id: account.due_at for _, account in example.accounts}
    # days_past_due counts back from the debtor's local today.
    assert due["A-1001"] == datetime(2038, 1, 3, 23, 0, tzinfo=UTC)  # 2038-01-04 Paris
    assert due["A-1002"] == datetime(2037, 12, 31, 23, 0, tzinfo=UTC)  # 2038-01-01 Rome
    assert due["A-1004"] == datetime(2037, 12, 22, 23, 0, tzinfo=UTC)  # 2037-12-23 Warsaw
    # 06:00Z is still 2038-01-03 in California: 1 day past due → 2038-01-02 local midnight.
    assert due["A-1005"] == datetime(2038, 1, 2, 8, 0, tzinfo=UTC)
    # due_date 2026-11-10 → local midnight in Madrid (CET) is 23:00Z the day before.
    assert due["A-1003"] == datetime(2026, 11, 9, 23, 0, tzinfo=UTC)
    madrid = due["A-1003"].astimezone(ZoneInfo("Europe/Madrid"))
    assert (madrid.date().isoformat(), madrid.hour, madrid.minute) == ("2026-11-10", 0, 0)


def test_example_csv_locales_and_ladders(example):
    locales = {account.account_id: account.debtor.locale for _, account in example.accounts}
    assert locales == {
        "A-1001": "fr",
        "A-1002": "it",
        "A-1003": "es",
        "A-1004": "pl",
        "A-1005": "en",
    }
    assert {account.ladder.name for _, account in example.accounts} == {"consumer-standard"}
    first = example.accounts[0][1]
    assert first.debtor.email == "claire.martin@example.org"
    assert first.debtor.city == "Lyon"
    assert first.debtor.postal_code == "69003"
    assert first.debtor.country == "FR"


# --- bad rows: each one reported, the good ones kept -----------------------------------------

BAD_ROWS = [
    pytest.param({"name": ""}, "name", "name is required", id="missing-name"),
    pytest.param(
        {"balance": "12.345"},
        "balance",
        "balance 12.345 has more than 2 decimals for EUR",
        id="balance-too-many-decimals",
    ),
    pytest.param(
        {"balance": "-5"},
        "balance",
        "balance '-5' is not a decimal amount such as 120.50",
        id="balance-negative",
    ),
    pytest.param(
        {"balance": "1e3"},
        "balance",
        "balance '1e3' is not a decimal amount such as 120.50",
        id="balance-exponent",
    ),
    pytest.param({"balance": "0"}, "balance", "balance must be greater than 0", id="balance-zero"),
    pytest.param(
        {"balance": "0.00"}, "balance", "balance must be greater than 0", id="balance-zero-cents"
    ),
    pytest.param({"balance": ""}, "balance", "balance is required", id="balance-empty"),
    pytest.param(
        {"balance": "1,200.00"},
        "balance",
        "balance '1,200.00' is not a decimal amount such as 120.50",
        id="balance-grouping",
    ),
    pytest.param(
        {"currency": "EURO"},
        "currency",
        "currency 'EURO' is not an ISO 4217 code",
        id="currency-euro",
    ),
    pytest.param({"currency": ""}, "currency", "currency is required", id="currency-missing"),
    pytest.param(
        {"phone": "12345"}, "phone", "phone '12345' is not a valid number", id="phone-short"
    ),
    pytest.param(
        {"phone": "12345", "country": "", "timezone": ""},
        "phone",
        "phone '12345' is not a phone number (national numbers need country)",
        id="phone-national-without-country",
    ),
    pytest.param(
        {"days_past_due": "3", "due_date": "2037-12-01"},
        "due_date",
        "give days_past_due or due_date, not both",
        id="both-dpd-and-due-date",
    ),
    pytest.param(
        {"days_past_due": "", "due_date": ""},
        "due_date",
        "days_past_due or due_date is required",
        id="neither-dpd-nor-due-date",
    ),
    pytest.param(
        {"days_past_due": "", "due_date": "2038-02-01"},
        "due_date",
        "due_date 2038-02-01 is in the future: the account is not overdue yet",
        id="due-date-in-future",
    ),
    pytest.param(
        {"days_past_due": "", "due_date": "01/12/2026"},
        "due_date",
        "due_date '01/12/2026' is not an ISO date such as 2026-11-10",
        id="due-date-not-iso",
    ),
    pytest.param(
        {"days_past_due": "-3"},
        "days_past_due",
        "days_past_due '-3' is not a whole number of days",
        id="dpd-negative",
    ),
    pytest.param(
        {"days_past_due": "2.5"},
        "days_past_due",
        "days_past_due '2.5' is not a whole number of days",
        id="dpd-fraction",
    ),
    pytest.param(
        {"ladder": "nope"},
        "ladder",
        "unknown ladder 'nope' (known: b2b-net30, consumer-standard)",
        id="unknown-ladder",
    ),
    pytest.param(
        {"timezone": "Mars/Base"},
        "time zone",
        "unknown time zone 'Mars/Base' (use an IANA name such as Europe/Paris)",
        id="bad-timezone",
    ),
    pytest.param(
        {"country": "XX"},
        "country",
        "country 'XX' is not an ISO 3166 alpha-2 code",
        id="bad-country",
    ),
    pytest.param(
        {"locale": "xx-QQ"},
        "locale",
        "locale 'xx-QQ' is not a BCP 47 language tag we know",
        id="unknown-locale",
    ),
    pytest.param(
        {"locale": "not a locale"},
        "locale",
        "locale 'not a locale' is not a BCP 47 language tag we know",
        id="garbage-locale",
    ),
    pytest.param(
        {"email": "claire-at-example.org"},
        "email",
        "email 'claire-at-example.org' is not an email address",
        id="bad-email",
    ),
    pytest.param(
        {"account_id": "A 1"},
        "account_id",
        "account_id 'A 1' may hold only letters, digits, . _ -",
        id="bad-account-id",
    ),
    pytest.param(
        {"timezone": "", "phone": "", "country": ""},
        "time zone",
        "cannot tell the time zone: give timezone, a phone number or a country",
        id="no-zone-evidence",
    ),
    pytest.param(
        {"balance": "5"},
        "min_balance",
        "balance 5.00 is at or below the ladder consumer-standard's min_balance 10.00: "
        "nothing to collect",
        id="balance-below-min-balance",
    ),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD_ROWS)
def test_bad_row_is_reported_with_line_and_field_while_good_rows_go_on(
    tmp_path: Path, changes: dict[str, str], field: str, message: str
):
    bad_id = changes.get("account_id", "B-1")
    text = csv_text(
        [
            row(account_id="G-1"),
            row(**{"account_id": "B-1", **changes}),
            row(account_id="G-2"),
        ]
    )
    result = read(tmp_path, text)
    assert [(line, account.account_id) for line, account in result.accounts] == [
        (2, "G-1"),
        (4, "G-2"),
    ]
    assert result.problems == [RowProblem(3, bad_id, message)]
    assert field in result.problems[0].message
    assert str(result.problems[0]) == f"line 3 ({bad_id}): {message}"


# --- balance against the ladder's min_balance --------------------------------------------------


@pytest.mark.parametrize(
    ("ladder", "balance", "min_balance"),
    [
        ("consumer-standard", "10.00", "10.00"),
        ("consumer-standard", "0.01", "10.00"),
        ("b2b-net30", "50", "50.00"),
        ("b2b-net30", "49.99", "50.00"),
    ],
)
def test_balance_at_or_below_the_ladders_min_balance_is_refused(
    ladder: str, balance: str, min_balance: str
):
    with pytest.raises(RowError) as raised:
        build(ladder=ladder, balance=balance)
    shown = f"{Decimal(balance):.2f}"
    assert str(raised.value) == (
        f"balance {shown} is at or below the ladder {ladder}'s min_balance {min_balance}: "
        "nothing to collect"
    )


@pytest.mark.parametrize(
    ("ladder", "balance"), [("consumer-standard", "10.01"), ("b2b-net30", "50.01")]
)
def test_balance_just_above_the_ladders_min_balance_is_accepted(ladder: str, balance: str):
    assert build(ladder=ladder, balance=balance).balance == Decimal(balance)


def test_min_balance_is_that_of_the_rows_own_ladder(tmp_path: Path):
    text = csv_text(
        [
            row(account_id="G-1", balance="20.00", ladder="consumer-standard"),  # line 2
            row(account_id="B-1", balance="20.00", ladder="b2b-net30"),  # line 3: min 50.00
            row(account_id="G-2", balance="60.00", ladder="b2b-net30"),  # line 4
        ]
    )
    result = read(tmp_path, text)
    assert [(line, account.account_id) for line, account in result.accounts] == [
        (2, "G-1"),
        (4, "G-2"),
    ]
    assert [str(problem) for problem in result.problems] == [
        "line 3 (B-1): balance 20.00 is at or below the ladder b2b-net30's min_balance 50.00: "
        "nothing to collect"
    ]


def test_several_bad_rows_each_get_their_own_line(tmp_path: Path):
    text = csv_text(
        [
            row(account_id="B-1", name=""),
            row(account_id="G-1"),
            row(account_id="B-2", balance="1e3"),
            row(account_id="B-3", currency="EURO"),
            row(account_id="G-2"),
        ]
    )
    result = read(tmp_path, text)
    assert [(p.line, p.account_id) for p in result.problems] == [(2, "B-1"), (4, "B-2"), (5, "B-3")]
    assert [line for line, _ in result.accounts] == [3, 6]


def test_duplicate_account_id_is_refused_naming_the_first_line(tmp_path: Path):
    text = csv_text([row(account_id="A-1"), row(account_id="B-1"), row(account_id="A-1")])
    result = read(tmp_path, text)
    assert [account.account_id for _, account in result.accounts] == ["A-1", "B-1"]
    assert result.problems == [RowProblem(4, "A-1", "duplicate account_id (first on line 2)")]


def test_duplicate_of_a_bad_row_is_not_a_duplicate(tmp_path: Path):
    text = csv_text([row(account_id="A-1", balance="0"), row(account_id="A-1")])
    result = read(tmp_path, text)
    assert [line for line, _ in result.accounts] == [3]
    assert [p.line for p in result.problems] == [2]


def test_quoted_newline_keeps_later_line_numbers_right(tmp_path: Path):
    text = csv_text(
        [
            row(account_id="G-1", name="Claire\nMartin"),  # lines 2-3
            row(account_id="B-1", balance="0"),  # line 4
            row(account_id="G-2"),  # line 5
        ]
    )
    assert text.count("\n") == 5
    result = read(tmp_path, text)
    assert result.problems == [RowProblem(4, "B-1", "balance must be greater than 0")]
    assert [account.account_id for _, account in result.accounts] == ["G-1", "G-2"]
    assert result.accounts[1][0] == 5
    assert result.accounts[0][1].debtor.name == "Claire\nMartin"


def test_bad_row_spanning_two_lines_is_reported_at_its_first_line(tmp_path: Path):
    text = csv_text(
        [
            row(account_id="G-1"),  # line 2
            row(account_id="B-1", name="Claire\nMartin", balance="0"),  # lines 3-4
        ]
    )
    result = read(tmp_path, text)
    assert [p.line for p in result.problems] == [3]


def test_superscript_days_past_due_is_a_row_problem_not_a_crash(tmp_path: Path):
    text = csv_text([row(account_id="B-1", days_past_due="²"), row(account_id="G-1")])
    result = read(tmp_path, text)
    assert [account.account_id for _, account in result.accounts] == ["G-1"]
    assert [p.line for p in result.problems] == [2]
    assert "days_past_due" in result.problems[0].message


@pytest.mark.parametrize("country", ["001", "ZZ"])
def test_non_iso_country_codes_are_refused(country: str):
    with pytest.raises(RowError, match="country"):
        build(country=country, phone=None, timezone=None)


def test_row_with_too_many_fields_is_reported(tmp_path: Path):
    bad_line = csv_text([row(account_id="B-1")]).splitlines()[1]
    text = csv_text([row(account_id="G-1")]) + bad_line + ",extra\n"
    result = read(tmp_path, text)
    assert result.problems == [RowProblem(3, "B-1", "too many fields")]
    assert len(result.accounts) == 1


def test_blank_lines_are_skipped_and_counted(tmp_path: Path):
    lines = csv_text([row(account_id="G-1"), row(account_id="B-1", name="")]).splitlines()
    text = "\n".join([lines[0], lines[1], "", ",,,,,,,,,,,", lines[2]]) + "\n"
    result = read(tmp_path, text)
    assert [line for line, _ in result.accounts] == [2]
    assert result.problems == [RowProblem(5, "B-1", "name is required")]


# --- the file as a whole -----------------------------------------------------------------------


def test_missing_balance_column_raises_accounts_file_error(tmp_path: Path):
    columns = [column for column in COLUMNS if column != "balance"]
    with pytest.raises(AccountsFileError, match="missing column\\(s\\): balance"):
        read(tmp_path, csv_text([row()], columns))


def test_missing_several_required_columns_are_all_named(tmp_path: Path):
    with pytest.raises(AccountsFileError) as caught:
        read(tmp_path, "account_id,email\nA-1,a@example.org\n")
    assert str(caught.value).endswith(":1: missing column(s): name, balance, currency")


def test_missing_file_raises_accounts_file_error(tmp_path: Path):
    with pytest.raises(AccountsFileError, match=r"absent\.csv"):
        read_accounts(
            tmp_path / "absent.csv",
            ladders=LADDERS,
            default_ladder=None,
            default_locale="en",
            now=NOW,
        )


def test_empty_file_raises_accounts_file_error(tmp_path: Path):
    with pytest.raises(AccountsFileError, match="empty file"):
        read(tmp_path, "")


def test_unknown_extra_column_is_a_warning_not_an_error(tmp_path: Path):
    result = read(tmp_path, csv_text([row(notes="call after 5")], [*COLUMNS, "notes"]))
    assert [account.account_id for _, account in result.accounts] == ["G-1"]
    assert result.problems == []
    assert len(result.warnings) == 1
    assert result.warnings[0].endswith(":1: unknown column 'notes' ignored")


def test_columns_in_any_order_with_spaces_and_bom(tmp_path: Path):
    text = (
        "\ufeff currency , balance ,name,account_id,timezone,days_past_due\n"
        "EUR,10.50,Claire,A-1,Europe/Paris,2\n"
    )
    result = read(tmp_path, text)
    [(line, account)] = result.accounts
    assert (line, account.account_id, account.balance) == (2, "A-1", Decimal("10.50"))
    assert result.warnings == []


def test_ladder_column_falls_back_to_default_ladder(tmp_path: Path):
    text = csv_text([row(account_id="A-1", ladder=""), row(account_id="A-2")])
    result = read(tmp_path, text, default_ladder="b2b-net30")
    ladders = {account.account_id: account.ladder.name for _, account in result.accounts}
    assert ladders == {"A-1": "b2b-net30", "A-2": "consumer-standard"}


def test_no_ladder_column_and_no_default_is_a_row_problem(tmp_path: Path):
    result = read(tmp_path, csv_text([row(ladder="")]), default_ladder=None)
    assert result.problems == [
        RowProblem(2, "G-1", "no ladder: fill the ladder column or pass --ladder")
    ]


# --- build_account and parse_money on their own ----------------------------------------------


def test_national_phone_with_country_becomes_e164():
    assert build(phone="06 12 34 56 78").debtor.phone == "+33612345678"


def test_empty_locale_falls_back_to_default_and_underscore_becomes_hyphen():
    assert build(locale=None).debtor.locale == "en"
    assert build(locale="pt_BR").debtor.locale == "pt-BR"
    assert build(locale="pt-BR").debtor.locale == "pt-BR"


def test_lowercase_country_and_currency_are_normalised():
    account = build(country="fr", currency="eur")
    assert account.debtor.country == "FR"
    assert account.currency == "EUR"


def test_due_date_today_is_accepted_and_local_today_decides():
    # 06:00Z: already 2038-01-04 in Paris, still 2038-01-03 in Los Angeles.
    assert build(days_past_due=None, due_date="2038-01-04").due_at == datetime(
        2038, 1, 3, 23, 0, tzinfo=UTC
    )
    with pytest.raises(RowError, match="in the future"):
        build(
            days_past_due=None,
            due_date="2038-01-04",
            timezone="America/Los_Angeles",
            phone="+14155550123",
            country="US",
        )


def test_account_without_email_or_phone_is_accepted_with_timezone():
    account = build(email=None, phone=None)
    assert account.debtor.email is None
    assert account.debtor.phone is None
    assert account.debtor.zones == ("Europe/Paris",)


def test_parse_money_keeps_exact_decimal_places():
    amount = parse_money("120.50", "EUR")
    assert amount == Decimal("120.50")
    assert str(amount) == "120.50"
    assert parse_money("7", "EUR") == Decimal("7")


def test_parse_money_follows_currency_precision():
    assert parse_money("1500", "JPY") == Decimal("1500")
    with pytest.raises(RowError, match="more than 0 decimals for JPY"):
        parse_money("1500.5", "JPY")
    assert parse_money("1.234", "KWD") == Decimal("1.234")
    with pytest.raises(RowError, match="more than 2 decimals for EUR"):
        parse_money("12.345", "EUR")


@pytest.mark.parametrize("raw", ["1e3", "-5", "+5", "12.", ".5", "1 000", "NaN", "Infinity"])
def test_parse_money_refuses_anything_but_plain_decimals(raw: str):
    with pytest.raises(RowError, match="is not a decimal amount"):
        parse_money(raw, "EUR")


# --- zones --------------------------------------------------------------------------------------


def test_us_toll_free_number_gives_several_us_zones_westernmost_first():
    number = phonenumbers.parse("+1 800 555 0199", None)
    zones = candidate_zones(None, number, "US", NOW)
    assert len(zones) > 3
    for zone in zones:
        assert zone.startswith("America/") or zone == "Pacific/Honolulu", zone
    assert "America/New_York" in zones
    assert "America/Los_Angeles" in zones
    assert "Pacific/Honolulu" in zones
    offsets = [NOW.astimezone(ZoneInfo(zone)).utcoffset() for zone in zones]
    assert offsets == sorted(offsets)
    assert zones[-1] == "America/New_York"
    assert NOW.astimezone(ZoneInfo(zones[0])).utcoffset().total_seconds() == -10 * 3600


def test_us_toll_free_row_keeps_every_zone_in_the_account(tmp_path: Path):
    account = build(phone="+1 800 555 0199", country="US", timezone=None, currency="USD")
    assert len(account.debtor.zones) > 3
    assert account.debtor.primary_zone == account.debtor.zones[0]
    assert account.debtor.phone == "+18005550199"


def test_timezone_column_wins_over_phone_and_country():
    number = phonenumbers.parse("+14155550123", None)
    assert candidate_zones("Europe/Paris", number, "US", NOW) == ("Europe/Paris",)


def test_phone_zones_are_narrowed_to_the_country():
    number = phonenumbers.parse("+393471234567", None)
    assert candidate_zones(None, number, "IT", NOW) == ("Europe/Rome",)
    assert candidate_zones(None, number, None, NOW)[0] == "Europe/Rome"


def test_country_alone_gives_its_zones():
    assert candidate_zones(None, None, "FR", NOW) == ("Europe/Paris",)
    us = candidate_zones(None, None, "US", NOW)
    assert "America/Chicago" in us
    offsets = [NOW.astimezone(ZoneInfo(zone)).utcoffset().total_seconds() for zone in us]
    assert offsets == sorted(offsets)
    assert (offsets[0], offsets[-1]) == (-10 * 3600, -5 * 3600)


def test_no_timezone_phone_or_country_is_a_zone_error():
    with pytest.raises(ZoneError, match="cannot tell the time zone"):
        candidate_zones(None, None, None, NOW)


def test_bad_timezone_is_a_zone_error():
    with pytest.raises(ZoneError, match="Mars/Base"):
        candidate_zones("Mars/Base", None, "FR", NOW)
