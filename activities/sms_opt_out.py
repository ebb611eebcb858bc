"""The opt-out line an SMS must carry, in the debtor's language.

US carriers (CTIA guidelines, TCPA practice) and UK/EU regulators expect every text to say how to
stop further texts. Templates normally say it themselves; when one does not, the line is added
here, at send time and in `ladder validate`'s segment count, so no SMS of a regulated ladder can
go out without it. STOP is the keyword every Twilio number honours in every language.
"""

from __future__ import annotations

import re

from activities.languages import supported_language

# One line per supported language (tests/test_languages.py checks them all); a debtor whose
# language is not supported gets the fallback language's line.
OPT_OUT_LINES: dict[str, str] = {
    "en": "Reply STOP to opt out.",
    "fr": "Désinscription : STOP",
    "it": "Disiscrizione: STOP",
    "es": "Baja: responda STOP",
    "pl": "Rezygnacja z SMS: STOP",
}
JURISDICTIONS_REQUIRING_OPT_OUT = {"us", "uk", "eu"}
_STOP = re.compile(r"\bSTOP\b")


def with_opt_out(text: str, locale: str, jurisdiction: str) -> str:
    if jurisdiction not in JURISDICTIONS_REQUIRING_OPT_OUT or _STOP.search(text):
        return text
    line = OPT_OUT_LINES[supported_language(locale)]
    return f"{text.rstrip()} {line}"
