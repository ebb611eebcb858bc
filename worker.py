"""Wire a Temporal worker: the account workflow and its activities on the task queue.

Nothing else lives here. The transport is chosen by settings (the outbox by default); tests and
`dunning simulate` pass their own (an in-memory outbox). Metrics are the client's runtime's
(`connection/temporal.py`): a worker reports wherever the client it is given reports.
"""

from __future__ import annotations

import compileall
import contextlib
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.account_activities import AccountActivities
from activities.audit_activities import AuditActivities
from activities.channels.base import Transport
from activities.channels.metered import MeteredTransport
from activities.channels.outbox import FileOutbox
from activities.housekeeping import housekeeping_activities
from activities.render import Creditor, TemplateRenderer
from config.ladder import Channel
from config.settings import Settings
from store import open_store
from store.protocols import AccountRegistry, AuditLog, Store
from workflows.account_workflow import AccountWorkflow
from workflows.housekeeping_workflow import HOUSEKEEPING_WORKFLOWS

GRACEFUL_SHUTDOWN = timedelta(seconds=30)


def renderer_for(settings: Settings) -> TemplateRenderer:
    creditor = Creditor(
        name=settings.creditor_name,
        phone=settings.creditor_phone,
        email=settings.creditor_email,
        address=settings.creditor_address,
        hours=settings.creditor_hours,
    )
    return TemplateRenderer(settings.templates_dir, creditor, settings.default_locale)


def open_shared_store(settings: Settings) -> Store:
    """The store every worker and webhook server shares (`DUNNING_DATABASE_URL`)."""
    return open_store(settings.store_url, migrate=settings.database_auto_migrate)


def transport_for(settings: Settings, store: Store | None = None) -> Transport:
    """The outbox (default, offline) or the live providers, as the settings say."""
    if settings.transport == "outbox":
        return FileOutbox(settings.outbox_dir)
    return live_transport(settings, store=store)


def send_lease(settings: Settings) -> timedelta:
    """How long a pending claim may belong to an attempt still running: the claim is taken
    right before the provider call, which ends within the provider timeout; twice that plus a
    margin covers a slow answer and the ledger write after it."""
    return timedelta(seconds=2 * settings.provider_timeout_seconds + 10)


