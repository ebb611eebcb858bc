"""The webhook server: debtors' replies, providers' delivery reports and payments → events.

Routes (stable: provider consoles and scripts point at them):

    POST /twilio/sms        inbound SMS → reply event, TwiML answer in the debtor's language
    POST /twilio/status     message and call status callbacks → delivery_failed / opt_out
    POST /twilio/voice      the voicemail call's TwiML (after answering-machine detection) and
                            its one-key menu → conversation / promise / reply / opt_out
    POST /sendgrid/inbound  Inbound Parse (email replies) → reply event
    POST /sendgrid/events   Event Webhook → delivery_failed / opt_out for email
    POST /payments          signed payment notices → payment event
    GET|POST /unsubscribe/{token}  one-click unsubscribe from the List-Unsubscribe header
    GET  /healthz           200 when Temporal answers, else 503

Rules every route keeps:
- the signature is checked first; a missing or wrong one is 403 and nothing else happens;
- bodies are size-limited (413) and parsed defensively (400/422, never a stack trace);
- each event carries an id derived from the provider's own id (MessageSid, sg_event_id,
  payment_id), and the workflow applies an id once, so provider retries change nothing;
- when Temporal is unreachable the answer is 503, so the provider retries instead of the
  webhook being acknowledged and lost;
- logs at info level name routes, outcomes and account ids, never numbers, addresses or text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import parseaddr
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activities.transports.call_scripts import CallScriptStore
from activities.transports.provider_errors import TWILIO_OPTED_OUT, TWILIO_UNDELIVERABLE
from activities.transports.twiml import call_twiml, menu_answer_twiml
from activities.transports.unsubscribe import read_unsubscribe_token
from config.ladder import Channel
from config.settings import Settings
from inbound import signatures
from inbound.accounts import AccountGateway, AccountsUnavailable, UnknownAccount
from inbound.answers import answer_text, promise_values, twiml_message
from inbound.email_text import reply_text
from workflows.types import AccountEvent, AccountView, EventResult, Status

log = logging.getLogger("dunning.webhooks")

TWIML = "application/xml"
PROMISE_BY_PHONE_DAYS = 7  # menu key 1: "I will pay within 7 days"
MAX_REPLY_CHARS = 2000


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuses bodies over the limit (413) before the application reads them."""

    def __init__(self, app: ASGIApp, default: int, larger: dict[str, int]) -> None:
        self.app = app
        self.default = default
        self.larger = larger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.default)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except BodyTooLarge:
            await _too_large(send)


async def _too_large(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"request body too large"})


