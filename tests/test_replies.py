"""Table-driven tests of the reply classifier (activities/replies/).

Every reply is "received" on Wednesday 2038-01-06 at 10:00 UTC and resolved in the
zone of its language: that is 05:00 on Wednesday the 6th in New York and 11:00 on
Wednesday the 6th in Paris, Rome, Madrid and Warsaw, so "today" is 2038-01-06 for all.

Readings chosen where a reply is ambiguous (what a collector would want):

* "next Friday" / "vendredi prochain" / "el viernes que viene" / "w przyszły piątek" is
  that weekday in the *following* calendar week: on Wednesday 6 January "el viernes que
  viene" is Friday 15 January, while "el viernes" alone is Friday 8 January.  "Next
  Monday" seen from a Wednesday is Monday 11 January either way.
* "next week" / "la semaine prochaine" is seven days later (2038-01-13), as dateparser
  reads it.
* A day of the month alone ("le 15", "il 15", "the 3rd") is the next such day that is
  not in the past: "le 3" on the 6th is 3 February.  Only with pay words: "le 3" alone
  is recorded as unknown.
* A weekday equal to today ("mercredi" on a Wednesday) is next week's, as dateparser
  reads it.
* "I can't pay until Friday" is not a promise (unknown, for a person to read).
* "¿Cómo puedo pagar mañana?" asks how to pay: payment_link, not a promise.
* Spanish "le contesto mañana" ("I'll answer you tomorrow") is not the Italian dispute
  word "contesto".
* A dd.mm number after a pay verb that is a valid date ("zapłacę 15.01") is a date,
  not an amount; "12.50" is an amount.
* "Don't call me" and its equivalents opt out of calls (channel "voicemail") whatever channel
  the reply came on; STOP and the other opt-outs name no channel (the reply's own), and so
  does a reply asking to stop calls *and* messages.
* A date that does not exist ("February 30", "31/04") is not a promise: unknown, for a person.
* A negated stop ("don't stop", "no dejen de escribirme") is not an opt-out; "No, stop" is.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import get_args
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import activities.replies
from activities.account_activities import AccountActivities
from activities.languages import SUPPORTED_LANGUAGES
from activities.replies import Classification, ReplyKind, classify_reply
from activities.replies.dates import MAX_HORIZON
from activities.replies.lexicons import LEXICONS
from config.ladder import Channel
from workflows.activity_types import ReplyRequest

RECEIVED = datetime(2038, 1, 6, 10, 0, tzinfo=UTC)  # a Wednesday
ZONES = {
    "en": "America/New_York",
    "fr": "Europe/Paris",
    "it": "Europe/Rome",
    "es": "Europe/Madrid",
    "pl": "Europe/Warsaw",
}


def d(month: int, day: int, year: int = 2038) -> date:
    return date(year, month, day)


# (locale, reply, expected kind, expected promise date, expected amount)
CASES: list[tuple[str, str, str, date | None, Decimal | None]] = [
    # ------------------------------------------------------------------ English
    ("en", "STOP", "opt_out", None, None),
    ("en", "stop!!", "opt_out", None, None),
    ("en", "Unsubscribe please", "opt_out", None, None),
    ("en", "CANCEL", "opt_out", None, None),
    ("en", "pls stop texting me", "opt_out", None, None),
    ("en", "Don't contact me again.", "opt_out", None, None),
    ("en", "I'll pay 50 on Friday", "promise", d(1, 8), Decimal("50")),
    ("en", "i will pay tomorrow thanks", "promise", d(1, 7), None),
    ("en", "Ill pay tmrw 👍", "promise", d(1, 7), None),
    ("en", "I will pay today", "promise", d(1, 6), None),
    ("en", "I'll pay next Monday", "promise", d(1, 11), None),
    ("en", "I'll pay next friday", "promise", d(1, 15), None),
    ("en", "will pay in 3 days", "promise", d(1, 9), None),
    ("en", "I will make the payment on January 20", "promise", d(1, 20), None),
    ("en", "I can pay $120.50 on 15/01", "promise", d(1, 15), Decimal("120.50")),
    ("en", "I'll pay on the 3rd", "promise", d(2, 3), None),
    ("en", "Payment on Friday", "promise", d(1, 8), None),
    ("en", "I will pay the day after tomorrow", "promise", d(1, 8), None),
    ("en", "I'll pay 1,200.00 by the end of the month", "promise", d(1, 31), Decimal("1200")),
    ("en", "I'll pay when I can", "unknown", None, None),
    ("en", "I can't pay until Friday", "unknown", None, None),
    ("en", "This is not my debt", "dispute", None, None),
    ("en", "I don't owe you anything", "dispute", None, None),
    ("en", "Wrong amount!!", "dispute", None, None),
    ("en", "I already paid this last week", "paid", None, None),
    ("en", "Can someone call me?", "callback", None, None),
    ("en", "please call me back after 5", "callback", None, None),
    ("en", "How can I pay?", "payment_link", None, None),
    ("en", "send me the link pls", "payment_link", None, None),
    ("en", "Who is this?", "unknown", None, None),
    ("en", "   ", "unknown", None, None),
    # ------------------------------------------------------------------- French
    ("fr", "Arrêt", "opt_out", None, None),
    ("fr", "ARRET", "opt_out", None, None),
    ("fr", "STOP", "opt_out", None, None),
    ("fr", "stop sms", "opt_out", None, None),
    ("fr", "Me désabonner svp", "opt_out", None, None),
    ("fr", "ne m'écrivez plus", "opt_out", None, None),
    ("fr", "Arrêtez de me harceler", "opt_out", None, None),
    ("fr", "je paierai le 15", "promise", d(1, 15), None),
    ("fr", "Je paierai 50 € vendredi", "promise", d(1, 8), Decimal("50")),
    ("fr", "je vais payer demain promis", "promise", d(1, 7), None),
    ("fr", "je paierai lundi prochain", "promise", d(1, 11), None),
    ("fr", "je vous paye dans 3 jours", "promise", d(1, 9), None),
    ("fr", "je paierai le 3", "promise", d(2, 3), None),
    ("fr", "le 3", "unknown", None, None),
    ("fr", "je paye apres demain", "promise", d(1, 8), None),
    ("fr", "je paierai la semaine prochaine", "promise", d(1, 13), None),
    ("fr", "Je paierai 49,90€ le 20/01", "promise", d(1, 20), Decimal("49.90")),
    ("fr", "je règle le 15 janvier", "promise", d(1, 15), None),
    ("fr", "j'ai déjà payé", "paid", None, None),
    ("fr", "jai deja paye hier", "paid", None, None),
    ("fr", "je conteste cette dette", "dispute", None, None),
    ("fr", "Ce n'est pas ma dette !", "dispute", None, None),
    ("fr", "Rappelez-moi svp", "callback", None, None),
    ("fr", "pouvez-vous m'appeler ?", "callback", None, None),
    ("fr", "comment payer ?", "payment_link", None, None),
    ("fr", "envoyez-moi le lien de paiement", "payment_link", None, None),
    ("fr", "Bonjour, je suis en vacances", "unknown", None, None),
    # ------------------------------------------------------------------ Italian
    ("it", "Basta", "opt_out", None, None),
    ("it", "cancellami", "opt_out", None, None),
    ("it", "non contattatemi più", "opt_out", None, None),
    ("it", "STOP!", "opt_out", None, None),
    ("it", "domani pago", "promise", d(1, 7), None),
    ("it", "pagherò il 15", "promise", d(1, 15), None),
    ("it", "Pagherò lunedì prossimo", "promise", d(1, 11), None),
    ("it", "paghero dopodomani 100 euro", "promise", d(1, 8), Decimal("100")),
    ("it", "pago la prossima settimana", "promise", d(1, 13), None),
    ("it", "vi pagherò 75,50 € venerdì", "promise", d(1, 8), Decimal("75.50")),
    ("it", "pagherò tra 3 giorni", "promise", d(1, 9), None),
    ("it", "pagherò il 20 gennaio", "promise", d(1, 20), None),
    ("it", "ho già pagato", "paid", None, None),
    ("it", "ho gia pagato ieri", "paid", None, None),
    ("it", "non è un mio debito", "dispute", None, None),
    ("it", "contesto l'importo", "dispute", None, None),
    ("it", "chiamatemi", "callback", None, None),
    ("it", "mi potete chiamare domani?", "callback", None, None),
    ("it", "come posso pagare?", "payment_link", None, None),
    ("it", "link per pagare per favore", "payment_link", None, None),
    ("it", "ciao chi siete?", "unknown", None, None),
    # ------------------------------------------------------------------ Spanish
    ("es", "BAJA", "opt_out", None, None),
    ("es", "no más mensajes", "opt_out", None, None),
    ("es", "no me escriban más", "opt_out", None, None),
    ("es", "Cancelar", "opt_out", None, None),
    ("es", "Pagaré el viernes que viene", "promise", d(1, 15), None),
    ("es", "Pagaré el viernes", "promise", d(1, 8), None),
    ("es", "pagare mañana", "promise", d(1, 7), None),
    ("es", "manana pago", "promise", d(1, 7), None),
    ("es", "voy a pagar el lunes 11", "promise", d(1, 11), None),
    ("es", "pagaré 30 euros pasado mañana", "promise", d(1, 8), Decimal("30")),
    ("es", "pagaré el 15", "promise", d(1, 15), None),
    ("es", "pago la semana que viene", "promise", d(1, 13), None),
    ("es", "voy a pagar en 3 días", "promise", d(1, 9), None),
    ("es", "Pagaré el 20 de enero", "promise", d(1, 20), None),
    ("es", "Hola, pago el día 15 sin falta", "promise", d(1, 15), None),
    ("es", "ya pagué", "paid", None, None),
    ("es", "Ya lo pagué ayer!", "paid", None, None),
    ("es", "no es mi deuda", "dispute", None, None),
    ("es", "No debo nada", "dispute", None, None),
    ("es", "llámenme por favor", "callback", None, None),
    ("es", "¿Me pueden llamar?", "callback", None, None),
    ("es", "¿Cómo puedo pagar?", "payment_link", None, None),
    ("es", "¿Cómo puedo pagar mañana?", "payment_link", None, None),
    ("es", "mándenme el enlace de pago", "payment_link", None, None),
    ("es", "le contesto mañana", "unknown", None, None),
    # ------------------------------------------------------------------- Polish
    ("pl", "NIE", "opt_out", None, None),
    ("pl", "REZYGNUJĘ", "opt_out", None, None),
    ("pl", "wypisz mnie", "opt_out", None, None),
    ("pl", "koniec.", "opt_out", None, None),
    ("pl", "nie piszcie do mnie", "opt_out", None, None),
    ("pl", "zapłacę 100 zł w piątek", "promise", d(1, 8), Decimal("100")),
    ("pl", "Zaplace jutro", "promise", d(1, 7), None),
    ("pl", "zapłacę pojutrze", "promise", d(1, 8), None),
    ("pl", "zapłacę 15.01", "promise", d(1, 15), None),
    ("pl", "wpłacę 15.01.2038", "promise", d(1, 15), None),
    ("pl", "zapłacę w przyszły piątek", "promise", d(1, 15), None),
    ("pl", "zaplace 250,50 zl do konca miesiaca", "promise", d(1, 31), Decimal("250.50")),
    ("pl", "zapłacę za 3 dni", "promise", d(1, 9), None),
    ("pl", "zapłacę 20 stycznia", "promise", d(1, 20), None),
    ("pl", "Wpłacę do piątku", "promise", d(1, 8), None),
    # Wednesday said on a Wednesday: next week's (dateparser's reading).
    ("pl", "Zapłacę w środę 😊", "promise", d(1, 13), None),
    ("pl", "już zapłaciłem", "paid", None, None),
    ("pl", "juz zaplacilam wczoraj", "paid", None, None),
    ("pl", "to nie mój dług", "dispute", None, None),
    ("pl", "Nie znam tego długu!!", "dispute", None, None),
    ("pl", "reklamacja", "dispute", None, None),
    ("pl", "proszę o kontakt telefoniczny", "callback", None, None),
    ("pl", "zadzwońcie do mnie", "callback", None, None),
    ("pl", "jak mogę zapłacić?", "payment_link", None, None),
    ("pl", "prosze o link do płatności", "payment_link", None, None),
    ("pl", "Dzień dobry, kto to?", "unknown", None, None),
]


@pytest.mark.parametrize(
    ("locale", "text", "kind", "promise_date", "amount"),
    CASES,
    ids=[f"{c[0]}:{c[1]}" for c in CASES],
)
def test_reply_table(
    locale: str, text: str, kind: str, promise_date: date | None, amount: Decimal | None
) -> None:
    result = classify_reply(text, locale, RECEIVED, ZONES[locale])
    assert result.kind == kind, result
    assert result.promise_date == promise_date, result
    assert result.amount == amount, result
    if amount is not None:
        assert isinstance(result.amount, Decimal)
    if kind == "unknown":
        assert result.matched is None
    else:
        assert result.matched, result


def test_table_covers_every_language_and_kind() -> None:
    assert len(CASES) >= 75
    for lang in ZONES:
        assert sum(1 for c in CASES if c[0] == lang) >= 12, lang
    assert {c[2] for c in CASES} == {
        "opt_out", "promise", "dispute", "callback", "payment_link", "paid", "unknown",
    }  # fmt: skip


# ----------------------------------------------------------------- precedence


@pytest.mark.parametrize(
    ("locale", "text", "kind"),
    [
        ("en", "STOP. I'll pay 50 on Friday", "opt_out"),
        ("fr", "je conteste, arrêtez de m'écrire", "opt_out"),
        ("it", "Pagherò venerdì, smettetela di scrivermi", "opt_out"),
        ("pl", "Zapłacę jutro, ale nie piszcie do mnie", "opt_out"),
        ("en", "Not my debt, and I already paid it anyway", "dispute"),
        ("es", "no es mi deuda, pagaré nada", "dispute"),
        ("en", "I already paid, call me if you don't believe me", "paid"),
        ("en", "I'll pay Friday, please call me", "promise"),
        ("en", "Send me the link, I'll pay tomorrow", "promise"),
        ("fr", "appelez-moi, je veux savoir comment payer", "callback"),
    ],
)
def test_precedence(locale: str, text: str, kind: str) -> None:
    assert classify_reply(text, locale, RECEIVED, ZONES[locale]).kind == kind


def test_opt_out_keywords_match_whatever_the_locale() -> None:
    for locale in ("fr-CA", "pl", "es-MX", "it-IT", "en-GB", "de"):
        for word in ("STOP", "Arrêt", "BAJA", "NIE", "basta", "unsubscribe"):
            result = classify_reply(word, locale, RECEIVED, "Europe/Paris")
            assert result.kind == "opt_out", (locale, word)


def test_empty_reply_is_unknown() -> None:
    assert classify_reply("", "en", RECEIVED, "UTC") == Classification("unknown")


# ---------------------------------------------------------------- dates


def test_relative_dates_use_the_local_date_across_midnight() -> None:
    # 23:30 UTC on the 6th is already 00:30 on the 7th in Warsaw: "jutro" is the 8th.
    late = datetime(2038, 1, 6, 23, 30, tzinfo=UTC)
    result = classify_reply("zapłacę jutro", "pl", late, "Europe/Warsaw")
    assert result == Classification("promise", d(1, 8), None, result.matched)
    # ...while 03:00 UTC on the 7th is still 22:00 on the 6th in New York.
    early = datetime(2038, 1, 7, 3, 0, tzinfo=UTC)
    assert classify_reply("I'll pay tomorrow", "en", early, "America/New_York").promise_date == d(
        1, 7
    )
    assert classify_reply("I'll pay today", "en", early, "America/New_York").promise_date == d(1, 6)


def test_day_of_month_already_passed_means_next_month() -> None:
    on_20th = datetime(2038, 1, 20, 9, 0, tzinfo=UTC)
    assert classify_reply("je paierai le 15", "fr", on_20th, "Europe/Paris").promise_date == d(
        2, 15
    )
    assert classify_reply("je paierai le 15/01", "fr", on_20th, "Europe/Paris").promise_date == d(
        1, 15, 2039
    )
    # A day the month does not have is its last day.
    on_10_feb = datetime(2038, 2, 10, 9, 0, tzinfo=UTC)
    assert classify_reply("pagherò il 31", "it", on_10_feb, "Europe/Rome").promise_date == d(2, 28)


def test_next_weekday_near_year_end() -> None:
    thursday = datetime(2038, 12, 30, 9, 0, tzinfo=UTC)
    es = classify_reply("Pagaré el viernes que viene", "es", thursday, "Europe/Madrid")
    assert es.promise_date == d(1, 7, 2039)
    assert classify_reply("Pagaré el viernes", "es", thursday, "Europe/Madrid").promise_date == d(
        12, 31
    )


PROMISES_BY_LANG = {
    "en": ["I'll pay tomorrow", "I'll pay Friday", "I'll pay on the 1st", "will pay next monday",
           "I'll pay 20/01", "I will pay on the 31st", "i'll pay in 3 days", "pay today"],
    "fr": ["je paierai demain", "je paierai le 1", "je paierai vendredi prochain",
           "je paierai le 31", "je paye le 15/01", "je paierai la semaine prochaine"],
    "it": ["pagherò domani", "pagherò il 28", "pagherò venerdì prossimo", "pago il 15 gennaio"],
    "es": ["pagaré mañana", "pagaré el 30", "pagaré el viernes que viene", "pago el 1 de enero"],
    "pl": ["zapłacę jutro", "zapłacę 2.01", "zapłacę w przyszły piątek", "zapłacę do 5-go",
           "zapłacę w niedzielę"],
}  # fmt: skip


def test_no_promise_date_is_before_the_local_date_of_receipt() -> None:
    start = datetime(2037, 12, 25, 0, 17, tzinfo=UTC)
    instants = [start + timedelta(hours=37 * i) for i in range(48)]  # about 74 days, all hours
    for lang, replies in PROMISES_BY_LANG.items():
        tz = ZoneInfo(ZONES[lang])
        for instant in instants:
            today = instant.astimezone(tz).date()
            for reply in replies:
                result = classify_reply(reply, lang, instant, ZONES[lang])
                assert result.kind == "promise", (reply, instant)
                assert result.promise_date is not None
                assert today <= result.promise_date <= today + timedelta(days=366), (
                    reply,
                    instant,
                    result,
                )


@pytest.mark.parametrize(
    ("locale", "text", "amount"),
    [
        ("en", "I'll pay 1,200.50 tomorrow", Decimal("1200.50")),
        ("en", "I can pay 12.50 on Friday", Decimal("12.50")),
        ("fr", "je paierai 1.200,50 € demain", Decimal("1200.50")),
        ("pl", "zapłacę 1 200,50 zł jutro", Decimal("1200.50")),
        ("it", "pagherò 49,9 euro domani", Decimal("49.9")),
        ("es", "pagaré €80 el viernes", Decimal("80")),
        ("en", "I paid 75 yesterday", Decimal("75")),
    ],
)
def test_amounts_are_decimals(locale: str, text: str, amount: Decimal) -> None:
    result = classify_reply(text, locale, RECEIVED, ZONES[locale])
    assert isinstance(result.amount, Decimal)
    assert result.amount == amount


def test_result_does_not_depend_on_the_process_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is POSIX-only")
    expected = [classify_reply(c[1], c[0], RECEIVED, ZONES[c[0]]) for c in CASES[:40]]
    try:
        for tz in ("Pacific/Kiritimati", "America/Adak"):
            monkeypatch.setenv("TZ", tz)
            time.tzset()
            got = [classify_reply(c[1], c[0], RECEIVED, ZONES[c[0]]) for c in CASES[:40]]
            assert got == expected, tz
    finally:
        monkeypatch.undo()
        time.tzset()


def test_naive_received_at_is_rejected() -> None:
    with pytest.raises(ValueError):
        classify_reply("I'll pay tomorrow", "en", datetime(2038, 1, 6, 10, 0), "UTC")


# ------------------------------------------------------------------ languages


def test_every_supported_language_has_a_lexicon() -> None:
    assert set(LEXICONS) == set(SUPPORTED_LANGUAGES)
    for language, lexicon in LEXICONS.items():
        assert lexicon.language == language
        assert sorted(set(lexicon.months.values())) == list(range(1, 13)), language
        assert len(lexicon.weekdays) >= 7, language
        for words in (lexicon.opt_out_whole, lexicon.opt_out_calls, lexicon.negations,
                      lexicon.pay_intent, lexicon.dispute, lexicon.callback):  # fmt: skip
            assert words, language


def test_every_supported_language_opts_out_and_promises() -> None:
    """Each language's own words reach the classifier (a lexicon left out of it would not)."""
    for language in SUPPORTED_LANGUAGES:
        lexicon = LEXICONS[language]
        word = sorted(lexicon.opt_out_whole, key=len)[0]
        assert classify_reply(word, language, RECEIVED, "UTC").kind == "opt_out", language
    for language in ZONES:
        assert any(
            classify_reply(c[1], language, RECEIVED, ZONES[language]).kind == "promise"
            for c in CASES
            if c[0] == language
        ), language


