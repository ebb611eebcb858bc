"""`dunning dev` and `dunning worker`: run things until Ctrl-C, then stop them cleanly.

`dunning dev` starts the embedded Temporal dev server (the `temporal` binary installed by pip,
persisting to a SQLite file under the data directory, UI on its usual port), registers the
search attributes, runs the worker, and optionally imports an accounts file. Stopping and
starting again resumes the same accounts: the SQLite file keeps them and the outbox keeps what
was sent, keyed by idempotency key.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

from rich.console import Console
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from cli.account_commands import connected, import_accounts
from config.settings import Settings
from connection.schedules import ensure_housekeeping_schedule
from connection.temporal import bundled_binary, missing_search_attributes, start_worker_metrics
from store import Store, StoreError
from worker import build_worker, open_shared_store
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def run_worker_only(settings: Settings, out: Console, err: Console) -> int:
    metrics = start_worker_metrics(settings, err.print)  # before the client: its runtime
    client = await connected(settings, err)
    if client is None:
        return 1
    missing = await missing_search_attributes(client, settings.temporal_namespace)
    if missing is None:
        err.print(
            "warning: could not list the namespace's search attributes (no permission?): "
            "make sure the Dunning* attributes exist (deploy/README.md)",
            markup=False,
            highlight=False,
        )
    elif missing:
        err.print(
            f"error: namespace {settings.temporal_namespace} lacks the search attributes "
            f"{', '.join(missing)}: create them first (deploy/temporal/setup-namespace.sh, "
            "deploy/README.md); without them new accounts' workflow tasks fail",
            markup=False,
            highlight=False,
        )
        return 1
    store = shared_store(settings, err)
    if store is None:
        return 1
    worker = build_worker(client, settings, store=store)
    out.print(
        f"worker on task queue [bold]{settings.task_queue}[/bold] at "
        f"{settings.temporal_address} ({settings.temporal_namespace}), store {store.url}, "
        f"{metrics}; Ctrl-C stops"
    )
    try:
        async with worker:
            await _until_stopped()
    finally:
        store.close()
    out.print("worker stopped")
    return 0


def shared_store(settings: Settings, err: Console) -> Store | None:
    """The shared store, or None with one line saying why (unreachable, migrations pending)."""
    try:
        return open_shared_store(settings)
    except StoreError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        return None


async def run_webhooks_only(settings: Settings, host: str, port: int, out: Console) -> int:
    from inbound.server import embedded_server, metrics_listener, metrics_phrase, webhook_app

    app = webhook_app(settings)
    server = embedded_server(app, host, port)
    with metrics_listener(app, settings, out.print) as metrics:
        serving = asyncio.create_task(_serve(server, out))
        out.print(
            f"webhooks on http://{host}:{port} (public URL {settings.public_base_url}), "
            f"{metrics_phrase(metrics)}; Ctrl-C stops"
        )
        stop = asyncio.create_task(_until_stopped())
        await asyncio.wait({serving, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        server.should_exit = True
        await serving
    return 0 if server.started else 1


async def _serve(server, out: Console) -> None:
    """uvicorn exits the process (SystemExit) when it cannot bind; here that ends only the
    webhook server, with a line saying why, and the worker and Temporal keep running."""
    try:
        await server.serve()
    except SystemExit:
        out.print(
            f"[red]webhooks could not start on {server.config.host}:{server.config.port} "
            "(port in use? set DUNNING_WEBHOOK_PORT)[/red]"
        )


@contextlib.asynccontextmanager
async def _webhooks_beside(settings: Settings, enabled: bool, out: Console):
    """The webhook server in this event loop, against the dev server; stopped on exit."""
    if not enabled:
        yield
        return
    from inbound.server import embedded_server, metrics_listener, metrics_phrase, webhook_app

    dev_settings = settings.model_copy(
        update={"temporal_address": f"localhost:{settings.dev_server_port}"}
    )
    app = webhook_app(dev_settings)
    server = embedded_server(app, settings.webhook_host, settings.webhook_port)
    with metrics_listener(app, settings, out.print) as metrics:
        serving = asyncio.create_task(_serve(server, out))
        out.print(
            f"webhooks on http://{settings.webhook_host}:{settings.webhook_port} "
            f"(public URL {settings.public_base_url}), {metrics_phrase(metrics)}"
        )
        try:
            yield
        finally:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await serving


async def run_dev(
    settings: Settings,
    import_file: Path | None,
    ladder: str | None,
    out: Console,
    err: Console,
    *,
    webhooks: bool = True,
) -> int:
    from cli.ops_commands import with_dev_ops_token

    settings = with_dev_ops_token(settings, webhooks, out)  # a console login for this run
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = settings.data_dir / "temporal.sqlite"
    metrics = start_worker_metrics(settings, err.print)  # before any client: their runtime
    out.print(f"starting the Temporal dev server (state in {database}) ...")
    env = await WorkflowEnvironment.start_local(
        namespace=settings.temporal_namespace,
        port=settings.dev_server_port,
        ui=True,
        ui_port=settings.dev_ui_port,
        dev_server_existing_path=bundled_binary("temporal"),
        dev_server_database_filename=str(database),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
    )
    store = shared_store(settings, err)
    if store is None:
        await env.shutdown()
        return 1
    try:
        worker = build_worker(env.client, settings, store=store)
        async with worker, _webhooks_beside(settings, webhooks, out):
            out.print(
                f"Temporal on localhost:{settings.dev_server_port}, UI on "
                f"http://localhost:{settings.dev_ui_port}, worker on '{settings.task_queue}' "
                f"({metrics}), outbox in {settings.outbox_dir}"
            )
            schedule = await ensure_housekeeping_schedule(env.client, settings)
            out.print(f"housekeeping schedule {schedule}")
            if import_file is not None:
                dev_settings = settings.model_copy(
                    update={"temporal_address": f"localhost:{settings.dev_server_port}"}
                )
                await import_accounts(import_file, ladder, dev_settings, out, err)
            out.print("running; Ctrl-C stops the worker and the server")
            await _until_stopped()
            out.print("stopping ...")
    finally:
        store.close()
        with contextlib.suppress(Exception):
            await env.shutdown()
    out.print("stopped")
    return 0
