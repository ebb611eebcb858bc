"""Intake for compliance (issue 12): the itemization columns (CONTRACT §1) and the GB nation.

`now` is Monday 2038-01-04 06:00 UTC, as in tests/test_accounts_csv.py: 07:00 in Paris, still
Sunday 2038-01-03 in Los Angeles, so the import date differs by zone.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from config.ladder_loader import load_catalog
from intake.accounts_csv import KNOWN_COLUMNS, RowError, build_account, parse_money
from intake.accounts_file import read_accounts
from intake.itemization import ITEMIZATION_COLUMNS, ItemizationError, build_itemization
from intake.uk_regions import nation_for_postcode, postcode_area
from workflows.types import Itemization

LADDERS = load_catalog(Path(__file__).resolve().parent.parent / "config" / "ladders")
NOW = datetime(2038, 1, 4, 6, 0, tzinfo=UTC)
TODAY_PARIS = date(2038, 1, 4)

GOOD = {
    "account_id": "I-1",
    "name": "Jane Doe",
    "email": "jane@example.org",
    "country": "FR",
    "timezone": "Europe/Paris",
    "balance": "120.50",
    "currency": "EUR",
    "days_past_due": "10",
    "ladder": "consumer-standard",
}
ITEMIZED = {
    "itemization_date": "2037-12-01",
    "itemization_amount": "100.00",
    "interest_since": "15.50",
    "fees_since": "10.00",
    "payments_since": "5.00",
    "credits_since": "0",
}


def build(**changes: str | None):
    values = {key: value for key, value in {**GOOD, **changes}.items() if value is not None}
    return build_account(
        values, ladders=LADDERS, default_ladder="consumer-standard", default_locale="en", now=NOW
    )


def refused(**changes: str | None) -> str:
    with pytest.raises(RowError) as error:
        build(**changes)
    return str(error.value)


def read(tmp_path: Path, rows: list[dict[str, str]]):
    columns = list(dict.fromkeys(column for row in rows for column in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "") for column in columns})
    path = tmp_path / "accounts.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return read_accounts(
        path, ladders=LADDERS, default_ladder="consumer-standard", default_locale="en", now=NOW
    )


# --- itemization ----------------------------------------------------------------------------


def test_the_new_columns_are_known():
    for column in (*ITEMIZATION_COLUMNS, "region"):
        assert column in KNOWN_COLUMNS


def test_without_itemization_columns_the_balance_at_import_is_used():
    account = build()
    assert account.itemization == Itemization(
        date=TODAY_PARIS, amount=Decimal("120.50"), from_import=True
    )


def test_the_import_date_is_the_debtors_local_date():
    account = build(timezone="America/Los_Angeles", country="US", currency="USD")
    assert account.itemization is not None
    assert account.itemization.date == date(2038, 1, 3)  # still Sunday evening there


def test_itemization_columns_become_the_figures():
    account = build(**ITEMIZED)
    assert account.itemization == Itemization(
        date=date(2037, 12, 1),
        amount=Decimal("100.00"),
        interest=Decimal("15.50"),
        fees=Decimal("10.00"),
        payments=Decimal("5.00"),
        credits=Decimal("0"),
        from_import=False,
    )
    assert all(
        isinstance(value, Decimal)
        for value in account.itemization.model_dump(exclude={"date", "from_import"}).values()
    )


def test_missing_since_columns_are_zero():
    account = build(itemization_date="2037-12-01", itemization_amount="120.50")
    assert account.itemization is not None
    assert (account.itemization.interest, account.itemization.fees) == (0, 0)
    assert (account.itemization.payments, account.itemization.credits) == (0, 0)
    assert not account.itemization.from_import


def test_an_itemization_date_after_the_due_date_is_accepted():
    # Due 2037-12-25 (10 days past due); itemized at charge-off a week later.
    account = build(itemization_date="2038-01-01", itemization_amount="120.50")
    assert account.itemization is not None
    assert account.itemization.date == date(2038, 1, 1)


def test_an_itemization_date_today_is_accepted_but_not_tomorrow():
    assert build(itemization_date="2038-01-04", itemization_amount="120.50").itemization
    message = refused(itemization_date="2038-01-05", itemization_amount="120.50")
    assert message == "itemization_date 2038-01-05 is in the future (today is 2038-01-04)"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"itemization_amount": "120.50"},
            "partial itemization: itemization_amount given without itemization_date",
        ),
        (
            {"itemization_date": "2037-12-01"},
            "partial itemization: itemization_date given without itemization_amount",
        ),
        (
            {"fees_since": "10.00"},
            "partial itemization: fees_since given without itemization_date and itemization_amount",
        ),
        (
            {"itemization_date": "2037-12-01", "interest_since": "1.00"},
            "partial itemization: itemization_date, interest_since given without "
            "itemization_amount",
        ),
    ],
)
def test_a_partial_itemization_is_refused(changes: dict[str, str], message: str):
    assert refused(**changes).startswith(message)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"itemization_date": "01/12/2037"}, "itemization_date '01/12/2037' is not an ISO date"),
        ({"itemization_amount": "1,00"}, "itemization_amount '1,00' is not a decimal amount"),
        ({"itemization_amount": "0"}, "itemization_amount must be greater than 0"),
        ({"fees_since": "-1"}, "fees_since '-1' is not a decimal amount"),
        ({"credits_since": "1.005"}, "credits_since 1.005 has more than 2 decimals for EUR"),
    ],
)
def test_bad_itemization_cells_name_their_column(changes: dict[str, str], message: str):
    assert refused(**{**ITEMIZED, **changes}).startswith(message)


def test_zero_since_amounts_are_accepted():
    account = build(**{**ITEMIZED, "interest_since": "0.00", "fees_since": "25.50"})
    assert account.itemization is not None
    assert account.itemization.interest == 0


def test_figures_that_do_not_add_up_to_the_balance_are_refused_with_both_figures():
    message = refused(**{**ITEMIZED, "fees_since": "9.00"})
    assert message == (
        "itemization does not add up to the balance: itemization_amount 100.00 + interest "
        "15.50 + fees 9.00 - payments 5.00 - credits 0 = 119.50, but balance is 120.50"
    )


def test_trailing_zeros_do_not_count_as_a_difference():
    account = build(balance="120.5", **ITEMIZED)
    assert account.itemization is not None


def test_refusals_name_their_line_and_good_rows_go_on(tmp_path: Path):
    result = read(
        tmp_path,
        [
            {**GOOD, "account_id": "OK-1"},
            {**GOOD, "account_id": "BAD-1", "itemization_amount": "120.50"},
            {**GOOD, "account_id": "OK-2", **ITEMIZED},
            {**GOOD, "account_id": "BAD-2", **ITEMIZED, "payments_since": "6.00"},
            {
                **GOOD,
                "account_id": "BAD-3",
                "itemization_date": "2039-01-01",
                "itemization_amount": "120.50",
            },
        ],
    )
    assert [account.account_id for _, account in result.accounts] == ["OK-1", "OK-2"]
    assert [(problem.line, problem.account_id) for problem in result.problems] == [
        (3, "BAD-1"),
        (5, "BAD-2"),
        (6, "BAD-3"),
    ]
    assert "itemization_amount given without itemization_date" in str(result.problems[0])
    assert "= 119.50, but balance is 120.50" in str(result.problems[1])
    assert str(result.problems[2]).startswith(
        "line 6 (BAD-3): itemization_date 2039-01-01 is in the future"
    )
    assert result.warnings == []


def test_build_itemization_on_its_own():
    today = date(2038, 1, 4)
    assert build_itemization(None, {}, balance=Decimal("5"), today=today).from_import
    with pytest.raises(ItemizationError):
        build_itemization("2038-01-01", {}, balance=Decimal("5"), today=today)


def test_parse_money_still_speaks_of_the_balance_by_default():
    with pytest.raises(RowError, match=r"^balance must be greater than 0$"):
        parse_money("0", "EUR")
    assert parse_money("0", "EUR", column="fees_since", allow_zero=True) == 0


# --- the GB nation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("postcode", "area", "nation"),
    [
        ("EH1 1YZ", "EH", "SCT"),
        ("eh11yz", "EH", "SCT"),
        ("G2 1DY", "G", "SCT"),
        ("KW15 1AA", "KW", "SCT"),
        ("ZE1 0AA", "ZE", "SCT"),
        ("TD1 1AA", "TD", "SCT"),
        ("CF10 1EP", "CF", "WLS"),
        ("LL57 2DG", "LL", "WLS"),
        ("SA1 1AA", "SA", "WLS"),
        ("NP20 1AA", "NP", "WLS"),
        ("LD1 5AA", "LD", "WLS"),
        ("BT1 5GS", "BT", "NIR"),
        ("SW1A 1AA", "SW", "ENG"),
        ("EC1A 1BB", "EC", "ENG"),
        ("W1A 0AX", "W", "ENG"),
        ("M1 1AE", "M", "ENG"),
        ("GL1 2AA", "GL", "ENG"),  # GL, not G
        ("DE1 1AA", "DE", "ENG"),
        ("SY1 1AA", "SY", None),  # straddles England and Wales
        ("CH1 1AA", "CH", None),
        ("GY1 1AA", "GY", None),  # Guernsey: not a UK nation
        ("JE2 3AA", "JE", None),
        ("IM1 1AA", "IM", None),
        ("BF1 1AA", "BF", None),  # British Forces: not a place
        ("EH1", "EH", "SCT"),  # an outward code alone
        ("QQ1 1AA", "QQ", None),  # no such area
        ("GIR 0AA", None, None),
        ("75001", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_nation_from_the_postcode_area(postcode: str | None, area: str | None, nation):
    assert postcode_area(postcode) == area
    assert nation_for_postcode(postcode) == nation


GB = {"country": "GB", "timezone": "", "currency": "GBP", "phone": ""}


@pytest.mark.parametrize(
    ("changes", "region"),
    [
        ({**GB, "postal_code": "EH1 1YZ"}, "SCT"),
        ({**GB, "postal_code": "BT1 5GS"}, "NIR"),
        ({**GB, "postal_code": "CF10 1EP"}, "WLS"),
        ({**GB, "postal_code": "SW1A 1AA"}, "ENG"),
        ({**GB, "postal_code": "SY1 1AA"}, None),
        ({**GB, "postal_code": ""}, None),
        ({**GB, "postal_code": "not a postcode"}, None),
        # A +44 number with no country: GB.
        ({**GB, "country": "", "phone": "+447911123456", "postal_code": "EH1 1YZ"}, "SCT"),
        # Neither: no nation, whatever the postal code looks like.
        ({"postal_code": "EH1 1YZ"}, None),
        ({**GB, "country": "", "postal_code": "EH1 1YZ", "timezone": "Europe/London"}, None),
        # The region column overrides the postcode.
        ({**GB, "postal_code": "TD15 1AA", "region": "ENG"}, "ENG"),
        ({**GB, "postal_code": "SY1 1AA", "region": "wls"}, "WLS"),
        ({**GB, "postal_code": "", "region": "NIR"}, "NIR"),
        ({**GB, "country": "", "timezone": "Europe/London", "region": "SCT"}, "SCT"),
    ],
)
def test_debtor_region(changes: dict[str, str], region: str | None):
    assert build(**changes).debtor.region == region


def test_a_region_that_is_no_nation_is_refused():
    assert refused(**GB, region="Scotland") == (
        "region 'Scotland' is not one of ENG, NIR, SCT, WLS"
    )


def test_a_region_for_a_debtor_outside_gb_is_refused():
    assert refused(region="SCT") == "region SCT is for debtors in GB, not country FR"
