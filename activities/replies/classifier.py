"""Classify a debtor's free-text reply (SMS or email) into one actionable kind.

Why this exists: every inbound reply must be turned into something the dunning ladder can act
on *deterministically* -- an opt-out must stop that contact at once (legal exposure), a dispute
must pause collection, a promise-to-pay must carry the date the debtor named so the ladder can
wait for it, and everything else is recorded as ``unknown`` for a person to read.  Keyword
rules are used instead of a model so that the decision is explainable
(``Classification.matched`` goes to the audit trail) and reproducible: the only notion of "now"
is ``received_at``.

Design notes:

* The words live in one lexicon per supported language (``lexicons/``); this module is the
  engine.  Text is folded (``text.fold``) so patterns are written without accents.
* Opt-out keywords of every language are matched whatever the locale (a French debtor may
  write STOP).  The other intents are also matched in all languages (their phrases do not
  collide), which copes with debtors writing in a language other than their recorded locale.
* Precedence: opt_out > dispute > paid > promise > callback > payment_link > unknown.
* An opt-out names its channel: "don't call me", "ne m'appelez plus", "nie dzwońcie" opt out of
  calls (``channel="voicemail"``) whatever channel the reply came on; STOP and every other
  opt-out have ``channel=None``, the channel the reply came on.  A reply asking to stop calls
  *and* messages ("stop calling and texting me") gets ``None``: one reply can name only one
  channel, and the one it came on is the one it surely means.
* A negated stop is not an opt-out: "don't stop", "no dejen de escribirme", "non smettete di
  scrivermi" (the lexicons' ``negations``, only right before the phrase; "No, stop" is still
  an opt-out).
* Dates are the debtor's local dates (``dates.find_date``).  A promise naming a date that does
  not exist ("February 30", "31/04", "30 lutego") is ``unknown``, with ``matched`` saying
  so: the date is not guessed (rolled over or clamped) and a promise without its date cannot
  be recorded, so a person reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal
from zoneinfo import ZoneInfo

from activities.languages import SUPPORTED_LANGUAGES, supported_language
from activities.replies.dates import MONTH_WORD, ORDINAL, day_first, find_date, no_such_date
from activities.replies.lexicons import LEXICONS
from activities.replies.text import fold, phrase, rx

__all__ = ["VOICEMAIL", "Classification", "ReplyKind", "classify_reply"]

ReplyKind = Literal["opt_out", "promise", "dispute", "callback", "payment_link", "paid", "unknown"]
VOICEMAIL = "voicemail"  # the channel of phone calls (config.ladder.Channel.VOICEMAIL)


@dataclass(frozen=True)
class Classification:
    kind: ReplyKind
    promise_date: date | None = None  # only for "promise": the debtor's local date
    amount: Decimal | None = None  # only when the text names an amount -- never float
    matched: str | None = None  # the phrase/keyword that decided, for the audit trail
    channel: str | None = None  # only for "opt_out": the channel named; None: the reply's own


_LEXICONS = [LEXICONS[language] for language in SUPPORTED_LANGUAGES if language in LEXICONS]

# ------------------------------------------------------------------------ opt-out

_OPT_OUT_WHOLE = frozenset().union(*(lex.opt_out_whole for lex in _LEXICONS))
_POLITENESS = frozenset().union(*(lex.politeness for lex in _LEXICONS))


@dataclass(frozen=True)
class _OptOutRules:
    """One language's opt-out patterns, with the negations that undo them."""

    general: tuple[re.Pattern[str], ...]  # sentences, then keywords: the reply's channel
    calls: re.Pattern[str]  # the voicemail channel
    negated: re.Pattern[str]  # matched against the text *before* an opt-out phrase


_OPT_OUT_RULES = [
    _OptOutRules(
        general=(rx(lex.opt_out_sentence), rx(lex.opt_out_anywhere)),
        calls=rx(lex.opt_out_calls),
        negated=re.compile(
            r"(?<!\w)(?:" + "|".join(phrase(n) for n in lex.negations) + r")\Z"
            if lex.negations
            else r"(?!)"
        ),
    )
    for lex in _LEXICONS
]
# An opt-out phrase that is itself a negative command ("no me llamen", "nie piszcie") is not
# undone by a negation before it ("no, no me llamen" / "no no me llamen").
_STARTS_NEGATIVE = re.compile(r"(?:don't|dont|do not|never|ne|n'|non|no|nie)(?!\w)|n'")


