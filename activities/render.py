"""Render one message from `templates/<channel>/<template>.<locale>.<ext>`.

Why here and not in the workflow: jinja2 and Babel are heavy, and their output depends on files
and locale data that change between deployments. The workflow only names a template; this module
(running inside an activity) turns it into text in the debtor's language.

Rules:
- jinja2 runs with StrictUndefined: a template that names a variable we do not provide fails
  loudly at `ladder validate` time, not silently in a debtor's inbox.
- Locale fallback: `fr-CA` → `fr` → the default locale.
- Money and dates are formatted by Babel in the debtor's locale; amounts are Decimal throughout.
- SMS and voicemail text is collapsed to single spaces; SMS text is made GSM-7 safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    select_autoescape,
)

from activities.sms_segments import sms_safe
from config.ladder import Channel

EXTENSIONS: dict[Channel, str] = {
    Channel.EMAIL: "html",
    Channel.SMS: "txt",
    Channel.VOICEMAIL: "txt",
    Channel.LETTER: "txt",
}


class RenderError(Exception):
    """A template is missing or does not render; the message says which and why."""


@dataclass(frozen=True)
class Creditor:
    name: str
    phone: str
    email: str
    address: str
    hours: str


@dataclass(frozen=True)
class RenderedMessage:
    channel: Channel
    template: str
    locale: str  # the locale whose file was actually used
    subject: str | None
    text: str
    html: str | None = None


@dataclass
class MessageFacts:
    """What a message may say, before formatting. Built by the send activity."""

    account_id: str
    debtor_name: str
    balance: Decimal
    currency: str
    days_past_due: int
    locale: str
    today: date
    payment_link: str
    jurisdiction: str
    deadline: date | None = None
    promise_amount: Decimal | None = None
    promise_date: date | None = None
    installment_amount: Decimal | None = None
    installment_date: date | None = None
    installment_number: int | None = None
    installment_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def locale_chain(requested: str | None, default: str) -> list[str]:
    """`fr-CA` → [`fr-CA`, `fr`, default]; duplicates removed, order kept."""
    chain: list[str] = []
    if requested:
        tag = requested.replace("_", "-")
        chain.append(tag)
        base = tag.split("-")[0]
        chain.append(base)
    chain.append(default)
    return list(dict.fromkeys(chain))


def babel_locale(tag: str) -> Locale:
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse(tag.split("-")[0])


class TemplateRenderer:
    """Finds and renders templates; one instance per worker (jinja caches compiled templates)."""

    def __init__(self, templates_dir: Path, creditor: Creditor, default_locale: str = "en"):
        self.templates_dir = templates_dir
        self.creditor = creditor
        self.default_locale = default_locale

    @cached_property
    def env(self) -> Environment:
        return Environment(
            loader=FileSystemLoader(str(self.templates_dir)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )

    def path_for(self, channel: Channel, template: str, locale: str) -> str:
        return f"{channel.value}/{template}.{locale}.{EXTENSIONS[channel]}"

    def resolve(self, channel: Channel, template: str, locale: str | None) -> tuple[str, str]:
        """(template path, locale used), walking the locale fallback chain."""
        for candidate in locale_chain(locale, self.default_locale):
            path = self.path_for(channel, template, candidate)
            if (self.templates_dir / path).is_file():
                return path, candidate
        raise RenderError(
            f"no template {self.path_for(channel, template, locale or self.default_locale)} "
            f"(nor a fallback for locale {self.default_locale!r}) under {self.templates_dir}"
        )

    def context(self, facts: MessageFacts, locale_used: str) -> dict[str, Any]:
        loc = babel_locale(facts.locale or locale_used)

        def money(amount: Decimal | None) -> str | None:
            if amount is None:
                return None
            return format_currency(amount, facts.currency, locale=loc)

        def day(value: date | None) -> str | None:
            return None if value is None else format_date(value, format="long", locale=loc)

        promise = None
        if facts.promise_date is not None:
            promise = {"amount": money(facts.promise_amount), "date": day(facts.promise_date)}
        installment = None
        if facts.installment_date is not None:
            installment = {
                "amount": money(facts.installment_amount),
                "date": day(facts.installment_date),
                "number": facts.installment_number,
                "count": facts.installment_count,
            }
        return {
            "debtor": {"name": facts.debtor_name},
            "account": {
                "id": facts.account_id,
                "balance": money(facts.balance),
                "currency": facts.currency,
                "days_past_due": facts.days_past_due,
            },
            "creditor": {
                "name": self.creditor.name,
                "phone": self.creditor.phone,
                "email": self.creditor.email,
                "address": self.creditor.address,
                "hours": self.creditor.hours,
            },
            "payment_link": facts.payment_link,
            "deadline": day(facts.deadline),
            "today": day(facts.today),
            "promise": promise,
            "installment": installment,
            "jurisdiction": facts.jurisdiction,
            "locale": locale_used,
            **facts.extra,
        }

    def render(self, channel: Channel, template: str, facts: MessageFacts) -> RenderedMessage:
        path, locale_used = self.resolve(channel, template, facts.locale)
        try:
            compiled = self.env.get_template(path)
            ctx = self.context(facts, locale_used)

            def block(name: str) -> str | None:
                if name not in compiled.blocks:
                    return None
                return "".join(compiled.blocks[name](compiled.new_context(ctx))).strip()

            if channel == Channel.EMAIL:
                subject, text = block("subject"), block("text")
                if subject is None or text is None:
                    raise RenderError(f"{path}: an email needs a subject and a text block")
                return RenderedMessage(
                    channel,
                    template,
                    locale_used,
                    " ".join(subject.split()),
                    text,
                    compiled.render(ctx).strip(),
                )
            if channel == Channel.LETTER:
                subject, body = block("subject"), block("body")
                if body is None:
                    raise RenderError(f"{path}: a letter needs a body block")
                return RenderedMessage(
                    channel,
                    template,
                    locale_used,
                    " ".join(subject.split()) if subject else None,
                    body,
                )
            spoken = " ".join(compiled.render(ctx).split())
            if channel == Channel.SMS:
                spoken = sms_safe(spoken)
            return RenderedMessage(channel, template, locale_used, None, spoken)
        except TemplateNotFound as exc:
            raise RenderError(f"{path}: includes a missing template {exc.name}") from None
        except TemplateError as exc:
            line = getattr(exc, "lineno", None)
            where = f"{path}:{line}" if line else path
            raise RenderError(f"{where}: {exc}") from None


def sample_facts(locale: str, jurisdiction: str = "us") -> MessageFacts:
    """A realistic account used by `ladder validate` and `preview` to prove templates render."""
    return MessageFacts(
        account_id="A-100004",
        debtor_name="Maria-Magdalena Wiśniewska-Kowalczyk",
        balance=Decimal("1234.56"),
        currency="EUR",
        days_past_due=12,
        locale=locale,
        today=date(2027, 1, 4),
        payment_link="https://pay.example/a/A-100004",
        jurisdiction=jurisdiction,
        deadline=date(2027, 1, 15),
        promise_amount=Decimal("100.50"),
        promise_date=date(2027, 1, 10),
        installment_amount=Decimal("25.00"),
        installment_date=date(2027, 1, 10),
        installment_number=2,
        installment_count=3,
    )
