"""The product speaks exactly `SUPPORTED_LANGUAGES`: every per-language table and every template
has each of them, so adding a language to the list fails here until its wording exists."""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from activities.channels.sendgrid.email_text import QUOTE_HEADERS
from activities.channels.twilio.twiml import MENU, MENU_ANSWERS, VOICES, voice_for
from activities.email_opt_out import EMAIL_OPT_OUT_LINES, email_opt_out_line
from activities.languages import (
    FALLBACK_LANGUAGE,
    SUPPORTED_LANGUAGES,
    language_of,
    supported_language,
)
from activities.limited_content import DISCLOSING_STEMS
from activities.replies.lexicons import LEXICONS
from activities.sms_opt_out import OPT_OUT_LINES, with_opt_out
from config.settings import PROJECT_ROOT
from inbound.answers import ANSWERS, answer_text

TEMPLATES = PROJECT_ROOT / "templates"

# Every table of wording keyed by language. VOICES also has regional voices (en-GB, es-US).
TABLES: dict[str, Mapping[str, Any]] = {
    "twiml VOICES": VOICES,
    "twiml MENU": MENU,
    "twiml MENU_ANSWERS": MENU_ANSWERS,
    "sms_opt_out OPT_OUT_LINES": OPT_OUT_LINES,
    "email_opt_out EMAIL_OPT_OUT_LINES": EMAIL_OPT_OUT_LINES,
    "limited_content DISCLOSING_STEMS": DISCLOSING_STEMS,
    "inbound.answers ANSWERS": ANSWERS,
    "replies LEXICONS": LEXICONS,
    "email_text QUOTE_HEADERS": QUOTE_HEADERS,
}


def test_the_list_is_of_bare_languages_and_holds_the_fallback():
    assert len(set(SUPPORTED_LANGUAGES)) == len(SUPPORTED_LANGUAGES)
    assert all(language_of(language) == language for language in SUPPORTED_LANGUAGES)
    assert FALLBACK_LANGUAGE in SUPPORTED_LANGUAGES


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("table", TABLES)
def test_every_table_has_wording_in_every_supported_language(table: str, language: str):
    entry = TABLES[table].get(language)
    assert entry, f"{table} has no wording for {language!r}"


@pytest.mark.parametrize("table", TABLES)
def test_no_table_has_wording_for_a_language_nobody_reaches(table: str):
    """`supported_language` sends any other language to the fallback: such wording is dead."""
    extra = sorted(key for key in TABLES[table] if language_of(key) not in SUPPORTED_LANGUAGES)
    assert not extra, f"{table} has wording for {extra}, not in SUPPORTED_LANGUAGES"


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_each_languages_wording_has_the_fallbacks_shape(language: str):
    tag, voice = VOICES[language]
    assert language_of(tag) == language and voice.startswith("Polly.")
    assert MENU_ANSWERS[language].keys() == MENU_ANSWERS[FALLBACK_LANGUAGE].keys()
    assert "STOP" in OPT_OUT_LINES[language].split()  # the keyword with_opt_out looks for
    # The keywords the reply classifier reads as an opt-out, whatever the language.
    assert {"UNSUBSCRIBE", "STOP"} <= set(EMAIL_OPT_OUT_LINES[language].rstrip(".").split())
    assert LEXICONS[language].language == language
    assert ANSWERS[language].keys() == ANSWERS[FALLBACK_LANGUAGE].keys()
    for kind, text in ANSWERS[language].items():
        assert _placeholders(text) == _placeholders(ANSWERS[FALLBACK_LANGUAGE][kind]), kind


def _templates(channel: Path) -> set[tuple[str, str]]:
    """(name, ext) of every `<name>.<locale>.<ext>` in templates/<channel>/ (not `_layout`)."""
    return {
        (name, ext)
        for path in channel.iterdir()
        if path.is_file() and not path.name.startswith("_")
        for name, _, ext in [path.name.rsplit(".", 2)]
    }


CHANNELS = sorted(path.name for path in TEMPLATES.iterdir() if path.is_dir())


def test_templates_are_found():
    assert {"email", "sms", "letter", "voicemail"} <= set(CHANNELS)
    assert all(_templates(TEMPLATES / channel) for channel in CHANNELS)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_every_template_exists_in_every_supported_language(channel: str, language: str):
    missing = sorted(
        f"{channel}/{name}.{language}.{ext}"
        for name, ext in _templates(TEMPLATES / channel)
        if not (TEMPLATES / channel / f"{name}.{language}.{ext}").is_file()
    )
    assert not missing, f"missing in {language!r}: {', '.join(missing)}"


@pytest.mark.parametrize("locale", ["zz", "zz_ZZ", "x-klingon", ""])
def test_a_language_not_supported_gets_the_fallback_wording(locale: str):
    assert supported_language(locale) == FALLBACK_LANGUAGE
    assert voice_for(locale) == VOICES[FALLBACK_LANGUAGE]
    line = OPT_OUT_LINES[FALLBACK_LANGUAGE]
    assert with_opt_out("Hello.", locale, "us") == f"Hello. {line}"
    assert email_opt_out_line(locale) == EMAIL_OPT_OUT_LINES[FALLBACK_LANGUAGE]
    assert answer_text("neutral", locale) == ANSWERS[FALLBACK_LANGUAGE]["neutral"]


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_a_regional_locale_gets_its_languages_wording(language: str):
    locale = f"{language}_XX"
    assert supported_language(locale) == language
    assert voice_for(locale) == VOICES[language]
    assert with_opt_out("Hello.", locale, "eu") == f"Hello. {OPT_OUT_LINES[language]}"
    assert email_opt_out_line(locale) == EMAIL_OPT_OUT_LINES[language]
    assert answer_text("neutral", locale) == ANSWERS[language]["neutral"]
