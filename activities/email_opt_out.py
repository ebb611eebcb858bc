"""The line every email carries saying how to stop further emails (12 CFR 1006.6(e)).

Regulation F requires a reasonable and simple way to opt out of electronic messages in every
one of them; dunning puts the line in every email, whatever the jurisdiction (it costs nothing
and the reply classifier honours it in every language). The email layout normally prints it
through the template variable `opt_out`; when a template does not, the renderer appends it to
both parts of the email, so no email can go out without it.

The keywords are the English UNSUBSCRIBE and STOP in every language: the reply classifier
(activities/replies) reads them as an opt-out of the channel the reply came on, whatever the
debtor's language, and they survive any mail client's translation of a reply.
"""

from __future__ import annotations

from markupsafe import Markup

from activities.languages import supported_language

# One sentence per supported language; a debtor whose language is not supported gets the
# fallback language's sentence (activities.languages.supported_language).
EMAIL_OPT_OUT_LINES: dict[str, str] = {
    "en": "To stop receiving emails from us, reply to this email with the word UNSUBSCRIBE "
    "or STOP.",
    "fr": "Pour ne plus recevoir nos e-mails, répondez à ce message avec le mot UNSUBSCRIBE "
    "ou STOP.",
    "it": "Per non ricevere più le nostre e-mail, risponda a questo messaggio con la parola "
    "UNSUBSCRIBE o STOP.",
    "es": "Para dejar de recibir nuestros correos electrónicos, responda a este mensaje con la "
    "palabra UNSUBSCRIBE o STOP.",
    "pl": "Aby zrezygnować z otrzymywania od nas e-maili, prosimy odpowiedzieć na tę wiadomość "
    "słowem UNSUBSCRIBE lub STOP.",
}


def email_opt_out_line(locale: str | None) -> str:
    """The opt-out sentence in the debtor's language (`fr-CA` → fr; unsupported → en)."""
    return EMAIL_OPT_OUT_LINES[supported_language(locale or "")]


def opt_out_html(line: str) -> Markup:
    """The line as the HTML paragraph appended to an email whose layout did not print it
    (escaped: the sentences hold apostrophes)."""
    return Markup("<p>{}</p>").format(line) if line else Markup("")
