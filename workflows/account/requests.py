"""What the workflow asks its activities, built from the state: pure, so the shell only runs it."""

from __future__ import annotations

from datetime import datetime

from config.ladder import Channel
from workflows.account import compliance, contacts, view
from workflows.account.actions import Action, Contact
from workflows.account.apply import ScheduleNeeded
from workflows.account.events import Reply
from workflows.activity_types import (
    AuditBatch,
    ClosedAccount,
    HandoffRequest,
    LadderDayStart,
    ReplyRequest,
    ScheduleRequest,
    SendRequest,
    WindowRequest,
    send_request,
)
from workflows.types import AccountInput, AccountState


def window(
    action: Action,
    state: AccountState,
    account: AccountInput,
    audit: tuple[AuditBatch, object] | None = None,
) -> WindowRequest:
    """The next open window at or after the action's time (and the local start of its day);
    `audit`: records for the look-up to write first."""
    ladder_day = None
    if action.ladder_day is not None:
        ladder_day = LadderDayStart(
            due_at=account.due_at, day=action.ladder_day, paused_seconds=state.paused_seconds
        )
    return WindowRequest(
        not_before=action.at,
        zones=account.debtor.zones,
        window=account.ladder.contact_window,
        holidays=account.ladder.holidays,
        ladder_day=ladder_day,
        audit=audit[0] if audit is not None else None,
        **calendar_rules(account),
    )


def calendar_rules(account: AccountInput) -> dict[str, object]:
    """The profile's calendar (uk: Sundays and the debtor's bank holidays closed)."""
    return {
        "jurisdiction": account.ladder.jurisdiction.value,
        "region": account.debtor.region,
        "sunday_and_bank_holiday_contact": (
            account.ladder.compliance.sunday_and_bank_holiday_contact
        ),
    }


def schedule(need: ScheduleNeeded, account: AccountInput, now: datetime) -> ScheduleRequest:
    return ScheduleRequest(
        now=now,
        zones=account.debtor.zones,
        window=account.ladder.contact_window,
        holidays=account.ladder.holidays,
        grace_days=need.grace_days,
        days_before=need.days_before,
        items=need.items,
        **calendar_rules(account),
    )


def send(
    contact: Contact,
    channel: Channel,
    state: AccountState,
    account: AccountInput,
    now: datetime,
    workflow_id: str,
) -> SendRequest:
    return send_request(
        account,
        idempotency_key=contacts.idempotency_key(workflow_id, state, contact.step, channel),
        at=now,
        balance=state.balance,
        days_past_due=int(view.ladder_day(state, account, now)),
        step=contact.step,
        channel=channel,
        template=contact.template,
        deadline_days=contact.deadline_days,
        validation_notice=compliance.carries_notice(state, account, channel),
        itemization=account.itemization,
        ladder_version=account.ladder.version,
        audit=state.compliance,
        workflow_id=workflow_id,
        **contact.details,
    )


def reply(event: Reply, account: AccountInput, now: datetime) -> ReplyRequest:
    return ReplyRequest(
        text=event.text,
        locale=account.debtor.locale,
        received_at=now,
        zone=account.debtor.primary_zone,
    )


def handoff(state: AccountState, account: AccountInput, now: datetime) -> HandoffRequest:
    return HandoffRequest(
        account_id=account.account_id,
        debtor=account.debtor,
        balance=state.balance,
        currency=account.currency,
        ladder_name=account.ladder.name,
        ladder_version=account.ladder.version,
        due_at=account.due_at,
        handed_off_at=now,
        contacts=state.contacts,
        events=state.events,
    )


def closed(
    state: AccountState, account: AccountInput, workflow_id: str, now: datetime
) -> ClosedAccount:
    return ClosedAccount(
        workflow_id=workflow_id,
        account_id=account.account_id,
        status=state.status,
        closed_at=state.closed_at or now,
    )
