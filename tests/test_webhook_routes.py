"""The webhook app's routes, read from the app itself: every route but an explicit allow-list
is authenticated by a signature dependency (`inbound/security.py`), so a route added without
one fails here rather than in production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

import inbound.security
from config.settings import load_settings
from inbound.app import create_app
from inbound.security import SIGNATURE_CHECKS
from store import open_store

# Routes that answer without authentication, each for a reason.
UNSIGNED = {
    ("GET", "/healthz"),  # monitoring: says only whether Temporal answers
}
SIGNED_POSTS = {
    "/twilio/sms",
    "/twilio/status",
    "/twilio/voice",
    "/sendgrid/inbound",
    "/sendgrid/events",
    "/payments",
    "/unsubscribe/{token}",
}


class NoAccounts:
    async def find(self, kind: str, value: str) -> list[str]:
        return []

    async def view(self, account_id: str) -> Any:
        return None

    async def apply(self, account_id: str, event: Any) -> Any:
        raise AssertionError("not called")

    async def ready(self) -> bool:
        return True


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(
        load_settings(), NoAccounts(), open_store(f"sqlite:///{tmp_path}/store.sqlite3")
    )


def dependency_calls(dependant: Any) -> set[Any]:
    """Every callable a route depends on, however deeply (router-level ones included)."""
    calls: set[Any] = set()
    for sub in dependant.dependencies:
        calls.add(sub.call)
        calls |= dependency_calls(sub)
    return calls


def endpoints(app: FastAPI) -> list[RouteContext]:
    """Every endpoint as served: included routers flattened, their prefixes and router-level
    dependencies applied (`app.routes` itself holds one opaque entry per included router)."""
    return [
        route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
    ]


def unsigned_routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in endpoints(app):
        checked = dependency_calls(route.dependant) & set(SIGNATURE_CHECKS)
        for method in sorted(route.methods):
            if (method, route.path) not in UNSIGNED and not checked:
                found.append((method, route.path))
    return found


def test_every_route_but_the_allow_list_depends_on_a_signature_check(app):
    posts = {route.path for route in endpoints(app) if "POST" in route.methods}
    assert posts == SIGNED_POSTS  # the list below is not vacuous, and nothing is missing
    assert unsigned_routes(app) == []


def test_each_provider_route_uses_its_own_check(app):
    by_path = {
        route.path: dependency_calls(route.dependant) & set(SIGNATURE_CHECKS)
        for route in endpoints(app)
        if "POST" in route.methods
    }
    names = {path: {check.__name__ for check in checks} for path, checks in by_path.items()}
    assert names == {
        "/twilio/sms": {"verify_twilio_signature"},
        "/twilio/status": {"verify_twilio_signature"},
        "/twilio/voice": {"verify_twilio_signature"},
        "/sendgrid/inbound": {"verify_inbound_parse_secret"},
        "/sendgrid/events": {"verify_sendgrid_signature"},
        "/payments": {"verify_payment_signature"},
        "/unsubscribe/{token}": {"verify_unsubscribe_token"},
    }


def test_a_route_added_without_a_check_is_found(app):
    forgetful = APIRouter()

    @forgetful.post("/twilio/new-callback")
    async def new_callback() -> dict[str, str]:
        return {}

    app.include_router(forgetful)
    assert unsigned_routes(app) == [("POST", "/twilio/new-callback")]


async def test_the_twilio_signature_is_checked_once_per_request(app, monkeypatch):
    """The router and the route both name the check; FastAPI runs it once and shares it."""
    calls = []
    monkeypatch.setattr(inbound.security, "twilio_valid", lambda *args: calls.append(args) or True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.post("/twilio/status", data={"MessageSid": "SM1"})
    assert answer.status_code == 400  # signed (by the stub), then refused for a missing status
    assert len(calls) == 1
