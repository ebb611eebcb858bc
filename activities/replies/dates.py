"""Finding the date a debtor names in a reply ("vendredi prochain", "15/01", "20 stycznia").

Dates are parsed relative to the *local* wall time of the reply (``base``, naive, in the
debtor's zone); every result is today-or-later and at most ``MAX_HORIZON`` away, else it is
discarded.  ``dateparser`` does most of the work; what it gets wrong is handled here first:
numeric dates, "end of the month", a day of the month alone ("le 15"), a day with a month name
("February 20th"), "next <weekday>" -- plus small pre-normalisations (the lexicons'
``date_rewrites``).

A date that does not exist ("February 30", "31/04", "30 lutego", "29/02" in a year without
one) is never turned into another one (dateparser rolls it over, a clamp would move it):
``no_such_date`` finds it, and the classifier leaves the reply for a person.  A day of the
month *alone* ("il 31" said in February) is different: no month was named, so it is the
next such day, or the last day of a month that lacks it.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

import dateparser
from dateparser.search import search_dates

from activities.languages import SUPPORTED_LANGUAGES, language_of
from activities.replies.lexicons import LEXICONS
from activities.replies.text import phrase, rx

__all__ = ["MAX_HORIZON", "MONTH_WORD", "ORDINAL", "day_first", "find_date", "no_such_date"]

_LEXICONS = [LEXICONS[language] for language in SUPPORTED_LANGUAGES if language in LEXICONS]

# Dates further out than this are treated as parse errors (dateparser turns
# "50 on Friday" into the year 2050 and "01/15" read day-first into 2115).
MAX_HORIZON = timedelta(days=400)


def _alt(items: list[str]) -> str:
    return "(?:" + "|".join(dict.fromkeys(items)) + ")"


_MONTHS: dict[str, int] = {}
for _lexicon in _LEXICONS:
    for _word, _number in _lexicon.months.items():
        if _MONTHS.setdefault(_word, _number) != _number:
            raise ValueError(f"month word {_word!r} means two months")

WEEKDAYS = _alt([phrase(w) for lex in _LEXICONS for w in lex.weekdays])
# A month name (any language, any listed form), as a whole word.
MONTH_WORD = _alt(sorted(_MONTHS, key=len, reverse=True)) + r"\.?(?!\w)"
ORDINAL = _alt([s for lex in _LEXICONS for s in lex.ordinal_suffixes])

_WEEKDAY_RX = re.compile(rf"(?<!\w){WEEKDAYS}(?!\w)")
_NEXT_BEFORE = _alt([phrase(p) for lex in _LEXICONS for p in lex.next_before])
_NEXT_AFTER = _alt([phrase(p) for lex in _LEXICONS for p in lex.next_after])
# "next Friday", "vendredi prochain", "el viernes que viene", "w przyszły piątek":
# the weekday of the *following* calendar week (see step 5 of find_date).
_NEXT_WEEKDAY = re.compile(
    rf"(?<!\w)(?:{_NEXT_BEFORE}\s+(?P<a>{WEEKDAYS})|(?P<b>{WEEKDAYS})\s+{_NEXT_AFTER})(?!\w)"
)
_NOT_MONTH_AFTER = rf"(?!\s*(?:[/.\-]\s*\d|(?:of\s+|de\s+)?{MONTH_WORD}))"
# "le 15", "il 15", "el 15", "the 15th", "on the 3rd", "dnia 15", "do 15-go": a day of
# the month with no month -- dateparser gets "the 3rd" (-> 1 March) and "le 3" (a past
# date) wrong and does not find "il 15"/"el 15" at all.
_DAY_ONLY = re.compile(
    r"(?<!\w)"
    + _alt([phrase(p) for lex in _LEXICONS for p in lex.day_prefixes])
    + rf"\s+(?P<d>\d{{1,2}}){ORDINAL}?(?!\w){_NOT_MONTH_AFTER}"
)
_ORDINAL_DAY = re.compile(rf"(?<![\w/.])(?P<d>\d{{1,2}}){ORDINAL}(?!\w){_NOT_MONTH_AFTER}")
# dateparser reads "lunes 11" as November: a weekday followed by a bare day number
# is rewritten to a day-of-month phrase.
_WEEKDAY_DAYNUM = re.compile(
    rf"(?<!\w){WEEKDAYS}\s+(?:the\s+)?(?P<d>\d{{1,2}}){ORDINAL}?(?!\w|\s*(?:h|am|pm|:))"
    + _NOT_MONTH_AFTER
)
_NUMERIC_DATE = re.compile(
    r"(?<![\d.,/])(?P<d1>\d{1,2})\s?(?P<s>[./-])\s?(?P<d2>\d{1,2})(?:(?P=s)(?P<y>\d{4}|\d{2}))?"
    r"(?![\d.,/]\d|\d)"
)
# A day with a month name, either way round: "20 février", "30 de febrero", "the 3rd of
# March", "February 20th", "Feb. 20, 2028".
_YEAR = r"(?:\s*,?\s*(?P<y>\d{4}))?(?!\d)"
_DAY_MONTH = re.compile(
    rf"(?<![\w.,/])(?P<d>\d{{1,2}}){ORDINAL}?\.?\s*(?:(?:of|de|di)\s+)?(?P<m>{MONTH_WORD})" + _YEAR
)
_MONTH_DAY = re.compile(
    rf"(?<!\w)(?P<m>{MONTH_WORD}),?\s*(?:the\s+)?(?P<d>\d{{1,2}}){ORDINAL}?(?![\w.,/]?\d|\w)"
    + _YEAR
)
_END_OF_MONTH = rx(p for lex in _LEXICONS for p in lex.end_of_month)
_DATE_REWRITES = [
    (rx(phrases), replacement) for lex in _LEXICONS for phrases, replacement in lex.date_rewrites
]

_SPURIOUS_HIT = re.compile(r"[a-z]{1,2}|\d+")  # "je" -> jeudi, "ma" -> mardi, bare numbers


def day_first(locale: str) -> bool:
    """Whether "05/01" is the 5th of January for this locale (everywhere but en-US, en-PH)."""
    if language_of(locale) != "en":
        return True
    parts = locale.replace("_", "-").lower().split("-")
    return len(parts) > 1 and parts[1] not in ("us", "ph")


def _in_range(candidate: date, today: date) -> bool:
    return today <= candidate <= today + MAX_HORIZON


def _occurrence(day: int, month: int, year: int | None, today: date) -> date | None:
    """Day ``day`` of ``month`` in ``year``, or -- without a year -- in the year it comes next
    (this year if not yet past, else next year); None when that date does not exist."""
    if year is None:
        year = today.year if (month, day) >= (today.month, today.day) else today.year + 1
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _year(raw: str | None) -> int | None:
    if not raw:
        return None
    return int("20" + raw) if len(raw) == 2 else int(raw)


def _explicit_dates(text: str, today: date) -> list[tuple[re.Match[str], bool, date | None]]:
    """Every day named with its month in ``text``: (match, looks like a date, the date or None
    when no such date exists), in text order."""
    found: list[tuple[re.Match[str], bool, date | None]] = []
    for m in _NUMERIC_DATE.finditer(text):
        d1, d2, year = int(m.group("d1")), int(m.group("d2")), _year(m.group("y"))
        orders = [(d1, d2), (d2, d1)]
        plausible = [(d, mo) for d, mo in orders if 1 <= d <= 31 and 1 <= mo <= 12]
        real = [_occurrence(d, mo, year, today) for d, mo in plausible]
        found.append((m, bool(plausible), next((r for r in real if r is not None), None)))
    for pattern in (_DAY_MONTH, _MONTH_DAY):
        for m in pattern.finditer(text):
            day, month = int(m.group("d")), _MONTHS[m.group("m").rstrip(".")]
            plausible = 1 <= day <= 31
            real = _occurrence(day, month, _year(m.group("y")), today) if plausible else None
            found.append((m, plausible, real))
    return sorted(found, key=lambda item: item[0].start())


def no_such_date(text: str, today: date) -> str | None:
    """The first date in folded ``text`` that does not exist ("30 février", "31/04"), or None."""
    for m, plausible, real in _explicit_dates(text, today):
        if plausible and real is None:
            return m.group(0).strip()
    return None


def _day_of_month(day: int, today: date) -> date | None:
    """The next day ``day`` of a month that is today or later ("le 3" on the 20th -> 3rd of
    next month); a day the month lacks ("le 31" in April) becomes its last day."""
    if not 1 <= day <= 31:
        return None
    year, month = today.year, today.month
    for _ in range(2):
        last = calendar.monthrange(year, month)[1]
        candidate = date(year, month, min(day, last))
        if candidate >= today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _settings(base: datetime, **extra: object) -> dict[str, object]:
    settings: dict[str, object] = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": False,
        "TIMEZONE": "UTC",
        "TO_TIMEZONE": "UTC",
    }
    settings.update(extra)
    return settings


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def find_date(
    text: str, langs: list[str], base: datetime, prefer_day_first: bool
) -> tuple[date, str] | None:
    """The first date named in folded ``text`` (amount already blanked out), or None.

    Call ``no_such_date`` first: a date that does not exist is skipped here.
    """
    today = base.date()

    # 1. Numeric dates "15/01", "15.01.2027", "5/1/27": dateparser reads "15.01" as a
    #    time and two-digit years day-first as 21xx, so expand and try both orders.
    for m in _NUMERIC_DATE.finditer(text):
        year = m.group("y")
        if year and len(year) == 2:
            year = "20" + year
        probe = f"{m.group('d1')}/{m.group('d2')}" + (f"/{year}" if year else "")
        for order in ("DMY", "MDY") if prefer_day_first else ("MDY", "DMY"):
            got = dateparser.parse(
                probe, languages=["en"], settings=_settings(base, DATE_ORDER=order)
            )
            if got is not None and _in_range(got.date(), today):
                return got.date(), m.group(0)

    # 2. End of the month: the last day of the current month.
    m = _END_OF_MONTH.search(text)
    if m:
        last = calendar.monthrange(today.year, today.month)[1]
        return date(today.year, today.month, last), m.group(0)

    # 3. Pre-normalisations, then a day with a month name ("February 20th": dateparser and
    #    step 4 would read the 20th of this month); one out of range is dropped whole.
    for pattern, replacement in _DATE_REWRITES:
        text = pattern.sub(replacement, text)
    for m, _plausible, real in _explicit_dates(text, today):
        if m.re is _NUMERIC_DATE:
            continue
        if real is not None and _in_range(real, today):
            return real, m.group(0).strip()
        text = _blank(text, *m.span())

    # 4. A day of the month alone.
    text = _WEEKDAY_DAYNUM.sub(lambda wm: f"the {wm.group('d')}", text)
    m = _DAY_ONLY.search(text) or _ORDINAL_DAY.search(text)
    if m:
        found = _day_of_month(int(m.group("d")), today)
        if found is not None:
            return found, m.group(0)

    # 5. "next <weekday>" -> the weekday of the following calendar week.
    next_week = False
    m = _NEXT_WEEKDAY.search(text)
    if m:
        next_week = True
        weekday = m.group("a") or m.group("b")
        text = text[: m.start()] + " " + weekday + " " + text[m.end() :]

    # 6. Everything else: dateparser's own search.
    hits = search_dates(text, languages=langs, settings=_settings(base)) or []
    for phrase_found, when in hits:
        if _SPURIOUS_HIT.fullmatch(phrase_found.strip()):
            continue
        found = when.date()
        if (
            next_week
            and _WEEKDAY_RX.search(phrase_found)
            and found.isocalendar()[:2] == (today.isocalendar()[:2])
        ):
            found += timedelta(days=7)
        if _in_range(found, today):
            return found, phrase_found.strip()
    return None
