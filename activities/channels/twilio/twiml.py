"""TwiML for voicemail calls: the limited-content message, and a one-key menu for a person.

A machine (Twilio's `AnsweredBy` is `machine_end_beep`, `machine_end_silence`,
`machine_end_other`) hears the rendered message only: under Regulation F a voicemail must be a
limited-content message, so nothing else is said. A person (`human`, `unknown`) hears the same
message and then a menu: 1 promise to pay, 2 talk to someone, 3 stop calls. The menu's answer
comes back to `/twilio/voice` as `Digits`; the webhook server turns it into an event.

Voices are Amazon Polly voices that Twilio offers, one per language the project supports
(`activities.languages.SUPPORTED_LANGUAGES`, checked by tests/test_languages.py); a debtor whose
language is not supported hears the fallback language.
"""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse

from activities.channels.twilio.call_scripts import CallScript
from activities.languages import supported_language

# (language tag, voice) by supported language, plus the regional voices `voice_for` picks:
# US Spanish for a us ladder, British English for a uk one.
VOICES: dict[str, tuple[str, str]] = {
    "en": ("en-US", "Polly.Joanna"),
    "en-GB": ("en-GB", "Polly.Amy"),
    "fr": ("fr-FR", "Polly.Lea"),
    "it": ("it-IT", "Polly.Bianca"),
    "es": ("es-ES", "Polly.Lucia"),
    "es-US": ("es-US", "Polly.Lupe"),
    "pl": ("pl-PL", "Polly.Ewa"),
}

MENU: dict[str, str] = {
    "en": "To promise a payment, press 1. To talk to someone, press 2. To stop these calls, "
    "press 3.",
    "fr": "Pour promettre un paiement, tapez 1. Pour parler à un conseiller, tapez 2. Pour ne "
    "plus recevoir ces appels, tapez 3.",
    "it": "Per promettere un pagamento, prema 1. Per parlare con un operatore, prema 2. Per non "
    "ricevere più queste chiamate, prema 3.",
    "es": "Para prometer un pago, pulse 1. Para hablar con una persona, pulse 2. Para no recibir "
    "más estas llamadas, pulse 3.",
    "pl": "Aby zadeklarować wpłatę, naciśnij 1. Aby porozmawiać z konsultantem, naciśnij 2. Aby "
    "nie otrzymywać więcej połączeń, naciśnij 3.",
}

MENU_ANSWERS: dict[str, dict[str, str]] = {
    "en": {
        "1": "Thank you. We will send you a link to choose a payment date.",
        "2": "Thank you. Someone will call you back during business hours.",
        "3": "Thank you. We will not call you again.",
        "": "Goodbye.",
    },
    "fr": {
        "1": "Merci. Nous vous enverrons un lien pour choisir une date de paiement.",
        "2": "Merci. Un conseiller vous rappellera pendant nos heures d'ouverture.",
        "3": "Merci. Nous ne vous appellerons plus.",
        "": "Au revoir.",
    },
    "it": {
        "1": "Grazie. Le invieremo un link per scegliere una data di pagamento.",
        "2": "Grazie. Un operatore la richiamerà in orario d'ufficio.",
        "3": "Grazie. Non la chiameremo più.",
        "": "Arrivederci.",
    },
    "es": {
        "1": "Gracias. Le enviaremos un enlace para elegir una fecha de pago.",
        "2": "Gracias. Una persona le llamará en horario de oficina.",
        "3": "Gracias. No volveremos a llamarle.",
        "": "Adiós.",
    },
    "pl": {
        "1": "Dziękujemy. Wyślemy link do wyboru daty wpłaty.",
        "2": "Dziękujemy. Konsultant oddzwoni w godzinach pracy.",
        "3": "Dziękujemy. Nie będziemy już dzwonić.",
        "": "Do widzenia.",
    },
}

MACHINE_ANSWERS = {"machine_end_beep", "machine_end_silence", "machine_end_other", "fax"}


def voice_for(locale: str, jurisdiction: str = "") -> tuple[str, str]:
    language = supported_language(locale)
    if language == "es" and jurisdiction == "us":
        return VOICES["es-US"]
    if language == "en" and jurisdiction == "uk":
        return VOICES["en-GB"]
    return VOICES[language]


def call_twiml(script: CallScript, answered_by: str | None, menu_action: str) -> str:
    """What the call says once answering-machine detection has decided."""
    response = VoiceResponse()
    if answered_by in MACHINE_ANSWERS:
        response.say(script.text, language=script.language, voice=script.voice)
        response.hangup()
        return str(response)
    language = supported_language(script.locale)
    gather = Gather(num_digits=1, action=menu_action, method="POST", timeout=8)
    gather.say(script.text, language=script.language, voice=script.voice)
    gather.say(MENU[language], language=script.language, voice=script.voice)
    response.append(gather)
    response.say(MENU_ANSWERS[language][""], language=script.language, voice=script.voice)
    return str(response)


def menu_answer_twiml(script: CallScript, digits: str) -> str:
    answers = MENU_ANSWERS[supported_language(script.locale)]
    response = VoiceResponse()
    response.say(answers.get(digits, answers[""]), language=script.language, voice=script.voice)
    response.hangup()
    return str(response)
