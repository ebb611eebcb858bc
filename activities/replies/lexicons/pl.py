"""Polish words of the reply classifier (folded; notation in ``activities.replies.lexicon``)."""

from __future__ import annotations

from activities.replies.lexicon import Lexicon

# fmt: off
LEXICON = Lexicon(
    language="pl",
    # "NIE" alone is how Polish SMS programmes ask to opt out.
    opt_out_whole=frozenset(
        {
            "nie", "rezygnuje", "wypisz", "wypisz mnie", "wypiszcie mnie", "koniec",
            "rezygnacja", "przestancie",
        }
    ),
    politeness=frozenset({"prosze", "dziekuje"}),
    opt_out_anywhere=("rezygnuje", "wypisz(?:cie)? mnie", "wypisz"),
    opt_out_sentence=(
        # Calls *and* something else: the channel the reply came on (one channel only).
        r"nie (?:dzwoncie|dzwon)(?: do mnie)? (?:i|ani) (?:nie )?(?:piszcie|pisz)",
        r"(?:przestancie|przestan) (?:do mnie )?dzwonic (?:i|ani) (?:pisac|wysylac)",
        r"nie (?:piszcie|kontaktujcie sie|wysylajcie)(?: do mnie| wiecej)?",
        r"prosze (?:do mnie )?nie (?:pisac|wysylac)",
        r"przestancie (?:do mnie )?(?:pisac|wysylac)",
        r"nie chce (?:wiecej )?(?:dostawac )?(?:sms\w*|wiadomosci)",
    ),
    opt_out_calls=(
        r"nie (?:dzwoncie|dzwon|wydzwaniajcie|wydzwaniaj|telefonujcie)"
        r"(?: (?:do mnie|wiecej|juz))*",
        r"prosze (?:do mnie )?nie (?:dzwonic|wydzwaniac)",
        r"(?:przestancie|przestan) (?:do mnie )?(?:dzwonic|wydzwaniac)",
        r"nie chce (?:wiecej |juz )?(?:telefonow|polaczen|zeby(?:scie)? (?:do mnie )?dzwoni\w*)",
        r"koniec z (?:telefonami|dzwonieniem)", r"dosc (?:telefonow|dzwonienia)",
        r"(?:bez|zadnych) (?:wiecej )?telefonow",
    ),
    negations=(r"nie (?:chce |chcemy )?",),
    dispute=(
        r"nie znam tego dlugu", r"to nie (?:jest )?moj dlug",
        r"nie (?:jestem )?nic winn?(?:y|a|ien|na)",
        r"nic nie jestem winn?(?:y|a|ien|na)", r"kwestionuje", r"reklamacj[aei]", r"reklamuje",
        r"(?:zla|bledna|niewlasciwa) kwota", r"to (?:jest )?(?:pomylka|blad)",
        r"nie mam (?:zadnego )?dlugu",
    ),
    paid=(
        r"juz (?:za|w|s|o)?placil(?:em|am|ismy)", r"(?:za|w|s)placil(?:em|am)",
        r"juz (?:jest )?(?:zaplacone|oplacone|splacone)", r"zrobil(?:em|am) przelew",
        r"przelew (?:zostal )?(?:wyslany|zrobiony|wykonany)",
    ),
    pay_intent=(
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
    negated_pay=(r"nie (?:moge|zaplace|bede|chce|mam jak)(?: \w+)?(?: (?:zaplacic|placic))?",),
    callback=(
        r"(?:prosze o )?kontakt telefoniczny", r"(?:za|od)dzwon(?:cie|c)?",
        r"prosze (?:za|od)dzwonic", r"prosze o telefon",
        r"porozmawiac z (?:konsultantem|kims|doradca)",
    ),
    payment_link=(
        r"jak (?:moge |mam |mozna )?(?:za)?plac(?:ic|e)", r"link do (?:platnosci|zaplaty|wplaty)",
        r"(?:przeslijcie|wyslijcie|prosze o) link", r"numer (?:konta|rachunku)",
        r"gdzie (?:moge )?(?:za)?placic",
    ),
    currency_words=(r"zl(?:oty|otych|ote)?",),
    pay_verbs=("zaplace", "wplace", "splace", "oddam", "place", "(?:za|w)placil(?:em|am)"),
    pay_pronouns=(),
    duration_units=(r"dni", r"tygodni\w*", r"miesi\w*"),
    weekdays=(
        "poniedzialek", "wtorek", "sroda", "srode", "czwartek", "piatek", "sobota", "sobote",
        "niedziela", "niedziele",
    ),
    # Nominative, genitive ("15 stycznia") and locative ("w styczniu").
    months={
        "styczen": 1, "stycznia": 1, "styczniu": 1, "luty": 2, "lutego": 2, "lutym": 2,
        "marzec": 3, "marca": 3, "marcu": 3, "kwiecien": 4, "kwietnia": 4, "kwietniu": 4,
        "maj": 5, "maja": 5, "maju": 5, "czerwiec": 6, "czerwca": 6, "czerwcu": 6,
        "lipiec": 7, "lipca": 7, "lipcu": 7, "sierpien": 8, "sierpnia": 8, "sierpniu": 8,
        "wrzesien": 9, "wrzesnia": 9, "wrzesniu": 9, "pazdziernik": 10, "pazdziernika": 10,
        "pazdzierniku": 10, "listopad": 11, "listopada": 11, "listopadzie": 11,
        "grudzien": 12, "grudnia": 12, "grudniu": 12,
    },
    next_before=("(?:w )?przyszl[aey]",),
    next_after=("przyszl[aey]",),
    day_prefixes=("dnia", "do", "przed"),
    ordinal_suffixes=("-?go",),
    end_of_month=(r"(?:do |na )?kon(?:iec|ca|cem) miesiaca",),
    date_rewrites=(
        (("w przyszlym tygodniu", "za tydzien"), "za 7 dni"),
        # "do piątku" (by Friday) is the genitive, which dateparser does not know.
        (("poniedzialku",), "poniedzialek"),
        (("wtorku",), "wtorek"),
        (("srody",), "sroda"),
        (("czwartku",), "czwartek"),
        (("piatku",), "piatek"),
        (("soboty",), "sobota"),
        (("niedzieli",), "niedziela"),
        (("w przyszlym miesiacu", "za miesiac"), "za 1 miesiac"),
    ),
)
# fmt: on
