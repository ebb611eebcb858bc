"""What a send request becomes: the facts a template may use, the rendered message, the
provider's outgoing message, and the document the audit store keeps of it.

Apart from the send activity so each reads in one sitting; `dunning preview` and `send-test`
build messages the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from temporalio.exceptions import ApplicationError

from activities.calendar import (
    contact_deadline,
    request_calendar,
)
from activities.channels.base import (
    OutgoingMessage,
)
from activities.limited_content import disclosing_words
from activities.render import MessageFacts, RenderedMessage, RenderError, TemplateRenderer
from activities.sms_opt_out import with_opt_out
from config.ladder import Channel
from store.audit import canonical_json
from workflows.activity_types import (
    SendRequest,
)
from workflows.types import ErrorType, utc_iso


@dataclass(frozen=True)
class PreparedMessage:
    """A request rendered: what the transport delivers, the pay-by date, and the rendering
    (the validation notice it carries, the template files it came from)."""

    message: OutgoingMessage
    deadline: date | None
    rendered: RenderedMessage


def outgoing_message(
    request: SendRequest, renderer: TemplateRenderer, payment_link_template: str
) -> tuple[OutgoingMessage, date | None]:
    """Render the request into the message a transport delivers (and its pay-by date)."""
    prepared = prepare_message(request, renderer, payment_link_template)
    return prepared.message, prepared.deadline


def prepare_message(
    request: SendRequest, renderer: TemplateRenderer, payment_link_template: str
) -> PreparedMessage:
    """Render the request into the message a transport delivers.

    Raises ApplicationError (non-retryable) when there is no address or the template fails:
    neither gets better by trying again.
    """
    to = request.debtor.address_for(request.channel)
    if to is None:
        raise ApplicationError(
            f"no {request.channel.value} address",
            type=ErrorType.UNDELIVERABLE,
            non_retryable=True,
        )
    facts = message_facts(request, payment_link_template)
    try:
        rendered = renderer.render(request.channel, request.template, facts)
    except RenderError as exc:
        raise ApplicationError(str(exc), type=ErrorType.TEMPLATE, non_retryable=True) from None
    text = rendered.text
    if request.channel == Channel.SMS:
        text = with_opt_out(text, rendered.locale, request.jurisdiction)
    if request.channel == Channel.VOICEMAIL and request.jurisdiction == "us":
        # `ladder validate` refuses such a template; this holds whatever the ladder says. The
        # debtor's own name is left out of the check: Bill Owens's voicemail discloses nothing.
        words = disclosing_words(text.replace(request.debtor.name, " "))
        if words:
            raise ApplicationError(
                f"{request.template}: a us voicemail must be a limited-content message "
                f"(12 CFR 1006.2(j)); it says {', '.join(words)}",
                type=ErrorType.NOT_LIMITED_CONTENT,
                non_retryable=True,
            )
    message = OutgoingMessage(
        idempotency_key=request.idempotency_key,
        account_id=request.account_id,
        step=request.step,
        channel=request.channel,
        to=to,
        template=request.template,
        locale=rendered.locale,
        subject=rendered.subject,
        text=text,
        html=rendered.html,
        sent_at=utc_iso(request.at),
        metadata={"deadline": facts.deadline.isoformat() if facts.deadline else ""},
        ladder=request.ladder,
        jurisdiction=request.jurisdiction,
        recipient_name=request.debtor.name,
        postal_lines=request.debtor.postal_lines(),
    )
    return PreparedMessage(message, facts.deadline, rendered)


def content_document(request: SendRequest, prepared: PreparedMessage) -> bytes:
    """The audit store's copy of a message as handed to the provider: canonical JSON (sorted
    keys, no spaces, UTF-8), so the same message always has the same sha256 and a retried send
    stores nothing new. It names the template files by hash: what was said, and from what."""
    message = prepared.message
    document: dict[str, object] = {
        "to": message.to,
        "channel": message.channel.value,
        "subject": message.subject,
        "text": message.text,
        "locale": message.locale,
        "template": message.template,
        "template_files": prepared.rendered.template_files,
        "ladder": request.ladder,
        "ladder_version": request.ladder_version,
        "idempotency_key": request.idempotency_key,
    }
    if message.html is not None:
        document["html"] = message.html
    return canonical_json(document).encode()


def message_facts(request: SendRequest, payment_link_template: str) -> MessageFacts:
    """What the message may say: the request's figures plus a deadline on a contact day."""
    deadline = None
    if request.deadline_days is not None:
        deadline = contact_deadline(
            request.at,
            request.deadline_days,
            request.debtor.primary_zone,
            request.window,
            request_calendar(request),
        )
    return MessageFacts(
        account_id=request.account_id,
        debtor_name=request.debtor.name,
        balance=request.balance,
        currency=request.currency,
        days_past_due=request.days_past_due,
        locale=request.debtor.locale,
        today=request.at.astimezone(ZoneInfo(request.debtor.primary_zone)).date(),
        payment_link=payment_link_template.format(account_id=request.account_id),
        jurisdiction=request.jurisdiction,
        deadline=deadline,
        validation_notice=request.validation_notice,
        itemization=request.itemization,
        **request.message_details(),
    )
