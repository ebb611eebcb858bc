"""The shape of one language's lexicon for the reply classifier.

Every string is folded (lower case, no accents, ``ł`` -> ``l``: see ``text.fold``) and, unless
said otherwise, written in the phrase notation of ``text.phrase`` (a space is "whitespace or
hyphens", a hyphen an optional hyphen, an apostrophe an optional apostrophe; otherwise a regular
expression).  The classifier joins the lists of all languages (in the order of
``SUPPORTED_LANGUAGES``), so a debtor may write in a language other than their locale's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Lexicon"]


@dataclass(frozen=True, eq=False)
class Lexicon:
    language: str  # one of activities.languages.SUPPORTED_LANGUAGES

    # ---- opt-out (the costly mistake is missing one) ----------------------------------------
    # The whole reply, once politeness words and punctuation are dropped (plain words, not
    # phrases): generic words such as CANCEL, NIE, BAJA only count when they are the reply.
    opt_out_whole: frozenset[str]
    politeness: frozenset[str]  # plain words
    # Strong keywords that opt out wherever they stand ("STOP. I'll pay Friday").
    opt_out_anywhere: tuple[str, ...]
    # Asking to stop messages or contact: an opt-out of the channel the reply came on.
    opt_out_sentence: tuple[str, ...]
    # Asking to stop phone calls ("don't call me"): an opt-out of the voicemail channel.
    opt_out_calls: tuple[str, ...]
    # Right before an opt-out phrase (nothing but spaces between) one of these undoes it:
    # "don't stop", "no dejen de escribirme".  Each ends with what separates it from the next
    # word (a space, or the apostrophe of "n'arrêtez").  Not applied to a phrase that itself
    # starts with a negation ("no no me escriban más").
    negations: tuple[str, ...]

    # ---- other intents ----------------------------------------------------------------------
    dispute: tuple[str, ...]
    paid: tuple[str, ...]
    pay_intent: tuple[str, ...]  # a promise needs one of these and a date
    negated_pay: tuple[str, ...]  # "I can't pay": removed before looking for pay_intent
    callback: tuple[str, ...]
    payment_link: tuple[str, ...]

    # ---- amounts (regular expressions without spaces) ---------------------------------------
    currency_words: tuple[str, ...]  # beside the symbols and ISO codes: "50 bucks", "100 zł"
    pay_verbs: tuple[str, ...]  # a bare number right after one is an amount: "pay 50"
    pay_pronouns: tuple[str, ...]  # ...also after one of these: "pay you 50"
    duration_units: tuple[str, ...]  # ...unless a unit follows: "pay in 3 days"

    # ---- dates ------------------------------------------------------------------------------
    weekdays: tuple[str, ...]
    # Every written form of each month (inflections, abbreviations; plain words) -> 1..12.
    months: Mapping[str, int]
    next_before: tuple[str, ...]  # "next" before a weekday: "next Friday", "w przyszły piątek"
    next_after: tuple[str, ...]  # ...and after it: "vendredi prochain", "el viernes que viene"
    day_prefixes: tuple[str, ...]  # a day of the month alone: "le 15", "the 15th", "dnia 15"
    ordinal_suffixes: tuple[str, ...]  # "15th", "1er", "15-go" (regular expressions)
    end_of_month: tuple[str, ...]
    # (phrases, replacement): pre-normalisations dateparser 1.5.0 needs, applied in order.
    date_rewrites: tuple[tuple[tuple[str, ...], str], ...]
