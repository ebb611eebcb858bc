"""Twilio's webhooks: inbound SMS, status callbacks and the voicemail call.

    POST /twilio/sms     inbound SMS → reply event, TwiML answer in the debtor's language
    POST /twilio/status  message and call status callbacks → delivery_failed / opt_out /
                         conversation (a person answered)
    POST /twilio/voice   the voicemail call's TwiML (after answering-machine detection) and its
                         one-key menu → conversation / promise / reply / opt_out

The router itself depends on `verify_twilio_signature`, so every route here is signed or 403;
routes get the verified form from the same (cached) dependency. Parsing is
`activities/channels/twilio/webhooks.py`.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from activities.channels.twilio.twiml import call_twiml, menu_answer_twiml
from activities.channels.twilio.webhooks import (
    conversation_event,
    inbound_sms,
    menu_event,
    status_report,
)
from config.settings import Settings
from inbound.accounts import AccountsUnavailable
from inbound.answers import answer_text, promise_values, twiml_message
from inbound.context import MAX_REPLY_CHARS, TWIML, WebhookContext, webhook_context
from inbound.security import verify_twilio_signature
from workflows.types import AccountEvent, AccountView, EventResult, Status

log = logging.getLogger("dunning.webhooks")

router = APIRouter(prefix="/twilio", dependencies=[Depends(verify_twilio_signature)])

Context = Annotated[WebhookContext, Depends(webhook_context)]
SignedForm = Annotated[dict[str, str], Depends(verify_twilio_signature)]
HANG_UP = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>'


def twiml(text: str) -> Response:
    return Response(text, media_type=TWIML)


# ---- inbound SMS ----------------------------------------------------------------------------


@router.post("/sms")
async def twilio_sms(form: SignedForm, context: Context) -> Response:
    sms = inbound_sms(form)
    if sms is None:
        return PlainTextResponse("From, Body and MessageSid are required", 400)
    views = await context.open_views(await context.accounts.find("phone", sms.sender))
    if not views:
        log.info("inbound sms %s: no open account for the sender", sms.sid)
        return twiml(twiml_message(answer_text("neutral", "en")))
    event = sms.reply_event(MAX_REPLY_CHARS)
    if len(views) > 1:
        return twiml(await context.several_accounts(views, event))
    view = views[0]
    result = await context.apply(view.account_id, event)
    return twiml(sms_answer(context.settings, view, result))


def sms_answer(settings: Settings, view: AccountView, result: EventResult | None) -> str:
    """The text back. Never a collection message to someone who asked us to stop: after
    a cease request or an SMS opt-out nothing is sent; while a dispute is open, or once
    the account is closed, only a neutral acknowledgement."""
    if result is None:
        return twiml_message(answer_text("neutral", view.locale))
    kind = result.detail.get("kind", "unknown")
    link = settings.payment_link(view.account_id)
    phone = settings.creditor_phone
    if kind == "opt_out" or result.status == Status.CEASED or "sms" in view.unusable_channels:
        return twiml_message(None)
    if result.status == Status.DISPUTED and kind != "dispute":
        return twiml_message(answer_text("neutral", view.locale))
    if result.status.is_final:
        return twiml_message(answer_text("neutral", view.locale))
    if kind == "promise" and result.accepted and "date" in result.detail:
        values = promise_values(
            view.locale,
            Decimal(result.detail.get("amount") or view.balance),
            view.currency,
            date.fromisoformat(result.detail["date"]),
        )
        return twiml_message(answer_text("promise", view.locale, **values))
    if kind == "promise":
        return twiml_message(answer_text("promise_refused", view.locale, link=link, phone=phone))
    if kind == "dispute" and result.accepted:
        return twiml_message(answer_text("dispute", view.locale))
    return twiml_message(answer_text("help", view.locale, link=link, phone=phone))


# ---- status callbacks -----------------------------------------------------------------------


@router.post("/status")
async def twilio_status(request: Request, form: SignedForm, context: Context) -> Response:
    report = status_report(form)
    if report is None:
        return PlainTextResponse("MessageSid/CallSid and a status are required", 400)
    for event in (report.conversation, report.failure):
        if event is not None:
            await for_recipient(context, request, form, event)
    return Response(status_code=204)


async def for_recipient(
    context: WebhookContext, request: Request, form: dict[str, str], event: AccountEvent
) -> None:
    """The account a status is about: the call's script names it; a message's number."""
    token = request.query_params.get("call")
    script = await context.call_script(token) if token else None
    if script is not None:
        await context.apply(script.account_id, event)
        return
    for account_id in await context.accounts.find("phone", form.get("To", "")):
        await context.apply(account_id, event)


# ---- the voicemail call ---------------------------------------------------------------------


@router.post("/voice")
async def twilio_voice(request: Request, form: SignedForm, context: Context) -> Response:
    token = request.query_params.get("call", "")
    script = await context.call_script(token) if token else None
    call_sid = form.get("CallSid", "")
    if script is None or not call_sid:
        return twiml(HANG_UP)
    # A call is live: it gets its TwiML even when the event cannot be applied right now
    # (the status callback and a person's next call are the second chances).
    digits = form.get("Digits")
    if digits is None:
        answered_by = form.get("AnsweredBy")
        if answered_by == "human":
            await apply_during_call(context, script.account_id, conversation_event(call_sid))
        action = f"{context.settings.public_base_url}/twilio/voice?call={token}"
        return twiml(call_twiml(script, answered_by, action))
    event = menu_event(call_sid, digits[:1])
    if event is not None:
        await apply_during_call(context, script.account_id, event)
    return twiml(menu_answer_twiml(script, digits[:1]))


async def apply_during_call(context: WebhookContext, account_id: str, event: AccountEvent) -> None:
    try:
        await context.apply(account_id, event)
    except AccountsUnavailable:
        log.warning("voice %s for %s not applied: Temporal unavailable", event.type, account_id)
