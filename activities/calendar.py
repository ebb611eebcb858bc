"""Contact-window arithmetic: when may we next contact a debtor, and which dates are contact days.

Why this runs in an activity and not in workflow code: it depends on the IANA time-zone database
and on the `holidays` package, both updated several times a year. If the workflow computed the
next window itself, a worker upgraded to new data could replay a running account differently and
break it. Called from an activity, the answer is recorded in history once and replayed as is.

All functions are pure given their inputs (and the installed data), so they are tested directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holiday_data

from config.compliance import UK_NATIONS
from config.ladder import ContactWindow
from workflows.activity_types import (
    ScheduleAnswer,
    ScheduledDate,
    ScheduleRequest,
    SendRequest,
    WindowRequest,
)

# Give up looking for a common window after this long (e.g. zones with no overlap at all).
SEARCH_HORIZON = timedelta(days=60)

# uk (FCA CONC 7.9, config/compliance.py NO_SUNDAY_OR_BANK_HOLIDAY): the nations whose bank
# holidays differ (holidays.UK subdivisions), and the weekday closed whatever the window says.
SUNDAY = 6


class NoContactWindow(Exception):
    """The windows of the debtor's possible zones never overlap within the search horizon."""


@dataclass(frozen=True)
class ContactCalendar:
    """The days closed to contact beyond the window's own weekdays: the union of several holiday
    calendars (`US`, `GB-SCT`, ...) and weekdays a compliance profile closes (uk: Sunday).

    Every function below takes either this or, as before, a plain ladder `holidays` code (or
    None), so callers that know nothing of profiles keep working unchanged. Frozen and hashable:
    it is part of cached look-ups and of the activities' arguments.
    """

    holidays: tuple[str, ...] = ()
    closed_weekdays: frozenset[int] = frozenset()


Holidays = str | ContactCalendar | None
"""A ladder's `holidays` code (None: no holidays) or a whole ContactCalendar."""


def contact_calendar(
    holidays: str | None,
    jurisdiction: str = "none",
    region: str | None = None,
    sunday_and_bank_holiday_contact: bool = False,
) -> ContactCalendar:
    """The calendar a profile imposes on top of the ladder's `holidays`.

    uk, unless the ladder explicitly allows it: Sunday is closed whatever `window.days` lists,
    and so are the bank holidays of the debtor's nation (ENG, SCT, WLS, NIR, from the postcode
    at intake); a debtor whose nation is unknown gets every nation's bank holidays, since
    contact on any of them might be unreasonable where the debtor lives. Other profiles: the
    ladder's `holidays` alone, as before issue 12.
    """
    codes = (holidays,) if holidays else ()
    if str(jurisdiction) != "uk" or sunday_and_bank_holiday_contact:
        return ContactCalendar(codes)
    nations = (region,) if region in UK_NATIONS else UK_NATIONS
    extra = tuple(f"GB-{nation}" for nation in nations if f"GB-{nation}" not in codes)
    return ContactCalendar((*codes, *extra), frozenset({SUNDAY}))


def request_calendar(request: WindowRequest | ScheduleRequest | SendRequest) -> ContactCalendar:
    """The calendar a request asks for (its profile fields included). A send request carries
    the debtor, whose region it uses."""
    region = request.debtor.region if isinstance(request, SendRequest) else request.region
    return contact_calendar(
        request.holidays,
        request.jurisdiction,
        region,
        request.sunday_and_bank_holiday_contact,
    )


def _as_calendar(holidays: Holidays) -> ContactCalendar:
    if isinstance(holidays, ContactCalendar):
        return holidays
    return ContactCalendar((holidays,) if holidays else ())


@lru_cache(maxsize=64)
def _holiday_calendar(country_code: str, year: int) -> frozenset[date]:
    country, _, subdivision = country_code.partition("-")
    calendar = holiday_data.country_holidays(country, subdiv=subdivision or None, years=year)
    return frozenset(calendar.keys())


def is_holiday(day: date, holiday_country: Holidays) -> bool:
    codes = _as_calendar(holiday_country).holidays
    return any(day in _holiday_calendar(code, day.year) for code in codes)


def is_contact_day(day: date, window: ContactWindow, holiday_country: Holidays) -> bool:
    calendar = _as_calendar(holiday_country)
    weekday = day.weekday()
    return (
        weekday in window.weekday_numbers
        and weekday not in calendar.closed_weekdays
        and not is_holiday(day, calendar)
    )


def _local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time, normalised across DST gaps."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _open_in_zone(
    moment: datetime, zone: ZoneInfo, window: ContactWindow, holiday_country: Holidays
) -> datetime:
    """The earliest instant >= moment at which the window is open in this one zone."""
    local = moment.astimezone(zone)
    day = local.date()
    if is_contact_day(day, window, holiday_country):
        if local.time() < window.start:
            return _local(day, window.start, zone)
        if local.time() < window.end:
            return moment
    for offset in range(1, 400):
        candidate = day + timedelta(days=offset)
        if is_contact_day(candidate, window, holiday_country):
            return _local(candidate, window.start, zone)
    raise NoContactWindow("no contact day within 400 days")


