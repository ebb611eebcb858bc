"""The account list, one page at a time, from Temporal's visibility (the Dunning* search
attributes), and the portfolio for the overview. Nothing here reads a workflow's state: a list
of a few thousand accounts costs one visibility call per page, not a query per account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError, RPCStatusCode

from inbound.accounts import AccountsUnavailable
from workflows.search_attributes import DAYS_PAST_DUE, LADDER, NEXT_CONTACT, STATUS, STEP
from workflows.types import WORKFLOW_ID_PREFIX


@dataclass(frozen=True)
class AccountRow:
    account_id: str
    status: str | None
    ladder: str | None
    step: str | None
    days_past_due: int | None
    next_contact: datetime | None
    running: bool


@dataclass(frozen=True)
class AccountPage:
    rows: list[AccountRow]
    next_page: bytes | None


class BadQuery(Exception):
    """Visibility refused the query (a search attribute not registered on this server, say)."""


class AccountSearch(Protocol):
    async def page(self, query: str, page_size: int, token: bytes | None) -> AccountPage: ...


class ClientSource(Protocol):
    async def client(self) -> Client: ...


def account_row(execution: WorkflowExecution) -> AccountRow:
    attributes = execution.typed_search_attributes
    return AccountRow(
        account_id=execution.id.removeprefix(WORKFLOW_ID_PREFIX),
        status=attributes.get(STATUS),
        ladder=attributes.get(LADDER),
        step=attributes.get(STEP),
        days_past_due=attributes.get(DAYS_PAST_DUE),
        next_contact=attributes.get(NEXT_CONTACT),
        running=execution.close_time is None,
    )


@dataclass
class TemporalSearch:
    """Pages of `client.list_workflows(query)`, through the webhook server's connection."""

    source: ClientSource

    async def page(self, query: str, page_size: int, token: bytes | None) -> AccountPage:
        client = await self.source.client()
        listing = client.list_workflows(
            query, page_size=page_size, next_page_token=token, rpc_timeout=timedelta(seconds=10)
        )
        try:
            await listing.fetch_next_page()
        except RPCError as exc:
            if exc.status == RPCStatusCode.INVALID_ARGUMENT:
                raise BadQuery(exc.message) from None
            raise AccountsUnavailable(f"Temporal visibility: {exc.message}") from None
        rows = [account_row(execution) for execution in listing.current_page or []]
        return AccountPage(rows, listing.next_page_token or None)
