"""`dunning send-test`: one rendered message of a ladder step to ops' own address, for real.

Before a ladder goes live, ops send each of its messages to their own phone or inbox through the
configured transport (the providers when DUNNING_TRANSPORT=live) and see what a debtor will see.
The message goes through the same rendering and the same transport as the worker's, with sample
account figures and a fresh idempotency key, so every run sends again. Exit status 0 only when
the provider accepted the message; otherwise the provider's error is printed on one line.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import phonenumbers
from rich.console import Console
from temporalio.exceptions import ApplicationError

from activities.channels.base import TransportError
from activities.outgoing import outgoing_message
from cli.preview import message_of
from config.ladder import Channel
from config.ladder_loader import LadderError, find_ladder, load_ladder
from config.settings import Settings
from intake.zones import phone_zones
from worker import renderer_for, transport_for
from workflows.activity_types import SendRequest
from workflows.types import Debtor

TEST_ACCOUNT = "SEND-TEST"


def test_debtor(channel: Channel, to: str, locale: str) -> Debtor:
    """A debtor whose only address is `to`; a letter's `to` is the address, commas between lines."""
    if channel in (Channel.SMS, Channel.VOICEMAIL):
        number = phonenumbers.parse(to, None)
        if not phonenumbers.is_valid_number(number):
            raise ValueError(f"{to} is not a valid phone number in E.164 form (+14155550100)")
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return Debtor(name="Test Recipient", phone=e164, locale=locale, zones=phone_zones(number))
    if channel == Channel.EMAIL:
        if "@" not in to:
            raise ValueError(f"{to} is not an email address")
        return Debtor(name="Test Recipient", email=to, locale=locale, zones=("UTC",))
    lines = [part.strip() for part in to.split(",") if part.strip()]
    if len(lines) < 3:
        raise ValueError("a letter needs 'Name, street, postal code city[, country]'")
    name, street, town, *rest = lines
    postal_code, _, city = town.partition(" ") if town[:1].isdigit() else ("", "", town)
    return Debtor(
        name=name,
        address=street,
        postal_code=postal_code or None,
        city=city,
        country=rest[0] if rest else None,
        locale=locale,
        zones=("UTC",),
    )


def send_test(
    channel: str,
    to: str,
    ladder_name: str,
    step: str,
    locale: str | None,
    settings: Settings,
    out: Console,
    err: Console,
    variant: str | None = None,
) -> int:
    try:
        ladder = load_ladder(find_ladder(ladder_name, settings.ladders_dir))
        _, template, _, deadline_days = message_of(ladder, step, variant)
        chosen = Channel(channel)
        debtor = test_debtor(chosen, to, locale or settings.default_locale)
    except LadderError as exc:
        err.print(str(exc), markup=False)
        return 2
    except (KeyError, ValueError) as exc:
        err.print(f"error: {exc.args[0] if exc.args else exc}", markup=False)
        return 2
    now = datetime.now(UTC)
    request = SendRequest(
        idempotency_key=f"send-test/{uuid.uuid4()}",
        at=now,
        account_id=TEST_ACCOUNT,
        debtor=debtor,
        balance=Decimal("123.45"),
        currency="USD" if ladder.jurisdiction.value == "us" else "EUR",
        days_past_due=30,
        step=step,
        channel=chosen,
        template=template,
        jurisdiction=ladder.jurisdiction.value,
        window=ladder.contact_window,
        holidays=ladder.holidays,
        deadline_days=deadline_days,
        ladder=ladder.name,
        promise_amount=Decimal("50.00"),
        promise_date=date.today(),
        installment_amount=Decimal("25.00"),
        installment_date=date.today(),
        installment_number=1,
        installment_count=3,
    )
    try:
        renderer = renderer_for(settings)
        message, _ = outgoing_message(request, renderer, settings.payment_link_template)
    except ApplicationError as exc:  # no address, or a template that does not render
        err.print(f"error: {exc}", markup=False)
        return 2
    try:
        delivery = asyncio.run(transport_for(settings).deliver(message))
    except TransportError as exc:
        err.print(f"error: {exc}", markup=False)
        return 1
    out.print(
        f"sent {step} ({template}.{message.locale}) by {chosen.value} to {to} via "
        f"{delivery.provider}: {delivery.message_id}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return 0
