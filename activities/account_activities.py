"""The account workflow's activities: everything with I/O or with data that may change.

- `next_contact_time` (run as a local activity): contact-window arithmetic over tz and holiday
  data, recorded in history so an upgrade of that data never changes a running account.
- `send_message`: render a template and hand it to the transport, idempotent on the key the
  workflow derives from the account, the step, the channel and the step's send round; never
  after the end of the contact window the send was planned in (`OutsideWindow`), and
  recording when the provider accepted the message.
- `export_handoff`: write the account's file for the collection agency.
- `record_account_closed`: note a closed account in the account registry (the shared store),
  so its workflow id is never used again after Temporal's retention forgets it (a local
  activity first for accounts on the current rules: workflows/account/calls.py).

The worker runs these `async def` activities on its event loop, so each keeps blocking work off
it: rendering (jinja2, Babel, holiday data) and file writes run in a thread
(`asyncio.to_thread`), and the transports do the same with their SDK calls, SQLite and files.
`next_contact_time` and `schedule_dates` are short CPU-bound local activities and stay inline.

Activities raise `ApplicationError` with a type from `ErrorType` for business failures the
workflow reacts to (an unreachable address → fallback); anything else is retried by Temporal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit_activities import write_batch
from activities.calendar import (
    NoContactWindow,
    ladder_day_start,
    next_open_moment,
    request_calendar,
    scheduled_dates,
    window_end,
)
from activities.channels.base import (
    CredentialsRejected,
    OutsideWindow,
    ProviderRefused,
    ProviderUnavailable,
    Transport,
    TransportError,
    Undeliverable,
)
from activities.outgoing import (
    content_document,
    prepare_message,
)
from activities.render import TemplateRenderer
from config.ladder import Channel
from store.protocols import AccountRegistry, AuditLog
from workflows.activity_types import (
    ClosedAccount,
    HandoffRequest,
    ReplyClassification,
    ReplyRequest,
    ScheduleAnswer,
    ScheduleRequest,
    SendReceipt,
    SendRequest,
    WindowRequest,
)
from workflows.types import ErrorType


@dataclass
class AccountActivities:
    """Bound to one renderer and one transport; a worker registers the bound methods."""

    renderer: TemplateRenderer
    transport: Transport
    payment_link_template: str
    handoff_dir: Path
    accounts: AccountRegistry | None = None  # None: closed accounts are not recorded
    # Where a send with `audit` stores the rendered message (None: not stored, content None).
    audit: AuditLog | None = None

    @activity.defn(name="next_contact_time")
    async def next_contact_time(self, request: WindowRequest) -> datetime:
        if request.audit is not None and self.audit is not None:
            try:
                # Bounded well inside the look-up's own timeout: a hanging store must not
                # hold the account up (it looks up again without the records).
                await asyncio.wait_for(
                    asyncio.to_thread(write_batch, self.audit, request.audit),
                    AUDIT_WRITE_TIMEOUT.total_seconds(),
                )
            except Exception as exc:  # the store: never let it hold the look-up up
                raise ApplicationError(
                    f"audit records not written: {exc}",
                    type=ErrorType.AUDIT_UNAVAILABLE,
                    non_retryable=True,
                ) from None
        not_before = request.not_before
        if request.ladder_day is not None:
            start = request.ladder_day
            not_before = max(
                not_before,
                ladder_day_start(start.due_at, start.day, start.paused_seconds, request.zones[0]),
            )
        try:
            return next_open_moment(
                not_before, request.zones, request.window, request_calendar(request)
            )
        except NoContactWindow as exc:
            raise ApplicationError(
                str(exc), type=ErrorType.NO_CONTACT_WINDOW, non_retryable=True
            ) from None

    @activity.defn(name="schedule_dates")
    async def schedule_dates(self, request: ScheduleRequest) -> ScheduleAnswer:
        """Local dates of a promise or a plan → deadlines and reminder moments."""
        return scheduled_dates(request)

    @activity.defn(name="classify_reply")
    async def classify_reply(self, request: ReplyRequest) -> ReplyClassification:
        from activities.replies import classify_reply

        # dateparser is slow and CPU-bound: keep it off the worker's event loop.
        result = await asyncio.to_thread(
            classify_reply, request.text, request.locale, request.received_at, request.zone
        )
        return ReplyClassification(
            kind=result.kind,
            promise_date=result.promise_date,
            amount=result.amount,
            matched=result.matched,
            channel=Channel(result.channel) if result.channel is not None else None,
        )

    @activity.defn(name="send_message")
    async def send_message(self, request: SendRequest) -> SendReceipt:
        """Render and deliver, never after the end of the window the send was planned in
        (computed here from the request, so requests of older workflows get it too)."""
        async with heartbeating():
            return await self._send(request)

    async def _send(self, request: SendRequest) -> SendReceipt:
        clock = ActivityClock.start()
        not_after = window_end(
            request.at, request.debtor.zones, request.window, request_calendar(request)
        )
        prepared = await asyncio.to_thread(
            prepare_message, request, self.renderer, self.payment_link_template
        )
        message = prepared.message
        now = clock.now()
        if getattr(self.transport, "reconciles", False):
            # A live transport first settles a claim an earlier attempt left (that message
            # may have gone out while the window was open) and refuses only a *new* provider
            # call after the end, which it reads on its own wall clock: hand the end over in
            # that clock's frame (the same instant on a real server).
            wall_end = datetime.now(UTC) + ((not_after or now) - now)
            outgoing = replace(message, not_after=wall_end)
        elif not_after is None or now >= not_after:
            raise outside_window(request, not_after, now)
        else:
            outgoing = replace(message, not_after=not_after)
        content = None
        if request.audit and self.audit is not None:
            # Before the provider has it: an audited message is never out without its record.
            content = await asyncio.to_thread(
                self.audit.put_content,
                content_document(request, prepared),
                "application/json",
                account_id=request.account_id,
            )
        try:
            delivery = await self.transport.deliver(outgoing)
        except TransportError as exc:
            raise activity_error(exc, not_after) from None
        if delivery.unconfirmed:
            activity.logger.warning(
                "send %s: treated as sent but unconfirmed (see the send ledger)", request.step
            )
        if delivery.duplicate:
            activity.logger.info("send %s: already delivered, not sent again", request.step)
        return SendReceipt(
            message_id=delivery.message_id,
            locale=message.locale,
            deadline=prepared.deadline,
            sent_at=accepted_at(delivery.sent_at, request.at, clock.now()),
            duplicate=delivery.duplicate,
            confirmed=not delivery.unconfirmed,
            content=content,
            validation_notice=prepared.rendered.validation_notice,
            validation_period_ends=prepared.rendered.validation_period_ends,
        )

    @activity.defn(name="export_handoff")
    async def export_handoff(self, request: HandoffRequest) -> str:
        """One JSON file per account for the agency; rewriting it on retry is harmless."""
        return await asyncio.to_thread(write_handoff, self.handoff_dir, request)

    @activity.defn(name="record_account_closed")
    async def record_account_closed(self, request: ClosedAccount) -> None:
        """Idempotent (an upsert in the registry): a retry records the same close again."""
        if self.accounts is None:
            return
        await asyncio.to_thread(
            self.accounts.record_closed,
            request.workflow_id,
            request.status.value,
            request.closed_at,
        )


HEARTBEAT_EVERY = 5.0  # seconds; the workflow's heartbeat timeout is 15 s


@contextlib.asynccontextmanager
async def heartbeating(every: float = HEARTBEAT_EVERY) -> AsyncIterator[None]:
    """Heartbeat while the body runs, so Temporal retries a dead worker's send within the
    heartbeat timeout (the retry then reconciles the claim it left) instead of waiting out
    the start-to-close timeout."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


