"""The console's pages: overview, account list, one account, and the account's actions.

Every route depends on the login (`LoggedIn`), every POST on the CSRF check (`Posted`); the
guard in `inbound/ops/app.py` has already turned away requests without a login. Events go
through the webhook server's `WebhookContext.apply`: the workflow's validated update, as from
the CLI and the webhooks, logged and counted (`dunning_webhook_events_total`) like every event
the server applies. After an action the browser is redirected to the account page (POST → 303
→ GET, so a reload sends nothing), which shows the answer from a signed note.

An action whose update was not answered in time (`AccountsUnavailable`) may still be applied:
Temporal keeps the update queued. So the form comes back with the same event id (a resubmit
is then a duplicate, not a second payment) and says to check the timeline first.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from inbound.accounts import AccountsUnavailable
from inbound.ops import actions as forms
from inbound.ops import timeline
from inbound.ops.app import PREFIX, Console, LoggedIn, OpsConsole, Posted
from inbound.ops.filters import (
    PAGE_SIZES,
    FilterProblem,
    page_text,
    page_token,
    parse_filter,
    visibility_query,
)
from inbound.ops.listing import BadQuery
from workflows.types import AccountView, Status

log = logging.getLogger("dunning.ops")
router = APIRouter()
PERIODS = (7, 30, 90)
NOT_CONFIRMED = "not confirmed: it may still be applied; check the timeline before submitting again"


def _notes(ops: OpsConsole) -> URLSafeTimedSerializer:
    """Signs the answer shown after an action's redirect (no one can put words there)."""
    return ops.auth.signer("dunning-ops-answer")


# ---- overview --------------------------------------------------------------------------------


@router.get("/")
async def overview(
    request: Request, ops: Console, who: LoggedIn, days: int = Query(30)
) -> Response:
    if days not in PERIODS:
        days = 30
    built = await ops.reports.get(days)
    return ops.page(
        "overview.html",
        who=who,
        csrf=ops.auth.csrf_token(who),
        days=days,
        periods=PERIODS,
        report=built.html,
        problem=built.problem,
        note=built.note,
        built_at=built.built_at,
    )


# ---- the list ----------------------------------------------------------------------------------


@router.get("/accounts")
async def account_list(request: Request, ops: Console, who: LoggedIn) -> Response:
    params = dict(request.query_params)
    values = {key: params.get(key, "") for key in ("status", "ladder", "step")}
    values |= {key: params.get(key, "") for key in ("min_days", "max_days", "contact_before")}
    common = {
        "who": who,
        "csrf": ops.auth.csrf_token(who),
        "values": values,
        "statuses": [status.value for status in Status],
        "page_sizes": PAGE_SIZES,
    }
    try:
        chosen = parse_filter(params)
    except FilterProblem as problem:
        return ops.page("accounts.html", 400, problem=str(problem), rows=[], **common)
    query = visibility_query(chosen)
    token = page_token(chosen.page) if chosen.page else None
    try:
        found = await ops.search.page(query, chosen.page_size, token)
    except BadQuery as exc:
        log.warning("ops: visibility refused %r: %s", query, exc)
        problem = "Temporal could not run this filter (are the search attributes registered?)"
        return ops.page("accounts.html", 400, problem=problem, rows=[], **common)
    next_link = None
    if found.next_page is not None:
        next_link = {**chosen.without_page(), "page": page_text(found.next_page)}
    return ops.page(
        "accounts.html",
        rows=found.rows,
        next_link=next_link,
        page_size=chosen.page_size,
        first_page=chosen.page is None,
        first_link=chosen.without_page(),
        problem=None,
        **common,
    )


# ---- one account -------------------------------------------------------------------------------


def account_id_ok(account_id: str) -> bool:
    from intake.accounts_csv import ACCOUNT_ID

    return bool(ACCOUNT_ID.match(account_id))


def debtor_today(view: AccountView) -> datetime:
    return datetime.now(ZoneInfo(view.zones[0]))


def paused_until(view: AccountView) -> str | None:
    """Why and until when the ladder waits, in words."""
    if view.status == Status.PROMISED and view.promise is not None:
        return f"promise of {view.promise.amount} {view.currency} by {view.promise.date}"
    if view.status == Status.PLAN and view.plan is not None:
        pending = [i for i in view.plan.installments if i.outcome == "pending"]
        if pending:
            return (
                f"plan: next installment {pending[0].amount} {view.currency} by {pending[0].date}"
            )
    if view.status == Status.HELD and view.hold_until is not None:
        return f"hold until {view.hold_until:%Y-%m-%d %H:%M} UTC"
    if view.status == Status.DISPUTED:
        return "dispute: until it is resolved"
    return None


