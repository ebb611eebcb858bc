"""Contact-window arithmetic (activities/calendar.py).

Every date used here was checked with Python: 2038-01-04 is a Monday, 2038-01-03/01-10 Sundays,
2038-03-14 (US DST starts), 2038-03-28 and 2038-10-31 (EU DST starts/ends) are Sundays,
2038-11-25 (Thanksgiving) is a Thursday, 2038-07-04 is a Sunday (observed Monday 07-05).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activities.calendar import (
    NoContactWindow,
    contact_deadline,
    is_contact_day,
    is_holiday,
    local_midnight,
    next_open_moment,
    window_end,
)
from config.ladder import ContactWindow

MON_SAT = ContactWindow(
    start=time(8, 0), end=time(21, 0), days=("mon", "tue", "wed", "thu", "fri", "sat")
)
EVERY_DAY = ContactWindow(
    start=time(8, 0), end=time(21, 0), days=("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)
PARIS = "Europe/Paris"
NEW_YORK = "America/New_York"
LOS_ANGELES = "America/Los_Angeles"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_chosen_dates_have_the_weekdays_the_tests_assume():
    assert date(2038, 1, 4).strftime("%a") == "Mon"
    assert date(2038, 1, 3).strftime("%a") == "Sun"
    assert date(2038, 1, 9).strftime("%a") == "Sat"
    assert date(2038, 3, 14).strftime("%a") == "Sun"
    assert date(2038, 3, 28).strftime("%a") == "Sun"
    assert date(2038, 10, 31).strftime("%a") == "Sun"
    assert date(2038, 11, 25).strftime("%a") == "Thu"
    assert date(2038, 7, 4).strftime("%a") == "Sun"


# --- next_open_moment, one zone --------------------------------------------------------------


def test_moment_before_window_opens_moves_to_window_start_local():
    # 06:00Z on Monday 2038-01-04 is 07:00 in Paris (CET, +01:00).
    opens = next_open_moment(utc(2038, 1, 4, 6, 0), [PARIS], MON_SAT, None)
    assert opens == utc(2038, 1, 4, 7, 0)
    assert opens.astimezone(ZoneInfo(PARIS)).time() == time(8, 0)


def test_moment_inside_window_is_returned_unchanged():
    moment = utc(2038, 1, 4, 12, 34, 56)
    assert next_open_moment(moment, [PARIS], MON_SAT, None) == moment


def test_result_is_in_utc():
    moment = datetime(2038, 1, 4, 13, 0, tzinfo=ZoneInfo(PARIS))
    result = next_open_moment(moment, [PARIS], MON_SAT, None)
    assert result == moment
    assert result.utcoffset() == timedelta(0)


def test_window_start_itself_is_open():
    moment = utc(2038, 1, 4, 7, 0)  # 08:00 Paris
    assert next_open_moment(moment, [PARIS], MON_SAT, None) == moment


def test_window_end_itself_is_closed_and_moves_to_next_day():
    # 20:00Z is 21:00 in Paris: the window is [08:00, 21:00).
    assert next_open_moment(utc(2038, 1, 4, 20, 0), [PARIS], MON_SAT, None) == utc(2038, 1, 5, 7, 0)


def test_moment_after_window_end_moves_to_next_contact_days_start():
    # Monday 21:30 Paris → Tuesday 08:00 Paris.
    assert next_open_moment(utc(2038, 1, 4, 20, 30), [PARIS], MON_SAT, None) == utc(
        2038, 1, 5, 7, 0
    )


def test_sunday_is_skipped_when_window_is_monday_to_saturday():
    # Saturday 2038-01-09 22:30 Paris → Sunday is not allowed → Monday 2038-01-11 08:00 Paris.
    opens = next_open_moment(utc(2038, 1, 9, 21, 30), [PARIS], MON_SAT, None)
    assert opens == utc(2038, 1, 11, 7, 0)
    assert opens.astimezone(ZoneInfo(PARIS)).strftime("%a %H:%M") == "Mon 08:00"


def test_moment_on_a_sunday_afternoon_waits_for_monday():
    opens = next_open_moment(utc(2038, 1, 3, 14, 0), [PARIS], MON_SAT, None)
    assert opens == utc(2038, 1, 4, 7, 0)


def test_weekday_only_window_skips_the_whole_weekend():
    weekdays = ContactWindow(start=time(9), end=time(18), days=("mon", "tue", "wed", "thu", "fri"))
    # Friday 2038-01-08 18:30 Paris → Monday 2038-01-11 09:00 Paris.
    opens = next_open_moment(utc(2038, 1, 8, 17, 30), [PARIS], weekdays, None)
    assert opens == utc(2038, 1, 11, 8, 0)


def test_us_holiday_thanksgiving_is_skipped():
    # Thursday 2038-11-25 07:00 in New York (EST) is before the window of a holiday.
    opens = next_open_moment(utc(2038, 11, 25, 12, 0), [NEW_YORK], MON_SAT, "US")
    assert opens == utc(2038, 11, 26, 13, 0)  # Friday 08:00 EST
    assert opens.astimezone(ZoneInfo(NEW_YORK)).date() == date(2038, 11, 26)


def test_inside_window_on_a_holiday_is_not_open():
    # Thanksgiving 12:00 EST: a weekday, in hours, but a public holiday.
    opens = next_open_moment(utc(2038, 11, 25, 17, 0), [NEW_YORK], MON_SAT, "US")
    assert opens == utc(2038, 11, 26, 13, 0)


def test_same_day_without_holiday_country_is_open():
    moment = utc(2038, 11, 25, 17, 0)
    assert next_open_moment(moment, [NEW_YORK], MON_SAT, None) == moment


def test_holiday_followed_by_sunday_skips_both():
    # Saturday 2038-12-25 (Christmas) in Paris, then Sunday → Monday 2038-12-27.
    assert is_holiday(date(2038, 12, 25), "FR")
    opens = next_open_moment(utc(2038, 12, 24, 21, 0), [PARIS], MON_SAT, "FR")
    assert opens == utc(2038, 12, 27, 7, 0)


# --- DST --------------------------------------------------------------------------------------


def test_new_york_dst_start_moves_0800_local_from_1300z_to_1200z():
    before = next_open_moment(utc(2038, 3, 13, 2, 0), [NEW_YORK], MON_SAT, None)
    after = next_open_moment(utc(2038, 3, 14, 2, 0), [NEW_YORK], MON_SAT, None)
    assert before == utc(2038, 3, 13, 13, 0)  # Saturday 08:00 EST (-05:00)
    assert after == utc(2038, 3, 15, 12, 0)  # Monday 08:00 EDT (-04:00), Sunday skipped
    for moment in (before, after):
        assert moment.astimezone(ZoneInfo(NEW_YORK)).time() == time(8, 0)


def test_new_york_on_the_dst_sunday_itself_opens_at_0800_edt():
    opens = next_open_moment(utc(2038, 3, 14, 5, 0), [NEW_YORK], EVERY_DAY, None)
    assert opens == utc(2038, 3, 14, 12, 0)


def test_paris_dst_start_moves_0800_local_from_0700z_to_0600z():
    before = next_open_moment(utc(2038, 3, 27, 0, 0), [PARIS], MON_SAT, None)
    after = next_open_moment(utc(2038, 3, 28, 0, 0), [PARIS], MON_SAT, None)
    assert before == utc(2038, 3, 27, 7, 0)  # Saturday 08:00 CET
    assert after == utc(2038, 3, 29, 6, 0)  # Monday 08:00 CEST
    on_the_day = next_open_moment(utc(2038, 3, 28, 0, 0), [PARIS], EVERY_DAY, None)
    assert on_the_day == utc(2038, 3, 28, 6, 0)


def test_paris_dst_end_moves_0800_local_from_0600z_to_0700z():
    before = next_open_moment(utc(2038, 10, 30, 0, 0), [PARIS], MON_SAT, None)
    after = next_open_moment(utc(2038, 10, 31, 0, 0), [PARIS], MON_SAT, None)
    assert before == utc(2038, 10, 30, 6, 0)  # Saturday 08:00 CEST
    assert after == utc(2038, 11, 1, 7, 0)  # Monday 08:00 CET
    on_the_day = next_open_moment(utc(2038, 10, 31, 0, 0), [PARIS], EVERY_DAY, None)
    assert on_the_day == utc(2038, 10, 31, 7, 0)


def test_paris_window_end_follows_dst_end():
    # 20:30Z on 2038-10-30 is 22:30 CEST (closed); 20:30Z on 2038-11-01 is 21:30 CET (closed);
    # 19:30Z on 2038-11-01 is 20:30 CET (open).
    assert next_open_moment(utc(2038, 11, 1, 19, 30), [PARIS], EVERY_DAY, None) == utc(
        2038, 11, 1, 19, 30
    )
    assert next_open_moment(utc(2038, 10, 30, 19, 30), [PARIS], EVERY_DAY, None) == utc(
        2038, 10, 31, 7, 0
    )


# --- several zones ----------------------------------------------------------------------------


def test_new_york_and_los_angeles_open_only_at_0800_los_angeles():
    opens = next_open_moment(utc(2038, 1, 4, 6, 0), [NEW_YORK, LOS_ANGELES], MON_SAT, None)
    assert opens == utc(2038, 1, 4, 16, 0)
    assert opens.astimezone(ZoneInfo(LOS_ANGELES)).time() == time(8, 0)
    assert opens.astimezone(ZoneInfo(NEW_YORK)).time() == time(11, 0)


def test_zone_order_does_not_change_the_answer():
    moment = utc(2038, 1, 4, 6, 0)
    assert next_open_moment(moment, [LOS_ANGELES, NEW_YORK], MON_SAT, None) == next_open_moment(
        moment, [NEW_YORK, LOS_ANGELES], MON_SAT, None
    )


def test_several_zones_close_at_the_earliest_end():
    # 02:30Z Tuesday is 21:30 Monday in NY (closed) though 18:30 in LA (open): the next moment
    # open in both is Tuesday 08:00 LA.
    opens = next_open_moment(utc(2038, 1, 5, 2, 30), [NEW_YORK, LOS_ANGELES], MON_SAT, None)
    assert opens == utc(2038, 1, 5, 16, 0)


def test_result_is_open_in_every_zone():
    zones = [NEW_YORK, LOS_ANGELES, "Pacific/Honolulu"]
    opens = next_open_moment(utc(2038, 1, 4, 6, 0), zones, MON_SAT, None)
    for name in zones:
        local = opens.astimezone(ZoneInfo(name))
        assert time(8) <= local.time() < time(21), name
        assert local.weekday() in MON_SAT.weekday_numbers


def test_zones_that_never_overlap_raise_no_contact_window():
    # Kiritimati (+14) and Pago Pago (-11) are 25 hours apart: a Monday in one is a Sunday or
    # a Tuesday in the other, so a Monday-only window is never open in both at once.
    monday_only = ContactWindow(start=time(9), end=time(11), days=("mon",))
    with pytest.raises(NoContactWindow):
        next_open_moment(
            utc(2038, 1, 4, 6, 0), ["Pacific/Kiritimati", "Pacific/Pago_Pago"], monday_only, None
        )


def test_one_hour_windows_an_hour_apart_never_overlap():
    # 09:00-10:00 in Kiritimati is 08:00-09:00 in Pago Pago: they touch, never overlap.
    one_hour = ContactWindow(start=time(9), end=time(10), days=EVERY_DAY.days)
    with pytest.raises(NoContactWindow):
        next_open_moment(
            utc(2038, 1, 4, 6, 0), ["Pacific/Kiritimati", "Pacific/Pago_Pago"], one_hour, None
        )


def test_two_hour_window_all_week_does_overlap_one_hour_across_the_date_line():
    two_hours = ContactWindow(start=time(9), end=time(11), days=EVERY_DAY.days)
    opens = next_open_moment(
        utc(2038, 1, 4, 6, 0), ["Pacific/Kiritimati", "Pacific/Pago_Pago"], two_hours, None
    )
    assert opens == utc(2038, 1, 4, 20, 0)
    assert opens.astimezone(ZoneInfo("Pacific/Kiritimati")).time() == time(10, 0)
    assert opens.astimezone(ZoneInfo("Pacific/Pago_Pago")).time() == time(9, 0)


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        next_open_moment(datetime(2038, 1, 4, 12, 0), [PARIS], MON_SAT, None)


def test_microseconds_before_the_window_give_the_exact_window_start():
    moment = utc(2038, 1, 4, 6, 0, 0) + timedelta(microseconds=500)
    assert next_open_moment(moment, [PARIS], MON_SAT, None) == utc(2038, 1, 4, 7, 0)


def test_result_inside_window_with_microseconds_is_not_before_not_before():
    moment = utc(2038, 1, 4, 10, 0, 0) + timedelta(microseconds=500_000)
    opens = next_open_moment(moment, [PARIS], MON_SAT, None)
    assert opens >= moment


# --- is_contact_day, contact_deadline, local_midnight -----------------------------------------


def test_is_contact_day_follows_weekdays_and_holidays():
    assert is_contact_day(date(2038, 1, 4), MON_SAT, None)
    assert not is_contact_day(date(2038, 1, 3), MON_SAT, None)  # Sunday
    assert is_contact_day(date(2038, 1, 3), EVERY_DAY, None)
    assert not is_contact_day(date(2038, 11, 25), MON_SAT, "US")  # Thanksgiving
    assert is_contact_day(date(2038, 11, 25), MON_SAT, None)
    assert is_contact_day(date(2038, 11, 25), MON_SAT, "FR")
    assert not is_contact_day(date(2038, 7, 14), MON_SAT, "FR")  # Bastille Day, a Wednesday


def test_is_contact_day_with_subdivision_holidays():
    # 2038-04-16 is Emancipation Day in Washington DC only (a Friday).
    assert date(2038, 4, 16).strftime("%a") == "Fri"
    assert not is_contact_day(date(2038, 4, 16), MON_SAT, "US-DC")
    assert is_contact_day(date(2038, 4, 16), MON_SAT, "US")


def test_deadline_on_a_contact_day_is_kept():
    # Monday 2038-01-04 + 7 days = Monday 2038-01-11.
    assert contact_deadline(utc(2038, 1, 4, 10, 0), 7, PARIS, MON_SAT, None) == date(2038, 1, 11)


def test_deadline_landing_on_sunday_moves_forward_to_monday():
    # Monday 2038-01-04 + 6 days = Sunday 2038-01-10 → Monday 2038-01-11.
    assert contact_deadline(utc(2038, 1, 4, 10, 0), 6, PARIS, MON_SAT, None) == date(2038, 1, 11)


def test_deadline_landing_on_a_holiday_moves_forward():
    # 2038-11-18 + 7 days = Thanksgiving 2038-11-25 → Friday 2038-11-26.
    assert contact_deadline(utc(2038, 11, 18, 15, 0), 7, NEW_YORK, MON_SAT, "US") == date(
        2038, 11, 26
    )


def test_deadline_on_sunday_then_observed_holiday_skips_both():
    # 2038-06-27 + 7 = Sunday 2038-07-04; Monday 2038-07-05 is the observed holiday → Tuesday.
    assert is_holiday(date(2038, 7, 5), "US")
    assert contact_deadline(utc(2038, 6, 27, 15, 0), 7, NEW_YORK, MON_SAT, "US") == date(2038, 7, 6)


def test_deadline_counts_from_the_local_date_of_sending():
    # 23:30Z on Monday 2038-01-04 is already Tuesday 00:30 in Paris, but still Monday in NY.
    sent = utc(2038, 1, 4, 23, 30)
    assert contact_deadline(sent, 7, PARIS, EVERY_DAY, None) == date(2038, 1, 12)
    assert contact_deadline(sent, 7, NEW_YORK, EVERY_DAY, None) == date(2038, 1, 11)


@pytest.mark.parametrize("days", range(1, 40))
def test_deadline_is_never_earlier_than_promised_and_always_a_contact_day(days: int):
    sent = utc(2038, 11, 1, 15, 0)
    deadline = contact_deadline(sent, days, NEW_YORK, MON_SAT, "US")
    promised = date(2038, 11, 1) + timedelta(days=days)
    assert deadline >= promised
    assert deadline - promised <= timedelta(days=3)
    assert is_contact_day(deadline, MON_SAT, "US")


def test_local_midnight_in_paris_winter_is_2300z_the_day_before():
    assert local_midnight(date(2038, 1, 4), PARIS) == utc(2038, 1, 3, 23, 0)


def test_local_midnight_in_paris_summer_is_2200z_the_day_before():
    assert local_midnight(date(2038, 7, 1), PARIS) == utc(2038, 6, 30, 22, 0)


def test_local_midnight_in_los_angeles_is_0800z_same_day():
    assert local_midnight(date(2038, 1, 4), LOS_ANGELES) == utc(2038, 1, 4, 8, 0)


def test_local_midnight_on_dst_day_uses_the_offset_in_force_at_midnight():
    # DST starts at 02:00 in New York, so midnight on 2038-03-14 is still EST.
    assert local_midnight(date(2038, 3, 14), NEW_YORK) == utc(2038, 3, 14, 5, 0)
    assert local_midnight(date(2038, 3, 15), NEW_YORK) == utc(2038, 3, 15, 4, 0)


# --- window_end: when a send planned in a window must have left (issue 10) -------------------


def test_window_end_is_the_end_of_the_window_containing_the_moment():
    # Tuesday 2038-01-05 20:50 in New York (EST): the us window ends at 21:00 that evening.
    planned = datetime(2038, 1, 5, 20, 50, tzinfo=ZoneInfo(NEW_YORK))
    assert window_end(planned, [NEW_YORK], MON_SAT, "US") == utc(2038, 1, 6, 2, 0)


def test_window_end_is_none_outside_the_window_on_a_closed_day_or_a_holiday():
    assert window_end(utc(2038, 1, 4, 20, 0), [PARIS], MON_SAT, None) is None  # 21:00 Paris
    assert window_end(utc(2038, 1, 4, 6, 59), [PARIS], MON_SAT, None) is None  # 07:59
    assert window_end(utc(2038, 1, 3, 12, 0), [PARIS], MON_SAT, None) is None  # a Sunday
    assert window_end(utc(2038, 11, 25, 17, 0), [NEW_YORK], MON_SAT, "US") is None  # Thanksgiving


def test_window_end_across_several_zones_is_the_earliest_end():
    # 17:00Z Monday: 12:00 in New York, 09:00 in Los Angeles; New York closes first (02:00Z).
    zones = [LOS_ANGELES, NEW_YORK]
    assert window_end(utc(2038, 1, 4, 17, 0), zones, MON_SAT, None) == utc(2038, 1, 5, 2, 0)
    # 15:00Z: 07:00 in Los Angeles, not open there yet: not open everywhere.
    assert window_end(utc(2038, 1, 4, 15, 0), zones, MON_SAT, None) is None


def test_window_end_follows_dst():
    # Sunday 2038-03-14 US clocks go forward: Monday's 21:00 EDT is 01:00Z, not 02:00Z.
    assert window_end(utc(2038, 3, 15, 20, 0), [NEW_YORK], MON_SAT, None) == utc(2038, 3, 16, 1, 0)


def test_window_end_refuses_a_naive_datetime():
    with pytest.raises(ValueError):
        window_end(datetime(2038, 1, 4, 12, 0), [PARIS], MON_SAT, None)


ZONE_SETS = [
    (PARIS,),
    (NEW_YORK,),
    (NEW_YORK, LOS_ANGELES),
    ("Asia/Kolkata",),
    ("Pacific/Auckland",),
]


@settings(max_examples=300, deadline=None)
@given(
    offset=st.integers(0, 400 * 24 * 60),
    zones=st.sampled_from(ZONE_SETS),
    window=st.sampled_from([MON_SAT, EVERY_DAY]),
    holidays=st.sampled_from([None, "US", "FR"]),
    into=st.floats(0, 1),
)
def test_every_instant_of_an_open_window_has_its_end_and_the_end_is_closed(
    offset, zones, window, holidays, into
):
    opens = next_open_moment(utc(2038, 1, 1) + timedelta(minutes=offset), zones, window, holidays)
    end = window_end(opens, zones, window, holidays)
    assert end is not None and end > opens
    inside = opens + (end - opens) * into
    if inside < end:
        assert next_open_moment(inside, zones, window, holidays) == inside
        assert window_end(inside, zones, window, holidays) == end
    assert window_end(end, zones, window, holidays) is None
    assert next_open_moment(end, zones, window, holidays) > end
