"""What every route of the webhook server shares: the settings, the way to accounts, the shared
store (call scripts to read, SendGrid's `processed` events to write), the clock, and applying
an event with the log line that goes with it.

One `WebhookContext` per application, kept in `app.state`; routes and signature checks get it
as a FastAPI dependency (`Depends(webhook_context)`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from fastapi import Request

from config.settings import Settings
from inbound.accounts import AccountGateway, UnknownAccount
from inbound.answers import answer_text, twiml_message
from inbound.metrics import WebhookMetrics
from store.protocols import CallScript, CallScriptStore, EmailEvents, ProcessedEmail
from workflows.types import AccountEvent, AccountView, EventResult

log = logging.getLogger("dunning.webhooks")

TWIML = "application/xml"
MAX_REPLY_CHARS = 2000  # a reply (SMS or email) is cut to this many characters


class WebhookStore(Protocol):
    """The part of the shared store the webhook server uses (a `store.Store` is one). It must
    be the workers' store: they save the call scripts Twilio fetches here, and reconcile
    emails in doubt against the `processed` events recorded here."""

    @property
    def call_scripts(self) -> CallScriptStore: ...

    @property
    def email_events(self) -> EmailEvents: ...


@dataclass(frozen=True)
class WebhookContext:
    settings: Settings
    accounts: AccountGateway
    store: WebhookStore
    clock: Callable[[], float]
    metrics: WebhookMetrics | None = None  # the app's (README, "Metrics")

    async def apply(self, account_id: str, event: AccountEvent) -> EventResult | None:
        """The event applied to the account; None when there is no such account."""
        try:
            result = await self.accounts.apply(account_id, event)
        except UnknownAccount as exc:
            log.info("event %s for %s not applied: %s", event.type, account_id, exc)
            self._count(event, "no_account")
            return None
        self._count(event, event_answer(result))
        log.info(
            "event %s for %s: %s%s",
            event.type,
            account_id,
            "accepted" if result.accepted else f"refused ({result.reason})",
            " (duplicate)" if result.duplicate else "",
        )
        return result

    async def open_views(self, ids: list[str]) -> list[AccountView]:
        views = [await self.accounts.view(account_id) for account_id in ids]
        return [view for view in views if view is not None and not view.status.is_final]

    async def call_script(self, token: str) -> CallScript | None:
        """The stored script of a voicemail call (a database read: off the event loop)."""
        return await asyncio.to_thread(self.store.call_scripts.get, token)

    async def record_processed(self, events: list[ProcessedEmail]) -> None:
        """SendGrid accepted these emails: what a worker with an email in doubt looks for
        (database writes: off the event loop; idempotent, SendGrid retries its posts)."""
        if events:
            await asyncio.to_thread(self.store.email_events.record_all, events)

    async def several_accounts(self, views: list[AccountView], event: AccountEvent) -> str:
        """One sender, several open accounts: an opt-out is about the number (or address), so
        it applies to each; anything else could be about any of them, so a person takes it.
        Returns the TwiML answer (an SMS gets it; an email reply does not)."""
        from activities.replies import classify_reply

        view = views[0]
        received = datetime.now(UTC)
        kind = classify_reply(event.text or "", view.locale, received, view.zones[0]).kind
        log.info("inbound %s: %d open accounts share the sender", event.event_id, len(views))
        if kind == "opt_out":
            for each in views:
                await self.apply(each.account_id, event)
            return twiml_message(None)
        text = answer_text("several", view.locale, phone=self.settings.creditor_phone)
        return twiml_message(text)

    def _count(self, event: AccountEvent, answer: str) -> None:
        if self.metrics is not None:
            self.metrics.event(event.type, answer)


def event_answer(result: EventResult) -> str:
    """The `answer` label: a repeated event id is a duplicate, whatever its first answer."""
    if result.duplicate:
        return "duplicate"
    return "accepted" if result.accepted else "refused"


def webhook_context(request: Request) -> WebhookContext:
    return request.app.state.webhooks
