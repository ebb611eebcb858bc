"""Wire a Temporal worker: the account workflow and its activities on the task queue.

Nothing else lives here. The transport is chosen by settings (the outbox by default); tests and
`dunning simulate` pass their own (an in-memory outbox).
"""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from activities.account_activities import AccountActivities
from activities.render import Creditor, TemplateRenderer
from activities.transports.base import Transport
from activities.transports.outbox import FileOutbox
from config.settings import Settings
from workflows.account_workflow import AccountWorkflow


def renderer_for(settings: Settings) -> TemplateRenderer:
    creditor = Creditor(
        name=settings.creditor_name,
        phone=settings.creditor_phone,
        email=settings.creditor_email,
        address=settings.creditor_address,
        hours=settings.creditor_hours,
    )
    return TemplateRenderer(settings.templates_dir, creditor, settings.default_locale)


def transport_for(settings: Settings) -> Transport:
    if settings.transport == "live":
        raise NotImplementedError(
            "DUNNING_TRANSPORT=live: the SendGrid and Twilio transports are not built yet; "
            "use DUNNING_TRANSPORT=outbox"
        )
    return FileOutbox(settings.outbox_dir)


def build_worker(
    client: Client,
    settings: Settings,
    *,
    transport: Transport | None = None,
    handoff_dir: Path | None = None,
    task_queue: str | None = None,
    max_cached_workflows: int = 1000,
) -> Worker:
    activities = AccountActivities(
        renderer=renderer_for(settings),
        transport=transport or transport_for(settings),
        payment_link_template=settings.payment_link_template,
        handoff_dir=handoff_dir or settings.handoff_dir,
    )
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        max_cached_workflows=max_cached_workflows,
        workflows=[AccountWorkflow],
        activities=[
            activities.next_contact_time,
            activities.schedule_dates,
            activities.classify_reply,
            activities.send_message,
            activities.export_handoff,
        ],
    )


async def run_worker(client: Client, settings: Settings) -> None:
    """Run until cancelled (Ctrl-C); in-flight activities finish or are retried elsewhere."""
    worker = build_worker(client, settings)
    await worker.run()