# ----------------------------------------------------- opt-out of calls (voicemail)

CALL_OPT_OUTS = [
    ("en", "don't call me"), ("en", "Please DON'T CALL ME again"), ("en", "stop calling"),
    ("en", "Stop calling me!!"), ("en", "no more calls"), ("en", "no more phone calls please"),
    ("en", "never call me again"), ("en", "Do not call this number"),
    ("en", "stop the calls"), ("en", "I don't want any more calls"),
    ("en", "don't call me, text me instead"), ("en", "quit phoning me"),
    ("fr", "ne m'appelez plus"), ("fr", "Ne m’appelez plus jamais"), ("fr", "arrêtez de m'appeler"),
    ("fr", "merci de ne pas m'appeler"), ("fr", "cessez de me téléphoner"),
    ("fr", "plus d'appels svp"), ("fr", "ne me contactez plus par téléphone"),
    ("it", "non chiamatemi più"), ("it", "smettete di chiamarmi"), ("it", "non mi chiamate più"),
    ("it", "basta chiamate"), ("it", "smettetela di telefonarmi"),
    ("it", "non voglio più ricevere telefonate"),
    ("es", "no me llamen más"), ("es", "dejen de llamarme"), ("es", "No me llamen"),
    ("es", "no me vuelvan a llamar"), ("es", "no quiero más llamadas"), ("es", "deja de llamarme"),
    ("pl", "nie dzwońcie do mnie"), ("pl", "przestańcie dzwonić"),
    ("pl", "proszę do mnie nie dzwonić"), ("pl", "nie dzwoń już do mnie"),
    ("pl", "przestańcie do mnie wydzwaniać"), ("pl", "nie chcę więcej telefonów"),
]  # fmt: skip


