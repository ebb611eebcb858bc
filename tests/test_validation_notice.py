"""Regulation F's validation notice (12 CFR 1006.34): the validation period's arithmetic, the
itemization's figures, the notice in every language, appended to a template that forgot it,
and through the send activity: the receipt's flags and the message stored in the audit store.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import holidays
import pytest
from babel.dates import format_date
from babel.numbers import format_currency
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.testing import ActivityEnvironment

from activities.account_activities import AccountActivities
from activities.channels.outbox import FileOutbox
from activities.languages import SUPPORTED_LANGUAGES
from activities.render import TemplateRenderer, sample_facts
from activities.validation_notice import (
    assumed_receipt,
    html_to_text,
    is_business_day,
    notice_figures,
    validation_period_end,
)
from config.ladder import Channel
from store.protocols import StoredContent
from tests.conftest import MONDAY, account
from tests.test_render import CREDITOR, TEMPLATES
from workflows.activity_types import SendRequest, send_request
from workflows.types import Itemization

# The sentence each language's notice says when there was no itemization from the creditor.
PLACED_WITH_US = {
    "en": "The itemization uses the balance when this account was placed with us on",
    "fr": "repose sur le solde du compte au moment où il nous a été confié",
    "it": "si basa sul saldo del conto al momento in cui ci è stato affidato",
    "es": "utiliza el saldo de la cuenta en el momento en que se nos encomendó",
    "pl": "opiera się na saldzie konta z dnia, w którym zostało ono nam przekazane",
}
# Each language's heading (once per message: never printed twice).
HEADING = {
    "en": "Important information about this debt",
    "fr": "Informations importantes concernant cette dette",
    "it": "Informazioni importanti su questo debito",
    "es": "Información importante sobre esta deuda",
    "pl": "Ważne informacje dotyczące zadłużenia",
}
ITEMIZED = Itemization(
    date=date(2026, 11, 30),
    amount=Decimal("1200.00"),
    interest=Decimal("24.56"),
    fees=Decimal("25.00"),
    payments=Decimal("10.00"),
    credits=Decimal("5.00"),
)


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer(TEMPLATES, CREDITOR, "en")


# --- the validation period ---------------------------------------------------------------


def test_receipt_is_five_business_days_later_and_the_period_thirty_days_after():
    # Monday 4 January 2027: Tue-Fri, then Monday 11 is the 5th business day.
    assert assumed_receipt(date(2027, 1, 4)) == date(2027, 1, 11)
    assert validation_period_end(date(2027, 1, 4)) == date(2027, 2, 10)


def test_a_weekend_and_a_federal_holiday_are_not_counted():
    # Friday 15 January 2027, then a weekend and Martin Luther King Jr. Day (Monday 18):
    # Tue 19, Wed 20, Thu 21, Fri 22, (weekend), Mon 25.
    assert date(2027, 1, 18) in holidays.US(years=2027)
    assert assumed_receipt(date(2027, 1, 15)) == date(2027, 1, 25)
    assert validation_period_end(date(2027, 1, 15)) == date(2027, 2, 24)


def test_thanksgiving_is_not_counted():
    # Monday 22 November 2027: Tue 23, Wed 24, (Thanksgiving 25), Fri 26, (weekend), Mon 29,
    # Tue 30.
    assert assumed_receipt(date(2027, 11, 22)) == date(2027, 11, 30)
    assert validation_period_end(date(2027, 11, 22)) == date(2027, 12, 30)


def test_observed_holidays_across_the_new_year():
    # Thursday 23 December 2027: (Fri 24 Christmas observed), (weekend), Mon 27, Tue 28,
    # Wed 29, Thu 30, (Fri 31 New Year's Day 2028 observed), (weekend), Mon 3 January 2028.
    assert assumed_receipt(date(2027, 12, 23)) == date(2028, 1, 3)


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_the_period_never_counts_fewer_than_five_business_days(sent_on: date):
    receipt = assumed_receipt(sent_on)
    end = validation_period_end(sent_on)
    calendar = holidays.US(years=range(sent_on.year, sent_on.year + 2))
    between = [sent_on + timedelta(days=n) for n in range(1, (receipt - sent_on).days + 1)]
    assert sum(is_business_day(day, calendar) for day in between) == 5
    assert is_business_day(receipt, calendar)  # the earliest day with 5 counted
    assert end == receipt + timedelta(days=30)
    assert (end - sent_on).days >= 35


# --- the figures ---------------------------------------------------------------------------


def test_figures_of_an_itemization_that_adds_up():
    figures = notice_figures(ITEMIZED, Decimal("1234.56"), date(2027, 1, 4))
    assert figures.itemization_date == date(2026, 11, 30)
    assert figures.itemization_amount == Decimal("1200.00")
    assert (figures.interest, figures.fees) == (Decimal("24.56"), Decimal("25.00"))
    assert (figures.payments, figures.credits) == (Decimal("10.00"), Decimal("5.00"))
    assert figures.current_amount == Decimal("1234.56")
    assert not figures.from_import
    assert figures.period_ends == date(2027, 2, 10)


def test_payments_recorded_since_the_import_count_as_payments():
    figures = notice_figures(ITEMIZED, Decimal("1200.00"), date(2027, 1, 4))
    assert figures.payments == Decimal("44.56")
    assert figures.current_amount == Decimal("1200.00")
    total = (
        figures.itemization_amount
        + figures.interest
        + figures.fees
        - figures.payments
        - figures.credits
    )
    assert total == figures.current_amount


def test_without_an_itemization_the_balance_as_of_the_send_date():
    figures = notice_figures(None, Decimal("120.50"), date(2027, 1, 4))
    assert figures.itemization_date == date(2027, 1, 4)
    assert figures.itemization_amount == figures.current_amount == Decimal("120.50")
    assert figures.interest == figures.fees == figures.payments == figures.credits == 0
    assert figures.from_import


def test_an_itemization_from_the_import_is_the_balance_at_import():
    at_import = Itemization(date=date(2026, 12, 20), amount=Decimal("150.00"), from_import=True)
    figures = notice_figures(at_import, Decimal("120.50"), date(2027, 1, 4))
    assert figures.itemization_date == date(2026, 12, 20)
    assert figures.itemization_amount == Decimal("150.00")
    assert figures.payments == Decimal("29.50")
    assert figures.from_import


def test_html_to_text_keeps_rows_and_paragraphs_apart():
    markup = "<h2>Title</h2><p>One &amp; two</p><table><tr><th>A:</th><td>1</td></tr></table>"
    assert html_to_text(markup) == "Title\n\nOne & two\n\nA: 1"


# --- the notice in every language ----------------------------------------------------------


def usd(amount: str, locale: str) -> str:
    return format_currency(Decimal(amount), "USD", locale=locale)


def long_date(value: date, locale: str) -> str:
    return format_date(value, format="long", locale=locale)


@pytest.mark.parametrize("locale", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.LETTER])
def test_the_notice_with_an_itemization_in_every_language(
    renderer: TemplateRenderer, channel: Channel, locale: str
):
    template = "courtesy" if channel == Channel.EMAIL else "first-notice"
    facts = replace(sample_facts(locale), currency="USD", itemization=ITEMIZED)
    message = renderer.render(channel, template, facts)
    assert message.validation_notice
    assert message.validation_period_ends == date(2027, 2, 10)
    parts = [message.text] + ([message.html] if message.html else [])
    for part in parts:
        assert part.upper().count(HEADING[locale].upper()) == 1, part
        for amount in ("1200.00", "24.56", "25.00", "10.00", "5.00", "1234.56"):
            assert usd(amount, locale) in part, (amount, part)
        assert long_date(date(2026, 11, 30), locale) in part
        assert long_date(date(2027, 2, 10), locale) in part  # the end of the period
        assert CREDITOR.address in part and CREDITOR.email in part and CREDITOR.phone in part
        assert PLACED_WITH_US[locale] not in part
    partial = f"{channel.value}/_validation-notice.{locale}.{'html' if message.html else 'txt'}"
    assert message.template_files[partial] == sha256_of(TEMPLATES / partial)


@pytest.mark.parametrize("locale", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize(
    "itemization",
    [None, Itemization(date=date(2026, 12, 20), amount=Decimal("1234.56"), from_import=True)],
    ids=["none", "from-import"],
)
def test_without_an_itemization_the_notice_says_so(
    renderer: TemplateRenderer, locale: str, itemization: Itemization | None
):
    facts = replace(sample_facts(locale), currency="USD", itemization=itemization)
    placed_on = itemization.date if itemization else facts.today
    for channel, template in ((Channel.EMAIL, "reminder"), (Channel.LETTER, "final-notice")):
        message = renderer.render(channel, template, facts)
        for part in [message.text] + ([message.html] if message.html else []):
            assert PLACED_WITH_US[locale] in part, part
            assert long_date(placed_on, locale) in part
            assert usd("1234.56", locale) in part


def test_the_notice_is_absent_when_not_asked_for(renderer: TemplateRenderer):
    for channel, template in ((Channel.EMAIL, "courtesy"), (Channel.LETTER, "first-notice")):
        message = renderer.render(channel, template, sample_facts("en", validation_notice=False))
        assert not message.validation_notice and message.validation_period_ends is None
        assert HEADING["en"] not in message.text
        assert HEADING["en"] not in (message.html or "")
        assert not any("_validation-notice" in path for path in message.template_files)


def test_an_sms_never_carries_the_notice(renderer: TemplateRenderer):
    message = renderer.render(Channel.SMS, "reminder", sample_facts("en", validation_notice=True))
    assert not message.validation_notice and HEADING["en"] not in message.text


def test_the_partial_follows_the_locale_fallback(renderer: TemplateRenderer):
    canadian = renderer.render(Channel.LETTER, "first-notice", sample_facts("fr-CA"))
    assert HEADING["fr"].upper() in canadian.text
    german = renderer.render(Channel.EMAIL, "courtesy", sample_facts("de"))
    assert HEADING["en"] in german.text


# --- appended to a template that does not print it ----------------------------------------


def bare_templates(root: Path) -> Path:
    """A templates directory whose email and letter never name `validation_notice` (nor its
    layout `opt_out`), with the shipped partials."""
    for channel in ("email", "letter"):
        (root / channel).mkdir(parents=True)
        for partial in (TEMPLATES / channel).glob("_validation-notice.*"):
            shutil.copy(partial, root / channel / partial.name)
    (root / "email" / "_layout.html").write_text(
        "<html><body><div>{% block content %}{% endblock %}</div></body></html>"
    )
    (root / "email" / "bare.en.html").write_text(
        '{% extends "email/_layout.html" %}\n'
        "{% block subject %}Hello{% endblock %}\n"
        "{% block text %}Dear {{ debtor.name }}, you owe {{ account.balance }}.{% endblock %}\n"
        "{% block content %}<p>Dear {{ debtor.name }}</p>{% endblock %}\n"
    )
    (root / "letter" / "bare.en.txt").write_text(
        "{% block subject %}Hello{% endblock %}\n"
        "{% block body %}Dear {{ debtor.name }}, you owe {{ account.balance }}.{% endblock %}\n"
    )
    return root


def test_the_notice_is_appended_to_an_email_that_lacks_it(tmp_path: Path):
    bare = TemplateRenderer(bare_templates(tmp_path), CREDITOR, "en")
    assert not bare.reads("email/bare.en.html", "validation_notice")
    message = bare.render(Channel.EMAIL, "bare", sample_facts("en"))
    assert message.validation_notice
    assert message.text.startswith("Dear Maria-Magdalena")
    notice_at = message.text.index(HEADING["en"])
    assert notice_at > message.text.index("you owe")
    assert "February 10, 2027" in message.text[notice_at:]
    assert message.html is not None
    assert message.html.count(HEADING["en"]) == 1
    assert message.html.index(HEADING["en"]) < message.html.index("</body>")
    assert set(message.template_files) == {
        "email/bare.en.html",
        "email/_layout.html",
        "email/_validation-notice.en.html",
    }


def test_the_notice_is_appended_to_a_letter_that_lacks_it(tmp_path: Path):
    bare = TemplateRenderer(bare_templates(tmp_path), CREDITOR, "en")
    message = bare.render(Channel.LETTER, "bare", sample_facts("en"))
    assert message.text.startswith("Dear Maria-Magdalena")
    assert message.text.count(HEADING["en"].upper()) == 1
    assert message.text.rstrip().endswith(f"({CREDITOR.hours}).")


def test_a_template_that_prints_the_notice_gets_it_once(renderer: TemplateRenderer):
    assert renderer.reads("email/courtesy.en.html", "validation_notice")
    for channel, template in ((Channel.EMAIL, "courtesy"), (Channel.LETTER, "first-notice")):
        message = renderer.render(channel, template, sample_facts("en"))
        for part in [message.text] + ([message.html] if message.html else []):
            assert part.upper().count(HEADING["en"].upper()) == 1


# --- through the send activity -------------------------------------------------------------


class MemoryAudit:
    """The part of `AuditLog` a send uses: contents stored once by sha256."""

    def __init__(self) -> None:
        self.contents: dict[str, StoredContent] = {}
        self.owners: dict[str, str | None] = {}
        self.puts = 0

    def put_content(self, body: bytes, media_type: str, *, account_id: str | None = None) -> str:
        self.puts += 1
        sha = hashlib.sha256(body).hexdigest()
        self.contents.setdefault(sha, StoredContent(sha, media_type, body))
        self.owners[sha] = account_id
        return sha


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def first_email(**fields: object) -> SendRequest:
    return send_request(
        account(MONDAY, locale="en"),
        idempotency_key="dunning-T-1/courtesy-email/email/1",
        at=MONDAY + timedelta(hours=3),  # 10:00 in Paris: inside the contact window
        balance=Decimal("120.50"),
        days_past_due=1,
        step="courtesy-email",
        channel=Channel.EMAIL,
        template="courtesy",
        deadline_days=7,
        **fields,
    )


def activities_for(
    renderer: TemplateRenderer, tmp_path: Path, audit: MemoryAudit | None
) -> AccountActivities:
    return AccountActivities(
        renderer=renderer,
        transport=FileOutbox(tmp_path / "outbox"),
        payment_link_template="https://pay.example/a/{account_id}",
        handoff_dir=tmp_path / "handoff",
        audit=audit,  # type: ignore[arg-type]
    )


async def test_the_receipt_reports_the_notice_and_its_period(
    renderer: TemplateRenderer, tmp_path: Path
):
    send = activities_for(renderer, tmp_path, None)
    receipt = await ActivityEnvironment().run(
        send.send_message, first_email(validation_notice=True, itemization=None)
    )
    # Monday 4 January 2038, 10:00 in Paris: receipt Monday 11, the period ends 30 days on.
    assert receipt.validation_notice
    assert receipt.validation_period_ends == date(2038, 2, 10)
    assert receipt.content is None  # no audit store
    [stored] = FileOutbox(tmp_path / "outbox").messages()
    assert HEADING["en"] in stored["text"] and HEADING["en"] in stored["html"]
    assert PLACED_WITH_US["en"] in stored["text"]
    assert "€120.50" in stored["text"]


async def test_a_send_without_the_notice_reports_none(renderer: TemplateRenderer, tmp_path: Path):
    receipt = await ActivityEnvironment().run(
        activities_for(renderer, tmp_path, MemoryAudit()).send_message, first_email()
    )
    assert not receipt.validation_notice and receipt.validation_period_ends is None
    assert receipt.content is None  # the request did not ask for an audit record


async def test_an_audited_send_stores_its_content_once_and_returns_its_sha(
    renderer: TemplateRenderer, tmp_path: Path
):
    audit = MemoryAudit()
    send = activities_for(renderer, tmp_path, audit)
    request = first_email(
        validation_notice=True, itemization=ITEMIZED, audit=True, ladder_version=3
    )
    receipt = await ActivityEnvironment().run(send.send_message, request)
    again = await ActivityEnvironment().run(send.send_message, request)  # a retried activity
    assert again.duplicate and again.content == receipt.content
    assert receipt.content is not None and list(audit.contents) == [receipt.content]
    stored = audit.contents[receipt.content]
    assert stored.media_type == "application/json" and stored.body is not None
    assert audit.owners[receipt.content] == "T-1"
    document = json.loads(stored.body)
    [sent] = FileOutbox(tmp_path / "outbox").messages()
    assert document == {
        "to": sent["to"],
        "channel": "email",
        "subject": sent["subject"],
        "text": sent["text"],
        "html": sent["html"],
        "locale": "en",
        "template": "courtesy",
        "template_files": {
            path: sha256_of(TEMPLATES / path)
            for path in (
                "email/courtesy.en.html",
                "email/_layout.html",
                "email/_validation-notice.en.html",
            )
        },
        "ladder": "consumer-standard",
        "ladder_version": 3,
        "idempotency_key": request.idempotency_key,
    }
    # Canonical JSON: sorted keys, no spaces, so one message has one address.
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert stored.body == canonical.encode()
