"""The debtor's own words from an email reply: quoted history and signatures removed.

A reply usually carries our whole message below it ("On Mon, … wrote:", "> …"). Classifying
that would find our words (a deadline date, "pay") instead of the debtor's, so everything from
the first quote marker on is dropped. The markers cover the mail clients' phrasings in every
supported language (`activities.languages.SUPPORTED_LANGUAGES`).
"""

from __future__ import annotations

import html
import re

# The lines mail clients put above the quoted message, one entry per language of
# `activities.languages.SUPPORTED_LANGUAGES` (tests/test_languages.py checks them). A reply is
# cut at any of them, whatever the debtor's language: their mail client may speak another.
QUOTE_HEADERS: dict[str, tuple[str, ...]] = {
    "en": (
        r"^on .{0,200}wrote:\s*$",  # Gmail, Apple Mail
        r"^-{2,}\s*(original message|forwarded message)\s*-{2,}\s*$",
    ),
    "fr": (
        r"^le .{0,200}a écrit\s*:\s*$",
        r"^-{2,}\s*message d'origine\s*-{2,}\s*$",
    ),
    "it": (
        r"^il giorno .{0,200}ha scritto:\s*$",
        r"^.{0,40}\bha scritto:\s*$",
        r"^-{2,}\s*messaggio originale\s*-{2,}\s*$",
    ),
    "es": (
        r"^el .{0,200}escribió:\s*$",
        r"^-{2,}\s*mensaje original\s*-{2,}\s*$",
    ),
    "pl": (
        r"^w dniu .{0,200}pisze:\s*$",
        r"^.{0,60}\bnapisał(a)?:\s*$",
        r"^-{2,}\s*wiadomość oryginalna\s*-{2,}\s*$",
    ),
}
# Whatever the client's language.
ANY_LANGUAGE_QUOTE_HEADERS = (
    r"^(from|de|da|od|von)\s*:\s.*$",  # Outlook's header block
    r"^_{5,}\s*$",  # Outlook's separator line
    r"^--\s*$",  # signature delimiter
)
_QUOTE = re.compile(
    "|".join(
        f"(?:{pattern})"
        for pattern in (
            *(pattern for patterns in QUOTE_HEADERS.values() for pattern in patterns),
            *ANY_LANGUAGE_QUOTE_HEADERS,
        )
    ),
    re.IGNORECASE,
)
_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)


def html_to_text(markup: str) -> str:
    text = re.sub(r"<br\s*/?>|</p>|</div>", "\n", markup, flags=re.IGNORECASE)
    return html.unescape(_TAGS.sub("", text))


def reply_text(text: str | None, markup: str | None = None, limit: int = 2000) -> str:
    """The new part of a reply, at most `limit` characters."""
    body = text if text and text.strip() else html_to_text(markup or "")
    kept: list[str] = []
    for line in body.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if stripped.startswith(">") or _QUOTE.match(stripped):
            break
        kept.append(line.rstrip())
    return "\n".join(kept).strip()[:limit]