def _opt_out_matches(folded: str, pattern: re.Pattern[str], negated: re.Pattern[str]):
    for m in pattern.finditer(folded):
        if _STARTS_NEGATIVE.match(m.group(0)) or not negated.search(folded, 0, m.start()):
            yield m


def _whole_message_opt_out(folded: str) -> str | None:
    words = re.findall(r"[a-z0-9']+", folded)
    kept = [w for w in words if w not in _POLITENESS]
    if not kept:
        return None
    text = " ".join(kept)
    if text in _OPT_OUT_WHOLE or text.replace("'", "") in _OPT_OUT_WHOLE:
        return text
    return None


def _opt_out(folded: str) -> tuple[re.Match[str], str | None] | None:
    """The first opt-out phrase and its channel (None: the reply's own), or None."""
    calls: list[re.Match[str]] = []
    general: list[re.Match[str]] = []
    for rules in _OPT_OUT_RULES:
        calls.extend(_opt_out_matches(folded, rules.calls, rules.negated))
        for pattern in rules.general:
            general.extend(_opt_out_matches(folded, pattern, rules.negated))
    # "stop" inside "stop calling", "ne me contactez plus" inside "... par téléphone": calls.
    general = [
        g for g in general if not any(c.start() <= g.start() and g.end() <= c.end() for c in calls)
    ]
    if general:
        return min(general, key=lambda m: m.start()), None
    if calls:
        return min(calls, key=lambda m: m.start()), VOICEMAIL
    return None


# -------------------------------------------------------------------- other intents

_DISPUTE = rx(p for lex in _LEXICONS for p in lex.dispute)
_PAID = rx(p for lex in _LEXICONS for p in lex.paid)
# Pay-intent phrases, by language (the language tells dateparser what to read).
_PAY_INTENT = {lex.language: rx(lex.pay_intent) for lex in _LEXICONS}
# "I can't pay" is not a promise: these spans are removed before looking for pay words.
_NEGATED_PAY = rx(p for lex in _LEXICONS for p in lex.negated_pay)
_CALLBACK = rx(p for lex in _LEXICONS for p in lex.callback)
_PAYMENT_LINK = rx(p for lex in _LEXICONS for p in lex.payment_link)

# ------------------------------------------------------------------------- amounts


def _alt(items: list[str]) -> str:
    return "(?:" + "|".join(dict.fromkeys(items)) + ")"


_NUM = r"\d{1,3}(?:[ .,]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_CUR = _alt(
    [r"€", r"\$", r"£", r"eur", r"usd", r"pln", r"gbp"]
    + [w for lex in _LEXICONS for w in lex.currency_words]
)
_AMOUNT_CURRENCY = re.compile(
    rf"(?:(?<![\w.,]){_CUR}\s?(?P<a>{_NUM})(?![\d])|(?<![\w.,])(?P<b>{_NUM})\s?{_CUR}(?!\w))"
)
# A bare number right after a pay verb: "I'll pay 50 on Friday", "zapłacę 100 w piątek",
# and, for "paid" replies, "I paid 75" -- not "pay 15th", "pay in 3 days", "pay 20 May".
_AMOUNT_AFTER_VERB = re.compile(
    r"(?<!\w)"
    + _alt([v for lex in _LEXICONS for v in lex.pay_verbs])
    + r"\s+(?:"
    + _alt([p for lex in _LEXICONS for p in lex.pay_pronouns] or [r"(?!)"])
    + r"\s+)?"
    + rf"(?P<n>{_NUM})(?![\d/]|\s?{ORDINAL}\b|[.,]\d)"
    + r"(?!\s+"
    + _alt([u for lex in _LEXICONS for u in lex.duration_units])
    + r"\b)"
    + rf"(?!\s+(?:of\s+|de\s+)?{MONTH_WORD})"
)
# "15.01" after a pay verb is a date, not 15.01 of money ("zapłacę 15.01").
_DATE_LIKE = re.compile(r"(?:0?[1-9]|[12]\d|3[01])[.,](?:0?[1-9]|1[0-2])")


