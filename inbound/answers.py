"""What the webhook server texts back, in the debtor's language.

Short on purpose: a confirmation of a promise with its date and amount, a payment link, or how
to reach us. A number that matches no account gets a neutral answer that says nothing about any
account or debt (the sender may not be the debtor). After STOP nothing is sent: the carrier and
Twilio confirm opt-outs themselves, and a message after STOP would be blocked (21610) anyway.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency
from twilio.twiml.messaging_response import MessagingResponse

from activities.languages import supported_language
from activities.render import babel_locale

# The same kinds in every supported language (tests/test_languages.py checks them all); a debtor
# whose language is not supported is answered in the fallback language.
ANSWERS: dict[str, dict[str, str]] = {
    "en": {
        "promise": "Thank you. We have noted your promise to pay {amount} by {date}.",
        "promise_refused": "We could not record that date. Please pay at {link} or call {phone}.",
        "dispute": "Thank you. We have paused collection while we look into your dispute.",
        "help": "To pay: {link}. To talk to us: {phone}. Reply STOP to opt out.",
        "several": "Thank you. Please call {phone} so we can help you with your accounts.",
        "neutral": "Thank you for your message.",
    },
    "fr": {
        "promise": "Merci. Nous avons noté votre engagement de payer {amount} d'ici le {date}.",
        "promise_refused": "Cette date n'a pas pu être enregistrée. Réglez sur {link} ou "
        "appelez le {phone}.",
        "dispute": "Merci. Nous suspendons le recouvrement le temps d'examiner votre contestation.",
        "help": "Pour payer : {link}. Pour nous joindre : {phone}. Désinscription : STOP",
        "several": "Merci. Appelez le {phone} pour que nous puissions vous aider.",
        "neutral": "Merci pour votre message.",
    },
    "it": {
        "promise": "Grazie. Abbiamo registrato il suo impegno a pagare {amount} entro il {date}.",
        "promise_refused": "Non abbiamo potuto registrare la data. Paghi su {link} o chiami "
        "il {phone}.",
        "dispute": "Grazie. Abbiamo sospeso il recupero mentre esaminiamo la sua contestazione.",
        "help": "Per pagare: {link}. Per contattarci: {phone}. Disiscrizione: STOP",
        "several": "Grazie. Chiami il {phone} così potremo aiutarla.",
        "neutral": "Grazie per il suo messaggio.",
    },
    "es": {
        "promise": "Gracias. Hemos registrado su compromiso de pagar {amount} antes del {date}.",
        "promise_refused": "No hemos podido registrar esa fecha. Pague en {link} o llame al "
        "{phone}.",
        "dispute": "Gracias. Hemos pausado el cobro mientras revisamos su reclamación.",
        "help": "Para pagar: {link}. Para hablar con nosotros: {phone}. Baja: STOP",
        "several": "Gracias. Llame al {phone} para que podamos ayudarle.",
        "neutral": "Gracias por su mensaje.",
    },
    "pl": {
        "promise": "Dziekujemy. Zapisalismy deklaracje wplaty {amount} do {date}.",
        "promise_refused": "Nie udalo sie zapisac tej daty. Zaplac: {link} lub zadzwon: {phone}.",
        "dispute": "Dziekujemy. Wstrzymalismy windykacje na czas rozpatrzenia reklamacji.",
        "help": "Platnosc: {link}. Kontakt: {phone}. Rezygnacja z SMS: STOP",
        "several": "Dziekujemy. Prosimy o telefon pod numer {phone}.",
        "neutral": "Dziekujemy za wiadomosc.",
    },
}


def answer_text(kind: str, locale: str, **values: str) -> str:
    return ANSWERS[supported_language(locale)][kind].format(**values)


def promise_values(locale: str, amount: Decimal, currency: str, day: date) -> dict[str, str]:
    where = babel_locale(locale)
    return {
        "amount": format_currency(amount, currency, locale=where),
        "date": format_date(day, format="long", locale=where),
    }


def twiml_message(text: str | None) -> str:
    """A TwiML answer; None → an empty <Response/> (nothing is texted back)."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)
