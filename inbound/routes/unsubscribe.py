"""GET|POST /unsubscribe/{token}: the one-click unsubscribe link (RFC 8058) of every email.

The token is signed (`activities/channels/unsubscribe.py`); `verify_unsubscribe_token` answers
404 for one that is not ours. GET shows a button (mail scanners follow links, so a GET changes
nothing); POST, from the button or a mail client's one-click unsubscribe, applies the opt-out.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from config.ladder import Channel
from inbound.context import WebhookContext, webhook_context
from inbound.security import verify_unsubscribe_token
from workflows.types import AccountEvent

router = APIRouter()

Token = Annotated[tuple[str, Channel], Depends(verify_unsubscribe_token)]


@router.get("/unsubscribe/{token}")
async def unsubscribe_page(found: Token) -> Response:
    return HTMLResponse(
        '<!doctype html><meta charset="utf-8"><title>Unsubscribe</title>'
        '<form method="post"><button type="submit">Unsubscribe</button></form>'
    )


@router.post("/unsubscribe/{token}")
async def unsubscribe(
    token: str,
    found: Token,
    context: Annotated[WebhookContext, Depends(webhook_context)],
) -> Response:
    account_id, channel = found
    await context.apply(
        account_id,
        AccountEvent(
            event_id=f"unsubscribe:{token}",
            type="opt_out",
            channel=channel,
            source="unsubscribe",
        ),
    )
    return HTMLResponse('<!doctype html><meta charset="utf-8"><p>You are unsubscribed.</p>')
