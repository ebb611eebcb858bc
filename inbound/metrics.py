"""The webhook server's Prometheus metrics: answers by route and status, how long they took, and
the events it applied, served on a listener of its own (never the public webhook port).

One `CollectorRegistry` per application (tests create many apps in one process; the global
registry would refuse the second). Routes are labelled with their template (`/unsubscribe/
{token}`), never the raw path: a token or an id in a label would make a series per request and
leak it to whoever reads the metrics. Anything no route matches is `unmatched`, and a method
outside the usual few is `other`, so a scanner cannot grow the label sets either.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from starlette.routing import BaseRoute, Mount, Router, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: a webhook answers in milliseconds; one waiting on a busy Temporal takes seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class WebhookMetrics:
    """The application's registry and its three metrics (README, "Metrics")."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dunning_webhook_requests",
            "HTTP answers of the webhook server (and /ops), by route template, method, status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "dunning_webhook_request_duration_seconds",
            "Time to answer a request, by route template",
            ["route"],
            registry=self.registry,
            buckets=BUCKETS,
        )
        self.events = Counter(
            "dunning_webhook_events",
            "Events the webhook server applied, by type and answer "
            "(accepted, refused, duplicate, no_account)",
            ["type", "answer"],
            registry=self.registry,
        )

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self.requests.labels(route, method, str(status)).inc()
        self.duration.labels(route).observe(seconds)

    def event(self, event_type: str, answer: str) -> None:
        self.events.labels(event_type, answer).inc()


@dataclass(frozen=True)
class Template:
    """A route's path template, the regular expression it matches, and its methods."""

    template: str
    pattern: re.Pattern[str]
    methods: frozenset[str] | None  # None: any method (a mounted application)


def templates(routes: Iterable[BaseRoute], prefix: str = "") -> list[Template]:
    """Every route of an application, mounted ones behind their mount's path. Read through
    FastAPI's `iter_route_contexts`, which sees inside included routers; matched here rather
    than read from the request's scope, so a request no route ran (a 413 before routing, a
    404) is labelled the same way as the others."""
    found: list[Template] = []
    for context in iter_route_contexts(list(routes)):
        route = context.original_route
        if isinstance(route, Mount):
            found += templates(route.routes, prefix + route.path)
            found.append(_template(f"{prefix}{route.path}/{{path:path}}", None))
            continue
        path = context.path_format or context.path
        if path is not None:
            methods = frozenset(context.methods) if context.methods else None
            found.append(_template(prefix + path, methods))
    return found


def _template(path: str, methods: frozenset[str] | None) -> Template:
    pattern, path_format, _ = compile_path(path)
    return Template(path_format, pattern, methods)


def route_template(known: Iterable[Template], path: str, method: str) -> str:
    """The template of the route answering `method path` (one that matches the path but not
    the method next, as its 405 does), or `unmatched`."""
    partial: str | None = None
    for route in known:
        if route.pattern.match(path):
            if route.methods is None or method in route.methods:
                return route.template
            partial = partial or route.template
    return partial or UNMATCHED


class MetricsMiddleware:
    """Times every HTTP request and counts its answer under its route template. A plain ASGI
    middleware (not `BaseHTTPMiddleware`): it sees the status as it is sent and leaves the
    body streaming as it is. The routes are read at the first request, when the application
    (the ops console's mount included) is complete."""

    def __init__(self, app: ASGIApp, *, metrics: WebhookMetrics, router: Router) -> None:
        self.app = app
        self.metrics = metrics
        self.router = router
        self._templates: list[Template] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Read before the app runs: routing rewrites the scope (a mount's root_path).
        path, method = scope["path"], scope["method"]
        path = path.removeprefix(scope.get("root_path", "")) or "/"
        started = time.perf_counter()
        status = 500  # an exception before any answer: the server answers 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if self._templates is None:
                self._templates = templates(self.router.routes)
            route = route_template(self._templates, path, method)
            self.metrics.answered(route, method, status, time.perf_counter() - started)


@dataclass
class MetricsListener:
    """`/metrics` of one registry on its own address, in a daemon thread: a scrape is answered
    even while the event loop is busy, and the public port never serves it."""

    server: WSGIServer
    url: str

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ListenerUnavailable(Exception):
    """The metrics address could not be bound."""


def start_listener(registry: CollectorRegistry, address: str) -> MetricsListener:
    """Serve `registry` on `address` (host:port). Raises ListenerUnavailable."""
    host, _, port = address.rpartition(":")
    try:
        server, _thread = start_http_server(int(port), host, registry=registry)
    except OSError as exc:
        raise ListenerUnavailable(
            f"webhook metrics cannot be served on {address}: {exc.strerror or exc} "
            "(set DUNNING_WEBHOOK_METRICS_ADDRESS; empty turns them off)"
        ) from None
    bound = server.server_address[1]
    return MetricsListener(server, f"http://{host}:{bound}/metrics")