def _to_decimal(raw: str) -> Decimal | None:
    s = raw.replace(" ", "")
    last_dot, last_comma = s.rfind("."), s.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        dec = max(last_dot, last_comma)
        s = re.sub(r"[.,]", "", s[:dec]) + "." + s[dec + 1 :]
    elif last_dot >= 0 or last_comma >= 0:
        sep = "." if last_dot >= 0 else ","
        head, _, tail = s.rpartition(sep)
        # "1.200" / "1,200" (groups of three) are thousands; "50,5" / "12.50" are decimals.
        if len(tail) == 3 and s.count(sep) >= 1 and re.fullmatch(r"\d{1,3}", head.split(sep)[0]):
            s = s.replace(sep, "")
        else:
            s = head.replace(sep, "") + "." + tail
    try:
        value = Decimal(s)
    except InvalidOperation:
        return None
    return value if value > 0 else None


def _find_amount(folded: str, pay_text: str) -> tuple[Decimal | None, tuple[int, int] | None]:
    for m in _AMOUNT_CURRENCY.finditer(folded):
        value = _to_decimal(m.group("a") or m.group("b"))
        if value is not None:
            return value, m.span()
    m = _AMOUNT_AFTER_VERB.search(pay_text)
    if m and not _DATE_LIKE.fullmatch(m.group("n")):
        value = _to_decimal(m.group("n"))
        if value is not None:
            return value, m.span("n")
    return None, None


# ------------------------------------------------------------------------ classify


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            chars[i] = " "
    return "".join(chars)


def classify_reply(text: str, locale: str, received_at: datetime, zone: str) -> Classification:
    """Classify one inbound reply; see the module docstring for the rules."""
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    if not text or not text.strip():
        return Classification("unknown")

    folded = fold(text)

    def original(m: re.Match[str]) -> str:
        return " ".join(text[m.start() : m.end()].split())

    # opt_out > everything.
    whole = _whole_message_opt_out(folded)
    if whole is not None:
        return Classification("opt_out", matched=whole)
    opt_out = _opt_out(folded)
    if opt_out is not None:
        m, channel = opt_out
        return Classification("opt_out", matched=original(m), channel=channel)

    # dispute > paid.
    m = _DISPUTE.search(folded)
    if m:
        return Classification("dispute", matched=original(m))
    m = _PAID.search(folded)
    if m:
        amount, _ = _find_amount(folded, folded)
        return Classification("paid", amount=amount, matched=original(m))

    # promise: pay intent (outside "how can I pay?" questions and "I can't pay") + a date.
    link = _PAYMENT_LINK.search(folded)
    pay_text = _blank(folded, [m.span() for m in _NEGATED_PAY.finditer(folded)])
    pay_text = _blank(pay_text, [m.span() for m in _PAYMENT_LINK.finditer(pay_text)])
    pay_match: re.Match[str] | None = None
    langs = [supported_language(locale)]
    for lang, pattern in _PAY_INTENT.items():
        pm = pattern.search(pay_text)
        if pm:
            if pay_match is None or pm.start() < pay_match.start():
                pay_match = pm
            if lang not in langs:
                langs.append(lang)
    if pay_match is not None:
        local = received_at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        amount, amount_span = _find_amount(folded, pay_text)
        date_text = _blank(folded, [amount_span] if amount_span else [])
        date_text = " ".join(re.sub(r"[^\w\s'/.\-]", " ", date_text).split())
        missing = no_such_date(date_text, local.date())
        if missing is not None:
            # Not a promise with a wrong date: a person reads it.
            missing_phrase = f"{original(pay_match)} | {missing}: no such date"
            return Classification("unknown", matched=missing_phrase)
        found = find_date(date_text, langs, local, day_first(locale))
        if found is not None:
            when, found_phrase = found
            return Classification(
                "promise",
                promise_date=when,
                amount=amount,
                matched=f"{original(pay_match)} | {found_phrase}",
            )

    m = _CALLBACK.search(folded)
    if m:
        return Classification("callback", matched=original(m))
    if link:
        return Classification("payment_link", matched=original(link))
    return Classification("unknown")