@pytest.mark.parametrize(("locale", "text"), CALL_OPT_OUTS, ids=[t for _, t in CALL_OPT_OUTS])
def test_dont_call_me_opts_out_of_calls(locale: str, text: str) -> None:
    result = classify_reply(text, locale, RECEIVED, ZONES[locale])
    assert result.kind == "opt_out", result
    assert result.channel == "voicemail", result
    assert result.matched


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        # Calls *and* messages: one channel only, so the one the reply came on.
        ("en", "stop calling and texting me"),
        ("en", "don't call or text me"),
        ("en", "STOP. Don't call me"),
        ("fr", "arrêtez de m'appeler et de m'écrire"),
        ("es", "dejen de llamarme y de escribirme"),
        ("pl", "nie dzwońcie i nie piszcie"),
    ],
)
def test_calls_and_messages_opt_out_of_the_reply_channel(locale: str, text: str) -> None:
    result = classify_reply(text, locale, RECEIVED, ZONES[locale])
    assert (result.kind, result.channel) == ("opt_out", None), result


def test_other_opt_outs_name_no_channel() -> None:
    for locale, text, kind, _, _ in CASES:
        if kind == "opt_out":
            assert classify_reply(text, locale, RECEIVED, ZONES[locale]).channel is None, text


@pytest.mark.parametrize(
    ("locale", "text", "kind"),
    [
        ("en", "why don't you call me?", "callback"),
        ("en", "if you don't call me back I'll complain", "callback"),
        ("it", "perché non mi chiamate più?", "unknown"),
        ("pl", "zadzwońcie do mnie", "callback"),
        ("es", "¿Me pueden llamar?", "callback"),
    ],
)
def test_asking_for_a_call_is_not_an_opt_out(locale: str, text: str, kind: str) -> None:
    assert classify_reply(text, locale, RECEIVED, ZONES[locale]).kind == kind


