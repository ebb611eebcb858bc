"""The ops console over HTTP (the real application through httpx's ASGI transport, an in-memory
account gateway): login, sessions, CSRF, the guard on every path, filters → visibility queries,
and the action forms' checks. The browser test (tests/test_ops_console.py) drives the same
console on the real dev server."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.routing import APIRoute
from hypothesis import given
from hypothesis import strategies as st

import inbound.ops.app as ops_app
from config.settings import load_settings
from inbound.app import create_app
from inbound.ops import actions as forms
from inbound.ops.filters import FilterProblem, parse_filter, quoted, visibility_query
from inbound.ops.listing import AccountPage, AccountRow
from store import open_store
from tests.test_webhooks import MemoryAccounts

PASSWORD = "correct horse battery staple"
TOKEN = "ops-token-0123456789abcdef0123"
HASH = PasswordHasher().hash(PASSWORD)
BASE = "http://127.0.0.1:8000"
HTML = {"Accept": "text/html"}
ROUTES = [
    ("GET", "/ops/"),
    ("GET", "/ops"),
    ("GET", "/ops/accounts"),
    ("GET", "/ops/accounts/A-1"),
    ("POST", "/ops/accounts/A-1/promise"),
    ("POST", "/ops/accounts/A-1/payment"),
    ("POST", "/ops/logout"),
    ("GET", "/ops/nothing-here"),
    ("POST", "/ops/"),
]


@dataclass
class FakeSearch:
    queries: list[str] = field(default_factory=list)

    async def page(self, query: str, page_size: int, token: bytes | None) -> AccountPage:
        self.queries.append(query)
        row = AccountRow("A-1", "active", "consumer-standard", "sms-reminder", 3, None, True)
        return AccountPage([row], b"next" if token is None else None)


@pytest.fixture
def accounts() -> MemoryAccounts:
    gateway = MemoryAccounts()
    gateway.add("A-1", phone="+33612345678")
    return gateway


@pytest.fixture
def search() -> FakeSearch:
    return FakeSearch()


def ops_of(app):
    """The console (`OpsConsole`) mounted at /ops in the webhook app."""
    [mount] = [route for route in app.routes if getattr(route, "path", None) == "/ops"]
    return mount.app.state.ops  # type: ignore[attr-defined]


def make_app(tmp_path, accounts, search, **settings):
    store = open_store(f"sqlite:///{tmp_path}/store.sqlite3")
    app = create_app(load_settings(data_dir=tmp_path, **settings), accounts, store)
    for route in app.routes:
        if getattr(route, "path", None) == "/ops":
            route.app.state.ops.search = search  # type: ignore[attr-defined]
    return app


@pytest.fixture
async def http(tmp_path, accounts, search):
    app = make_app(tmp_path, accounts, search, ops_password_hash=HASH, ops_token=TOKEN)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        client.ops = ops_of(app)  # type: ignore[attr-defined]
        client.app = app  # type: ignore[attr-defined]
        yield client


async def log_in(http: httpx.AsyncClient, user: str = "alice", secret: str = PASSWORD):
    form = await http.get("/ops/login", headers=HTML)
    nonce = re.search(r'name="nonce" value="([^"]+)"', form.text).group(1)
    return await http.post(
        "/ops/login", data={"user": user, "secret": secret, "nonce": nonce, "next": "/ops/"}
    )


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def event_id_of(page: str, action: str) -> str:
    block = page[page.index(f'id="action-{action}"') :]
    return re.search(r'name="event_id" value="([^"]+)"', block).group(1)


# ---- the console is off, or not logged in --------------------------------------------------------


async def test_without_credentials_in_settings_the_console_is_not_there(tmp_path, accounts):
    app = make_app(tmp_path, accounts, FakeSearch())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        for path in ("/ops/", "/ops/login", "/ops/accounts", "/ops/static/ops.css"):
            assert (await http.get(path, headers=HTML)).status_code == 404, path


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_without_a_login_nothing_answers_but_the_way_to_it(http, method, path):
    browser = await http.request(method, path, headers=HTML, data={"amount": "1"})
    script = await http.request(method, path, data={"amount": "1"})
    assert browser.status_code in (303, 307)
    assert browser.headers["location"].startswith(("/ops/login", f"{BASE}/ops/"))
    assert script.status_code in (401, 307)
    for answer in (browser, script):
        assert "A-1" not in answer.text and "consumer-standard" not in answer.text


async def test_the_login_form_and_the_stylesheet_answer_without_a_login(http):
    assert (await http.get("/ops/login", headers=HTML)).status_code == 200
    css = await http.get("/ops/static/ops.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]


# ---- logging in ---------------------------------------------------------------------------------


async def test_a_wrong_password_is_refused_and_logged_without_the_secret(http, caplog):
    caplog.set_level(logging.INFO, logger="dunning.ops")
    answer = await log_in(http, secret="wrong password")
    assert answer.status_code == 401 and "Wrong name, password or token" in answer.text
    assert "dunning_ops=" not in answer.headers.get("set-cookie", "")
    assert "wrong password" not in caplog.text and "ops login failed" in caplog.text


async def test_a_login_sets_a_strict_http_only_session_and_the_pages_answer(http, caplog):
    caplog.set_level(logging.INFO, logger="dunning.ops")
    answer = await log_in(http)
    assert answer.status_code == 303 and answer.headers["location"] == "/ops/"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("dunning_ops="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ops" in cookie
    assert "Secure" not in cookie  # plain http here (localhost)
    assert PASSWORD not in caplog.text and "ops login: alice" in caplog.text
    page = await http.get("/ops/accounts", headers=HTML)
    assert page.status_code == 200 and "A-1" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none'


async def test_over_https_the_cookie_is_secure(tmp_path, accounts, search):
    app = make_app(tmp_path, accounts, search, ops_password_hash=HASH)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://ops.example.org") as http:
        answer = await log_in(http)
    assert "Secure" in answer.headers["set-cookie"]


async def test_the_token_logs_in_on_the_form_and_as_a_bearer(http):
    answer = await log_in(http, user="", secret=TOKEN)
    assert answer.status_code == 303
    http.cookies.clear()
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert (await http.get("/ops/accounts", headers=bearer)).status_code == 200
    wrong = {"Authorization": "Bearer not-the-token-000000000000000"}
    assert (await http.get("/ops/accounts", headers=wrong)).status_code == 401


async def test_a_login_form_from_elsewhere_is_refused(http):
    answer = await http.post("/ops/login", data={"user": "alice", "secret": PASSWORD, "nonce": "x"})
    assert answer.status_code == 403


async def test_logout_ends_the_session_even_for_a_kept_cookie(http):
    await log_in(http)
    kept = dict(http.cookies)
    page = await http.get("/ops/accounts", headers=HTML)
    out = await http.post("/ops/logout", data={"csrf": csrf_of(page.text)}, headers=HTML)
    assert out.status_code == 303 and out.headers["location"] == "/ops/login"
    http.cookies.update(kept)
    assert (await http.get("/ops/accounts")).status_code == 401


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/ops/accounts?status=active", "/ops/accounts?status=active"),
        ("https://evil.example/ops/", "/ops/"),
        ("//evil.example/", "/ops/"),
        ("/ops//evil.example", "/ops/"),
        ("/opsx", "/ops/"),
        ("/ops/login", "/ops/"),
    ],
)
def test_after_login_only_back_into_the_console(target, safe):
    assert ops_app.safe_next(target) == safe


# ---- CSRF ---------------------------------------------------------------------------------------


async def test_a_post_without_the_sessions_csrf_token_changes_nothing(http, accounts):
    await log_in(http)
    page = await http.get("/ops/accounts/A-1", headers=HTML)
    form = {"event_id": event_id_of(page.text, "payment"), "amount": "10.00"}
    assert (await http.post("/ops/accounts/A-1/payment", data=form)).status_code == 403
    other = {**form, "csrf": "0" * 64}
    assert (await http.post("/ops/accounts/A-1/payment", data=other)).status_code == 403
    assert accounts.applied == []


async def test_a_bearer_post_needs_no_csrf_token(http, accounts):
    form = {"event_id": forms.new_event_id(), "amount": "10.00"}
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    answer = await http.post("/ops/accounts/A-1/payment", data=form, headers=bearer)
    assert answer.status_code == 303
    [(_, event)] = accounts.applied
    assert event.type == "payment" and event.source == "ops-console:token"


# ---- actions ------------------------------------------------------------------------------------


async def test_a_promise_goes_through_the_gateway_once_and_its_answer_is_shown(http, accounts):
    await log_in(http)
    page = await http.get("/ops/accounts/A-1", headers=HTML)
    day = (date.today() + timedelta(days=5)).isoformat()
    form = {"csrf": csrf_of(page.text), "event_id": event_id_of(page.text, "promise"), "date": day}
    first = await http.post("/ops/accounts/A-1/promise", data=form)
    again = await http.post("/ops/accounts/A-1/promise", data=form)  # a double submit
    assert first.status_code == again.status_code == 303
    [(account_id, event)] = accounts.applied
    assert (account_id, event.type, event.date.isoformat()) == ("A-1", "promise", day)
    assert event.source == "ops-console:alice" and event.amount is None
    shown = await http.get(first.headers["location"], headers=HTML)
    assert "promise:" in shown.text and "accepted" in shown.text
    repeated = await http.get(again.headers["location"], headers=HTML)
    assert "already applied" in repeated.text


@pytest.mark.parametrize(
    ("action", "form", "message"),
    [
        ("payment", {"amount": "twelve"}, "is not a number"),
        ("payment", {"amount": "-3"}, "must be more than 0"),
        ("promise", {"date": "2020-01-01"}, "is in the past"),
        ("promise", {"date": "31/12/2030"}, "is not a date"),
        ("hold", {"days": "1.5"}, "whole number of days"),
        ("resolve", {}, "choose validated or upheld"),
        ("cease", {}, "tick the box"),
        ("plan", {"installments": "2030-01-01"}, "write YYYY-MM-DD AMOUNT"),
    ],
)
async def test_bad_input_is_explained_and_nothing_is_lost(http, accounts, action, form, message):
    await log_in(http)
    page = await http.get("/ops/accounts/A-1", headers=HTML)
    event_id = event_id_of(page.text, action)
    sent = {"csrf": csrf_of(page.text), "event_id": event_id, **form}
    answer = await http.post(f"/ops/accounts/A-1/{action}", data=sent)
    assert answer.status_code == 422 and message in answer.text
    assert event_id in answer.text  # the same form again: a corrected submit applies once
    for value in form.values():
        assert value in answer.text
    assert accounts.applied == []


@given(st.text(max_size=20))
def test_an_amount_is_a_positive_decimal_or_a_clear_problem(text):
    try:
        value = forms.amount({"amount": text}, "amount", required=True)
    except forms.FormProblem as problem:
        assert problem.field == "amount"
    else:
        assert isinstance(value, Decimal) and value > 0


def test_each_action_builds_the_event_the_cli_would_send():
    today = date(2027, 1, 10)
    built = {
        name: forms.build_event(
            forms.BY_NAME[name],
            {"event_id": forms.new_event_id(), **form},
            today=today,
            source="ops-console:alice",
        )
        for name, form in {
            "payment": {"amount": "20.00"},
            "promise": {"date": "2027-01-15", "amount": "50"},
            "plan": {"installments": "2027-01-15 60.25\n2027-02-01: 60.25"},
            "dispute": {"reason": "  not   my debt "},
            "resolve": {"outcome": "upheld"},
            "hold": {"days": "10"},
            "resume": {},
            "cease": {"confirm": "yes"},
        }.items()
    }
    assert built["payment"].amount == Decimal("20.00")
    assert built["promise"].date == date(2027, 1, 15)
    assert [i.amount for i in built["plan"].installments] == [Decimal("60.25")] * 2
    assert built["dispute"].reason == "not my debt"
    assert built["resolve"].type == "dispute_resolved" and built["resolve"].outcome == "upheld"
    assert built["hold"].days == 10 and built["resume"].type == "resume"
    assert {event.source for event in built.values()} == {"ops-console:alice"}


def test_a_stale_or_forged_event_id_is_refused():
    with pytest.raises(forms.FormProblem, match="stale"):
        forms.build_event(
            forms.BY_NAME["resume"], {"event_id": "x"}, today=date.today(), source="s"
        )


# ---- filters ------------------------------------------------------------------------------------


def test_filters_become_a_visibility_query():
    chosen = parse_filter(
        {
            "status": "promised",
            "ladder": "consumer-standard",
            "step": "sms-reminder",
            "min_days": "5",
            "max_days": "30",
            "contact_before": "2027-01-15",
            "page_size": "25",
        }
    )
    assert visibility_query(chosen) == (
        "WorkflowType = 'DunningAccount' AND DunningStatus = 'promised' AND "
        "DunningLadder = 'consumer-standard' AND DunningStep = 'sms-reminder' AND "
        "DunningDaysPastDue >= 5 AND DunningDaysPastDue <= 30 AND "
        "DunningNextContact < '2027-01-16T00:00:00Z'"
    )
    assert visibility_query(parse_filter({"status": "", "ladder": " "})) == (
        "WorkflowType = 'DunningAccount'"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "bogus"}, "status: one of active, promised"),
        ({"ladder": "x' OR WorkflowId != '"}, "ladder: letters, digits"),
        ({"step": "a b"}, "step: letters, digits"),
        ({"min_days": "ten"}, "days past due (min)"),
        ({"min_days": "9", "max_days": "3"}, "min is above max"),
        ({"contact_before": "tomorrow"}, "next contact by"),
        ({"page_size": "1000"}, "page size"),
        ({"page": "%%%"}, "page"),
    ],
)
def test_a_bad_filter_is_named(params, message):
    with pytest.raises(FilterProblem, match=re.escape(message)):
        parse_filter(params)


@given(st.text(max_size=30))
def test_a_quoted_value_stays_one_literal(text):
    literal = quoted(text)
    inner = literal[1:-1]
    assert literal[0] == literal[-1] == "'"
    assert re.fullmatch(r"(?:[^'\\]|\\.)*", inner, flags=re.DOTALL)


async def test_a_bad_filter_is_a_message_on_the_page_not_a_500(http, search):
    await log_in(http)
    answer = await http.get("/ops/accounts?status=bogus&min_days=x", headers=HTML)
    assert answer.status_code == 400 and "status: one of" in answer.text
    assert search.queries == []


async def test_the_list_pages_on(http, search):
    await log_in(http)
    first = await http.get("/ops/accounts?status=active", headers=HTML)
    assert "sms-reminder" in first.text
    link = re.search(r'href="(/ops/accounts\?[^"]*page=[^"]+)"', first.text).group(1)
    second = await http.get(link.replace("&amp;", "&"), headers=HTML)
    assert second.status_code == 200 and "next page" not in second.text
    assert search.queries == ["WorkflowType = 'DunningAccount' AND DunningStatus = 'active'"] * 2


# ---- every route is behind the login ------------------------------------------------------------


def test_every_console_route_but_the_login_depends_on_the_operator(tmp_path, accounts):
    app = make_app(tmp_path, accounts, FakeSearch(), ops_token=TOKEN)
    [mount] = [route for route in app.routes if getattr(route, "path", None) == "/ops"]
    open_routes = []
    for route in mount.app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, APIRoute):
            continue
        calls = {dependency.call for dependency in route.dependant.dependencies}
        calls |= {sub.call for d in route.dependant.dependencies for sub in d.dependencies}
        if ops_app.operator not in calls and ops_app.csrf_checked not in calls:
            open_routes.append((sorted(route.methods), route.path))
    assert open_routes == [(["GET"], "/login"), (["POST"], "/login")]


def test_only_accounts_on_the_console_patch_publish_the_step():
    """Older histories replay only if their upserts stay as recorded: without the patch, the
    values carry no step and the upsert has no `DunningStep`."""
    from datetime import UTC, datetime

    from tests.conftest import account
    from workflows import search_attributes as sa
    from workflows.account.view import search_values
    from workflows.types import AccountState, Status

    now = datetime(2038, 1, 4, 6, tzinfo=UTC)
    given = account(now)
    state = AccountState(balance=given.balance, next_step_index=1)
    old = search_values(state, given, now)
    new = search_values(state, given, now, with_step=True)
    assert "step" not in old and new["step"] == given.ladder.steps[1].id
    assert sa.STEP.name not in {update.key.name for update in sa.updates(old)}
    assert sa.STEP.name in {update.key.name for update in sa.updates(new)}
    closed = state.model_copy(update={"status": Status.PAID})
    assert search_values(closed, given, now, with_step=True)["step"] is None
    past_the_end = state.model_copy(update={"next_step_index": len(given.ladder.steps)})
    assert search_values(past_the_end, given, now, with_step=True)["step"] is None


def test_dev_makes_a_one_time_token_only_when_no_login_is_configured():
    from io import StringIO

    from rich.console import Console

    from cli.ops_commands import with_dev_ops_token

    printed = StringIO()
    out = Console(file=printed, width=200)
    plain = load_settings()
    made = with_dev_ops_token(plain, True, out)
    token = made.ops_token.get_secret_value()
    assert len(token) >= 24 and token in printed.getvalue()
    assert "http://127.0.0.1:8000/ops/login" in printed.getvalue()
    configured = load_settings(ops_password_hash=HASH)
    assert with_dev_ops_token(configured, True, out) is configured
    assert with_dev_ops_token(plain, False, out) is plain  # no webhook server, no console


def test_hash_password_prints_a_hash_that_logs_in():
    from typer.testing import CliRunner

    from cli.main import app

    typed = "a long enough password\na long enough password\n"
    result = CliRunner().invoke(app, ["ops", "hash-password"], input=typed)
    assert result.exit_code == 0, result.output
    printed = result.stdout.strip().splitlines()[-1]
    assert PasswordHasher().verify(printed, "a long enough password")
    short = CliRunner().invoke(app, ["ops", "hash-password"], input="short\nshort\n")
    assert short.exit_code == 2


async def test_an_account_temporal_forgot_is_shown_from_the_audit_store(tmp_path):
    """The workflow is gone (retention passed): the page shows the audit trail, messages
    included (conflict copies not: they are not the account's history), and offers no action."""
    import json
    from datetime import UTC, datetime

    from store.protocols import AuditAppend

    store = open_store(f"sqlite:///{tmp_path}/store.sqlite3")
    message = {"channel": "sms", "to": "+33612345678", "subject": None, "text": "Solde dû: 12 €"}
    sha = store.audit.put_content(json.dumps(message).encode(), "application/json")
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    contact = {"step": "sms-reminder", "channel": "sms", "outcome": "sent", "content": sha}
    event = {"type": "payment", "accepted": True, "reason": None, "detail": {"amount": "12"}}
    store.audit.append(
        "GONE-1",
        [
            AuditAppend("contact:0", at, "contact", contact),
            AuditAppend("event:0", at, "event", event),
            AuditAppend("closed", at, "closed", {"status": "paid", "balance": "0.00"}),
            # A record refused for its key, kept for whoever investigates: not its history.
            AuditAppend(
                "event:0/conflict-0123abcd",
                at,
                "event",
                event | {"detail": {"amount": "999.99"}},
            ),
        ],
    )
    settings = load_settings(data_dir=tmp_path, ops_token=TOKEN)
    app = create_app(settings, MemoryAccounts(), store)
    transport = httpx.ASGITransport(app=app)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=bearer) as http:
        page = await http.get("/ops/accounts/GONE-1")
        missing = await http.get("/ops/accounts/NOBODY")
    assert page.status_code == 200 and "From the audit store" in page.text
    assert "sms-reminder" in page.text and "Solde dû: 12 €" in page.text
    assert "999.99" not in page.text and "conflict" not in page.text
    assert "Record a payment" not in page.text
    assert missing.status_code == 404
