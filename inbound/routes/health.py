"""GET /healthz: 200 when Temporal answers, else 503 (for monitoring; no signature)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from inbound.context import WebhookContext, webhook_context

router = APIRouter()


@router.get("/healthz")
async def healthz(context: Annotated[WebhookContext, Depends(webhook_context)]) -> Response:
    ready = await context.accounts.ready()
    return JSONResponse(
        {"status": "ok" if ready else "degraded", "temporal": ready}, 200 if ready else 503
    )
