"""Classify a debtor's free-text reply (SMS or email) into one actionable kind.

Why this exists: every inbound reply must be turned into something the dunning
ladder can act on *deterministically* -- an opt-out must stop all contact at once
(legal exposure), a dispute must pause collection, a promise-to-pay must carry the
date the debtor named so the ladder can wait for it, and everything else is
recorded as ``unknown`` for a person to read.  Keyword rules are used instead of a
model so that the decision is explainable (``Classification.matched`` goes to the
audit trail) and reproducible: the only notion of "now" is ``received_at``.

Design notes:

* Text is *folded* character-for-character (lower case, accents removed, ``ł``->``l``,
  curly apostrophes -> ``'``), so patterns are written once without accents and still
  match "arret", "pagare", "zaplace"; because folding is 1:1 the span of a match can
  be reported from the original text.
* Opt-out keywords of every language are matched whatever the locale (a French
  debtor may write STOP).  The other intents are also matched in all five languages
  (their phrases do not collide), which copes with debtors writing in a language
  other than their recorded locale.
* Precedence: opt_out > dispute > paid > promise > callback > payment_link > unknown.
* Dates are parsed by ``dateparser`` relative to the *local* wall time of
  ``received_at`` in ``zone``.  Only small pre-normalisations that dateparser 1.5.0
  needs are done here (see ``_DATE_REWRITES``) plus guards against its known
  mistakes; every result is today-or-later in the debtor's zone, else discarded.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal
from zoneinfo import ZoneInfo

import dateparser
from dateparser.search import search_dates

__all__ = ["Classification", "ReplyKind", "classify_reply"]

ReplyKind = Literal["opt_out", "promise", "dispute", "callback", "payment_link", "paid", "unknown"]


@dataclass(frozen=True)
class Classification:
    kind: ReplyKind
    promise_date: date | None = None  # only for "promise": the debtor's local date
    amount: Decimal | None = None  # only when the text names an amount -- never float
    matched: str | None = None  # the phrase/keyword that decided, for the audit trail


_LANGS = ("en", "fr", "it", "es", "pl")

# Dates further out than this are treated as parse errors (dateparser turns
# "50 on Friday" into the year 2050 and "01/15" read day-first into 2115).
_MAX_HORIZON = timedelta(days=400)

# --------------------------------------------------------------------------- folding

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


def _fold(text: str) -> str:
    """Lower-case and strip accents one character for one character (spans stay valid)."""
    return "".join(_fold_char(ch) for ch in text)


# ------------------------------------------------------------------- pattern helpers


def _rx(*phrases: str) -> re.Pattern[str]:
    """Compile folded phrases into one word-bounded regex.

    In a phrase a space means "some whitespace or hyphens", a hyphen means "an
    optional hyphen or whitespace" and an apostrophe means "an optional apostrophe
    or whitespace" -- so "appelez-moi", "appelez moi", "j'ai", "jai" all match.
    Phrases must not put spaces, hyphens or apostrophes inside character classes.
    """
    parts = []
    for phrase in phrases:
        p = phrase.replace("-", r"[\s-]*").replace("'", r"['\s]*").replace(" ", r"[\s-]+")
        parts.append(p)
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")


# ------------------------------------------------------------------------ opt-out

# A reply that is *only* one of these (after dropping punctuation, emoji and
# politeness words) is an opt-out.  Generic words such as CANCEL, END, NIE, BAJA
# only count when they are the whole reply.
_OPT_OUT_WHOLE = frozenset(
    {
        # en
        "stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "revoke",
        "optout", "opt out", "stop sms", "stop texts", "stop text", "stop messages",
        "unsubscribe me", "remove me", "opt me out",
        # fr
        "arret", "arret sms", "desabonner", "me desabonner", "desabonnement",
        "desinscrire", "me desinscrire", "desinscription", "desabonnez moi",
        "desinscrivez moi",
        # it
        "basta", "cancellami", "disiscrivi", "disiscrivimi", "disiscrivetemi",
        "basta sms", "basta messaggi", "cancellatemi",
        # es
        "baja", "cancelar", "no mas mensajes", "no mas sms", "darme de baja",
        "dar de baja", "de baja",
        # pl
        "nie", "rezygnuje", "wypisz", "wypisz mnie", "koniec", "rezygnacja",
    }
)  # fmt: skip

_POLITENESS = frozenset(
    {
        "please", "pls", "plz", "thanks", "thank", "you", "thx", "now", "merci", "svp",
        "stp", "s'il", "vous", "plait", "per", "favore", "grazie", "por", "favor",
        "gracias", "prosze", "dziekuje", "ok", "okay",
    }
)  # fmt: skip

# Strong keywords: anywhere in the reply, as a word of their own, they opt out
# (failing to honour an opt-out is the costly mistake, so "STOP. I'll pay Friday"
# is an opt-out).
_OPT_OUT_ANYWHERE = _rx(
    "stop", "stopall", "unsubscribe", "opt-out", "arret sms", "desabonner",
    "desabonnez-moi", "desinscrire", "desinscrivez-moi", "cancellami", "cancellatemi",
    "disiscrivi(?:mi|temi)?", "rezygnuje", "wypisz(?:cie)? mnie", "wypisz",
)  # fmt: skip

_CONTACT_EN = (
    r"(?:text(?:ing)?|messag(?:e|ing)|contact(?:ing)?|call(?:ing)?|email(?:ing)?|writ(?:e|ing)|sms)"
)
_OPT_OUT_SENTENCE = _rx(
    # en
    rf"stop {_CONTACT_EN}",
    rf"(?:don't|dont|do not|never) {_CONTACT_EN} (?:me|us)",
    r"remove (?:me|my number) from (?:your|the|this) (?:list|system|database)",
    r"take me off (?:your|the|this) list", r"no more (?:texts|messages|sms|emails)",
    r"leave me alone",
    # fr
    r"ne (?:m'|me )(?:ecrivez|contactez|appelez|envoyez|harcelez|relancez)(?: \w+)? plus",
    r"ne plus (?:me contacter|m'ecrire|m'appeler)",
    r"arretez de (?:m'ecrire|me contacter|m'envoyer|m'appeler|me harceler|me relancer)",
    r"je ne veux plus (?:recevoir|de) (?:vos |de |des )?(?:sms|messages|mails|e-?mails)",
    r"plus de (?:sms|messages)",
    # it
    r"non (?:mi )?(?:contattate|scrivete|chiamate|mandate|cercate)(?:mi)?(?: \w+)? piu",
    r"non contattarmi piu", r"non scrivermi piu",
    r"smette(?:te|tela)? di (?:scrivermi|contattarmi|mandarmi|chiamarmi)",
    r"non voglio piu (?:ricevere )?(?:messaggi|sms|email)",
    # es
    r"no me (?:escriban|escribas|contacten|contactes|llamen|manden|envien|molesten)(?: \w+)? mas",
    r"dejen de (?:escribirme|contactarme|mandarme|llamarme|molestarme)",
    r"no quiero (?:recibir )?mas (?:mensajes|sms|correos)",
    r"darme de baja", r"denme de baja",
    # pl
    r"nie (?:piszcie|dzwoncie|kontaktujcie sie|wysylajcie)(?: do mnie| wiecej)?",
    r"prosze (?:do mnie )?nie (?:pisac|dzwonic|wysylac)",
    r"przestancie (?:do mnie )?(?:pisac|dzwonic|wysylac)",
    r"nie chce (?:wiecej )?(?:dostawac )?(?:sms\w*|wiadomosci)",
)  # fmt: skip

# -------------------------------------------------------------------- other intents

_DISPUTE = _rx(
    # en
    r"not my (?:debt|bill|account|invoice|loan)", r"(?:it's|its|this is|that's|thats) not mine",
    r"i (?:don't|dont|do not) owe", r"i owe (?:you )?nothing", r"wrong (?:amount|person|number)",
    r"(?:amount|balance|bill|invoice) is (?:wrong|incorrect|not correct)",
    r"i (?:dispute|contest)", r"disput(?:e|ing) (?:this|the|it)", r"this is (?:a )?(?:scam|fraud)",
    r"never (?:had|signed|opened|ordered|took)",
    # fr
    r"je conteste", r"contest(?:e|ation) (?:de )?(?:cette|la|ce)", r"contestation",
    r"(?:ce )?n'est pas ma dette", r"pas ma dette", r"je ne (?:vous )?dois rien",
    r"montant (?:incorrect|errone|faux)", r"c'est une erreur",
    r"je ne connais pas cette (?:dette|facture|societe)",
    # it
    r"non e (?:un |il )?mio debito", r"non e mio",
    # Spanish "le contesto mañana" means "I'll answer you tomorrow".
    r"(?<!le\x20)(?<!te\x20)(?<!les\x20)contesto"
    r"(?! (?:manana|luego|despues|ahora|pronto|en breve))",
    r"non (?:vi )?devo (?:nulla|niente)",
    r"importo (?:sbagliato|errato)", r"e un errore", r"non conosco questo debito",
    # es
    r"no es mi deuda", r"no (?:les |le )?debo", r"no tengo ninguna deuda",
    r"(?:importe|monto|cantidad) (?:incorrect[oa]|erroneo)", r"es un error", r"impugno", r"disputo",
    r"reclamo",
    # pl
    r"nie znam tego dlugu", r"to nie (?:jest )?moj dlug",
    r"nie (?:jestem )?nic winn?(?:y|a|ien|na)",
    r"nic nie jestem winn?(?:y|a|ien|na)", r"kwestionuje", r"reklamacj[aei]", r"reklamuje",
    r"(?:zla|bledna|niewlasciwa) kwota", r"to (?:jest )?(?:pomylka|blad)",
    r"nie mam (?:zadnego )?dlugu",
)  # fmt: skip

_PAID = _rx(
    # en
    r"already (?:paid|settled|sent)", r"i(?:'ve| have)? (?:paid|settled)(?! you back)",
    r"(?:it's|its|it is|it was|this (?:is|was)|bill (?:is|was)) (?:already )?(?:paid|settled)",
    r"(?:payment|transfer) (?:was |has been )?(?:made|sent|done)", r"paid in full",
    # fr
    r"deja (?:paye|regle|vire|rembourse)", r"j'ai (?:deja )?(?:paye|regle|vire|rembourse)",
    r"j'ai (?:deja )?fait (?:le|un) virement", r"c'est (?:deja )?(?:paye|regle)",
    r"(?:paiement|virement|reglement) (?:deja )?effectue",
    # it
    r"gia (?:pagato|saldato|versato)", r"ho (?:gia )?(?:pagato|saldato|versato)",
    r"ho (?:gia )?fatto il bonifico", r"(?:e|e gia) stato (?:pagato|saldato)",
    r"pagamento (?:gia )?effettuato", r"bonifico (?:gia )?(?:fatto|effettuato)",
    # es
    r"ya (?:lo )?(?:pague|abone|page)", r"(?:ya )?(?:he|hemos) (?:pagado|abonado)",
    r"ya (?:esta|estaba) pagad[oa]", r"ya (?:hice|realice) (?:el pago|la transferencia)",
    r"pague ayer",
    # pl
    r"juz (?:za|w|s|o)?placil(?:em|am|am|ismy)", r"(?:za|w|s)placil(?:em|am)",
    r"juz (?:jest )?(?:zaplacone|oplacone|splacone)", r"zrobil(?:em|am) przelew",
    r"przelew (?:zostal )?(?:wyslany|zrobiony|wykonany)",
)  # fmt: skip

# Pay-intent phrases, by language (the language tells dateparser what to read).
_PAY_INTENT: dict[str, re.Pattern[str]] = {
    "en": _rx(
        r"(?:i|we)(?:'ll| will| can| could| shall)(?: \w+)? pay",
        r"ill pay",
        r"(?:going to|gonna|plan to|planning to|promise to) pay",
        r"(?:will|can) pay",
        r"pay(?:ing|ment|ments)?",
        r"(?:i|we)?(?:'ll| will) send (?:the |you )?(?:money|payment|it)",
    ),
    "fr": _rx(
        r"je (?:vais|peux|pourrai|compte) (?:vous )?(?:payer|regler|rembourser|faire le virement)",
        r"(?:je )?(?:vous )?(?:paierai|payerai|reglerai|rembourserai|verserai)",
        r"pay(?:er|e|es|ons|ez)",
        r"paie",
        r"paiement",
        r"regl(?:er|e|ement)",
        r"virement",
    ),
    "it": _rx(
        r"(?:vi )?paghero",
        r"paghiamo",
        r"pagher(?:emo|o)",
        r"(?:vi )?salder(?:o|emo)",
        r"posso pagare",
        r"pag(?:are|o|amento)",
        r"saldare",
        r"bonifico",
        r"versero",
    ),
    "es": _rx(
        r"voy a (?:pagar|abonar|depositar|transferir)",
        r"(?:les |le )?pagare",
        r"pagaremos",
        r"abonare",
        r"pag(?:ar|o)",
        r"abonar",
        r"transferencia",
        r"deposit(?:ar|are|o)",
    ),
    "pl": _rx(
        r"zaplac\w*",
        r"(?:u)?reguluj\w*",
        r"wplac\w*",
        r"splac\w*",
        r"oplac\w*",
        r"place",
        r"placic",
        r"wplata",
        r"przelew\w*",
        r"oddam",
    ),
}

# "I can't pay" is not a promise: these spans are removed before looking for pay words.
_NEGATED_PAY = _rx(
    r"(?:can't|cant|cannot|can not|won't|wont|will not|unable to|not able to) (?:\w+ )?pay",
    r"ne (?:peux|pourrai|vais|veux) pas (?:vous )?(?:payer|regler)", r"ne (?:paierai|payerai) pas",
    r"non (?:posso|riesco a|voglio|paghero|pago)(?: \w+)?(?: pagare)?",
    r"no (?:puedo|voy a|pienso) pagar", r"no (?:pagare|pago)",
    r"nie (?:moge|zaplace|bede|chce|mam jak)(?: \w+)?(?: (?:zaplacic|placic))?",
)  # fmt: skip

_CALLBACK = _rx(
    # en
    r"call me", r"please call", r"call (?:me )?back", r"can (?:someone|somebody|you|anyone) call",
    r"give me a (?:call|ring)", r"ring me", r"phone me",
    r"(?:speak|talk) (?:to|with) (?:someone|somebody|a person|a human|an agent|an advisor|you)",
    # fr
    r"(?:r)?appelez-moi", r"(?:r)?appelle-moi", r"me rappeler", r"m'appeler",
    r"parler (?:a|avec) (?:quelqu'un|un conseiller|une personne)",
    r"contactez-moi par telephone",
    # it
    r"(?:ri)?chiamatemi", r"(?:ri)?chiamami", r"mi (?:potete |puo )?(?:ri)?chiamare",
    r"potete (?:ri)?chiamarmi", r"mi chiami", r"parlare con (?:qualcuno|un operatore|una persona)",
    # es
    r"llamenme", r"llamame", r"me (?:pueden |puede )?llam(?:ar|en|a)", r"pueden llamarme",
    r"hablar con (?:alguien|un agente|una persona|un asesor)",
    # pl
    r"(?:prosze o )?kontakt telefoniczny", r"(?:za|od)dzwon(?:cie|c)?", r"prosze (?:za|od)dzwonic",
    r"prosze o telefon", r"porozmawiac z (?:konsultantem|kims|doradca)",
)  # fmt: skip

_PAYMENT_LINK = _rx(
    # en
    r"how (?:can|do|should|could) (?:i|we) pay", r"how to pay", r"where (?:can|do) (?:i|we) pay",
    r"send (?:me |us )?(?:the |a )?(?:payment )?link", r"payment link", r"the link", r"link to pay",
    r"pay online", r"bank details", r"account number",
    # fr
    r"comment (?:(?:je )?(?:peux|puis)(?:-je)? |faire pour |on peut )?(?:payer|regler|vous payer)",
    r"lien de paiement", r"(?:le|un) lien", r"ou (?:puis-je |je peux )?payer", r"rib",
    r"coordonnees bancaires",
    # it
    r"come (?:posso |devo |si puo )?pag(?:are|o)", r"link (?:per|di) (?:il )?pag(?:are|amento)",
    r"(?:mandate|inviate|mandatemi|inviatemi|mi mandate|mi inviate)(?: \w+)? (?:il )?link",
    r"il link", r"iban", r"dove (?:posso )?pag(?:are|o)",
    # es
    r"como (?:puedo |debo )?pag(?:ar|o)", r"(?:enlace|link) de pago", r"el (?:enlace|link)",
    r"(?:mandenme|envienme|manden|envien) (?:el |un )?(?:enlace|link)",
    r"donde (?:puedo )?pag(?:ar|o)", r"numero de cuenta",
    # pl
    r"jak (?:moge |mam |mozna )?(?:za)?plac(?:ic|e)", r"link do (?:platnosci|zaplaty|wplaty)",
    r"(?:przeslijcie|wyslijcie|prosze o) link", r"numer (?:konta|rachunku)",
    r"gdzie (?:moge )?(?:za)?placic",
)  # fmt: skip

# ---------------------------------------------------------------------- vocabulary

_WEEKDAYS = (
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed|thu(?:rs?)?|fri|"
    r"sat|sun|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|lunedi|martedi|mercoledi|"
    r"giovedi|venerdi|sabato|domenica|lunes|martes|miercoles|jueves|viernes|sabado|domingo|"
    r"poniedzialek|wtorek|sroda|srode|czwartek|piatek|sobota|sobote|niedziela|niedziele)"
)
_WEEKDAY_RX = re.compile(rf"(?<!\w){_WEEKDAYS}(?!\w)")
_MONTH_STEM = (
    r"(?:jan|feb|fev|mar(?![td])|apr|avr|abr|may|mai(?!s)|mag|jun|juin|giu|jul|juil|lug|aug|aou|ago|"
    r"sep|set(?!timan)|"
    r"oct|ott|nov|dec|dic|gen|ene|sty|lut|kwi|maj|cze|lip|sierp|wrz|paz|lis|gru)\w*"
)

# ------------------------------------------------------------------------- amounts

_NUM = r"\d{1,3}(?:[ .,]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_CUR = r"€|\$|£|eur(?:o|os)?|usd|dollars?|bucks|pln|zl(?:oty|otych|ote)?|gbp"
_AMOUNT_CURRENCY = re.compile(
    rf"(?:(?<![\w.,])(?:{_CUR})\s?(?P<a>{_NUM})(?![\d])|(?<![\w.,])(?P<b>{_NUM})\s?(?:{_CUR})(?!\w))"
)
# A bare number right after a pay verb: "I'll pay 50 on Friday", "zapłacę 100 w piątek".
_AMOUNT_AFTER_VERB = re.compile(
    r"(?<!\w)(?:pay|payer|paierai|payerai|paye|paie|reglerai|verserai|paghero|pagare|pago|"
    r"versero|pagar|abonare|zaplace|wplace|splace|oddam|place|"
    # past forms, for "paid" replies: "I paid 75", "ho pagato 40 euro"
    r"paid|pagato|pagado|pague|(?:za|w)placil(?:em|am)|regle|verse|vire)"
    r"\s+(?:you\s+|vous\s+|vi\s+|les\s+)?"
    rf"(?P<n>{_NUM})(?![\d/]|\s?(?:st|nd|rd|th|er|eme|-?go)\b|[.,]\d)"
    r"(?!\s+(?:days?|weeks?|months?|jours?|semaines?|mois|giorni|settimane|mesi|dias|semanas|"
    r"mes(?:es)?|dni|tygodni\w*|miesi\w*)\b)"
    rf"(?!\s+(?:of\s+|de\s+)?{_MONTH_STEM})"
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


# --------------------------------------------------------------------------- dates

_NEXT = r"(?:next|prochain|prossim[oa]|proxim[oa]|przyszl[aey]|przyszla)"
# "next Friday", "vendredi prochain", "el viernes que viene", "w przyszły piątek":
# the weekday of the *following* calendar week (see step 4 of _find_date).
_NEXT_WEEKDAY = re.compile(
    rf"(?<!\w)(?:(?:il |la |el |w )?{_NEXT}\s+(?P<a>{_WEEKDAYS})|(?P<b>{_WEEKDAYS})\s+"
    rf"(?:{_NEXT}|que\s+viene))(?!\w)"
)
# "le 15", "il 15", "el 15", "the 15th", "on the 3rd", "dnia 15", "do 15-go": a day of
# the month with no month -- dateparser gets "the 3rd" (-> 1 March) and "le 3" (a past
# date) wrong and does not find "il 15"/"el 15" at all.
_DAY_ONLY = re.compile(
    r"(?<!\w)(?:(?:on|by|before|until) )?(?:le|il|el|the|dnia|du|al|do|avant le|entro il|"
    r"para el|hasta el|el dia|il giorno|przed)\s+"
    r"(?P<d>\d{1,2})(?:st|nd|rd|th|er|eme|o|º|°|-?go)?(?!\w)"
    rf"(?!\s*(?:[/.\-]\s*\d|(?:of\s+|de\s+)?{_MONTH_STEM}))"
)
_ORDINAL_DAY = re.compile(
    r"(?<![\w/.])(?P<d>\d{1,2})(?:st|nd|rd|th)(?!\w)"
    rf"(?!\s*(?:of\s+)?{_MONTH_STEM})"
)
# dateparser reads "lunes 11" as November: a weekday followed by a bare day number
# is rewritten to a day-of-month phrase.
_WEEKDAY_DAYNUM = re.compile(
    rf"(?<!\w){_WEEKDAYS}\s+(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th|er)?(?!\w|\s*(?:h|am|pm|:))"
    rf"(?!\s*(?:[/.\-]\s*\d|(?:of\s+|de\s+)?{_MONTH_STEM}))"
)
_NUMERIC_DATE = re.compile(
    r"(?<![\d.,/])(?P<d1>\d{1,2})\s?(?P<s>[./-])\s?(?P<d2>\d{1,2})(?:(?P=s)(?P<y>\d{4}|\d{2}))?"
    r"(?![\d.,/]\d|\d)"
)
_END_OF_MONTH = _rx(
    r"(?:by |at |before )?(?:the )?end of (?:the |this )?month",
    r"(?:a la |d'ici la )?fin du mois",
    r"(?:a |entro )?(?:la )?fine (?:del )?mese",
    r"(?:a |para )?(?:finales|fin|final) de(?:l)? mes",
    r"(?:do |na )?kon(?:iec|ca|cem) miesiaca",
)

# Small pre-normalisations dateparser 1.5.0 needs: (pattern, replacement).
_DATE_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (_rx(r"tmrw?", r"tmrrw", r"2moro(?:w)?", r"2morrow", r"tomoro(?:w)?"), "tomorrow"),
    (_rx(r"dem1", r"2m1"), "demain"),
    (_rx(r"aujourd hui", r"aujourdhui", r"ajd"), "aujourd'hui"),
    # search_dates picks "tomorrow" out of "day after tomorrow"; parse() alone works.
    (_rx(r"(?:the )?day after tomorrow"), "in 2 days"),
    (_rx(r"apres-demain"), "dans 2 jours"),
    (_rx(r"dopo-domani"), "tra 2 giorni"),
    (_rx(r"pasado manana"), "en 2 dias"),
    # "next week"-style phrases that search_dates does not find.
    (_rx(r"(?:la )?semaine prochaine", r"la prochaine semaine"), "dans 7 jours"),
    (_rx(r"(?:la )?prossima settimana", r"(?:la )?settimana prossima", r"tra una settimana"),
     "tra 7 giorni"),
    (_rx(r"(?:la )?semana que viene", r"(?:la )?proxima semana", r"(?:la )?semana proxima"),
     "en 7 dias"),
    (_rx(r"w przyszlym tygodniu", r"za tydzien"), "za 7 dni"),
    # Polish "do piątku" (by Friday) uses the genitive, which dateparser does not know.
    (_rx(r"poniedzialku"), "poniedzialek"),
    (_rx(r"wtorku"), "wtorek"),
    (_rx(r"srody"), "sroda"),
    (_rx(r"czwartku"), "czwartek"),
    (_rx(r"piatku"), "piatek"),
    (_rx(r"soboty"), "sobota"),
    (_rx(r"niedzieli"), "niedziela"),
    (_rx(r"(?:le )?mois prochain", r"le prochain mois"), "dans 1 mois"),
    (_rx(r"(?:il )?mese prossimo", r"(?:il )?prossimo mese", r"tra un mese"), "tra 1 mese"),
    (_rx(r"(?:el )?mes que viene", r"(?:el )?proximo mes", r"(?:el )?mes proximo"), "en 1 mes"),
    (_rx(r"w przyszlym miesiacu", r"za miesiac"), "za 1 miesiac"),
)  # fmt: skip

_SPURIOUS_HIT = re.compile(r"[a-z]{1,2}|\d+")  # "je" -> jeudi, "ma" -> mardi, bare numbers


def _language(locale: str) -> str:
    lang = re.split(r"[-_]", locale.strip().lower(), maxsplit=1)[0] if locale else ""
    return lang if lang in _LANGS else "en"


def _day_first(locale: str) -> bool:
    parts = re.split(r"[-_]", locale.strip().lower())
    if parts[0] != "en":
        return True
    return len(parts) > 1 and parts[1] not in ("us", "ph")


def _in_range(candidate: date, today: date) -> bool:
    return today <= candidate <= today + _MAX_HORIZON


def _day_of_month(day: int, today: date) -> date | None:
    """The next day ``day`` of a month that is today or later ("le 3" on the 20th -> 3rd of
    next month); a day the month lacks ("le 31" in April) becomes its last day."""
    if not 1 <= day <= 31:
        return None
    year, month = today.year, today.month
    for _ in range(2):
        last = calendar.monthrange(year, month)[1]
        candidate = date(year, month, min(day, last))
        if candidate >= today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _settings(base: datetime, **extra: object) -> dict[str, object]:
    settings: dict[str, object] = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": False,
        "TIMEZONE": "UTC",
        "TO_TIMEZONE": "UTC",
    }
    settings.update(extra)
    return settings


def _find_date(
    text: str, langs: list[str], base: datetime, day_first: bool
) -> tuple[date, str] | None:
    """The first date named in folded ``text`` (amount already blanked out), or None."""
    today = base.date()

    # 1. Numeric dates "15/01", "15.01.2027", "5/1/27": dateparser reads "15.01" as a
    #    time and two-digit years day-first as 21xx, so expand and try both orders.
    for m in _NUMERIC_DATE.finditer(text):
        year = m.group("y")
        if year and len(year) == 2:
            year = "20" + year
        probe = f"{m.group('d1')}/{m.group('d2')}" + (f"/{year}" if year else "")
        for order in ("DMY", "MDY") if day_first else ("MDY", "DMY"):
            got = dateparser.parse(
                probe, languages=["en"], settings=_settings(base, DATE_ORDER=order)
            )
            if got is not None and _in_range(got.date(), today):
                return got.date(), m.group(0)

    # 2. End of the month: the last day of the current month.
    m = _END_OF_MONTH.search(text)
    if m:
        last = calendar.monthrange(today.year, today.month)[1]
        return date(today.year, today.month, last), m.group(0)

    # 3. Pre-normalisations, then day-of-month-only phrases.
    for pattern, replacement in _DATE_REWRITES:
        text = pattern.sub(replacement, text)
    text = _WEEKDAY_DAYNUM.sub(lambda wm: f"the {wm.group('d')}", text)
    m = _DAY_ONLY.search(text) or _ORDINAL_DAY.search(text)
    if m:
        found = _day_of_month(int(m.group("d")), today)
        if found is not None:
            return found, m.group(0)

    # 4. "next <weekday>" -> the weekday of the following calendar week.
    next_week = False
    m = _NEXT_WEEKDAY.search(text)
    if m:
        next_week = True
        weekday = m.group("a") or m.group("b")
        text = text[: m.start()] + " " + weekday + " " + text[m.end() :]

    # 5. Everything else: dateparser's own search.
    hits = search_dates(text, languages=langs, settings=_settings(base)) or []
    for phrase, when in hits:
        if _SPURIOUS_HIT.fullmatch(phrase.strip()):
            continue
        found = when.date()
        if (
            next_week
            and _WEEKDAY_RX.search(phrase)
            and found.isocalendar()[:2] == (today.isocalendar()[:2])
        ):
            found += timedelta(days=7)
        if _in_range(found, today):
            return found, phrase.strip()
    return None


# ------------------------------------------------------------------------ classify


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            chars[i] = " "
    return "".join(chars)


def _find_amount(folded: str, pay_text: str) -> tuple[Decimal | None, tuple[int, int] | None]:
    for m in _AMOUNT_CURRENCY.finditer(folded):
        raw = m.group("a") or m.group("b")
        value = _to_decimal(raw)
        if value is not None:
            return value, m.span()
    m = _AMOUNT_AFTER_VERB.search(pay_text)
    if m and not _DATE_LIKE.fullmatch(m.group("n")):
        value = _to_decimal(m.group("n"))
        if value is not None:
            return value, m.span("n")
    return None, None


def _whole_message_opt_out(folded: str) -> str | None:
    words = re.findall(r"[a-z0-9']+", folded)
    kept = [w for w in words if w not in _POLITENESS]
    if not kept:
        return None
    phrase = " ".join(kept)
    if phrase in _OPT_OUT_WHOLE or phrase.replace("'", "") in _OPT_OUT_WHOLE:
        return phrase
    return None


def classify_reply(text: str, locale: str, received_at: datetime, zone: str) -> Classification:
    """Classify one inbound reply; see the module docstring for the rules."""
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    if not text or not text.strip():
        return Classification("unknown")

    folded = _fold(text)

    def original(m: re.Match[str]) -> str:
        return " ".join(text[m.start() : m.end()].split())

    # opt_out > everything.
    whole = _whole_message_opt_out(folded)
    if whole is not None:
        return Classification("opt_out", matched=whole)
    for pattern in (_OPT_OUT_SENTENCE, _OPT_OUT_ANYWHERE):
        m = pattern.search(folded)
        if m:
            return Classification("opt_out", matched=original(m))

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
    langs = [_language(locale)]
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
        found = _find_date(date_text, langs, local, _day_first(locale))
        if found is not None:
            when, phrase = found
            return Classification(
                "promise",
                promise_date=when,
                amount=amount,
                matched=f"{original(pay_match)} | {phrase}",
            )

    m = _CALLBACK.search(folded)
    if m:
        return Classification("callback", matched=original(m))
    if link:
        return Classification("payment_link", matched=original(link))
    return Classification("unknown")
