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

Compliance variables, defined in every template (empty where they do not apply):
- `validation_notice` (12 CFR 1006.34): "" unless the facts ask for the notice and the channel
  is an email or a letter; then the partial `templates/<channel>/_validation-notice.<locale>.
  <ext>` rendered (locale fallback as above). In an email's HTML it is Markup (inserted as is);
  in its `text` block and in a letter it is plain text. A message that must carry the notice
  and whose template did not print it gets it appended to the end of its body (the text part,
  the HTML before `</body>`, the letter's body): the first email or letter of an account
  carries the notice whatever the ladder's template says.
- `opt_out` (12 CFR 1006.6(e)): in an email, the sentence saying how to stop emails in the
  debtor's language (activities/email_opt_out.py), appended to a part that did not print it;
  "" elsewhere (an SMS gets its own line at send time: activities/sms_opt_out.py).

The partial sees the message's whole context plus `notice`, every figure formatted:
`notice.itemization_date`, `notice.itemization_amount`, `notice.interest`, `notice.fees`,
`notice.payments`, `notice.credits`, `notice.current_amount`, `notice.period_ends` (the last
day of the validation period) and `notice.from_import` (bool: no itemization from the creditor,
the figures are the balance when the account was placed, and the notice must say so). The
figures and the period are computed in activities/validation_notice.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
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
    Template,
    TemplateError,
    TemplateNotFound,
    meta,
    select_autoescape,
)
from markupsafe import Markup, escape

from activities.email_opt_out import email_opt_out_line, opt_out_html
from activities.message_facts import MessageFacts, sample_facts
from activities.sms_segments import sms_safe
from activities.validation_notice import (
    PARTIAL,
    RenderedNotice,
    append_html,
    append_text,
    notice_context,
    notice_figures,
)
from config.compliance import NOTICE_CHANNELS
from config.ladder import EXTENSIONS, Channel

# MessageFacts and sample_facts live in activities/message_facts.py; importable from here too.
__all__ = [
    "EXTENSIONS",
    "NOTICE_CHANNELS",
    "Creditor",
    "MessageFacts",
    "RenderError",
    "RenderedMessage",
    "TemplateRenderer",
    "babel_locale",
    "block",
    "email_parts",
    "letter_parts",
    "locale_chain",
    "sample_facts",
    "template_error",
]


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
    # The message carries the validation notice; its validation period ends on this date.
    validation_notice: bool = False
    validation_period_ends: date | None = None
    # Every template file the message was rendered from (its layout, the notice's partial),
    # path under the templates directory → sha256 of the file: the audit record names them.
    template_files: dict[str, str] = field(default_factory=dict)


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


