"""The ops console as an application mounted at /ops in the webhook server (`inbound/app.py`).

A separate application, so that its guard covers every path under /ops, routes and unknown
paths alike: the guard (`Guard`) answers before any routing, and lets through only the login
form and the stylesheet without a login. Each page route also depends on `operator` (who is
logged in) and each POST on `csrf_checked`, so a route cannot forget either.

    GET  /ops/login, POST /ops/login   the login form (password + name, or the token)
    POST /ops/logout                   ends the session
    GET  /ops/                         overview: the report's charts and tables (a period)
    GET  /ops/accounts                 the list, filtered (status, ladder, step, days, next)
    GET  /ops/accounts/{id}            one account: state, actions, timeline, messages
    POST /ops/accounts/{id}/{action}   payment, promise, plan, dispute, resolve, hold, ...
    GET  /ops/static/ops.css           the stylesheet (no login)
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inbound.accounts import AccountsUnavailable
from inbound.body_limit import BodyTooLarge
from inbound.context import WebhookContext
from inbound.ops.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    BadCsrf,
    NeedsLogin,
    Operator,
    OpsAuth,
    bearer_of,
    client_of,
    is_https,
    loggable_user,
    wants_html,
)
from inbound.ops.brake import Refused, TooBusy
from inbound.ops.listing import AccountSearch, TemporalSearch
from inbound.ops.overview import ReportCache, build_report

log = logging.getLogger("dunning.ops")

HERE = Path(__file__).parent
PREFIX = "/ops"
PUBLIC = {"/login", "/static/ops.css"}
SECURITY_HEADERS = {
    # Inline styles only for the report's SVG charts; no script at all.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


class OpsConsole:
    """What the console's routes share (one per application, in `app.state.ops`)."""

    def __init__(self, context: WebhookContext, search: AccountSearch | None = None) -> None:
        self.context = context
        self.settings = context.settings
        self.auth = OpsAuth(context.settings)
        self.search = search or TemporalSearch(context.accounts)  # type: ignore[arg-type]
        self.jinja = templates()
        self.reports = ReportCache(
            lambda days: build_report(self.settings, self.context.accounts, days)
        )

    def page(self, name: str, status: int = 200, **values: object) -> HTMLResponse:
        who = values.get("who")
        if isinstance(who, Operator) and "csrf" not in values:
            values["csrf"] = self.auth.csrf_token(who)  # the logout button's
        html = self.jinja.get_template(name).render(prefix=PREFIX, **values)
        return HTMLResponse(html, status)


def console(request: Request) -> OpsConsole:
    return request.app.state.ops


Console = Annotated[OpsConsole, Depends(console)]


def operator(request: Request, ops: Console) -> Operator:
    found = ops.auth.operator(request)
    if found is None:
        raise NeedsLogin()
    return found


LoggedIn = Annotated[Operator, Depends(operator)]


async def csrf_checked(request: Request, ops: Console, who: LoggedIn) -> Operator:
    form = await request.form()
    token = form.get("csrf")
    if not ops.auth.csrf_ok(who, token if isinstance(token, str) else ""):
        raise BadCsrf()
    return who


Posted = Annotated[Operator, Depends(csrf_checked)]


def create_ops_app(context: WebhookContext, search: AccountSearch | None = None) -> FastAPI:
    """The console over the webhook server's context (its settings, accounts and store)."""
    from inbound.ops import pages

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ops = OpsConsole(context, search)
    app.add_middleware(Guard)
    app.add_exception_handler(NeedsLogin, _needs_login)
    app.add_exception_handler(BadCsrf, _bad_csrf)
    app.add_exception_handler(AccountsUnavailable, _unavailable)
    # A chunked body past the limit is found while a route reads it, inside this application:
    # answered here (413), not by the error middleware (500) before the outer BodyLimit sees it.
    app.add_exception_handler(BodyTooLarge, _too_large)
    app.add_exception_handler(HTTPException, _http_error)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_api_route("/login", login_form, methods=["GET"])
    app.add_api_route("/login", login, methods=["POST"])
    app.add_api_route("/logout", logout, methods=["POST"])
    app.include_router(pages.router)
    return app


def route_path(request: Request) -> str:
    path, root = request.scope["path"], request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class Guard:
    """Before any route: without a login only the login form and the stylesheet answer. A
    wrong bearer token is a failed login: logged (never the token), counted, answered 401 at
    once; a client past its failures' threshold gets 429 until its not-before moment, its
    token not even compared (`inbound/ops/brake.py`). No answer waits: a held connection is
    one the webhooks behind the same proxy do not get.

    Plain ASGI, not `BaseHTTPMiddleware`: that one reads the body through a task group, so a
    `BodyTooLarge` raised while a route reads it would arrive as an exception group that no
    handler matches (a 500 instead of 413)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = route_path(request)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(SECURITY_HEADERS)
                if not path.startswith("/static/"):
                    headers["Cache-Control"] = "no-store"
            await send(message)

        auth = console(request).auth
        bearer = bearer_of(request)
        if path in PUBLIC:
            await self.app(scope, receive, with_headers)
            return
        client = client_of(request)
        if bearer is not None:
            try:
                auth.limiter.refuse_early(client)
            except Refused as refused:
                await too_many(refused.retry_after)(scope, receive, with_headers)
                return
        if auth.operator(request) is not None:
            await self.app(scope, receive, with_headers)
            return
        if bearer is not None:
            auth.limiter.failed(client)
            log.warning(
                "ops bearer token refused: %s %s (client %s, %d recent failures, "
                "%d refused unchecked)",
                request.method,
                path,
                client,
                auth.limiter.recent(client),
                auth.limiter.take_refused(client),
            )
        response = await _needs_login(request, NeedsLogin())
        await response(scope, receive, with_headers)


def too_many(retry_after: int) -> Response:
    """The brake's answer to a script: 429 at once, when to come back."""
    return PlainTextResponse(
        "too many failed logins from this address; try again later",
        429,
        headers={"Retry-After": str(retry_after)},
    )


