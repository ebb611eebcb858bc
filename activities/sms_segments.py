"""SMS segment arithmetic (GSM 03.38 / 3GPP TS 23.038).

Why it matters: a carrier bills and delivers per segment, and a message that slips into UCS-2
because of one curly apostrophe costs twice as much. Templates are checked against
`MAX_SEGMENTS` and SMS text is normalised (`sms_safe`) before it is counted or sent.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = "^{}\\[~]|€\f"

MAX_SEGMENTS = 2

# Typography that sneaks in from Babel and word processors, mapped to GSM-7 look-alikes.
_SMS_REPLACEMENTS = {
    "\u00a0": " ",  # no-break space (Babel: "120,50\u00a0€")
    "\u202f": " ",  # narrow no-break space (Babel, French grouping)
    "\u2009": " ",
    "\u2019": "'",
    "\u2018": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
}


@dataclass(frozen=True)
class SegmentCount:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def sms_safe(text: str) -> str:
    """Replace typographic characters that would force UCS-2 with their GSM-7 look-alikes."""
    return "".join(_SMS_REPLACEMENTS.get(char, char) for char in text)


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text)


def _segments(sizes: list[int], single: int, multi: int) -> int:
    """Pack characters of the given sizes into segments. A character is never split across
    two segments (an escape sequence or a surrogate pair moves whole to the next one)."""
    total = sum(sizes)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for size in sizes:
        if used + size > multi:
            segments, used = segments + 1, 0
        used += size
    return segments


def count_segments(text: str) -> SegmentCount:
    """How many segments `text` takes: 160/153 septets for GSM-7, 70/67 units for UCS-2."""
    if is_gsm7(text):
        sizes = [2 if char in GSM7_EXTENDED else 1 for char in text]
        return SegmentCount("GSM-7", sum(sizes), _segments(sizes, 160, 153))
    sizes = [len(char.encode("utf-16-le")) // 2 for char in text]
    return SegmentCount("UCS-2", sum(sizes), _segments(sizes, 70, 67))