async def test_the_activity_passes_the_channel_and_keeps_the_loop_free(monkeypatch) -> None:
    """classify_reply (dateparser) runs in a thread: the worker's event loop keeps turning."""
    real = activities.replies.classify_reply

    def slow(*args: object) -> Classification:
        time.sleep(0.3)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(activities.replies, "classify_reply", slow)
    ticks = 0
    done = False

    async def tick() -> None:
        nonlocal ticks
        while not done:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        request = ReplyRequest(text="no me llamen más", locale="es", received_at=RECEIVED,
                               zone="Europe/Madrid")  # fmt: skip
        result = await AccountActivities.classify_reply(object.__new__(AccountActivities), request)
    finally:
        done = True
        await ticker
    assert result.kind == "opt_out"
    assert result.channel is Channel.VOICEMAIL
    assert ticks >= 10
    request = ReplyRequest(text="STOP", locale="en", received_at=RECEIVED, zone="UTC")
    result = await AccountActivities.classify_reply(object.__new__(AccountActivities), request)
    assert (result.kind, result.channel) == ("opt_out", None)


# ----------------------------------------------------------- dates that do not exist

NO_SUCH_DATES = [
    ("en", "I'll pay February 30"), ("en", "I'll pay on February 30th"),
    ("en", "I will pay on the 30th of February"), ("en", "I'll pay 31/04"),
    ("en-US", "I'll pay 04/31"), ("en", "I'll pay June 31"), ("en", "I'll pay Feb 29"),
    ("en", "I'll pay on 29/02/2038"),
    ("fr", "je paierai le 30 février"), ("fr", "je paierai le 31/04"),
    ("fr", "je paierai le 31 avril"),
    ("it", "pagherò il 30 febbraio"), ("it", "pagherò il 31 aprile"), ("it", "pagherò il 31/06"),
    ("es", "pagaré el 30 de febrero"), ("es", "pagaré el 31 de septiembre"),
    ("pl", "zapłacę 30 lutego"), ("pl", "zapłacę 30.02"), ("pl", "zapłacę 31 listopada"),
]  # fmt: skip


