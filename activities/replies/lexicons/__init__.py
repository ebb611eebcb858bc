"""One lexicon per supported language (``activities.languages.SUPPORTED_LANGUAGES``).

Adding a language: a module here with its ``LEXICON``, listed below; tests/test_replies.py
fails until every supported language has one.
"""

from __future__ import annotations

from activities.replies.lexicon import Lexicon
from activities.replies.lexicons import en, es, fr, it, pl

__all__ = ["LEXICONS", "Lexicon"]

LEXICONS: dict[str, Lexicon] = {
    lexicon.language: lexicon
    for lexicon in (en.LEXICON, fr.LEXICON, it.LEXICON, es.LEXICON, pl.LEXICON)
}
