"""The webhook server's only way to accounts: find them by contact, read them, send events.

`TemporalAccounts` is the real one (search attributes + the `status` query + the `apply_event`
update, through `intake/events.py` like the CLI). Tests of the HTTP layer may pass another
`AccountGateway`; the end-to-end tests use this one on the real dev server.

When Temporal cannot be reached, every method raises `AccountsUnavailable`; the server answers
503 so the provider retries later instead of losing the webhook.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from intake.contact_keys import contact_key
from intake.events import EventNotDelivered, send_event
from workflows.search_attributes import CONTACT
from workflows.types import AccountEvent, AccountView, EventResult, workflow_id_for

ContactKind = Literal["phone", "email"]
WORKFLOW_PREFIX = workflow_id_for("")
# Under Twilio's 15-second webhook timeout, with room for the look-up and the answer.
UPDATE_TIMEOUT = 8.0


class AccountsUnavailable(Exception):
    """Temporal is unreachable: do not acknowledge the webhook."""


class UnknownAccount(Exception):
    """No such account, or the event is malformed for it."""


class AccountGateway(Protocol):
    async def find(self, kind: ContactKind, value: str) -> list[str]:
        """Ids of the running accounts whose debtor has this phone number or email."""

    async def view(self, account_id: str) -> AccountView | None: ...

    async def apply(self, account_id: str, event: AccountEvent) -> EventResult: ...

    async def ready(self) -> bool: ...


class TemporalAccounts:
    def __init__(self, connect: Callable[[], Awaitable[Client]], link_secret: str) -> None:
        self._connect = connect
        self._client: Client | None = None
        self._lock = asyncio.Lock()
        self.link_secret = link_secret

    async def client(self) -> Client:
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(self._connect(), timeout=5)
                except (RPCError, RuntimeError, OSError, TimeoutError) as exc:
                    raise AccountsUnavailable(f"Temporal unreachable: {exc}") from None
            return self._client

    async def ready(self) -> bool:
        try:
            client = await self.client()
            await asyncio.wait_for(client.service_client.check_health(), timeout=2)
        except (AccountsUnavailable, RPCError, RuntimeError, TimeoutError):
            return False
        return True

    async def find(self, kind: ContactKind, value: str) -> list[str]:
        key = contact_key(self.link_secret, kind, value)
        if key is None:
            return []
        client = await self.client()
        query = f"{CONTACT.name} = '{key}' AND ExecutionStatus = 'Running'"
        try:
            ids = [execution.id async for execution in client.list_workflows(query)]
        except RPCError as exc:
            raise AccountsUnavailable(f"Temporal visibility: {exc.message}") from None
        return sorted(
            {wid.removeprefix(WORKFLOW_PREFIX) for wid in ids if wid.startswith(WORKFLOW_PREFIX)}
        )

    async def view(self, account_id: str) -> AccountView | None:
        client = await self.client()
        handle = client.get_workflow_handle(workflow_id_for(account_id))
        try:
            return await asyncio.wait_for(
                handle.query("status", result_type=AccountView), UPDATE_TIMEOUT
            )
        except TimeoutError:
            raise AccountsUnavailable(f"account {account_id} did not answer in time") from None
        except WorkflowQueryFailedError:
            return None
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                return None
            raise AccountsUnavailable(f"Temporal: {exc.message}") from None

    async def apply(self, account_id: str, event: AccountEvent) -> EventResult:
        """The event, applied; unanswered within `UPDATE_TIMEOUT` (no worker, or the account
        busy with a send during a provider outage) → AccountsUnavailable. The update stays
        queued at Temporal, and a provider's retry carries the same event id."""
        client = await self.client()
        try:
            return await asyncio.wait_for(send_event(client, account_id, event), UPDATE_TIMEOUT)
        except EventNotDelivered as exc:
            raise UnknownAccount(str(exc)) from None
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise AccountsUnavailable(f"no answer from account {account_id} in time") from None
        except RPCError as exc:
            raise AccountsUnavailable(f"Temporal: {exc.message}") from None
