"""Serve the webhook application with uvicorn: alone (`dunning webhooks`) or beside the worker
(`dunning dev`), in the caller's event loop, stopped by the caller's signal handling."""

from __future__ import annotations

import contextlib
import logging

import uvicorn
from fastapi import FastAPI

from config.settings import Settings
from connection.temporal import connect
from inbound.accounts import TemporalAccounts
from inbound.app import create_app
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