@pytest.mark.parametrize(("locale", "text"), NO_SUCH_DATES, ids=[t for _, t in NO_SUCH_DATES])
def test_a_date_that_does_not_exist_is_not_a_promise(locale: str, text: str) -> None:
    result = classify_reply(text, locale, RECEIVED, ZONES[locale.split("-")[0]])
    assert result.kind == "unknown", result
    assert result.promise_date is None
    assert result.matched and "no such date" in result.matched


@pytest.mark.parametrize(
    ("locale", "text", "received", "promise_date"),
    [
        # 29 February exists in 2040.
        ("it", "pagherò il 29 febbraio", datetime(2040, 1, 10, 9, tzinfo=UTC), d(2, 29, 2040)),
        ("en", "I'll pay on 29/02", datetime(2040, 1, 10, 9, tzinfo=UTC), d(2, 29, 2040)),
        # A month named before the day: not the day of this month.
        ("en", "I'll pay on February 20th", RECEIVED, d(2, 20)),
        ("en", "I'll pay Feb. the 20th", RECEIVED, d(2, 20)),
        ("en", "I'll pay March 3rd, 2038", RECEIVED, d(3, 3)),
        ("fr", "je paierai le 1er février", RECEIVED, d(2, 1)),
        ("fr", "je paierai le 28 février", RECEIVED, d(2, 28)),
        ("pl", "zapłacę 28 lutego", RECEIVED, d(2, 28)),
        ("es", "pagaré el 30 de abril", RECEIVED, d(4, 30)),
        # "après" is not "avril".
        ("fr", "je paie le 15 après la paie", RECEIVED, d(1, 15)),
    ],
)
def test_dates_named_with_their_month(
    locale: str, text: str, received: datetime, promise_date: date
) -> None:
    result = classify_reply(text, locale, received, ZONES[locale])
    assert (result.kind, result.promise_date) == ("promise", promise_date), result


