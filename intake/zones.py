"""Which time zones may the debtor be in? Resolved once, at intake, and stored in the input.

Order of evidence: the account's `timezone`; else the zones of the phone number (narrowed to the
account's country when it has one); else the zones of the country. Several zones are kept when
the evidence allows several (a US toll-free number, a country spanning zones): the workflow then
contacts only when the window is open in all of them.

The first zone is the *primary* one, used for local dates (the due date, a deadline, what ops
see as "local"). We pick the westernmost, whose calendar day starts last, so a ladder day or a
deadline is never counted earlier than it would be wherever the debtor is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel.core import get_global
from phonenumbers import timezone as phone_timezones


class ZoneError(ValueError):
    pass


def valid_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ZoneError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Paris)"
        ) from None
    return name


def country_zones(country: str) -> tuple[str, ...]:
    return tuple(get_global("territory_zones").get(country.upper(), ()))


def phone_zones(number: phonenumbers.PhoneNumber) -> tuple[str, ...]:
    zones = phone_timezones.time_zones_for_number(number)
    return tuple(zone for zone in zones if zone != phone_timezones.UNKNOWN_TIMEZONE)


def _westernmost_first(zones: tuple[str, ...], at: datetime) -> tuple[str, ...]:
    def offset(zone: str) -> float:
        return at.astimezone(ZoneInfo(zone)).utcoffset().total_seconds()  # type: ignore[union-attr]

    usable = tuple(dict.fromkeys(zone for zone in zones if _loads(zone)))
    return tuple(sorted(usable, key=lambda zone: (offset(zone), zone)))


def _loads(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def candidate_zones(
    timezone: str | None,
    phone: phonenumbers.PhoneNumber | None,
    country: str | None,
    at: datetime | None = None,
) -> tuple[str, ...]:
    if timezone:
        return (valid_zone(timezone),)
    at = at or datetime.now(UTC)
    in_country = set(country_zones(country)) if country else set()
    if phone is not None:
        zones = phone_zones(phone)
        narrowed = tuple(zone for zone in zones if zone in in_country)
        zones = narrowed or zones
        if zones:
            return _westernmost_first(zones, at)
    if in_country:
        return _westernmost_first(tuple(in_country), at)
    raise ZoneError("cannot tell the time zone: give timezone, a phone number or a country")
