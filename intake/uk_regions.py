"""The UK nation of a postcode (ENG, SCT, WLS, NIR): whose bank holidays close contact (uk).

Why: bank holidays differ between England, Scotland, Wales and Northern Ireland (2 January
and St Andrew's Day in Scotland, St Patrick's Day in Northern Ireland), and the uk profile
closes the debtor's nation's (config/compliance.py, NO_SUNDAY_OR_BANK_HOLIDAY). The nation is
derived once, at intake, and travels as `Debtor.region`; an unknown nation closes all four.

Source: Royal Mail's postcode areas (the letters of the outward code, e.g. `EH` of `EH1 1YZ`),
as listed in "List of postcode areas in the United Kingdom" (Wikipedia, from Royal Mail's
Postcode Address File), assigned to the nation that holds the whole or nearly all of each area.

Limits, by design an area-level table with no network look-up:
- SY (Shrewsbury) and CH (Chester) straddle the English-Welsh border: None (all four nations'
  bank holidays then apply, the cautious answer).
- A few areas have districts across a border and are given the nation of most of their
  addresses: TD is Scottish though TD15 (Berwick-upon-Tweed) and part of TD12 are in England;
  LD, LL and NP are Welsh though a few addresses near the border are English; HR, GL and CA are
  English though a few addresses are Welsh or Scottish.
- Crown dependencies (GY Guernsey, JE Jersey, IM Isle of Man) are not UK nations, and BF
  (British Forces) and BX (non-geographic) are not places: None.
The CSV column `region` overrides the derived nation for any of these.
"""

from __future__ import annotations

import re

from config.compliance import UK_NATIONS

NATIONS = UK_NATIONS

NORTHERN_IRISH_AREAS = frozenset({"BT"})
SCOTTISH_AREAS = frozenset(
    {"AB", "DD", "DG", "EH", "FK", "G", "HS", "IV", "KA", "KW", "KY", "ML", "PA", "PH", "TD", "ZE"}
)
WELSH_AREAS = frozenset({"CF", "LD", "LL", "NP", "SA"})
STRADDLING_AREAS = frozenset({"CH", "SY"})
# Every other area of Great Britain is in England (a word list reads better than 95 strings).
ENGLISH_AREAS = frozenset(
    """
    AL B BA BB BD BH BL BN BR BS CA CB CM CO CR CT CV CW DA DE DH DL DN DT DY E EC EN EX FY
    GL GU HA HD HG HP HR HU HX IG IP KT L LA LE LN LS LU M ME MK N NE NG NN NR NW OL OX PE PL
    PO PR RG RH RM S SE SG SK SL SM SN SO SP SR SS ST SW TA TF TN TQ TR TS TW UB W WA WC WD WF
    WN WR WS WV YO
    """.split()  # noqa: SIM905
)

_AREA_NATIONS: dict[str, str | None] = {
    **dict.fromkeys(ENGLISH_AREAS, "ENG"),
    **dict.fromkeys(SCOTTISH_AREAS, "SCT"),
    **dict.fromkeys(WELSH_AREAS, "WLS"),
    **dict.fromkeys(NORTHERN_IRISH_AREAS, "NIR"),
    **dict.fromkeys(STRADDLING_AREAS, None),
}

# A full postcode (outward + inward code, the space optional) or an outward code alone.
_POSTCODE = re.compile(r"^([A-Z]{1,2})([0-9][0-9A-Z]?)(?:[0-9][A-Z]{2})?$")


def postcode_area(postcode: str | None) -> str | None:
    """The area letters of a well-formed UK postcode (`EH` of `eh1 1yz`), else None."""
    if not postcode:
        return None
    match = _POSTCODE.match(re.sub(r"\s+", "", postcode.upper()))
    return match.group(1) if match else None


def nation_for_postcode(postcode: str | None) -> str | None:
    """ENG, SCT, WLS or NIR; None when there is no postcode, it is not a UK postcode, or its
    area straddles a border or is outside the four nations."""
    area = postcode_area(postcode)
    return _AREA_NATIONS.get(area) if area else None