async def _account_page(
    ops: OpsConsole,
    who,
    account_id: str,
    *,
    answer: dict | None = None,
    problem: str | None = None,
    failed_action: str | None = None,
    form: dict[str, str] | None = None,
    view: AccountView | None = None,
    status: int | None = None,
) -> Response:
    """The account page; `view` when the caller has it already (an action whose update went
    unanswered: asking the account again would likely go unanswered too)."""
    if not account_id_ok(account_id):
        return ops.page("error.html", 404, message="No such account.", who=who)
    if view is None:
        view = await ops.context.accounts.view(account_id)
    audit = getattr(ops.context.store, "audit", None)
    lookup = audit.content if audit is not None else None
    if view is not None:
        entries = await asyncio.to_thread(timeline.from_view, view, lookup)
    else:
        records = await asyncio.to_thread(audit.records, account_id) if audit else []
        if not records:
            return ops.page("error.html", 404, message=f"No account {account_id}.", who=who)
        entries = await asyncio.to_thread(timeline.from_audit, records, lookup)
    if status is None:
        status = 422 if problem is not None else 200
    return ops.page(
        "account.html",
        status,
        who=who,
        csrf=ops.auth.csrf_token(who),
        account_id=account_id,
        view=view,
        paused=paused_until(view) if view is not None else None,
        entries=entries,
        actions=forms.ACTIONS if view is not None and not view.status.is_final else (),
        event_ids={action.name: forms.new_event_id() for action in forms.ACTIONS}
        | ({failed_action: (form or {}).get("event_id", "")} if failed_action else {}),
        answer=answer,
        problem=problem,
        failed_action=failed_action,
        form=form or {},
    )


@router.get("/accounts/{account_id}")
async def account_page(
    account_id: str, ops: Console, who: LoggedIn, answer: str | None = Query(None, max_length=2048)
) -> Response:
    note = None
    if answer:
        try:
            note = _notes(ops).loads(answer, max_age=600)
        except BadSignature:
            note = None
    return await _account_page(ops, who, account_id, answer=note)


@router.post("/accounts/{account_id}/{action}")
async def account_action(
    account_id: str, action: str, request: Request, ops: Console, who: Posted
) -> Response:
    chosen = forms.BY_NAME.get(action)
    if chosen is None or not account_id_ok(account_id):
        return ops.page("error.html", 404, message="No such action or account.", who=who)
    form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    view = await ops.context.accounts.view(account_id)
    if view is None:
        return ops.page("error.html", 404, message=f"No open account {account_id}.", who=who)
    try:
        event = forms.parse_event(chosen, form, today=debtor_today(view).date(), source=who.source)
    except forms.FormProblem as problem:
        return await _account_page(
            ops, who, account_id, problem=str(problem), failed_action=action, form=form, view=view
        )
    try:
        result = await ops.context.apply(account_id, event)
    except AccountsUnavailable as exc:
        log.warning(
            "ops event %s (%s) for %s by %s not confirmed: %s",
            event.type,
            event.event_id,
            account_id,
            who.user,
            exc,
        )
        return await _account_page(
            ops,
            who,
            account_id,
            problem=f"{chosen.label}: {NOT_CONFIRMED}",
            failed_action=action,
            form=form,
            view=view,
            status=503,
        )
    if result is None:  # the workflow is gone (closed meanwhile, or retention passed)
        reason = f"no open account {account_id}"
        note = {"event": event.type, "accepted": False, "reason": reason, "status": None}
    else:
        note = {
            "event": event.type,
            "accepted": result.accepted,
            "reason": result.reason,
            "status": result.status.value,
            "duplicate": result.duplicate,
        }
    log.info(
        "ops event %s for %s by %s: %s",
        event.type,
        account_id,
        who.user,
        "accepted" if note["accepted"] else f"refused ({note['reason']})",
    )
    target = f"{PREFIX}/accounts/{account_id}?answer={_notes(ops).dumps(note)}"
    return RedirectResponse(target, 303)
