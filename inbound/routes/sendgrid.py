"""SendGrid's webhooks: Inbound Parse (email replies) and the signed Event Webhook.

    POST /sendgrid/inbound  Inbound Parse → reply event (quoted history stripped)
    POST /sendgrid/events   Event Webhook → delivery_failed / opt_out for email; `processed`
                            events of our emails recorded in the shared store

Each route's check is a dependency (`verify_inbound_parse_secret`, `verify_sendgrid_signature`);
parsing is `activities/channels/sendgrid/webhooks.py`. SendGrid retries on 5xx, so an answer of
200 means applied and recorded, or nothing that a retry would change; a store that cannot take
the `processed` events is a 503, so SendGrid posts them again (a worker with an email in doubt
depends on them).
"""

from __future__ import annotations

import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from activities.channels.sendgrid.webhooks import email_event, inbound_email, processed_email
from inbound.body_limit import BodyTooLarge
from inbound.context import MAX_REPLY_CHARS, WebhookContext, webhook_context
from inbound.security import verify_inbound_parse_secret, verify_sendgrid_signature

log = logging.getLogger("dunning.webhooks")

router = APIRouter(prefix="/sendgrid")

Context = Annotated[WebhookContext, Depends(webhook_context)]


@router.post("/inbound", dependencies=[Depends(verify_inbound_parse_secret)])
async def sendgrid_inbound(request: Request, context: Context) -> Response:
    try:
        form = await request.form(max_files=20, max_fields=100)
    except BodyTooLarge:
        raise
    except Exception:  # python-multipart raises several types for broken bodies
        return PlainTextResponse("malformed multipart body", 400)
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    reply = inbound_email(values, MAX_REPLY_CHARS)
    if reply is None:
        return PlainTextResponse("a 'from' address is required", 400)
    views = await context.open_views(await context.accounts.find("email", reply.sender))
    if not views or not reply.text:
        log.info("inbound email: no open account for the sender, or no text")
        return Response(status_code=200)  # acknowledged: a retry would not change that
    event = reply.reply_event()
    if len(views) > 1:
        await context.several_accounts(views, event)
    else:
        await context.apply(views[0].account_id, event)
    return Response(status_code=200)


@router.post("/events")
async def sendgrid_events(
    body: Annotated[bytes, Depends(verify_sendgrid_signature)], context: Context
) -> Response:
    try:
        events = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return PlainTextResponse("body is not JSON", 400)
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return PlainTextResponse("body must be a JSON array of events", 422)
    processed = [found for item in events if (found := processed_email(item)) is not None]
    try:
        await context.record_processed(processed)
    except Exception:  # the store's errors (SQLite, PostgreSQL) share no base class
        log.exception("sendgrid events: the store refused %d processed events", len(processed))
        return PlainTextResponse("temporarily unavailable", 503, headers={"Retry-After": "30"})
    for item in events:
        event = email_event(item)
        if event is None:
            continue
        account_id = item.get("account_id")
        if isinstance(account_id, str) and account_id:
            await context.apply(account_id, event)
        elif isinstance(item.get("email"), str):
            for found in await context.accounts.find("email", item["email"]):
                await context.apply(found, event)
    return Response(status_code=200)
