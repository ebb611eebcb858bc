"""The languages the product speaks: the one list, and how a debtor's locale maps onto it.

Templates, reply lexicons, call menus and voices, SMS opt-out lines and webhook answers all
exist for exactly these languages; a test checks each of them against this list, so adding a
language is one line here plus the wording it needs (the tests say where it is missing).
"""

from __future__ import annotations

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "fr", "it", "es", "pl")
FALLBACK_LANGUAGE = "en"


def language_of(locale: str) -> str:
    """`fr-CA`, `fr_CA`, `FR` → `fr`: the key of per-language wording (voices, menus, answers)."""
    return locale.replace("_", "-").split("-")[0].lower()


def supported_language(locale: str) -> str:
    """The debtor's language if the product speaks it, else the fallback language."""
    language = language_of(locale)
    return language if language in SUPPORTED_LANGUAGES else FALLBACK_LANGUAGE
