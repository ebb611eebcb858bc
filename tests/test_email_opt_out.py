"""Every email says how to stop emails (12 CFR 1006.6(e)): the `opt_out` line in the debtor's
language, printed by the layout or appended by the renderer, in both parts of the email, and
the `List-Unsubscribe` header the live email carries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from markupsafe import escape
from temporalio.testing import ActivityEnvironment

from activities.account_activities import AccountActivities
from activities.channels.outbox import FileOutbox
from activities.channels.sendgrid.send import SendGridEmail
from activities.email_opt_out import EMAIL_OPT_OUT_LINES, email_opt_out_line
from activities.languages import SUPPORTED_LANGUAGES
from activities.render import TemplateRenderer, sample_facts
from config.ladder import Channel
from tests.conftest import MONDAY, account
from tests.test_outbox import message as outgoing
from tests.test_render import CREDITOR, TEMPLATES
from tests.test_validation_notice import bare_templates
from workflows.activity_types import send_request

SHIPPED_EMAILS = sorted(
    {path.name.split(".")[0] for path in (TEMPLATES / "email").glob("*.*.html")}
    - {"_validation-notice"}
)


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer(TEMPLATES, CREDITOR, "en")


def test_every_supported_language_has_a_line_with_both_keywords():
    assert set(EMAIL_OPT_OUT_LINES) == set(SUPPORTED_LANGUAGES)
    for line in EMAIL_OPT_OUT_LINES.values():
        assert "UNSUBSCRIBE" in line and "STOP" in line


@pytest.mark.parametrize(
    ("locale", "language"), [("fr-CA", "fr"), ("pl_PL", "pl"), ("de", "en"), (None, "en")]
)
def test_the_line_follows_the_debtors_language(locale: str | None, language: str):
    assert email_opt_out_line(locale) == EMAIL_OPT_OUT_LINES[language]


@pytest.mark.parametrize("locale", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("template", SHIPPED_EMAILS)
def test_every_shipped_email_carries_the_line_once_in_each_part(
    renderer: TemplateRenderer, template: str, locale: str
):
    line = EMAIL_OPT_OUT_LINES[locale]
    for notice in (False, True):  # the appended notice never comes after the opt-out line
        message = renderer.render(
            Channel.EMAIL, template, sample_facts(locale, validation_notice=notice)
        )
        assert message.text.count(line) == 1
        assert message.text.rstrip().endswith(line)
        assert message.html is not None and message.html.count(str(escape(line))) == 1


def test_the_line_is_appended_when_the_layout_lacks_it(tmp_path: Path):
    bare = TemplateRenderer(bare_templates(tmp_path), CREDITOR, "en")
    assert not bare.reads("email/bare.en.html", "opt_out")
    for locale in SUPPORTED_LANGUAGES:  # the bare template exists in en only: the line follows
        line = EMAIL_OPT_OUT_LINES[locale]  # the debtor, not the template's language
        message = bare.render(Channel.EMAIL, "bare", sample_facts(locale, validation_notice=False))
        assert message.text.startswith("Dear Maria-Magdalena Wiśniewska-Kowalczyk, you owe ")
        assert message.text.endswith(f"\n\n{line}")
        assert message.html is not None and message.html.count(str(escape(line))) == 1
        assert message.html.index(str(escape(line))) < message.html.index("</body>")


def test_the_line_goes_in_the_layout_when_the_layout_prints_it(renderer: TemplateRenderer):
    assert renderer.reads("email/courtesy.en.html", "opt_out")  # through email/_layout.html
    message = renderer.render(Channel.EMAIL, "courtesy", sample_facts("fr"))
    assert message.html is not None
    footer = message.html.index(CREDITOR.address)
    assert message.html.index(str(escape(EMAIL_OPT_OUT_LINES["fr"]))) > footer


@pytest.mark.parametrize(("channel", "extension"), [(Channel.SMS, "txt"), (Channel.LETTER, "txt")])
def test_opt_out_is_empty_outside_emails(tmp_path: Path, channel: Channel, extension: str):
    (tmp_path / channel.value).mkdir()
    source = "[{{ opt_out }}][{{ validation_notice }}]"
    if channel == Channel.LETTER:
        source = "{% block body %}" + source + "{% endblock %}"
    (tmp_path / channel.value / f"probe.en.{extension}").write_text(source)
    probe = TemplateRenderer(tmp_path, CREDITOR, "en")
    message = probe.render(channel, "probe", sample_facts("en", validation_notice=False))
    assert message.text == "[][]"


async def test_the_sent_email_carries_the_line(tmp_path: Path):
    renderer = TemplateRenderer(TEMPLATES, CREDITOR, "en")
    send = AccountActivities(
        renderer=renderer,
        transport=FileOutbox(tmp_path / "outbox"),
        payment_link_template="https://pay.example/a/{account_id}",
        handoff_dir=tmp_path / "handoff",
    )
    request = send_request(
        account(MONDAY, locale="es"),
        idempotency_key="dunning-T-1/reminder/email/1",
        at=MONDAY + timedelta(hours=3),
        balance=Decimal("120.50"),
        days_past_due=5,
        step="sms-reminder",
        channel=Channel.EMAIL,
        template="reminder",
    )
    await ActivityEnvironment().run(send.send_message, request)
    [stored] = FileOutbox(tmp_path / "outbox").messages()
    assert stored["text"].endswith(EMAIL_OPT_OUT_LINES["es"])
    assert str(escape(EMAIL_OPT_OUT_LINES["es"])) in stored["html"]


def test_the_live_email_has_a_list_unsubscribe_header_with_a_mailto():
    """The header travels with SendGrid's mail (activities/channels/sendgrid/send.py): a
    one-click link and a mailto the sender's address (the creditor's unless `email_from`)."""
    sendgrid = SendGridEmail(
        api_key="SG.test",
        host="http://127.0.0.1:9",
        sender_email=CREDITOR.email,
        sender_name=CREDITOR.name,
        public_base_url="https://dunning.example",
        link_secret="secret",
    )
    headers = sendgrid.mail_for(outgoing()).get()["headers"]
    assert f"<mailto:{CREDITOR.email}?subject=unsubscribe>" in headers["List-Unsubscribe"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
