"""French words of the reply classifier (folded; notation in ``activities.replies.lexicon``)."""

from __future__ import annotations

from activities.replies.lexicon import Lexicon

_CALL_ME = r"(?:m'appeler|me telephoner|me rappeler)"
_WRITE_ME = r"(?:m'ecrire|me contacter|m'envoyer|me harceler|me relancer)"
_STOP_IT = r"(?:arretez|arrete|cessez|cesse|stoppez)"

# fmt: off
LEXICON = Lexicon(
    language="fr",
    opt_out_whole=frozenset(
        {
            "arret", "arret sms", "desabonner", "me desabonner", "desabonnement",
            "desinscrire", "me desinscrire", "desinscription", "desabonnez moi",
            "desinscrivez moi", "arretez",
        }
    ),
    politeness=frozenset({"merci", "svp", "stp", "s'il", "vous", "plait"}),
    opt_out_anywhere=("arret sms", "desabonner", "desabonnez-moi", "desinscrire",
                      "desinscrivez-moi"),
    opt_out_sentence=(
        # Calls *and* something else: the channel the reply came on (one channel only).
        rf"{_STOP_IT} de {_CALL_ME} (?:et|ou) (?:de )?{_WRITE_ME}",
        r"ne (?:m'|me )(?:appelez|telephonez) (?:plus )?(?:et|ou|ni) (?:ne )?(?:m'|me )?"
        r"(?:ecrivez|contactez|envoyez)",
        r"ne (?:m'|me )(?:ecrivez|contactez|envoyez|harcelez|relancez)(?: \w+)? plus",
        r"ne plus (?:me contacter|m'ecrire)",
        rf"{_STOP_IT} de {_WRITE_ME}",
        r"je ne veux plus (?:recevoir|de) (?:vos |de |des )?(?:sms|messages|mails|e-?mails)",
        r"plus de (?:sms|messages)",
    ),
    opt_out_calls=(
        r"ne (?:m'|me )(?:appelez|appelle|telephonez|telephone|rappelez)(?: \w+)? "
        r"(?:plus|pas|jamais)",
        rf"ne (?:plus|pas|jamais) {_CALL_ME}",
        r"n'appelez (?:plus|pas|jamais)",
        rf"{_STOP_IT} (?:de {_CALL_ME}|d'appeler|de telephoner)",
        r"(?:arretez|cessez|stop|fini|finis) (?:les|vos|aux|avec les) (?:appels|coups de fil)",
        r"plus d'appels?", r"plus de coups? de fil",
        r"je ne veux (?:plus|pas) (?:etre appele\w*|(?:de |recevoir )?(?:vos |d'|des )appels)",
        r"ne (?:plus )?(?:me )?contactez (?:plus |pas )?par telephone",
    ),
    negations=(r"(?:ne |n')(?:me |m'|te |t'|vous |nous )?", r"ne pas (?:me )?",
               r"je ne veux pas (?:me )?"),
    dispute=(
        r"je conteste", r"contest(?:e|ation) (?:de )?(?:cette|la|ce)", r"contestation",
        r"(?:ce )?n'est pas ma dette", r"pas ma dette", r"je ne (?:vous )?dois rien",
        r"montant (?:incorrect|errone|faux)", r"c'est une erreur",
        r"je ne connais pas cette (?:dette|facture|societe)",
    ),
    paid=(
        r"deja (?:paye|regle|vire|rembourse)", r"j'ai (?:deja )?(?:paye|regle|vire|rembourse)",
        r"j'ai (?:deja )?fait (?:le|un) virement", r"c'est (?:deja )?(?:paye|regle)",
        r"(?:paiement|virement|reglement) (?:deja )?effectue",
    ),
    pay_intent=(
        r"je (?:vais|peux|pourrai|compte) (?:vous )?(?:payer|regler|rembourser|faire le virement)",
        r"(?:je )?(?:vous )?(?:paierai|payerai|reglerai|rembourserai|verserai)",
        r"pay(?:er|e|es|ons|ez)",
        r"paie",
        r"paiement",
        r"regl(?:er|e|ement)",
        r"virement",
    ),
    negated_pay=(
        r"ne (?:peux|pourrai|vais|veux) pas (?:vous )?(?:payer|regler)",
        r"ne (?:paierai|payerai) pas",
    ),
    callback=(
        r"(?:r)?appelez-moi", r"(?:r)?appelle-moi", r"me rappeler", r"m'appeler",
        r"parler (?:a|avec) (?:quelqu'un|un conseiller|une personne)",
        r"contactez-moi par telephone",
    ),
    payment_link=(
        r"comment (?:(?:je )?(?:peux|puis)(?:-je)? |faire pour |on peut )?"
        r"(?:payer|regler|vous payer)",
        r"lien de paiement", r"(?:le|un) lien", r"ou (?:puis-je |je peux )?payer", r"rib",
        r"coordonnees bancaires",
    ),
    currency_words=(r"euros?",),
    pay_verbs=("payer", "paierai", "payerai", "paye", "paie", "reglerai", "verserai", "regle",
               "verse", "vire"),
    pay_pronouns=("vous",),
    duration_units=(r"jours?", r"semaines?", r"mois"),
    weekdays=("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    months={
        "janvier": 1, "janv": 1, "fevrier": 2, "fevr": 2, "fev": 2, "mars": 3, "avril": 4,
        "avr": 4, "mai": 5, "juin": 6, "juillet": 7, "juil": 7, "aout": 8, "septembre": 9,
        "sept": 9, "octobre": 10, "oct": 10, "novembre": 11, "nov": 11, "decembre": 12,
        "dec": 12,
    },
    next_before=("prochain",),
    next_after=("prochain",),
    day_prefixes=("le", "du", "avant le"),
    ordinal_suffixes=("er", "eme"),
    end_of_month=(r"(?:a la |d'ici la )?fin du mois",),
    date_rewrites=(
        (("dem1", "2m1"), "demain"),
        (("aujourd hui", "aujourdhui", "ajd"), "aujourd'hui"),
        (("apres-demain",), "dans 2 jours"),
        (("(?:la )?semaine prochaine", "la prochaine semaine"), "dans 7 jours"),
        (("(?:le )?mois prochain", "le prochain mois"), "dans 1 mois"),
    ),
)
# fmt: on