def live_transport(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Transport:
    """SendGrid, Twilio and the letter printer behind the send ledger.

    Everything the workers must agree on comes from the shared store: the send ledger, the
    call scripts the webhook server reads, SendGrid's `processed` events it writes, and the
    providers' rate limits. `clock` (tests) stamps the claims and the transport's decisions
    alike. Imported here, not at the top: the provider SDKs are only needed by a live worker,
    and the CLI's other commands start faster without them.
    """
    from activities.channels.letters.printer import LetterPrinter
    from activities.channels.live import LiveTransport, Throttle
    from activities.channels.sendgrid.send import SendGridEmail
    from activities.channels.twilio.send import TwilioSms, TwilioVoicemail

    assert settings.sendgrid_api_key and settings.twilio_auth_token and settings.twilio_account_sid
    now = clock or (lambda: datetime.now(UTC))
    if store is None:
        store = open_store(settings.store_url, migrate=settings.database_auto_migrate, clock=now)
    twilio = {
        "account_sid": settings.twilio_account_sid,
        "auth_token": settings.twilio_auth_token.get_secret_value(),
        "base_url": settings.twilio_api_base_url,
        "public_base_url": settings.public_base_url,
        "from_number": settings.twilio_from,
        "timeout": settings.provider_timeout_seconds,
    }
    return LiveTransport(
        senders={
            Channel.EMAIL: SendGridEmail(
                api_key=settings.sendgrid_api_key.get_secret_value(),
                host=settings.sendgrid_api_host,
                sender_email=settings.sender_email,
                sender_name=settings.creditor_name,
                public_base_url=settings.public_base_url,
                link_secret=settings.link_secret.get_secret_value(),
                timeout=settings.provider_timeout_seconds,
                events=store.email_events,
                processed_wait=timedelta(seconds=settings.sendgrid_processed_wait_seconds),
            ),
            Channel.SMS: TwilioSms(
                messaging_service_sid=settings.twilio_messaging_service_sid, **twilio
            ),
            Channel.VOICEMAIL: TwilioVoicemail(scripts=store.call_scripts, **twilio),
        },
        rates={
            Channel.EMAIL: settings.email_sends_per_second,
            Channel.SMS: settings.twilio_sends_per_second,
            Channel.VOICEMAIL: settings.twilio_sends_per_second,
        },
        ledger=store.ledger,
        letters=LetterPrinter(settings.letters_path, sender_lines(settings)),
        throttle=Throttle(store.rate_limits),
        credentials_recheck=timedelta(seconds=settings.credentials_recheck_seconds),
        lease=send_lease(settings),
        clock=now,
    )


def sender_lines(settings: Settings) -> tuple[str, ...]:
    """The creditor's return address on letters: name, then the address split at commas."""
    return (settings.creditor_name, *(p.strip() for p in settings.creditor_address.split(",")))


def compile_workflow_modules(workflows: list[type]) -> None:
    """Write the workflow modules' bytecode once, at start-up.

    The sandbox re-executes a workflow's module for every workflow it creates (a new account,
    or one evicted from the sticky cache): that is how it isolates them. Without a `.pyc`
    (PYTHONDONTWRITEBYTECODE, or an editable install never compiled) each of those compiles
    the source again: about 6 ms of CPU per account for account_workflow.py, a tenth of the
    worker's work on an import (README, "Performance"). A read-only tree is left as it is.
    """
    for workflow_class in workflows:
        path = getattr(sys.modules[workflow_class.__module__], "__file__", None)
        if path:
            with contextlib.suppress(OSError):
                compileall.compile_file(path, quiet=2)


def build_worker(
    client: Client,
    settings: Settings,
    *,
    transport: Transport | None = None,
    handoff_dir: Path | None = None,
    task_queue: str | None = None,
    max_cached_workflows: int | None = None,
    store: Store | None = None,
    accounts: AccountRegistry | None = None,
    audit: AuditLog | None = None,
) -> Worker:
    """A worker for the account workflow, and with a `store` for housekeeping too.

    `store`: the shared store (a production worker passes `open_shared_store(settings)`): the
    live transport's ledger, the registry closed accounts are recorded in, and the store
    housekeeping prunes. Without one (tests, `dunning simulate`) nothing shared is touched;
    `accounts` alone records closes in a registry of the caller's, and `audit` alone writes the
    audit trail (records and sent messages) to a log of the caller's; without either, nothing
    is audited (`record_audit` succeeds and records nothing).
    """
    audit_log = audit or (store.audit if store is not None else None)
    activities = AccountActivities(
        renderer=renderer_for(settings),
        # Each delivery counted on the worker's metrics endpoint (README, "Metrics").
        transport=MeteredTransport(transport or transport_for(settings, store)),
        payment_link_template=settings.payment_link_template,
        handoff_dir=handoff_dir or settings.handoff_dir,
        accounts=accounts or (store.accounts if store is not None else None),
        audit=audit_log,
    )
    audit_activities = AuditActivities(audit=audit_log)
    workflows: list[type] = [AccountWorkflow]
    housekeeping: list[Callable[..., Any]] = []
    if store is not None:
        workflows += HOUSEKEEPING_WORKFLOWS
        housekeeping = [*housekeeping_activities(store, settings, client)]
    compile_workflow_modules(workflows)
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        max_cached_workflows=settings.worker_max_cached_workflows
        if max_cached_workflows is None
        else max_cached_workflows,
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        workflow_runner=SandboxedWorkflowRunner()
        if settings.worker_sandbox
        else UnsandboxedWorkflowRunner(),
        # A deploy lets sends in flight finish rather than cancelling them mid-call.
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        workflows=workflows,
        activities=[
            activities.next_contact_time,
            activities.schedule_dates,
            activities.classify_reply,
            activities.send_message,
            activities.export_handoff,
            activities.record_account_closed,
            audit_activities.record_audit,
            *housekeeping,
        ],
    )


async def run_worker(client: Client, settings: Settings) -> None:
    """Run until cancelled (Ctrl-C); in-flight activities finish or are retried elsewhere."""
    store = open_shared_store(settings)
    try:
        await build_worker(client, settings, store=store).run()
    finally:
        store.close()
