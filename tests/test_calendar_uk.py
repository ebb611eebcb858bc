"""The uk calendar (issue 12, FCA CONC 7.9): no Sunday, no bank holiday of the debtor's nation.

Dates checked with Python and the installed `holidays` package: 2026-11-29 and 2026-03-15 are
Sundays; Monday 2026-11-30 (St Andrew's Day) and Friday 2026-01-02 are Scottish bank holidays
only; Tuesday 2026-03-17 (St Patrick's Day) is a Northern Irish one only. London is on GMT
(UTC+0) on every date used, so local 08:00 is 08:00Z.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.account_activities import AccountActivities
from activities.calendar import (
    SUNDAY,
    ContactCalendar,
    contact_calendar,
    contact_deadline,
    is_contact_day,
    next_open_moment,
    scheduled_dates,
    window_end,
)
from config.ladder import ContactWindow
from workflows.activity_types import DateSpec, ScheduleRequest, WindowRequest

EVERY_DAY = ContactWindow(
    start=time(8, 0), end=time(21, 0), days=("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)
LONDON = ("Europe/London",)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def uk(region: str | None, *, allowed: bool = False, holidays: str | None = None):
    return contact_calendar(holidays, "uk", region, allowed)


def test_the_dates_are_what_the_tests_assume():
    assert date(2026, 11, 29).strftime("%a") == "Sun"
    assert date(2026, 11, 30).strftime("%a") == "Mon"
    assert date(2026, 3, 15).strftime("%a") == "Sun"
    assert date(2026, 3, 17).strftime("%a") == "Tue"
    assert date(2026, 1, 2).strftime("%a") == "Fri"


# --- which calendar a profile imposes ------------------------------------------------------


def test_other_jurisdictions_keep_the_ladders_holidays_alone():
    for jurisdiction in ("us", "eu", "none"):
        assert contact_calendar("US", jurisdiction, "SCT") == ContactCalendar(("US",))
    assert contact_calendar(None, "none") == ContactCalendar()


def test_uk_closes_sunday_and_the_nations_bank_holidays_on_top_of_the_ladders():
    assert uk("SCT", holidays="FR") == ContactCalendar(("FR", "GB-SCT"), frozenset({SUNDAY}))
    assert uk(None).holidays == ("GB-ENG", "GB-NIR", "GB-SCT", "GB-WLS")
    assert uk("XYZ").holidays == ("GB-ENG", "GB-NIR", "GB-SCT", "GB-WLS")  # unknown: all four
    assert uk("ENG", holidays="GB-ENG").holidays == ("GB-ENG",)  # not twice


def test_uk_explicitly_allowed_keeps_the_ladders_calendar():
    assert uk("SCT", allowed=True) == ContactCalendar()
    assert uk("SCT", allowed=True, holidays="GB") == ContactCalendar(("GB",))


# --- Sunday ---------------------------------------------------------------------------------


def test_a_window_listing_sunday_still_skips_sunday_for_uk():
    saturday_night = utc(2026, 3, 14, 22, 0)
    assert not is_contact_day(date(2026, 3, 15), EVERY_DAY, uk("ENG"))
    opens = next_open_moment(saturday_night, LONDON, EVERY_DAY, uk("ENG"))
    assert opens == utc(2026, 3, 16, 8, 0)  # Monday


def test_sunday_explicitly_allowed_is_open():
    saturday_night = utc(2026, 3, 14, 22, 0)
    opens = next_open_moment(saturday_night, LONDON, EVERY_DAY, uk("ENG", allowed=True))
    assert opens == utc(2026, 3, 15, 8, 0)


def test_other_jurisdictions_contact_on_sunday_when_the_window_lists_it():
    saturday_night = utc(2026, 3, 14, 22, 0)
    calendar = contact_calendar(None, "none", "ENG")
    assert next_open_moment(saturday_night, LONDON, EVERY_DAY, calendar) == utc(2026, 3, 15, 8)
    # A plain holidays code (or None), as before issue 12, behaves the same.
    assert next_open_moment(saturday_night, LONDON, EVERY_DAY, None) == utc(2026, 3, 15, 8)


# --- the nations' bank holidays -------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("SCT", utc(2026, 12, 1, 8)),  # Sunday closed, Monday St Andrew's Day closed
        ("ENG", utc(2026, 11, 30, 8)),
        ("WLS", utc(2026, 11, 30, 8)),
        ("NIR", utc(2026, 11, 30, 8)),
        (None, utc(2026, 12, 1, 8)),  # unknown nation: Scotland's holidays too
    ],
)
def test_st_andrews_day_is_closed_in_scotland_only(region: str | None, expected: datetime):
    saturday_night = utc(2026, 11, 28, 22, 0)
    assert next_open_moment(saturday_night, LONDON, EVERY_DAY, uk(region)) == expected


@pytest.mark.parametrize(
    ("region", "expected"),
    [("SCT", utc(2026, 1, 3, 8)), ("ENG", utc(2026, 1, 2, 8)), (None, utc(2026, 1, 3, 8))],
)
def test_second_of_january_is_closed_in_scotland_only(region: str | None, expected: datetime):
    new_years_day = utc(2026, 1, 1, 10, 0)  # a bank holiday everywhere
    assert next_open_moment(new_years_day, LONDON, EVERY_DAY, uk(region)) == expected


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("NIR", utc(2026, 3, 18, 8)),
        (None, utc(2026, 3, 18, 8)),
        ("ENG", utc(2026, 3, 17, 8)),
        ("SCT", utc(2026, 3, 17, 8)),
    ],
)
def test_st_patricks_day_is_closed_in_northern_ireland_and_when_unknown(
    region: str | None, expected: datetime
):
    monday_night = utc(2026, 3, 16, 21, 30)
    assert next_open_moment(monday_night, LONDON, EVERY_DAY, uk(region)) == expected


def test_bank_holidays_are_open_when_explicitly_allowed():
    monday_night = utc(2026, 3, 16, 21, 30)
    opens = next_open_moment(monday_night, LONDON, EVERY_DAY, uk("NIR", allowed=True))
    assert opens == utc(2026, 3, 17, 8)


# --- the other look-ups take the same calendar ----------------------------------------------


def test_window_end_is_none_on_a_closed_day():
    assert window_end(utc(2026, 3, 17, 12), LONDON, EVERY_DAY, uk("NIR")) is None
    assert window_end(utc(2026, 3, 15, 12), LONDON, EVERY_DAY, uk("ENG")) is None  # Sunday
    assert window_end(utc(2026, 3, 17, 12), LONDON, EVERY_DAY, uk("ENG")) == utc(2026, 3, 17, 21)


def test_a_deadline_moves_past_sunday_and_the_bank_holiday():
    # Sent Friday 2026-11-20, 9 days → Sunday 29; Monday 30 is St Andrew's Day in Scotland.
    sent = utc(2026, 11, 20, 10)
    assert contact_deadline(sent, 9, LONDON[0], EVERY_DAY, uk("SCT")) == date(2026, 12, 1)
    assert contact_deadline(sent, 9, LONDON[0], EVERY_DAY, uk("ENG")) == date(2026, 11, 30)
    assert contact_deadline(sent, 9, LONDON[0], EVERY_DAY, None) == date(2026, 11, 29)


# --- the activities pass the request's profile fields ---------------------------------------


def window_request(region: str | None, *, jurisdiction: str = "uk", allowed: bool = False):
    return WindowRequest(
        not_before=utc(2026, 11, 28, 22, 0),
        zones=LONDON,
        window=EVERY_DAY,
        holidays=None,
        jurisdiction=jurisdiction,
        region=region,
        sunday_and_bank_holiday_contact=allowed,
    )


def run_next_contact_time(request: WindowRequest) -> datetime:
    activities = AccountActivities(
        renderer=None,  # type: ignore[arg-type]  # not used by next_contact_time
        transport=None,  # type: ignore[arg-type]
        payment_link_template="https://pay.example/{account_id}",
        handoff_dir=Path("unused"),
    )
    return asyncio.run(ActivityEnvironment().run(activities.next_contact_time, request))


def test_next_contact_time_applies_the_uk_calendar():
    assert run_next_contact_time(window_request("SCT")) == utc(2026, 12, 1, 8)
    assert run_next_contact_time(window_request("ENG")) == utc(2026, 11, 30, 8)
    assert run_next_contact_time(window_request("SCT", allowed=True)) == utc(2026, 11, 29, 8)
    assert run_next_contact_time(window_request("SCT", jurisdiction="us")) == utc(2026, 11, 29, 8)


def schedule_request(region: str | None, due: date, *, jurisdiction: str = "uk"):
    return ScheduleRequest(
        now=utc(2026, 11, 20, 12),
        zones=LONDON,
        window=EVERY_DAY,
        holidays=None,
        grace_days=0,
        days_before=2,
        items=[DateSpec(date=due)],
        jurisdiction=jurisdiction,
        region=region,
    )


def test_reminders_land_on_open_days():
    # Due Tuesday 1 December: the ideal reminder day is Sunday 29, closed → Saturday 28.
    answer = scheduled_dates(schedule_request("ENG", date(2026, 12, 1)))
    assert answer.items[0].reminder_at == utc(2026, 11, 28, 8)
    # Due Wednesday 2 December: Monday 30 is St Andrew's Day in Scotland (and Sunday is
    # closed) → Saturday 28; in England Monday 30 is open.
    answer = scheduled_dates(schedule_request("SCT", date(2026, 12, 2)))
    assert answer.items[0].reminder_at == utc(2026, 11, 28, 8)
    answer = scheduled_dates(schedule_request("ENG", date(2026, 12, 2)))
    assert answer.items[0].reminder_at == utc(2026, 11, 30, 8)
    # Other jurisdictions: the Sunday the window lists.
    answer = scheduled_dates(schedule_request("ENG", date(2026, 12, 1), jurisdiction="none"))
    assert answer.items[0].reminder_at == utc(2026, 11, 29, 8)