def template_error(path: str, exc: TemplateError) -> RenderError:
    """A jinja2 failure as a RenderError naming the file (and line) at fault."""
    if isinstance(exc, TemplateNotFound):
        return RenderError(f"{path}: includes a missing template {exc.name}")
    line = getattr(exc, "lineno", None)
    return RenderError(f"{path}:{line}: {exc}" if line else f"{path}: {exc}")


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

    def template_files(self, path: str) -> list[str]:
        """The template and every template it extends, includes or imports, found statically
        (a name computed at render time is not followed)."""
        found: list[str] = []
        pending = [path]
        while pending:
            name = pending.pop(0)
            if name in found:
                continue
            found.append(name)
            source, _, _ = self.env.loader.get_source(self.env, name)  # type: ignore[union-attr]
            parsed = self.env.parse(source)
            pending.extend(ref for ref in meta.find_referenced_templates(parsed) if ref)
        return found

    def reads(self, path: str, variable: str) -> bool:
        """Whether the template, or one it extends or includes, names `variable` (for checks
        such as "does this ladder's first letter print `validation_notice` itself?")."""
        for name in self.template_files(path):
            source, _, _ = self.env.loader.get_source(self.env, name)  # type: ignore[union-attr]
            if variable in meta.find_undeclared_variables(self.env.parse(source)):
                return True
        return False

    def file_hashes(self, paths: list[str]) -> dict[str, str]:
        """path → sha256 of the file as it is on disk now."""
        return {
            path: hashlib.sha256((self.templates_dir / path).read_bytes()).hexdigest()
            for path in paths
        }

    def formatters(
        self, facts: MessageFacts, locale_used: str
    ) -> tuple[Callable[[Decimal], str], Callable[[date], str]]:
        """Babel's money and long-date formatting in the debtor's locale."""
        loc = babel_locale(facts.locale or locale_used)

        def money(amount: Decimal) -> str:
            return format_currency(amount, facts.currency, locale=loc)

        def day(value: date) -> str:
            return format_date(value, format="long", locale=loc)

        return money, day

    def context(self, facts: MessageFacts, locale_used: str) -> dict[str, Any]:
        money, day = self.formatters(facts, locale_used)

        def maybe_money(amount: Decimal | None) -> str | None:
            return None if amount is None else money(amount)

        def maybe_day(value: date | None) -> str | None:
            return None if value is None else day(value)

        promise = None
        if facts.promise_date is not None:
            promise = {"amount": maybe_money(facts.promise_amount), "date": day(facts.promise_date)}
        installment = None
        if facts.installment_date is not None:
            installment = {
                "amount": maybe_money(facts.installment_amount),
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
            "deadline": maybe_day(facts.deadline),
            "today": day(facts.today),
            "promise": promise,
            "installment": installment,
            "jurisdiction": facts.jurisdiction,
            "locale": locale_used,
            "validation_notice": "",
            "opt_out": "",
            **facts.extra,
        }

    def validation_notice(
        self, channel: Channel, facts: MessageFacts, ctx: dict[str, Any]
    ) -> RenderedNotice | None:
        """The notice for this message, or None when it needs none (not asked for, or not an
        email or a letter)."""
        if not facts.validation_notice or channel not in NOTICE_CHANNELS:
            return None
        path, locale_used = self.resolve(channel, PARTIAL, facts.locale)
        figures = notice_figures(facts.itemization, facts.balance, facts.today)
        notice = notice_context(figures, *self.formatters(facts, locale_used))
        try:
            rendered = self.env.get_template(path).render({**ctx, "notice": notice}).strip()
        except TemplateError as exc:
            raise template_error(path, exc) from None
        return RenderedNotice.of(path, rendered, figures.period_ends, channel == Channel.EMAIL)

    def render(self, channel: Channel, template: str, facts: MessageFacts) -> RenderedMessage:
        path, locale_used = self.resolve(channel, template, facts.locale)
        try:
            compiled = self.env.get_template(path)
            ctx = self.context(facts, locale_used)
            notice = self.validation_notice(channel, facts, ctx)
            html: str | None = None
            if channel == Channel.EMAIL:
                opt_out = email_opt_out_line(facts.locale or locale_used)
                subject, text, html = email_parts(compiled, path, ctx, notice, opt_out)
            elif channel == Channel.LETTER:
                subject, text = letter_parts(compiled, path, ctx, notice)
            else:
                subject, text = None, " ".join(compiled.render(ctx).split())
                text = sms_safe(text) if channel == Channel.SMS else text
            files = self.template_files(path) + ([notice.path] if notice else [])
        except TemplateError as exc:
            raise template_error(path, exc) from None
        return RenderedMessage(
            channel,
            template,
            locale_used,
            subject,
            text,
            html,
            validation_notice=notice is not None,
            validation_period_ends=notice.period_ends if notice else None,
            template_files=self.file_hashes(files),
        )


def block(compiled: Template, name: str, ctx: dict[str, Any]) -> str | None:
    """One block of the template rendered alone (an email's subject and text, a letter's
    body), or None when the template has no such block."""
    if name not in compiled.blocks:
        return None
    return "".join(compiled.blocks[name](compiled.new_context(ctx))).strip()


def email_parts(
    compiled: Template, path: str, ctx: dict[str, Any], notice: RenderedNotice | None, opt_out: str
) -> tuple[str, str, str]:
    """(subject, text, html). The notice is one variable in two forms: plain text in the
    subject and the text part, Markup in the HTML; each part that did not print the notice or
    the opt-out line gets them appended."""
    text_ctx = {**ctx, "validation_notice": notice.text if notice else "", "opt_out": opt_out}
    subject, text = block(compiled, "subject", text_ctx), block(compiled, "text", text_ctx)
    if subject is None or text is None:
        raise RenderError(f"{path}: an email needs a subject and a text block")
    notice_html = notice.html if notice and notice.html else Markup("")
    html = compiled.render({**text_ctx, "validation_notice": notice_html}).strip()
    html = append_html(html, [(notice_html, notice_html), (escape(opt_out), opt_out_html(opt_out))])
    text = append_text(text, [notice.text if notice else "", opt_out])
    return " ".join(subject.split()), text, html


def letter_parts(
    compiled: Template, path: str, ctx: dict[str, Any], notice: RenderedNotice | None
) -> tuple[str | None, str]:
    """(subject, body); the notice is appended to a body that did not print it."""
    letter_ctx = {**ctx, "validation_notice": notice.text if notice else ""}
    subject, body = block(compiled, "subject", letter_ctx), block(compiled, "body", letter_ctx)
    if body is None:
        raise RenderError(f"{path}: a letter needs a body block")
    body = append_text(body, [notice.text if notice else ""])
    return (" ".join(subject.split()) if subject else None), body
