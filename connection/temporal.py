"""Connect to Temporal as the settings say: the dev server, a cluster, or Temporal Cloud.

Everyone (worker, CLI, webhook server, simulation) connects through here so they share the data
converter: pydantic's, which carries Decimal as a string and datetimes with their zone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from config.settings import Settings

if TYPE_CHECKING:
    from temporalio.runtime import Runtime


def tls_config(settings: Settings) -> TLSConfig | bool:
    if settings.temporal_tls_cert is not None and settings.temporal_tls_key is not None:
        return TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    # Temporal Cloud API keys always travel over TLS.
    return settings.temporal_tls or settings.temporal_api_key is not None


async def connect(settings: Settings) -> Client:
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=api_key,
        tls=tls_config(settings),
        data_converter=pydantic_data_converter,
    )


async def register_search_attributes(client: Client, namespace: str) -> None:
    """Register the Dunning* search attributes (idempotent: existing ones are left alone)."""
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )
    from temporalio.service import RPCError, RPCStatusCode

    from workflows.search_attributes import ALL

    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as exc:
        if exc.status != RPCStatusCode.UNIMPLEMENTED:  # the time-skipping server cannot list
            raise
        known = set()
    # The SDK's SearchAttributeIndexedValueType numbers are the API's IndexedValueType numbers.
    wanted = {key.name: int(key.indexed_value_type) for key in ALL if key.name not in known}
    if wanted:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=wanted)
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.ALREADY_EXISTS:
                raise


async def missing_search_attributes(client: Client, namespace: str) -> list[str] | None:
    """The Dunning* search attributes the namespace lacks (a worker must not start there: its
    accounts' workflow tasks would fail on the first upsert), or None when the server cannot
    say (the time-skipping server; a key without the operator's read permission)."""
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
    from temporalio.service import RPCError

    from workflows.search_attributes import ALL

    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
    except RPCError:
        return None
    known = set(existing.custom_attributes) | set(existing.system_attributes)
    return [key.name for key in ALL if key.name not in known]


def bundled_binary(name: str) -> str:
    """A Temporal binary installed by pip into this environment (`temporal`,
    `temporal-test-server`), so nothing is downloaded at run time."""
    import shutil
    import sys
    from pathlib import Path

    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name} not found beside {sys.executable} nor on PATH; run `make install`"
        )
    return found


def stderr_runtime():
    """A Temporal runtime whose core logs go through Python logging (stderr), never stdout,
    so `dunning simulate --format json` prints nothing but its document there."""
    import logging

    from temporalio.runtime import (
        LogForwardingConfig,
        LoggingConfig,
        Runtime,
        TelemetryConfig,
        TelemetryFilter,
    )

    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            )
        )
    )


# ---- the worker's metrics runtime (README, "Metrics") ------------------------------------------
# One per process and address: a runtime with Prometheus binds its port for the life of the
# process (the SDK cannot stop it), and every client and worker made from it reports there: the
# SDK's own metrics (`temporal_*`) and ours, emitted through the workflow's and the activities'
# metric meters. `dunning worker` and `dunning dev` install it as the SDK's default before
# anything connects, so in `dunning dev` the webhook server's client reports there too.
_METRICS_RUNTIMES: dict[str, Runtime] = {}


class MetricsUnavailable(Exception):
    """The worker's metrics endpoint could not be served (the address is in use)."""


def prometheus_runtime(address: str) -> Runtime:
    """A runtime serving `/metrics` on `address` (host:port); the same one each time for the
    same address, since a second one could not bind it. Raises MetricsUnavailable."""
    from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

    runtime = _METRICS_RUNTIMES.get(address)
    if runtime is None:
        try:
            config = TelemetryConfig(metrics=PrometheusConfig(bind_address=address))
            runtime = Runtime(telemetry=config)
        except ValueError as exc:
            raise MetricsUnavailable(
                f"worker metrics cannot be served on {address}: {exc} "
                "(set DUNNING_WORKER_METRICS_ADDRESS; empty turns them off)"
            ) from None
        _METRICS_RUNTIMES[address] = runtime
    return runtime


def start_worker_metrics(settings: Settings, say: Callable[[str], None]) -> str:
    """Make the metrics runtime the SDK's default for every client this process connects from
    now on; the phrase a start-up line ends with. An address that cannot be bound is reported
    through `say` and the worker runs without metrics rather than not at all (several workers
    on one host share the default address: give each its own)."""
    from temporalio.runtime import Runtime

    address = settings.worker_metrics_address
    if not address:
        return "metrics off"
    try:
        runtime = prometheus_runtime(address)
    except MetricsUnavailable as exc:
        say(f"warning: {exc}")
        return "no metrics"
    Runtime.set_default(runtime, error_if_already_set=False)
    return f"metrics on http://{address}/metrics"