class PaymentNotice(BaseModel):
    """POST /payments body. `amount` is a decimal string: money never passes through float."""

    model_config = ConfigDict(extra="ignore")

    payment_id: str = Field(min_length=1, max_length=200)
    account_id: str = Field(min_length=1, max_length=200)
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")

    @field_validator("amount", mode="before")
    @classmethod
    def _decimal_string(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError('amount must be a decimal string such as "120.50"')
        return value


def create_app(
    settings: Settings,
    accounts: AccountGateway,
    scripts: CallScriptStore,
    *,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    app = FastAPI(title="dunning webhooks", docs_url=None, redoc_url=None, openapi_url=None)
    public = settings.public_base_url
    auth_token = (
        settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
    )
    link_secret = settings.link_secret.get_secret_value()

    # ---- shared -------------------------------------------------------------------------

    @app.exception_handler(AccountsUnavailable)
    async def _unavailable(request: Request, exc: AccountsUnavailable) -> Response:
        log.warning("%s: Temporal unavailable; not acknowledged", request.url.path)
        return PlainTextResponse("temporarily unavailable", 503, headers={"Retry-After": "30"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return PlainTextResponse("malformed request", 422)

    async def twilio_form(request: Request) -> dict[str, str] | Response:
        """The signed form fields (the last value of a repeated one), or the 403 answer."""
        body = await request.body()
        try:
            fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            fields = None
        url = public + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        signature = request.headers.get("X-Twilio-Signature")
        if fields is None or not signatures.twilio_valid(auth_token, url, fields, signature):
            log.info("%s: refused, bad or missing Twilio signature", request.url.path)
            return PlainTextResponse("forbidden", 403)
        return dict(fields)

    async def apply(account_id: str, event: AccountEvent) -> EventResult | None:
        try:
            result = await accounts.apply(account_id, event)
        except UnknownAccount as exc:
            log.info("event %s for %s not applied: %s", event.type, account_id, exc)
            return None
        log.info(
            "event %s for %s: %s%s",
            event.type,
            account_id,
            "accepted" if result.accepted else f"refused ({result.reason})",
            " (duplicate)" if result.duplicate else "",
        )
        return result

    async def open_views(ids: list[str]) -> list[AccountView]:
        views = [await accounts.view(account_id) for account_id in ids]
        return [view for view in views if view is not None and not view.status.is_final]

    # ---- health -------------------------------------------------------------------------

    @app.get("/healthz")
    async def healthz() -> Response:
        ready = await accounts.ready()
        return JSONResponse(
            {"status": "ok" if ready else "degraded", "temporal": ready}, 200 if ready else 503
        )

    # ---- Twilio: inbound SMS --------------------------------------------------------------

    @app.post("/twilio/sms")
    async def twilio_sms(request: Request) -> Response:
        form = await twilio_form(request)
        if isinstance(form, Response):
            return form
        sender, text, sid = form.get("From", ""), form.get("Body"), form.get("MessageSid", "")
        if not sender or text is None or not sid:
            return PlainTextResponse("From, Body and MessageSid are required", 400)
        views = await open_views(await accounts.find("phone", sender))
        if not views:
            log.info("inbound sms %s: no open account for the sender", sid)
            return Response(twiml_message(answer_text("neutral", "en")), media_type=TWIML)
        event = AccountEvent(
            event_id=f"twilio-sms:{sid}",
            type="reply",
            channel=Channel.SMS,
            text=text[:MAX_REPLY_CHARS],
            source="twilio",
        )
        if len(views) > 1:
            return await several_accounts(views, event)
        view = views[0]
        result = await apply(view.account_id, event)
        return Response(sms_answer(view, result), media_type=TWIML)

    async def several_accounts(views: list[AccountView], event: AccountEvent) -> Response:
        """One number, several open accounts: an opt-out is about the number, so it applies
        to each; anything else could be about any of them, so a person takes it."""
        from inbound.classifier import classify_reply

        view = views[0]
        received = datetime.now(UTC)
        kind = classify_reply(event.text or "", view.locale, received, view.zones[0]).kind
        log.info("inbound %s: %d open accounts share the sender", event.event_id, len(views))
        if kind == "opt_out":
            for each in views:
                await apply(each.account_id, event)
            return Response(twiml_message(None), media_type=TWIML)
        text = answer_text("several", view.locale, phone=settings.creditor_phone)
        return Response(twiml_message(text), media_type=TWIML)

    def sms_answer(view: AccountView, result: EventResult | None) -> str:
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
            return twiml_message(
                answer_text("promise_refused", view.locale, link=link, phone=phone)
            )
        if kind == "dispute" and result.accepted:
            return twiml_message(answer_text("dispute", view.locale))
        return twiml_message(answer_text("help", view.locale, link=link, phone=phone))

    # ---- Twilio: status callbacks -----------------------------------------------------------

    @app.post("/twilio/status")
    async def twilio_status(request: Request) -> Response:
        form = await twilio_form(request)
        if isinstance(form, Response):
            return form
        code = form.get("ErrorCode", "")
        status = form.get("MessageStatus") or form.get("CallStatus") or ""
        sid = form.get("MessageSid") or form.get("CallSid") or ""
        if not sid or not status:
            return PlainTextResponse("MessageSid/CallSid and a status are required", 400)
        is_call = "CallSid" in form and "MessageSid" not in form
        channel = Channel.VOICEMAIL if is_call else Channel.SMS
        if form.get("AnsweredBy") == "human":
            await for_recipient(request, form, channel, conversation_event(sid))
        if status in ("undelivered", "failed") and code.isdigit():
            number = int(code)
            if number in TWILIO_OPTED_OUT:
                event = AccountEvent(type="opt_out", channel=channel, source="twilio")
            elif number in TWILIO_UNDELIVERABLE:
                event = AccountEvent(
                    type="delivery_failed", channel=channel, code=code, source="twilio"
                )
            else:
                return Response(status_code=204)  # temporary: nothing to learn
            event = event.model_copy(update={"event_id": f"twilio-status:{sid}:{status}"})
            await for_recipient(request, form, channel, event)
        return Response(status_code=204)

    def conversation_event(call_sid: str) -> AccountEvent:
        return AccountEvent(
            event_id=f"twilio-call:{call_sid}:answered", type="conversation", source="twilio"
        )

    async def for_recipient(
        request: Request, form: dict[str, str], channel: Channel, event: AccountEvent
    ) -> None:
        """The account a status is about: the call's script names it; a message's number."""
        token = request.query_params.get("call")
        script = scripts.get(token) if token else None
        if script is not None:
            await apply(script.account_id, event)
            return
        for account_id in await accounts.find("phone", form.get("To", "")):
            await apply(account_id, event)

    # ---- Twilio: the voicemail call -------------------------------------------------------

    @app.post("/twilio/voice")
    async def twilio_voice(request: Request) -> Response:
        form = await twilio_form(request)
        if isinstance(form, Response):
            return form
        token = request.query_params.get("call", "")
        script = scripts.get(token) if token else None
        call_sid = form.get("CallSid", "")
        if script is None or not call_sid:
            return Response(
                '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>',
                media_type=TWIML,
            )
        # A call is live: it gets its TwiML even when the event cannot be applied right now
        # (the status callback and a person's next call are the second chances).
        digits = form.get("Digits")
        if digits is None:
            answered_by = form.get("AnsweredBy")
            if answered_by == "human":
                await apply_during_call(script.account_id, conversation_event(call_sid))
            action = f"{public}/twilio/voice?call={token}"
            return Response(call_twiml(script, answered_by, action), media_type=TWIML)
        event = menu_event(call_sid, digits[:1])
        if event is not None:
            await apply_during_call(script.account_id, event)
        return Response(menu_answer_twiml(script, digits[:1]), media_type=TWIML)

    async def apply_during_call(account_id: str, event: AccountEvent) -> None:
        try:
            await apply(account_id, event)
        except AccountsUnavailable:
            log.warning("voice %s for %s not applied: Temporal unavailable", event.type, account_id)

    def menu_event(call_sid: str, digit: str) -> AccountEvent | None:
        event_id = f"twilio-call:{call_sid}:menu-{digit}"
        if digit == "1":
            return AccountEvent(
                event_id=event_id,
                type="promise",
                due_in_days=PROMISE_BY_PHONE_DAYS,
                source="twilio",
            )
        if digit == "2":
            return AccountEvent(
                event_id=event_id,
                type="reply",
                channel=Channel.VOICEMAIL,
                text="Asked to talk to someone (phone menu, key 2).",
                source="twilio",
            )
        if digit == "3":
            return AccountEvent(
                event_id=event_id, type="opt_out", channel=Channel.VOICEMAIL, source="twilio"
            )
        return None

    # ---- SendGrid: Inbound Parse ------------------------------------------------------------

    @app.post("/sendgrid/inbound")
    async def sendgrid_inbound(request: Request) -> Response:
        secret = (
            settings.inbound_parse_secret.get_secret_value()
            if settings.inbound_parse_secret
            else None
        )
        if not signatures.basic_or_key_valid(
            secret, request.query_params.get("key"), request.headers.get("Authorization")
        ):
            log.info("/sendgrid/inbound: refused, bad or missing secret")
            return PlainTextResponse("forbidden", 403)
        try:
            form = await request.form(max_files=20, max_fields=100)
        except BodyTooLarge:
            raise
        except Exception:  # python-multipart raises several types for broken bodies
            return PlainTextResponse("malformed multipart body", 400)
        values = {key: value for key, value in form.items() if isinstance(value, str)}
        sender = parseaddr(values.get("from", ""))[1]
        if "@" not in sender:
            return PlainTextResponse("a 'from' address is required", 400)
        text = reply_text(values.get("text"), values.get("html"), MAX_REPLY_CHARS)
        message_id = (
            _header(values.get("headers", ""), "Message-ID")
            or hashlib.sha256(
                f"{sender}\n{values.get('subject', '')}\n{text}".encode()
            ).hexdigest()[:32]
        )
        views = await open_views(await accounts.find("email", sender))
        if not views or not text:
            log.info("inbound email: no open account for the sender, or no text")
            return Response(status_code=200)  # acknowledged: a retry would not change that
        event = AccountEvent(
            event_id=f"sendgrid-inbound:{message_id}",
            type="reply",
            channel=Channel.EMAIL,
            text=text,
            source="sendgrid",
        )
        if len(views) > 1:
            await several_accounts(views, event)
        else:
            await apply(views[0].account_id, event)
        return Response(status_code=200)

    # ---- SendGrid: Event Webhook ------------------------------------------------------------

    @app.post("/sendgrid/events")
    async def sendgrid_events(request: Request) -> Response:
        body = await request.body()
        if not signatures.sendgrid_valid(
            settings.sendgrid_webhook_public_key,
            body,
            request.headers.get(signatures.SENDGRID_SIGNATURE_HEADER),
            request.headers.get(signatures.SENDGRID_TIMESTAMP_HEADER),
        ):
            log.info("/sendgrid/events: refused, bad or missing signature")
            return PlainTextResponse("forbidden", 403)
        try:
            events = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return PlainTextResponse("body is not JSON", 400)
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            return PlainTextResponse("body must be a JSON array of events", 422)
        for item in events:
            event = email_event(item)
            if event is None:
                continue
            account_id = item.get("account_id")
            if isinstance(account_id, str) and account_id:
                await apply(account_id, event)
            elif isinstance(item.get("email"), str):
                for found in await accounts.find("email", item["email"]):
                    await apply(found, event)
        return Response(status_code=200)

    # ---- payments ---------------------------------------------------------------------------

    @app.post("/payments")
    async def payments(request: Request) -> Response:
        body = await request.body()
        secret = settings.payments_webhook_secret.get_secret_value()
        problem = signatures.payment_valid(
            secret,
            body,
            request.headers.get("X-Dunning-Signature"),
            request.headers.get("X-Dunning-Timestamp"),
            clock(),
        )
        if problem is not None:
            log.info("/payments: refused, %s", problem)
            return PlainTextResponse("forbidden", 403)
        try:
            notice = PaymentNotice.model_validate_json(body)
        except ValidationError as exc:
            fields = ", ".join(str(error["loc"][0]) for error in exc.errors() if error["loc"])
            return JSONResponse({"error": f"invalid payment notice: {fields or 'body'}"}, 422)
        view = await accounts.view(notice.account_id)
        if view is None:
            return JSONResponse({"error": f"no account {notice.account_id}"}, 404)
        if notice.currency != view.currency:
            log.info("/payments %s: refused, currency is not the account's", notice.payment_id)
            return JSONResponse(
                {"error": f"currency {notice.currency} is not the account's ({view.currency})"},
                422,
            )
        result = await apply(
            notice.account_id,
            AccountEvent(
                event_id=f"payment:{notice.payment_id}",
                type="payment",
                amount=notice.amount,
                source="payments",
            ),
        )
        if result is None:
            return JSONResponse({"error": f"no account {notice.account_id}"}, 404)
        return JSONResponse(result.model_dump(mode="json"), 200)

    # ---- one-click unsubscribe (RFC 8058) ---------------------------------------------------

    @app.get("/unsubscribe/{token}")
    async def unsubscribe_page(token: str) -> Response:
        if read_unsubscribe_token(link_secret, token) is None:
            return PlainTextResponse("not found", 404)
        return HTMLResponse(
            '<!doctype html><meta charset="utf-8"><title>Unsubscribe</title>'
            '<form method="post"><button type="submit">Unsubscribe</button></form>'
        )

    @app.post("/unsubscribe/{token}")
    async def unsubscribe(token: str) -> Response:
        found = read_unsubscribe_token(link_secret, token)
        if found is None:
            return PlainTextResponse("not found", 404)
        account_id, channel = found
        await apply(
            account_id,
            AccountEvent(
                event_id=f"unsubscribe:{token}",
                type="opt_out",
                channel=channel,
                source="unsubscribe",
            ),
        )
        return HTMLResponse('<!doctype html><meta charset="utf-8"><p>You are unsubscribed.</p>')

    app.add_middleware(
        BodyLimit,
        default=settings.webhook_max_body_bytes,
        larger={"/sendgrid/inbound": settings.inbound_email_max_bytes},
    )
    return app


def email_event(item: dict[str, Any]) -> AccountEvent | None:
    """A SendGrid event → ours: hard bounces and drops make email unusable, unsubscribes and
    spam reports opt the debtor out of email; everything else is only information."""
    kind = item.get("event")
    event_id = item.get("sg_event_id")
    if not isinstance(event_id, str) or not event_id:
        return None
    common = {"event_id": f"sendgrid:{event_id}", "channel": Channel.EMAIL, "source": "sendgrid"}
    if kind == "bounce" and item.get("type", "bounce") == "bounce":
        return AccountEvent(
            type="delivery_failed", code=str(item.get("status", "bounce")), **common
        )
    if kind == "dropped":
        return AccountEvent(
            type="delivery_failed", code=str(item.get("reason", "dropped")), **common
        )
    if kind in ("unsubscribe", "group_unsubscribe", "spamreport"):
        return AccountEvent(type="opt_out", **common)
    return None


def _header(headers: str, name: str) -> str | None:
    for line in headers.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower() and value.strip():
            return value.strip()[:300]
    return None
