"""The webhook server: debtors' replies, providers' delivery reports and payments → events.

Routes (stable: provider consoles and scripts point at them), one router per sender in
`inbound/routes/`:

    POST /twilio/sms        inbound SMS → reply event, TwiML answer in the debtor's language
    POST /twilio/status     message and call status callbacks → delivery_failed / opt_out
    POST /twilio/voice      the voicemail call's TwiML (after answering-machine detection) and
                            its one-key menu → conversation / promise / reply / opt_out
    POST /sendgrid/inbound  Inbound Parse (email replies) → reply event
    POST /sendgrid/events   Event Webhook → delivery_failed / opt_out for email; `processed`
                            events recorded in the store (emails in doubt reconcile with them)
    POST /payments          signed payment notices → payment event
    GET|POST /unsubscribe/{token}  one-click unsubscribe from the List-Unsubscribe header
    GET  /healthz           200 when Temporal answers, else 503
    /ops/...                the ops console, behind its own login (inbound/ops/, docs/ops.md)

Rules every route keeps:
- the signature is checked first, by a FastAPI dependency (`inbound/security.py`); a missing
  or wrong one is 403 and nothing else happens;
- bodies are size-limited (413) and parsed defensively (400/422, never a stack trace);
- each event carries an id derived from the provider's own id (MessageSid, sg_event_id,
  payment_id), and the workflow applies an id once, so provider retries change nothing;
- when Temporal is unreachable the answer is 503, so the provider retries instead of the
  webhook being acknowledged and lost;
- logs at info level name routes, outcomes and account ids, never numbers, addresses or text.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response

from config.settings import Settings
from inbound.accounts import AccountGateway, AccountsUnavailable
from inbound.body_limit import BodyLimit
from inbound.context import WebhookContext, WebhookStore
from inbound.metrics import MetricsMiddleware, WebhookMetrics
from inbound.ops import console_enabled, create_ops_app
from inbound.routes import health, payments, sendgrid, twilio, unsubscribe
from inbound.security import Refused

log = logging.getLogger("dunning.webhooks")

ROUTERS = (health.router, twilio.router, sendgrid.router, payments.router, unsubscribe.router)


def create_app(
    settings: Settings,
    accounts: AccountGateway,
    store: WebhookStore,
    *,
    clock: Callable[[], float] = time.time,
    close_store: Callable[[], None] | None = None,
) -> FastAPI:
    """The application over `store` (the workers' shared store, `store.open_store`).
    `close_store` is called when the server shuts down, by the caller that opened the store."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_store is not None:
                close_store()

    app = FastAPI(
        title="dunning webhooks",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    # Served on a listener of its own (`inbound/server.py`), never on this app's port.
    app.state.metrics = WebhookMetrics()
    app.state.webhooks = WebhookContext(settings, accounts, store, clock, app.state.metrics)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(AccountsUnavailable, _unavailable)
    app.add_exception_handler(RequestValidationError, _invalid)
    for router in ROUTERS:
        app.include_router(router)
    if console_enabled(settings):  # the ops console: its own application, its own login
        app.mount("/ops", create_ops_app(app.state.webhooks))
    app.add_middleware(
        BodyLimit,
        default=settings.webhook_max_body_bytes,
        larger={"/sendgrid/inbound": settings.inbound_email_max_bytes},
    )
    # Last, so outermost: it times and counts every answer, a 413 of BodyLimit's too.
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics, router=app.router)
    return app


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return PlainTextResponse(exc.body, exc.status)


async def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("%s: Temporal unavailable; not acknowledged", request.url.path)
    return PlainTextResponse("temporarily unavailable", 503, headers={"Retry-After": "30"})


async def _invalid(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("malformed request", 422)
