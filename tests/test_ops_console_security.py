"""The ops console's answers to its security reviews (the brake on guessing: in
test_ops_console_brake.py): the client behind the shipped proxy, Secure cookies behind TLS at
the load balancer and a login page that says why over plain http, an unconfirmed action kept
with its event id,
strict numbers, the dispute's received-on date, console events counted like every event, 413
for oversized chunked bodies, a hash checked at start-up, the dev token only on loopback."""

from __future__ import annotations

import contextlib
import logging
import re
from datetime import date, timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.settings import load_settings
from inbound.ops import actions as forms
from inbound.ops.filters import FilterProblem, parse_filter
from tests.test_ops_console_http import (
    BASE,
    HASH,
    HTML,
    TOKEN,
    accounts,
    csrf_of,
    event_id_of,
    http,
    log_in,
    make_app,
    search,
)

__all__ = ["accounts", "http", "search"]  # fixtures, shared with test_ops_console_http

# ---- the brake is in test_ops_console_brake.py -------------------------------------------------


async def test_a_password_typed_as_the_name_is_not_logged(http, caplog):
    caplog.set_level(logging.INFO, logger="dunning.ops")
    await log_in(http, user="my secret pass word!", secret="x")
    await log_in(http, user="alice\nforged line", secret="x")
    await log_in(http, user="bob", secret="x")
    assert "my secret" not in caplog.text and "forged" not in caplog.text
    assert "ops login failed for user <invalid>" in caplog.text
    assert "ops login failed for user bob" in caplog.text


# ---- the rest of the review ----------------------------------------------------------------------


async def test_the_cookie_is_secure_when_the_public_url_is_https(tmp_path, accounts, search):
    """TLS ends at the load balancer: the request says http, the public URL says https."""
    app = make_app(
        tmp_path, accounts, search, ops_token=TOKEN, public_base_url="https://pay.example.org"
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        form = await http.get("/ops/login", headers=HTML)
        nonce = re.search(r'name="nonce" value="([^"]+)"', form.text).group(1)
        # A browser on http would not send a Secure cookie back: the test sends it by hand.
        answer = await http.post(
            "/ops/login",
            data={"secret": TOKEN, "nonce": nonce},
            headers={"Cookie": f"dunning_ops_login={nonce}"},
        )
    assert "Secure" in form.headers["set-cookie"]  # the login form's nonce cookie
    assert answer.status_code == 303
    session = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("dunning_ops="))
    assert "Secure" in session


