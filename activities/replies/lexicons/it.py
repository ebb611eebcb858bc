"""Italian words of the reply classifier (folded; notation in ``activities.replies.lexicon``)."""

from __future__ import annotations

from activities.replies.lexicon import Lexicon

_WRITE_ME = r"(?:scrivermi|contattarmi|mandarmi\w*)"
_CALL_ME = r"(?:chiamarmi|telefonarmi)"
_STOP_IT = r"smett(?:ete|etela|ila|i)"

# fmt: off
LEXICON = Lexicon(
    language="it",
    opt_out_whole=frozenset(
        {
            "basta", "cancellami", "disiscrivi", "disiscrivimi", "disiscrivetemi",
            "basta sms", "basta messaggi", "cancellatemi",
        }
    ),
    politeness=frozenset({"per", "favore", "grazie"}),
    opt_out_anywhere=("cancellami", "cancellatemi", "disiscrivi(?:mi|temi)?"),
    opt_out_sentence=(
        # Calls *and* something else: the channel the reply came on (one channel only).
        rf"{_STOP_IT} di {_CALL_ME} (?:e|o|ne) (?:di )?{_WRITE_ME}",
        r"non (?:mi )?(?:chiamate|chiamatemi|telefonate|telefonatemi) (?:e|ne|o) (?:non )?"
        r"(?:mi )?(?:scrivete|scrivetemi|contattate|contattatemi)",
        r"basta (?:chiamate|telefonate) e (?:messaggi|sms)",
        r"non (?:mi )?(?:contattate|scrivete|mandate|cercate)(?:mi)?(?: \w+)? piu",
        r"non contattarmi piu", r"non scrivermi piu",
        rf"{_STOP_IT} di {_WRITE_ME}",
        r"non voglio piu (?:ricevere )?(?:messaggi|sms|email)",
    ),
    opt_out_calls=(
        # Not "perché non mi chiamate più?" (why don't you call me any more?).
        r"(?<!perche\x20)non (?:mi )?(?:chiamate|telefonate)(?:mi)?(?: \w+)? piu",
        r"non (?:chiamatemi|telefonatemi|chiamarmi|telefonarmi)",
        r"(?<!perche\x20)non mi (?:chiamare|telefonare)",
        rf"{_STOP_IT} di (?:{_CALL_ME}|chiamare|telefonare)",
        r"basta (?:con le )?(?:chiamate|telefonate)", rf"basta {_CALL_ME}",
        r"niente (?:piu )?(?:chiamate|telefonate)", r"mai piu (?:chiamate|telefonate)",
        r"non voglio (?:piu )?(?:essere (?:chiamat|contattat)[oa] (?:al|per) telefono"
        r"|essere chiamat[oa]|(?:ricevere )?(?:chiamate|telefonate))",
        r"non (?:mi )?(?:contattate|cercate)(?:mi)?(?: piu)? (?:al|per|via) telefono",
    ),
    negations=(r"non (?:mi |ti |vi |ci )?", r"non voglio (?:piu )?"),
    dispute=(
        r"non e (?:un |il )?mio debito", r"non e mio",
        # Spanish "le contesto mañana" means "I'll answer you tomorrow".
        r"(?<!le\x20)(?<!te\x20)(?<!les\x20)contesto"
        r"(?! (?:manana|luego|despues|ahora|pronto|en breve))",
        r"non (?:vi )?devo (?:nulla|niente)",
        r"importo (?:sbagliato|errato)", r"e un errore", r"non conosco questo debito",
    ),
    paid=(
        r"gia (?:pagato|saldato|versato)", r"ho (?:gia )?(?:pagato|saldato|versato)",
        r"ho (?:gia )?fatto il bonifico", r"(?:e|e gia) stato (?:pagato|saldato)",
        r"pagamento (?:gia )?effettuato", r"bonifico (?:gia )?(?:fatto|effettuato)",
    ),
    pay_intent=(
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
    negated_pay=(r"non (?:posso|riesco a|voglio|paghero|pago)(?: \w+)?(?: pagare)?",),
    callback=(
        r"(?:ri)?chiamatemi", r"(?:ri)?chiamami", r"mi (?:potete |puo )?(?:ri)?chiamare",
        r"potete (?:ri)?chiamarmi", r"mi chiami",
        r"parlare con (?:qualcuno|un operatore|una persona)",
    ),
    payment_link=(
        r"come (?:posso |devo |si puo )?pag(?:are|o)", r"link (?:per|di) (?:il )?pag(?:are|amento)",
        r"(?:mandate|inviate|mandatemi|inviatemi|mi mandate|mi inviate)(?: \w+)? (?:il )?link",
        r"il link", r"iban", r"dove (?:posso )?pag(?:are|o)",
    ),
    currency_words=(r"euro",),
    pay_verbs=("paghero", "pagare", "pago", "versero", "pagato"),
    pay_pronouns=("vi",),
    duration_units=(r"giorni", r"settimane", r"mesi"),
    weekdays=("lunedi", "martedi", "mercoledi", "giovedi", "venerdi", "sabato", "domenica"),
    months={
        "gennaio": 1, "gen": 1, "febbraio": 2, "febbr": 2, "feb": 2, "marzo": 3, "mar": 3,
        "aprile": 4, "apr": 4, "maggio": 5, "mag": 5, "giugno": 6, "giu": 6, "luglio": 7,
        "lug": 7, "agosto": 8, "ago": 8, "settembre": 9, "sett": 9, "ottobre": 10, "ott": 10,
        "novembre": 11, "nov": 11, "dicembre": 12, "dic": 12,
    },
    next_before=("(?:il |la )?prossim[oa]",),
    next_after=("prossim[oa]",),
    day_prefixes=("il", "al", "entro il", "il giorno"),
    ordinal_suffixes=("o", "°"),
    end_of_month=(r"(?:a |entro )?(?:la )?fine (?:del )?mese",),
    date_rewrites=(
        (("dopo-domani",), "tra 2 giorni"),
        (("(?:la )?prossima settimana", "(?:la )?settimana prossima", "tra una settimana"),
         "tra 7 giorni"),
        (("(?:il )?mese prossimo", "(?:il )?prossimo mese", "tra un mese"), "tra 1 mese"),
    ),
)
# fmt: on