def next_open_moment(
    not_before: datetime,
    zones: Sequence[str],
    window: ContactWindow,
    holiday_country: Holidays,
) -> datetime:
    """The first instant >= not_before at which the window is open in *every* candidate zone.

    Several zones arise when the debtor's zone is not known for sure (a US number without a
    `timezone`): contact is allowed only when it would be lawful wherever the debtor is.
    """
    if not_before.tzinfo is None:
        raise ValueError("not_before must be timezone-aware")
    candidate = not_before.astimezone(UTC)
    infos = [ZoneInfo(name) for name in zones]
    limit = candidate + SEARCH_HORIZON
    while candidate <= limit:
        opens = [_open_in_zone(candidate, zone, window, holiday_country) for zone in infos]
        latest = max(opens)
        if latest == candidate:
            return candidate
        candidate = latest
    raise NoContactWindow(f"the contact window is never open in all of {', '.join(zones)} at once")


def window_end(
    at: datetime,
    zones: Sequence[str],
    window: ContactWindow,
    holiday_country: Holidays,
) -> datetime | None:
    """The end of the contact window open at `at`: the earliest end, across the candidate
    zones, of the window containing `at` in each. None when the window is not open at `at` in
    every zone (a contact day, within the hours): a send planned then is already outside it.

    A send planned in a window must leave before this instant (Regulation F: not after 21:00
    in a us ladder), however long the provider takes to accept it.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    ends = []
    for name in zones:
        zone = ZoneInfo(name)
        local = at.astimezone(zone)
        day = local.date()
        if not is_contact_day(day, window, holiday_country):
            return None
        if not window.start <= local.time() < window.end:
            return None
        ends.append(_local(day, window.end, zone))
    return min(ends)


def contact_deadline(
    sent_at: datetime,
    days: int,
    zone: str,
    window: ContactWindow,
    holiday_country: Holidays,
) -> date:
    """A pay-by date `days` after sending, moved forward to the next contact day.

    Moving forward (never back) gives the debtor at least the promised time, and a deadline that
    falls on a day we could not even answer the phone would be unfair.
    """
    day = sent_at.astimezone(ZoneInfo(zone)).date() + timedelta(days=days)
    for _ in range(400):
        if is_contact_day(day, window, holiday_country):
            return day
        day += timedelta(days=1)
    raise NoContactWindow("no contact day within 400 days of the deadline")


def local_midnight(day: date, zone: str) -> datetime:
    """The UTC instant at which `day` begins in `zone` (ladder day 0 of an account)."""
    return _local(day, time(0, 0), ZoneInfo(zone))


def end_of_day(day: date, zone: str) -> datetime:
    """ "By a date" means by the end of that day in the debtor's zone."""
    return local_midnight(day + timedelta(days=1), zone)


def reminder_moment(
    now: datetime,
    remind_on: date,
    due_date: date,
    zones: Sequence[str],
    window: ContactWindow,
    holiday_country: Holidays,
) -> datetime | None:
    """When to remind of something due on `due_date`, `remind_on` being the ideal day.

    The first open moment of `remind_on`; if that day has no open window, the last open window
    before it; never after `due_date`, and never before `now`. None when no moment fits.
    """
    primary = ZoneInfo(zones[0])
    today = now.astimezone(primary).date()

    def opening(day: date) -> datetime | None:
        try:
            moment = next_open_moment(
                max(now, local_midnight(day, zones[0])), zones, window, holiday_country
            )
        except NoContactWindow:
            return None
        return moment if moment.astimezone(primary).date() == day else None

    day = remind_on
    while day >= today:
        moment = opening(day)
        if moment is not None:
            return moment
        day -= timedelta(days=1)
    # Nothing on or before the ideal day is still ahead: the next window, if before the date.
    try:
        moment = next_open_moment(now, zones, window, holiday_country)
    except NoContactWindow:
        return None
    return moment if moment.astimezone(primary).date() <= due_date else None


def ladder_day_start(due_at: datetime, day: int, paused_seconds: int, zone: str) -> datetime:
    """The instant ladder day `day` begins: counted in local calendar days from the local
    midnight `due_at`, plus paused time, on the wall clock of `zone`.

    Counting on the wall clock (not in 24-hour steps) keeps a step on its local date across a
    DST change: 45 days after a midnight is a midnight, never 23:00 the day before.
    """
    info = ZoneInfo(zone)
    wall = due_at.astimezone(info).replace(tzinfo=None)
    target = wall + timedelta(days=day, seconds=paused_seconds)
    return target.replace(tzinfo=info).astimezone(UTC)


def scheduled_dates(request: ScheduleRequest) -> ScheduleAnswer:
    """Local dates of a promise or a plan → deadlines (end of date + grace, debtor's zone) and
    reminder moments; `today` is the debtor's local date."""
    zone = request.zones[0]
    today = request.now.astimezone(ZoneInfo(zone)).date()
    calendar = request_calendar(request)
    items = []
    for item in request.items:
        day = item.date or today + timedelta(days=item.due_in_days or 0)
        reminder = None
        if request.days_before is not None:
            reminder = reminder_moment(
                request.now,
                day - timedelta(days=request.days_before),
                day,
                request.zones,
                request.window,
                calendar,
            )
        items.append(
            ScheduledDate(
                date=day,
                due_by=end_of_day(day + timedelta(days=request.grace_days), zone),
                reminder_at=reminder,
            )
        )
    return ScheduleAnswer(today=today, items=items)
