"""Regulation F limited-content voicemails: `ladder validate` refuses a us voicemail template
that could disclose the debt, and accepts the shipped ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from activities.limited_content import disclosing_words
from cli.ladder_commands import validate_files
from config.settings import PROJECT_ROOT, load_settings

LADDER = PROJECT_ROOT / "config" / "ladders" / "consumer-standard.yaml"


def ladder_with_voicemail(tmp_path: Path, template: str, jurisdiction: str = "us") -> Path:
    text = LADDER.read_text(encoding="utf-8")
    text = text.replace("template: callback-request", f"template: {template}")
    text = text.replace("jurisdiction: us ", f"jurisdiction: {jurisdiction} ")
    path = tmp_path / "ladder.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    copy = tmp_path / "templates"
    shutil.copytree(PROJECT_ROOT / "templates", copy)
    return copy


def add_voicemail(templates: Path, name: str, text: str, locales=("en",)) -> None:
    """A voicemail template, plus the SMS of the same name that the step falls back to."""
    for locale in locales:
        (templates / "voicemail" / f"{name}.{locale}.txt").write_text(text, encoding="utf-8")
    shutil.copy(templates / "sms" / "callback-request.en.txt", templates / "sms" / f"{name}.en.txt")


def validate(ladder: Path, templates: Path, **settings: str):
    return validate_files([ladder], load_settings(templates_dir=templates, **settings))


def test_the_shipped_voicemails_are_limited_content(tmp_path, templates):
    problems, _ = validate(ladder_with_voicemail(tmp_path, "callback-request"), templates)
    assert problems == []


def test_a_voicemail_naming_the_balance_is_refused_for_a_us_ladder(tmp_path, templates):
    add_voicemail(
        templates,
        "balance-due",
        "Hello {{ debtor.name }}, please call {{ creditor.phone }} about {{ account.balance }}.",
    )
    problems, _ = validate(ladder_with_voicemail(tmp_path, "balance-due"), templates)
    [problem] = problems
    assert problem.startswith(f"{tmp_path / 'ladder.yaml'}:34: steps[voicemail]: ")
    assert "balance-due.en.txt reads account.balance" in problem
    assert "12 CFR 1006.2(j)" in problem


def test_a_voicemail_whose_words_disclose_a_debt_is_refused_in_every_language(tmp_path, templates):
    (templates / "voicemail" / "callback-request.es.txt").write_text(
        "Hola {{ debtor.name }}, llame al {{ creditor.phone }} sobre su deuda.", encoding="utf-8"
    )
    problems, _ = validate(ladder_with_voicemail(tmp_path, "callback-request"), templates)
    [problem] = problems
    assert "callback-request.es.txt says 'deuda'" in problem


def test_other_jurisdictions_are_not_held_to_regulation_f(tmp_path, templates):
    add_voicemail(
        templates, "balance-due", "Hello {{ debtor.name }}, you owe {{ account.balance }}."
    )
    problems, _ = validate(ladder_with_voicemail(tmp_path, "balance-due", "eu"), templates)
    assert problems == []


def test_a_creditor_name_that_says_collection_is_refused(tmp_path, templates):
    problems, _ = validate(
        ladder_with_voicemail(tmp_path, "callback-request"),
        templates,
        creditor_name="Acme Debt Collection",
    )
    assert problems and all("indicates debt collection" in p for p in problems)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Please call us back at 555 0100.", []),
        ("You owe us money", ["owe"]),
        ("Merci de régler votre solde", ["solde"]),
        ("Prosimy o spłatę zadłużenia", ["spłat", "zadłuż"]),
        ("La preghiamo di effettuare il pagamento", ["pagament"]),
    ],
)
def test_disclosing_words(text, words):
    assert disclosing_words(text) == words