@dataclass(frozen=True)
class ActivityClock:
    """The server's time inside an activity, on a real server and on the time-skipping test
    server alike: when this attempt started (server time; on the test server the skipped time,
    which a transport's wall clock is years away from) plus the monotonic time since.

    The attempt's start is the later of its scheduled and started times: a real server
    schedules a retry at its backoff's end, the test server at the previous failure."""

    attempt_began: datetime
    monotonic: float

    @classmethod
    def start(cls) -> ActivityClock:
        info = activity.info()
        began = max(info.current_attempt_scheduled_time, info.started_time)
        return cls(began, time.monotonic())

    def now(self) -> datetime:
        return self.attempt_began + timedelta(seconds=time.monotonic() - self.monotonic)


def accepted_at(reported: datetime | None, planned: datetime, now: datetime) -> datetime:
    """When the provider accepted the message: the transport's report, kept within [planned,
    now] (a provider's clock or a test transport's wall clock may be far off), else now."""
    if reported is None:
        return now
    return min(max(reported, planned), max(now, planned))


def outside_window(
    request: SendRequest, not_after: datetime | None, now: datetime
) -> ApplicationError:
    """Nothing was sent: the window the send was planned in has closed (or was never open at
    the planned moment). The detail is the window's end, from which the workflow plans again."""
    if not_after is None:  # no end to plan from: the workflow waits a send round's spacing
        return ApplicationError(
            f"send {request.step}: the contact window is not open at the planned moment "
            f"{request.at.isoformat()} (now {now.isoformat()}): not sent",
            type=ErrorType.OUTSIDE_WINDOW,
            non_retryable=True,
        )
    return ApplicationError(
        f"send {request.step}: the contact window closed at {not_after.isoformat()} "
        f"(now {now.isoformat()}): not sent, planned for the next window",
        not_after.isoformat(),
        type=ErrorType.OUTSIDE_WINDOW,
        non_retryable=True,
    )


