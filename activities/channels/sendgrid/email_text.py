"""The debtor's own words from an email reply: quoted history and signatures removed.

A reply usually carries our whole message below it ("On Mon, … wrote:", "> …"). Classifying
that would find our words (a deadline date, "pay") instead of the debtor's, so everything from
the first quote marker on is dropped. The markers cover the mail clients' phrasings in the five
supported languages.
"""

from __future__ import annotations

import html
import re

QUOTE_HEADERS = [
    r"^on .{0,200}wrote:\s*$",  # en (Gmail, Apple Mail)
    r"^le .{0,200}a écrit\s*:\s*$",  # fr
    r"^il giorno .{0,200}ha scritto:\s*$",  # it
    r"^.{0,40}\bha scritto:\s*$",
    r"^el .{0,200}escribió:\s*$",  # es
    r"^w dniu .{0,200}pisze:\s*$",  # pl
    r"^.{0,60}\bnapisał(a)?:\s*$",
    r"^-{2,}\s*(original message|message d'origine|messaggio originale|mensaje original|"
    r"wiadomość oryginalna|forwarded message)\s*-{2,}\s*$",
    r"^(from|de|da|od|von)\s*:\s.*$",  # Outlook's header block
    r"^_{5,}\s*$",  # Outlook's separator line
    r"^--\s*$",  # signature delimiter
]
_QUOTE = re.compile("|".join(f"(?:{pattern})" for pattern in QUOTE_HEADERS), re.IGNORECASE)
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