# ---------------------------------------------------------------- negated stops


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "don't stop"), ("en", "do not stop"), ("en", "Don't stop texting me"),
        ("en", "please don't stop the reminders"), ("en", "never stop"),
        ("en", "I don't want to unsubscribe"), ("en", "don't stop calling me"),
        ("fr", "ne t'arrête pas"), ("fr", "n'arrêtez pas de m'écrire"),
        ("fr", "ne pas me désabonner"),
        ("it", "non fermarti"), ("it", "non smettete di scrivermi"),
        ("it", "non smettete di chiamarmi"),
        ("es", "no paro"), ("es", "no pares"), ("es", "no dejen de escribirme"),
        ("es", "no quiero darme de baja"), ("es", "no paren de llamarme"),
        ("pl", "nie przestawaj"), ("pl", "nie przestańcie pisać"),
    ],
)  # fmt: skip
def test_a_negated_stop_is_not_an_opt_out(locale: str, text: str) -> None:
    assert classify_reply(text, locale, RECEIVED, ZONES[locale]).kind != "opt_out"


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "STOP"), ("en", "No, stop"), ("en", "no stop"), ("en", "stop texting me"),
        ("en", "Don't text me"), ("en", "don't stop... actually STOP"),
        ("en", "Don't. Stop."), ("fr", "non, arrêtez de m'écrire"),
        ("pl", "NIE"), ("pl", "nie, nie piszcie do mnie"), ("pl", "nie nie piszcie do mnie"),
        ("es", "no no me escriban más"), ("es", "No, dejen de escribirme"),
        ("it", "non contattatemi più"), ("it", "no, smettete di scrivermi"),
        ("fr", "ne m'écrivez plus"),
    ],
)  # fmt: skip
def test_real_opt_outs_beside_negations(locale: str, text: str) -> None:
    assert classify_reply(text, locale, RECEIVED, ZONES[locale]).kind == "opt_out"


