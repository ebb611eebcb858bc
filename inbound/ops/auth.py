"""Who may use the ops console: a password (argon2 hash in settings) or a token, a signed session
cookie, a CSRF token bound to the session, and a brake on password guessing.

Why each piece:
- The console changes accounts (a promise, a cease), so nothing under /ops answers without a
  login but the login form and the stylesheet. A browser without a session is sent to the login
  page (303); a script (no HTML in `Accept`) gets 401 and must send `Authorization: Bearer`.
- The session is a cookie signed with itsdangerous (`DUNNING_OPS_SESSION_SECRET`, else a random
  secret per process): nothing is stored server-side, so every webhook replica accepts it when
  they share the secret. It is HttpOnly (no script reads it), SameSite=Strict (no other site's
  page sends it) and Secure on https. Logging out revokes the session id in this process and
  deletes the cookie; the lifetime (`DUNNING_OPS_SESSION_MINUTES`) bounds a stolen cookie.
- Every POST carries a CSRF token derived from the session (HMAC of its id): a form on another
  site cannot know it. Bearer requests carry no cookie, so they need none.
- Comparisons are constant-time (`hmac.compare_digest`, argon2's verify). Failed logins and
  bearer requests with a wrong token are logged and counted per client: one check in flight
  per client, and past a few failures the client is refused (429, Retry-After) until its
  not-before moment, at once and unchecked; no answer is ever held (`inbound/ops/brake.py`
  says why). argon2 runs in a thread behind a small semaphore, off the event loop the
  webhooks share.
  Logins are logged with the user name (only when it is a valid name: a password typed into the
  name box must not land in the log) and client, never a secret.
- The cookies are `Secure` when the public base URL (`DUNNING_PUBLIC_BASE_URL`) is https or
  the request is: TLS usually ends at a load balancer, so the request alone would say http.
  A browser on plain http (an internal address) then never sends them back: the login page
  says so rather than failing with "The form expired" alone.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from config.settings import Settings
from inbound.ops.brake import CheckGate, FailureLimiter

log = logging.getLogger("dunning.ops")

SESSION_COOKIE = "dunning_ops"
LOGIN_COOKIE = "dunning_ops_login"  # double-submit CSRF token of the login form
TOKEN_USER = "token"
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}\Z")  # \Z: no trailing newline


def console_enabled(settings: Settings) -> bool:
    """The console is on only when a way to log in is configured."""
    return settings.ops_password_hash is not None or settings.ops_token is not None


@dataclass(frozen=True)
class Operator:
    """Who is logged in: a user name (password login) or `token`, and the session's id (None
    for a bearer request, which has no session and needs no CSRF token)."""

    user: str
    session_id: str | None

    @property
    def source(self) -> str:
        """The events' `source`: who did it, in the account's history."""
        return f"ops-console:{self.user}"


class NeedsLogin(Exception):
    """No valid login: 303 to the login page (browsers) or 401 (scripts)."""


class BadCsrf(Exception):
    """A POST without the session's CSRF token: 403, nothing happens."""


class OpsAuth:
    """The console's checks, built once per application from the settings."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self._hash = (
            settings.ops_password_hash.get_secret_value() if settings.ops_password_hash else None
        )
        self._token = settings.ops_token.get_secret_value() if settings.ops_token else None
        secret = (
            settings.ops_session_secret.get_secret_value()
            if settings.ops_session_secret
            else secrets.token_hex(32)
        )
        self._secret = secret.encode()
        self._sessions = URLSafeTimedSerializer(secret, salt="dunning-ops-session")
        self.max_age = settings.ops_session_minutes * 60
        self._hasher = PasswordHasher()
        self._revoked: dict[str, float] = {}
        self._clock = clock
        self._public_https = settings.public_base_url.startswith("https://")
        self.limiter = FailureLimiter()
        self.gate = CheckGate()

    # ---- credentials ---------------------------------------------------------------------

    def password_ok(self, password: str) -> bool:
        if self._hash is None or not password:
            return False
        try:
            return self._hasher.verify(self._hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def token_ok(self, token: str) -> bool:
        if self._token is None or not token:
            return False
        return hmac.compare_digest(token.encode(), self._token.encode())

    async def check_login(self, user: str, secret: str) -> Operator | None:
        """A login by password (with a user name) or by the token (the name is optional).
        The token is compared at once (cheap, constant time), so a flood of password
        guesses from many clients (the global gate full) never keeps the token out; the
        password's argon2 check waits for the gate (`TooBusy`). The caller holds the client's
        turn (`FailureLimiter.turn`)."""
        if self.token_ok(secret):
            name = user if user and USER_NAME.match(user) else TOKEN_USER
            return Operator(name if name == TOKEN_USER else f"{name}+token", new_session_id())
        if not USER_NAME.match(user or "") or self._hash is None or not secret:
            return None
        if await self.gate.run(lambda: self.password_ok(secret)):
            return Operator(user, new_session_id())
        return None

    # ---- sessions ------------------------------------------------------------------------

    def session_cookie(self, operator: Operator) -> str:
        return self._sessions.dumps({"u": operator.user, "s": operator.session_id})

    def read_session(self, cookie: str | None) -> Operator | None:
        if not cookie:
            return None
        try:
            data = self._sessions.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        user, session_id = data.get("u"), data.get("s")
        if not isinstance(user, str) or not isinstance(session_id, str):
            return None
        if session_id in self._revoked:
            return None
        return Operator(user, session_id)

    def revoke(self, operator: Operator) -> None:
        now = self._clock()
        self._revoked = {sid: at for sid, at in self._revoked.items() if now - at < self.max_age}
        if operator.session_id is not None:
            self._revoked[operator.session_id] = now

    def operator(self, request: Request) -> Operator | None:
        """The request's login: a bearer token or a valid session cookie."""
        if self.token_ok(bearer_of(request) or ""):
            return Operator(TOKEN_USER, None)
        return self.read_session(request.cookies.get(SESSION_COOKIE))

    def cookie_secure(self, request: Request) -> bool:
        """Secure when the console is public over https (TLS ends at the load balancer, so
        the request itself says http) or the request is https."""
        return self._public_https or is_https(request)

    def signer(self, salt: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._secret.decode(), salt=salt)

    # ---- CSRF ----------------------------------------------------------------------------

    def csrf_token(self, operator: Operator) -> str:
        """Bound to the session: a token from another session (or none) is refused."""
        if operator.session_id is None:
            return ""
        message = f"csrf:{operator.session_id}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def csrf_ok(self, operator: Operator, token: str) -> bool:
        if operator.session_id is None:
            return True  # a bearer request: no cookie rode along, nothing to forge
        return hmac.compare_digest(self.csrf_token(operator).encode(), (token or "").encode())


def new_session_id() -> str:
    return secrets.token_urlsafe(18)


def client_of(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy: uvicorn's
    `--forwarded-allow-ips` decides whether X-Forwarded-For is believed)."""
    return request.client.host if request.client else "unknown"


def bearer_of(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header (None: no such header)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def loggable_user(user: str) -> str:
    """The name typed, for the log, only when it is a valid name: anything else (a password
    typed into the name box) is `<invalid>`."""
    return user if USER_NAME.match(user) else "<invalid>"


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"
