"""Serve the webhook application with uvicorn: alone (`dunning webhooks`) or beside the worker
(`dunning dev`), in the caller's event loop, stopped by the caller's signal handling; and its
metrics on their own listener (`DUNNING_WEBHOOK_METRICS_ADDRESS`), started and stopped with
it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

import uvicorn
from fastapi import FastAPI

from config.settings import Settings
from connection.temporal import connect
from inbound.accounts import TemporalAccounts
from inbound.app import create_app
from inbound.metrics import ListenerUnavailable, MetricsListener, start_listener
from store import open_store


def webhook_app(settings: Settings) -> FastAPI:
    """The application over the workers' shared store (call scripts, SendGrid's events),
    closed when the server shuts down."""
    accounts = TemporalAccounts(lambda: connect(settings), settings.link_secret.get_secret_value())
    store = open_store(settings.store_url, migrate=settings.database_auto_migrate)
    return create_app(settings, accounts, store, close_store=store.close)


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the command that runs it decides when to stop
    (set `should_exit`), so Ctrl-C stops the worker, the server and Temporal in order."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


def embedded_server(app: FastAPI, host: str, port: int) -> EmbeddedServer:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,  # query strings carry tokens and secrets: the routes log instead
        log_level=logging.INFO,
        timeout_graceful_shutdown=5,
    )
    return EmbeddedServer(config)


@contextlib.contextmanager
def metrics_listener(
    app: FastAPI, settings: Settings, say: Callable[[str], None]
) -> Iterator[MetricsListener | None]:
    """The app's `/metrics` on `DUNNING_WEBHOOK_METRICS_ADDRESS` while the block runs (None:
    off, or the address could not be bound, which `say` reports: the webhooks are served
    without their metrics rather than not at all, as when several servers share a host)."""
    address = settings.webhook_metrics_address
    if not address:
        yield None
        return
    try:
        listener = start_listener(app.state.metrics.registry, address)
    except ListenerUnavailable as exc:
        say(f"warning: {exc}")
        yield None
        return
    try:
        yield listener
    finally:
        listener.close()


def metrics_phrase(listener: MetricsListener | None) -> str:
    """How a start-up line says where the metrics are."""
    return f"metrics on {listener.url}" if listener is not None else "no metrics"