# ------------------------------------------------------------------ properties

_FRAGMENTS = [
    "I'll pay", "je paierai", "pagherò", "pagaré", "zapłacę", "pay", "paid", "le", "il", "el",
    "the", "on", "by", "de", "of", "February", "febbraio", "lutego", "février", "febrero",
    "Feb", "avril", "next", "prochain", "que viene", "w przyszły", "Friday", "vendredi",
    "piątek", "domani", "tomorrow", "jutro", "mañana", "demain", "end of the month",
    "fin du mois", "semaine prochaine", "stop", "don't", "no", "non", "nie", "ne", "call me",
    "€", "zł", "$", "/", ".", "-", ",", "st", "th", "er", "-go", "º", "!", "?", "\n",
]  # fmt: skip
_TOKENS = st.one_of(
    st.sampled_from(_FRAGMENTS),
    st.integers(0, 40).map(str),
    st.integers(0, 9999).map(str),
    st.text(max_size=5),
)
_REPLIES = st.one_of(
    st.text(max_size=60),
    st.lists(_TOKENS, max_size=10).map(" ".join),
    st.lists(_TOKENS, max_size=8).map("".join),
)
_LOCALES = st.tuples(
    st.sampled_from(SUPPORTED_LANGUAGES), st.sampled_from(["", "-US", "_GB", "-CA", "-MX"])
).map("".join)
_ZONES = st.sampled_from([*ZONES.values(), "UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
_INSTANTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(text=_REPLIES, locale=_LOCALES, received=_INSTANTS, zone=_ZONES)
def test_any_reply_gives_a_known_kind_and_a_real_future_date(
    text: str, locale: str, received: datetime, zone: str
) -> None:
    result = classify_reply(text, locale, received, zone)
    assert result.kind in get_args(ReplyKind)
    today = received.astimezone(ZoneInfo(zone)).date()
    if result.kind == "promise":
        assert type(result.promise_date) is date
        assert today <= result.promise_date <= today + MAX_HORIZON, result
    else:
        assert result.promise_date is None
    assert result.amount is None or (isinstance(result.amount, Decimal) and result.amount > 0)
    assert result.channel in ((None, "voicemail") if result.kind == "opt_out" else (None,))