def write_handoff(handoff_dir: Path, request: HandoffRequest) -> str:
    """Write `<handoff_dir>/<UTC date>/<account>.json` atomically (temp file, then rename)."""
    day = request.handed_off_at.astimezone(UTC).date().isoformat()
    target = handoff_dir / day / f"{request.account_id}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = request.model_dump(mode="json")
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=target.parent, delete=False, suffix=".tmp"
    ) as handle:
        json.dump(payload, handle, ensure_ascii=False, indent=2)
    os.replace(handle.name, target)
    return str(target)


# The audit records a window look-up carries: written within this, or left for later.
AUDIT_WRITE_TIMEOUT = timedelta(seconds=3)
# A worker whose credentials were refused retries this rarely: ops must fix a setting.
CREDENTIALS_RETRY_DELAY = timedelta(minutes=5)


def activity_error(exc: TransportError, not_after: datetime | None = None) -> ApplicationError:
    """A transport failure as the workflow and Temporal's retry policy understand it."""
    if isinstance(exc, OutsideWindow):
        details = (not_after.isoformat(),) if not_after is not None else ()
        return ApplicationError(
            str(exc), *details, type=ErrorType.OUTSIDE_WINDOW, non_retryable=True
        )
    if isinstance(exc, Undeliverable):
        kind = ErrorType.OPTED_OUT if exc.reason == "opted_out" else ErrorType.UNDELIVERABLE
        return ApplicationError(str(exc), type=kind, non_retryable=True)
    if isinstance(exc, ProviderUnavailable):
        delay = timedelta(seconds=exc.retry_after) if exc.retry_after else None
        return ApplicationError(str(exc), type="ProviderUnavailable", next_retry_delay=delay)
    if isinstance(exc, CredentialsRejected):
        return ApplicationError(
            str(exc), type="CredentialsRejected", next_retry_delay=CREDENTIALS_RETRY_DELAY
        )
    if isinstance(exc, ProviderRefused):
        return ApplicationError(str(exc), type="ProviderRefused", non_retryable=True)
    return ApplicationError(str(exc), type=type(exc).__name__)
