"""Templates and rendering: every message of every shipped ladder, in every language."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from activities.languages import SUPPORTED_LANGUAGES
from activities.render import (
    Creditor,
    RenderError,
    TemplateRenderer,
    locale_chain,
    sample_facts,
)
from activities.sms_segments import MAX_SEGMENTS, count_segments
from config.ladder import Channel
from config.ladder_loader import load_catalog
from config.settings import PROJECT_ROOT

LOCALES = SUPPORTED_LANGUAGES
TEMPLATES = PROJECT_ROOT / "templates"
CREDITOR = Creditor(
    name="Acme Utilities",
    phone="+1 415 555 0100",
    email="billing@acme.example",
    address="1 Market Street, San Francisco, CA 94105, US",
    hours="Mon-Fri 9:00-17:00",
)
MESSAGES = sorted(
    {
        (channel, template)
        for ladder in load_catalog(PROJECT_ROOT / "config" / "ladders").values()
        for _, channel, template in ladder.messages()
    }
)


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer(TEMPLATES, CREDITOR, "en")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("channel", "template"), MESSAGES, ids=lambda v: getattr(v, "value", v))
def test_every_shipped_message_exists_and_renders_in_every_language(
    renderer: TemplateRenderer, channel: Channel, template: str, locale: str
):
    path = TEMPLATES / renderer.path_for(channel, template, locale)
    assert path.is_file(), path
    for deadline in (sample_facts(locale).deadline, None):
        facts = replace(sample_facts(locale), deadline=deadline)
        message = renderer.render(channel, template, facts)
        assert message.locale == locale
        assert message.text.strip()
        if channel == Channel.EMAIL:
            assert message.subject and "\n" not in message.subject
            assert message.html and f'lang="{locale}"' in message.html
            assert "https://pay.example/a/A-100004" in message.html
        if channel == Channel.LETTER:
            assert message.subject
        if channel in (Channel.EMAIL, Channel.LETTER):
            assert "Acme Utilities" in message.text


@pytest.mark.parametrize("locale", LOCALES)
def test_sms_fit_in_two_segments_even_with_a_long_non_gsm_name(
    renderer: TemplateRenderer, locale: str
):
    for channel, template in MESSAGES:
        if channel != Channel.SMS:
            continue
        message = renderer.render(channel, template, sample_facts(locale))
        count = count_segments(message.text)
        assert count.segments <= MAX_SEGMENTS, (template, locale, count, message.text)


DEBT_WORDS = {
    "en": ("debt", "balance", "amount", "payment", "overdue", "collection", "account"),
    "fr": ("dette", "solde", "montant", "paiement", "impayé", "recouvrement", "compte"),
    "it": ("debito", "saldo", "importo", "pagamento", "insoluto", "recupero", "conto"),
    "es": ("deuda", "saldo", "importe", "pago", "impagado", "cobro", "cuenta"),
    "pl": ("dług", "saldo", "kwota", "płatnoś", "zaległ", "windykac", "konto"),
}


@pytest.mark.parametrize("locale", LOCALES)
def test_voicemail_is_a_limited_content_message(renderer: TemplateRenderer, locale: str):
    """Regulation F 1006.2(j): a voicemail must not disclose the debt to whoever hears it."""
    text = renderer.render(Channel.VOICEMAIL, "callback-request", sample_facts(locale)).text
    lowered = text.lower()
    assert CREDITOR.phone in text
    for word in DEBT_WORDS[locale]:
        assert word not in lowered, (locale, word, text)
    assert "acme" not in lowered and "http" not in lowered


def test_locale_falls_back_from_region_to_language_to_default(renderer: TemplateRenderer):
    assert locale_chain("fr-CA", "en") == ["fr-CA", "fr", "en"]
    assert locale_chain("pt_BR", "en") == ["pt-BR", "pt", "en"]
    assert locale_chain(None, "en") == ["en"]
    canadian = renderer.render(Channel.EMAIL, "courtesy", sample_facts("fr-CA"))
    assert canadian.locale == "fr"
    brazilian = renderer.render(Channel.EMAIL, "courtesy", sample_facts("pt-BR"))
    assert brazilian.locale == "en"


def test_money_and_dates_are_formatted_by_babel_in_the_debtors_language(
    renderer: TemplateRenderer,
):
    facts = replace(sample_facts("fr"), balance=Decimal("1234.50"))
    context = renderer.context(facts, "fr")
    assert context["account"]["balance"] == "1\u202f234,50\u00a0€"
    assert context["deadline"] == "15 janvier 2027"
    polish = renderer.context(replace(sample_facts("pl"), currency="PLN"), "pl")
    assert polish["account"]["balance"] == "1\u00a0234,56\u00a0zł"
    english = renderer.context(replace(sample_facts("en"), currency="USD"), "en")
    assert english["account"]["balance"] == "$1,234.56"
    assert english["deadline"] == "January 15, 2027"


def test_sms_text_is_normalised_to_plain_spaces(renderer: TemplateRenderer):
    message = renderer.render(Channel.SMS, "reminder", sample_facts("fr"))
    assert "\u00a0" not in message.text and "\u202f" not in message.text
    assert "  " not in message.text


def test_a_template_naming_an_unknown_variable_fails_loudly(tmp_path: Path):
    (tmp_path / "sms").mkdir()
    (tmp_path / "sms" / "oops.en.txt").write_text("Hello {{ debtor.first_name }}")
    strict = TemplateRenderer(tmp_path, CREDITOR, "en")
    with pytest.raises(RenderError, match=r"sms/oops\.en\.txt.*first_name"):
        strict.render(Channel.SMS, "oops", sample_facts("en"))


def test_a_missing_template_names_the_path(renderer: TemplateRenderer):
    with pytest.raises(RenderError, match=r"sms/nope\.de\.txt"):
        renderer.render(Channel.SMS, "nope", sample_facts("de"))


def test_html_email_escapes_what_the_debtor_wrote(renderer: TemplateRenderer):
    facts = replace(sample_facts("en"), debtor_name="<script>alert(1)</script> O'Brien")
    message = renderer.render(Channel.EMAIL, "courtesy", facts)
    assert "<script>" not in message.html
    assert "O'Brien" in message.text  # plain text is not HTML-escaped
