"""Serve the webhook application with uvicorn: alone (`dunning webhooks`) or beside the worker
(`dunning dev`), in the caller's event loop, stopped by the caller's signal handling."""

from __future__ import annotations

import contextlib
import logging

import uvicorn
from fastapi import FastAPI

from activities.channels.twilio.call_scripts import SqliteCallScripts
from config.settings import Settings
from connection.temporal import connect
from inbound.accounts import TemporalAccounts
from inbound.app import create_app


def webhook_app(settings: Settings) -> FastAPI:
    accounts = TemporalAccounts(lambda: connect(settings), settings.link_secret.get_secret_value())
    return create_app(settings, accounts, SqliteCallScripts(settings.ledger_path))


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
