"""Folding and the phrase notation shared by the reply classifier and its lexicons.

Text is *folded* character for character (lower case, accents removed, ``ł``->``l``, curly
apostrophes -> ``'``), so lexicon phrases are written once without accents and still match
"arrêt", "pagherò", "zapłacę"; because folding is 1:1 the span of a match in the folded text
is the span of the same words in the original.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["fold", "phrase", "rx"]

_SPECIAL_FOLD = {
    "ł": "l",
    "Ł": "l",
    "ø": "o",
    "Ø": "o",
    "đ": "d",
    "’": "'",
    "‘": "'",
    "`": "'",
    "´": "'",
    "ʼ": "'",
    "\u00a0": " ",
    "\u202f": " ",
}


def _fold_char(ch: str) -> str:
    special = _SPECIAL_FOLD.get(ch)
    if special is not None:
        return special
    decomposed = unicodedata.normalize("NFKD", ch)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    low = (base or ch).lower()
    return low[0] if low else ch


def fold(text: str) -> str:
    """Lower-case and strip accents one character for one character (spans stay valid)."""
    return "".join(_fold_char(ch) for ch in text)


def phrase(p: str) -> str:
    """One phrase of the lexicon notation as a regular expression.

    A space means "some whitespace or hyphens", a hyphen "an optional hyphen or whitespace"
    and an apostrophe "an optional apostrophe or whitespace" -- so "appelez-moi",
    "appelez moi", "j'ai", "jai" all match.  Phrases must not put spaces, hyphens or
    apostrophes inside character classes or lookbehinds (write ``\\x20`` there).
    """
    return p.replace("-", r"[\s-]*").replace("'", r"['\s]*").replace(" ", r"[\s-]+")


def rx(phrases: Iterable[str]) -> re.Pattern[str]:
    """Compile folded phrases into one word-bounded regex (first phrase first); no phrases
    compile to a regex that never matches."""
    body = "|".join(phrase(p) for p in phrases) or r"(?!)"
    return re.compile(r"(?<!\w)(?:" + body + r")(?!\w)")