async def test_over_plain_http_with_an_https_public_url_the_login_page_says_why(
    tmp_path, accounts, search
):
    """An operator on an internal http address: the cookies stay Secure (production), and
    the login page says to use https instead of looping on "The form expired"."""
    app = make_app(
        tmp_path, accounts, search, ops_token=TOKEN, public_base_url="https://pay.example.org"
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        form = await http.get("/ops/login", headers=HTML)
        nonce = re.search(r'name="nonce" value="([^"]+)"', form.text).group(1)
        # What the browser does over http: the Secure nonce cookie does not come back.
        posted = await http.post(
            "/ops/login", data={"secret": TOKEN, "nonce": nonce}, headers={"Cookie": ""}
        )
    async with httpx.AsyncClient(transport=transport, base_url="https://pay.example.org") as tls:
        over_https = await tls.get("/ops/login", headers=HTML)
    for page in (form, posted):
        text = " ".join(page.text.split())  # the template wraps the sentence
        assert "open the console over https: its cookies are Secure because" in text
        assert "DUNNING_PUBLIC_BASE_URL is https" in text
    assert "Secure" in form.headers["set-cookie"]
    assert posted.status_code == 403 and "does not send back its cookie" in posted.text
    assert "over-http" not in over_https.text and "Secure" in over_https.headers["set-cookie"]


async def test_an_unconfirmed_action_comes_back_with_the_same_event_id(http, accounts, monkeypatch):
    """The update timed out but stays queued at Temporal: a resubmit must be the same event."""
    from inbound.accounts import AccountsUnavailable

    async def timed_out(account_id, event):
        raise AccountsUnavailable("no answer from account A-1 in time")

    await log_in(http)
    page = await http.get("/ops/accounts/A-1", headers=HTML)
    event_id = event_id_of(page.text, "payment")
    form = {"csrf": csrf_of(page.text), "event_id": event_id, "amount": "12.50"}
    monkeypatch.setattr(accounts, "apply", timed_out)
    answer = await http.post("/ops/accounts/A-1/payment", data=form, headers=HTML)
    assert answer.status_code == 503
    assert "not confirmed: it may still be applied; check the timeline" in answer.text
    assert event_id_of(answer.text, "payment") == event_id and "12.50" in answer.text
    assert '<details open id="action-payment">' in answer.text
    assert event_id_of(answer.text, "promise") != event_id_of(page.text, "promise")


UNICODE_DIGITS = ["²", "١٢", "１２", "𝟙", "½", "٣.٥", "1_0", "1e3", "NaN", "Infinity", "\u0663"]
NUMERIC = [
    ("payment", "amount", {}),
    ("promise", "amount", {"date": "2099-01-01"}),
    ("promise", "date", {}),
    ("hold", "days", {}),
    ("plan", "installments", {}),
    ("dispute", "received_on", {"reason": "not mine"}),
]


@pytest.mark.parametrize("text", UNICODE_DIGITS)
async def test_unicode_digits_are_a_form_problem_not_a_500(http, accounts, text):
    await log_in(http)
    page = await http.get("/ops/accounts/A-1", headers=HTML)
    for action, field_name, rest in NUMERIC:
        sent = {"csrf": csrf_of(page.text), "event_id": event_id_of(page.text, action), **rest}
        sent[field_name] = text if field_name != "installments" else f"2099-01-01 {text}"
        answer = await http.post(f"/ops/accounts/A-1/{action}", data=sent)
        assert answer.status_code == 422, (action, field_name, text, answer.text[:300])
    assert accounts.applied == []


@given(st.sampled_from(NUMERIC), st.text(max_size=12))
def test_any_text_in_a_numeric_field_is_an_event_or_a_form_problem(chosen, text):
    action, field_name, rest = chosen
    form = {"event_id": forms.new_event_id(), "reason": "r", **rest, field_name: text}
    try:
        event = forms.parse_event(
            forms.BY_NAME[action], form, today=date(2030, 1, 1), source="ops-console:a"
        )
    except forms.FormProblem:
        return
    assert event.type == forms.BY_NAME[action].event


@given(st.text(max_size=12))
def test_any_text_in_a_number_filter_is_a_filter_or_a_named_problem(text):
    for name in ("min_days", "max_days", "page_size"):
        with contextlib.suppress(FilterProblem):
            parse_filter({name: text})


def test_a_dispute_may_say_when_it_was_received_never_in_the_future():
    today = date(2027, 1, 10)
    dispute = forms.BY_NAME["dispute"]
    base = {"event_id": forms.new_event_id(), "reason": "not my debt"}
    received = forms.parse_event(
        dispute, {**base, "received_on": "2027-01-08"}, today=today, source="s"
    )
    assert received.received_on == date(2027, 1, 8)
    assert forms.parse_event(dispute, base, today=today, source="s").received_on is None
    with pytest.raises(forms.FormProblem, match="is in the future"):
        forms.parse_event(dispute, {**base, "received_on": "2027-01-11"}, today=today, source="s")


async def test_the_dispute_form_sends_its_received_on_date(http, accounts):
    await log_in(http)
    page = await http.get("/ops/accounts/A-1", headers=HTML)
    assert 'name="received_on"' in page.text
    day = (date.today() - timedelta(days=3)).isoformat()
    sent = {
        "csrf": csrf_of(page.text),
        "event_id": event_id_of(page.text, "dispute"),
        "reason": "not mine",
        "received_on": day,
    }
    assert (await http.post("/ops/accounts/A-1/dispute", data=sent)).status_code == 303
    [(_, event)] = accounts.applied
    assert event.type == "dispute" and event.received_on.isoformat() == day


async def test_console_events_are_logged_and_counted_like_every_applied_event(http, caplog):
    caplog.set_level(logging.INFO)
    await log_in(http)
    page = await http.get("/ops/accounts/A-1", headers=HTML)
    form = {"csrf": csrf_of(page.text), "event_id": event_id_of(page.text, "payment")}
    await http.post("/ops/accounts/A-1/payment", data={**form, "amount": "5"})
    registry = http.app.state.metrics.registry
    labels = {"type": "payment", "answer": "accepted"}
    assert registry.get_sample_value("dunning_webhook_events_total", labels) == 1
    assert "event payment for A-1: accepted" in caplog.text  # the server's line
    assert "ops event payment for A-1 by alice: accepted" in caplog.text  # the console's


async def test_an_action_on_an_account_gone_meanwhile_is_refused_not_a_500(http, accounts):
    from inbound.accounts import UnknownAccount

    await log_in(http)
    page = await http.get("/ops/accounts/A-1", headers=HTML)
    form = {"csrf": csrf_of(page.text), "event_id": event_id_of(page.text, "resume")}

    async def gone(account_id, event):
        raise UnknownAccount("no account A-1")

    accounts.apply = gone
    answer = await http.post("/ops/accounts/A-1/resume", data=form)
    assert answer.status_code == 303
    assert "refused: no open account A-1" in (await http.get(answer.headers["location"])).text


async def test_an_oversized_chunked_post_is_413_not_500(http):
    async def chunks():
        for _ in range(100):
            yield b"a" * 1024  # no Content-Length: found only while the route reads it

    await log_in(http)
    form = {"content-type": "application/x-www-form-urlencoded"}
    posted = await http.post("/ops/accounts/A-1/payment", content=chunks(), headers=form)
    login = await http.post("/ops/login", content=chunks(), headers=form)
    assert posted.status_code == login.status_code == 413


@pytest.mark.parametrize(
    "value",
    [
        HASH[:40],  # cut short
        "$argon2id$v=19=65536,t=3,p=4",  # "$m" eaten by a shell in double quotes
        "$argon2",
        "argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g",
    ],
)
def test_a_truncated_or_mis_quoted_hash_stops_start_up(value):
    from config.settings import SettingsError

    with pytest.raises(SettingsError, match=r"DUNNING_OPS_PASSWORD_HASH: .*argon2 hash"):
        load_settings(ops_password_hash=value)
    assert load_settings(ops_password_hash=HASH).ops_password_hash is not None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_dev_makes_no_token_for_a_console_open_beyond_this_machine(host):
    from io import StringIO

    from rich.console import Console

    from cli.ops_commands import is_loopback, with_dev_ops_token

    printed = StringIO()
    plain = load_settings(webhook_host=host)
    assert with_dev_ops_token(plain, True, Console(file=printed, width=300)) is plain
    assert "not a loopback address" in printed.getvalue()
    assert "DUNNING_OPS_PASSWORD_HASH" in printed.getvalue()
    assert all(is_loopback(each) for each in ("127.0.0.1", "127.0.1.1", "::1", "localhost"))


def test_behind_the_shipped_proxy_uvicorn_believes_only_the_compose_network():
    """The brake counts per client: behind nginx, the client must be the visitor's
    address, believed only from the compose network, and nginx must not pass on a forged
    X-Forwarded-For."""
    import yaml
    from uvicorn.middleware.proxy_headers import _TrustedHosts

    from config.settings import PROJECT_ROOT

    deploy = PROJECT_ROOT / "deploy"
    compose = yaml.safe_load((deploy / "compose.yaml").read_text(encoding="utf-8"))
    trusted = compose["services"]["webhooks"]["environment"]["FORWARDED_ALLOW_IPS"]
    [network] = compose["networks"]["default"]["ipam"]["config"]
    assert trusted == network["subnet"] == "${APP_SUBNET:-172.31.240.0/24}"
    hosts = _TrustedHosts(trusted.removeprefix("${APP_SUBNET:-").removesuffix("}"))
    assert "172.31.240.9" in hosts and "203.0.113.7" not in hosts and "127.0.0.1" not in hosts
    assert hosts.get_trusted_client_address("203.0.113.7") == ("203.0.113.7", 0)
    nginx = (deploy / "nginx.conf").read_text(encoding="utf-8")
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    assert "$proxy_add_x_forwarded_for" not in nginx