async def _needs_login(request: Request, exc: Exception) -> Response:
    if wants_html(request):
        target = PREFIX + route_path(request)
        wanted = f"?next={quote(target, safe='/')}" if request.method == "GET" else ""
        return RedirectResponse(f"{PREFIX}/login{wanted}", 303)
    return PlainTextResponse("login required", 401, headers={"WWW-Authenticate": "Bearer"})


async def _too_large(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("request body too large", 413)


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI turns any error while it parses a form into a 400: one past the body limit is a
    413, like everywhere else in the server."""
    assert isinstance(exc, HTTPException)
    if isinstance(exc.__cause__, BodyTooLarge):
        return await _too_large(request, exc)
    return await http_exception_handler(request, exc)


async def _bad_csrf(request: Request, exc: Exception) -> Response:
    log.warning("ops: %s %s without a valid CSRF token", request.method, route_path(request))
    return PlainTextResponse("the form has expired: reload the page and try again", 403)


async def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("ops: %s: %s", route_path(request), exc)
    ops = console(request)
    return ops.page("error.html", 503, message="Temporal is not answering; try again shortly.")


def safe_next(target: str | None) -> str:
    """Only back into the console: never an open redirect."""
    if (
        target
        and (target == PREFIX or target.startswith(PREFIX + "/"))
        and "//" not in target
        and "\\" not in target
        and not target.startswith(PREFIX + "/login")
    ):
        return target
    return PREFIX + "/"


# ---- login ---------------------------------------------------------------------------------


def _login_page(
    request: Request,
    ops: OpsConsole,
    *,
    status: int = 200,
    problem: str | None = None,
    target: str | None = None,
    retry_after: int | None = None,
) -> Response:
    nonce = secrets.token_urlsafe(24)
    secure = ops.auth.cookie_secure(request)
    response = ops.page(
        "login.html",
        status,
        nonce=nonce,
        problem=problem,
        next=safe_next(target or request.query_params.get("next")),
        password_login=ops.settings.ops_password_hash is not None,
        over_http=secure and not is_https(request),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=1800,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def login_form(request: Request, ops: Console) -> Response:
    if ops.auth.operator(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), 303)
    return _login_page(request, ops)


async def login(
    request: Request,
    ops: Console,
    secret: Annotated[str, Form(max_length=1024)] = "",
    user: Annotated[str, Form(max_length=64)] = "",
    nonce: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    """One check per client at a time, none before its not-before moment, no answer waiting:
    the brake refuses early (429, Retry-After) instead of holding the connection."""
    import hmac

    client = client_of(request)
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not (cookie and hmac.compare_digest(cookie.encode(), nonce.encode())):
        log.warning("ops login refused: stale or forged form (client %s)", client)
        problem = "The form expired; try again."
        if ops.auth.cookie_secure(request) and not is_https(request):
            problem = "The form expired: over plain http the browser does not send back its cookie."
        return _login_page(request, ops, status=403, problem=problem, target=next)
    limiter = ops.auth.limiter
    try:
        with limiter.turn(client):
            who = await ops.auth.check_login(user.strip(), secret)
            if who is None:
                limiter.failed(client)
    except Refused as refused:
        problem = (
            "A login from your address is being checked; try again in a moment."
            if refused.busy
            else f"Too many failed logins from your address; try again in {refused.retry_after} s."
        )
        return _login_page(
            request, ops, status=429, problem=problem, target=next, retry_after=refused.retry_after
        )
    except TooBusy:
        log.warning("ops login not checked: too many logins queued (client %s)", client)
        return _login_page(
            request,
            ops,
            status=429,
            problem="Too many logins at once; try again.",
            target=next,
            retry_after=5,
        )
    if who is None:
        log.warning(
            "ops login failed for user %s (client %s, %d recent failures, %d refused unchecked)",
            loggable_user(user.strip()),
            client,
            limiter.recent(client),
            limiter.take_refused(client),
        )
        return _login_page(
            request, ops, status=401, problem="Wrong name, password or token.", target=next
        )
    log.info("ops login: %s (client %s)", who.user, client)
    response = RedirectResponse(safe_next(next), 303)
    response.set_cookie(
        SESSION_COOKIE,
        ops.auth.session_cookie(who),
        max_age=ops.auth.max_age,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=ops.auth.cookie_secure(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


async def logout(request: Request, ops: Console, who: Posted) -> Response:
    ops.auth.revoke(who)
    log.info("ops logout: %s (client %s)", who.user, client_of(request))
    response = RedirectResponse(f"{PREFIX}/login", 303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response
