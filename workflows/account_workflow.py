"""One overdue account, run durably through its ladder.

Read it top to bottom like the ladder it runs:

1. On first start, an account that is already past some steps skips to the latest of them.
2. Loop: take the next step (and any sharing its day), wait until the ladder day reaches it,
   then until the contact window opens in every zone the debtor may be in, and run it.
3. A contact step sends one message; when its channel cannot reach the debtor (no address,
   opted out, undeliverable) the step's fallback channel is used instead, and both are recorded.
4. The handoff step exports the account for the agency and closes it as `handed_off`.

Events (payments, promises, disputes, ...) arrive as updates and signals that change the state
and wake the loop, which then re-plans from the state; nothing else needs to know about them.

Determinism: no I/O, no wall clock, no tz or holiday data here. Time comes from
`workflow.now()`; windows and deadlines come from activities and are recorded in history.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from config.ladder import Channel, Step
    from workflows import ladder_clock
    from workflows import search_attributes as sa
    from workflows.types import (
        AccountEvent,
        AccountInput,
        AccountState,
        AccountView,
        ContactRecord,
        DateSpec,
        ErrorType,
        EventRecord,
        EventResult,
        HandoffRequest,
        Installment,
        PendingMessage,
        PlanState,
        PromiseState,
        ReplyClassification,
        ReplyRequest,
        ScheduleAnswer,
        ScheduleRequest,
        SendReceipt,
        Status,
        SuppressReason,
        WindowRequest,
        send_request,
    )

WINDOW_LOOKUP_TIMEOUT = timedelta(seconds=10)
SEND_START_TO_CLOSE = timedelta(minutes=1)
# A send that cannot complete within this long is abandoned and planned again for the next
# window (same idempotency key), so a provider outage never pushes a message outside hours.
SEND_SCHEDULE_TO_CLOSE = timedelta(minutes=30)
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    non_retryable_error_types=[ErrorType.UNDELIVERABLE, ErrorType.TEMPLATE],
)
# After this many abandoned sends of one step, the step is recorded as suppressed and skipped.
MAX_SEND_ROUNDS = 3
RETRY_SEND_AFTER = timedelta(hours=1)
# A closed account stays open this long to refuse (and record) late events, then completes.
CLOSED_LINGER = timedelta(days=7)
# Regulation F (12 CFR 1006.14(b)): at most 7 calls in 7 days, none within 7 days after a
# conversation. Applied in every jurisdiction: nobody should be called more often than that.
CALL_CAP = 7
CALL_CAP_PERIOD = timedelta(days=7)
PAUSED = (Status.PROMISED, Status.PLAN, Status.HELD, Status.DISPUTED)


@dataclass
class Action:
    """The next thing the account will do, and when."""

    at: datetime
    label: str
    run: Callable[[], Awaitable[None]]
    needs_window: bool = True


@dataclass
class Outcome:
    accepted: bool = True
    reason: str | None = None
    detail: dict[str, str] = field(default_factory=dict)


def refused(reason: str) -> Outcome:
    return Outcome(False, reason)


@workflow.defn(name="DunningAccount")
class AccountWorkflow:
    """The account's ladder, its state, and the handlers that let the world change it."""

    @workflow.init
    def __init__(self, input: AccountInput) -> None:
        self.input = input
        self.ladder = input.ladder
        self.debtor = input.debtor
        self.state: AccountState = input.state or AccountState(
            balance=input.balance, started_at=workflow.now()
        )
        # Bumped by every applied event. The loop notes it before planning and re-plans if it
        # moved, so an event applied while the loop looked up a window is never missed.
        self._changes = 0
        self._send_rounds: dict[str, int] = {}
        self._upserted: dict[str, object] = {}
        self._retry_not_before: datetime | None = None
        # Events and contacts never interleave: an event that arrives while a message is being
        # sent is applied right after the send (see README, "Events and sends").
        self._lock = asyncio.Lock()

    # ---- the ladder ----------------------------------------------------------------------

    @workflow.run
    async def run(self, input: AccountInput) -> AccountView:
        if input.state is None:
            self._enter_ladder()
        else:
            self.state.runs += 1
        while not self.state.status.is_final:
            if self._history_is_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(input.model_copy(update={"state": self.state}))
            seen = self._changes
            action = self._next_action()
            if action is None:
                # Nothing scheduled (a dispute, or the ladder exhausted): wait for an event.
                self._set_next_contact(None)
                await self._wait_for_change(seen)
                continue
            at = action.at
            if action.needs_window:
                found = await self._window_for(action)
                if found is None:
                    continue
                at = found
            if self._changes != seen:
                continue  # an event was applied while we looked up the window
            self._set_next_contact(at, action.label)
            if not await self._sleep_until(at, seen):
                continue  # an event changed the state: plan again
            async with self._lock:
                if self._changes != seen:
                    continue  # an event was applied while we waited for the lock
                await action.run()
        self._set_next_contact(None)
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: False, timeout=CLOSED_LINGER, timeout_summary="refuse late events"
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    def _next_action(self) -> Action | None:
        """What comes next, from the state alone: pending messages, then the pause in force
        (hold, promise, plan), then the ladder. A dispute schedules nothing."""
        state = self.state
        now = workflow.now()
        if state.status == Status.DISPUTED:
            return None
        if state.pending:
            message = state.pending[0]
            return Action(now, message.step, lambda: self._send_pending(message))
        if state.status == Status.HELD and state.hold_until is not None:
            return Action(state.hold_until, "end of hold", self._end_hold, needs_window=False)
        if state.promise is not None:
            return self._promise_action(state.promise)
        if state.plan is not None:
            return self._plan_action(state.plan)
        steps = ladder_clock.due_group(self.ladder.steps, state.next_step_index)
        if not steps:
            return None
        earliest = ladder_clock.step_moment(self.input.due_at, steps[0].day, state.paused_seconds)
        return Action(
            max(now, earliest),
            steps[0].id,
            lambda: self._run_steps(steps),
            needs_window=not all(step.is_handoff for step in steps),
        )

    async def _window_for(self, action: Action) -> datetime | None:
        """The next open contact window at or after the action's time (None: there is none)."""
        try:
            return await self._next_window(action.at)
        except (ActivityError, ApplicationError) as err:
            # A local activity's failure may arrive bare or wrapped: accept both.
            if _error_type(err) != ErrorType.NO_CONTACT_WINDOW:
                raise
        steps = ladder_clock.due_group(self.ladder.steps, self.state.next_step_index)
        if self.state.pending:
            message = self.state.pending.pop(0)
            self._record_suppressed(
                message.step, message.channel, message.template, SuppressReason.NO_CONTACT_WINDOW
            )
            return None
        for step in steps:
            self._record_suppressed(
                step.id,
                step.channel or Channel.LETTER,
                step.template or "",
                SuppressReason.NO_CONTACT_WINDOW,
            )
        self.state.next_step_index += len(steps)
        return None

    def _enter_ladder(self) -> None:
        """Late entry: only the latest passed step (and those sharing its day) will still run."""
        current_day = self._ladder_day()
        skipped, first = ladder_clock.late_entry(self.ladder.steps, current_day)
        self.state.skipped_steps = skipped
        self.state.next_step_index = first
        self._publish()

    async def _run_steps(self, steps: list[Step]) -> None:
        for step in steps:
            if step.is_handoff:
                await self._hand_off(step)
                return
            assert step.channel is not None and step.template is not None
            done = await self._contact(
                step.id,
                step.channel,
                step.template,
                step.fallback,
                deadline_days=step.deadline_days,
            )
            if not done:
                return  # the send will be tried again at a later window
            self.state.next_step_index += 1
        self._publish()

    # ---- contacts --------------------------------------------------------------------------

    async def _contact(
        self,
        step_id: str,
        channel: Channel,
        template: str,
        fallback: Channel | None,
        fallback_for: Channel | None = None,
        deadline_days: int | None = None,
        extras: dict[str, Any] | None = None,
    ) -> bool:
        """Send one message for a step, or record why not and try the fallback.

        Returns False only when the send could not complete now and should be tried again.
        """
        reason = self._suppress_reason(channel)
        if reason is None:
            try:
                receipt = await self._send(step_id, channel, template, deadline_days, extras)
            except ActivityError as err:
                kind = _error_type(err)
                if kind in (ErrorType.UNDELIVERABLE, ErrorType.OPTED_OUT):
                    reason = (
                        SuppressReason.OPTED_OUT
                        if kind == ErrorType.OPTED_OUT
                        else SuppressReason.UNDELIVERABLE
                    )
                    self.state.unusable_channels[channel.value] = reason
                elif kind == ErrorType.TEMPLATE:
                    reason = SuppressReason.TEMPLATE_ERROR
                    workflow.logger.error("step %s: %s", step_id, err.cause)
                else:
                    return self._send_failed(step_id, channel, template)
            else:
                if channel == Channel.VOICEMAIL:
                    self.state.call_attempts.append(receipt.sent_at)
                self.state.contacts.append(
                    ContactRecord(
                        at=receipt.sent_at,
                        step=step_id,
                        channel=channel,
                        template=template,
                        outcome="sent",
                        locale=receipt.locale,
                        message_id=receipt.message_id,
                        idempotency_key=self._idempotency_key(step_id, channel),
                        deadline=receipt.deadline,
                        fallback_for=fallback_for,
                    )
                )
                return True
        self._record_suppressed(step_id, channel, template, reason, fallback_for)
        if fallback is not None:
            return await self._contact(
                step_id,
                fallback,
                template,
                None,
                fallback_for=channel,
                deadline_days=deadline_days,
                extras=extras,
            )
        return True

    async def _send(
        self,
        step_id: str,
        channel: Channel,
        template: str,
        deadline_days: int | None,
        extras: dict[str, Any] | None,
    ) -> SendReceipt:
        request = send_request(
            self.input,
            idempotency_key=self._idempotency_key(step_id, channel),
            at=workflow.now(),
            balance=self.state.balance,
            days_past_due=int(self._ladder_day()),
            step=step_id,
            channel=channel,
            template=template,
            deadline_days=deadline_days,
            **(extras or {}),
        )
        return await workflow.execute_activity(
            "send_message",
            request,
            result_type=SendReceipt,
            start_to_close_timeout=SEND_START_TO_CLOSE,
            schedule_to_close_timeout=SEND_SCHEDULE_TO_CLOSE,
            retry_policy=SEND_RETRY,
            summary=f"{step_id} by {channel.value}",
        )

    def _send_failed(self, step_id: str, channel: Channel, template: str) -> bool:
        """The provider stayed unavailable: try again at a later window, a few times at most."""
        rounds = self._send_rounds.get(step_id, 0) + 1
        self._send_rounds[step_id] = rounds
        self.state.events.append(
            EventRecord(at=workflow.now(), type="send_failed", detail={"step": step_id})
        )
        if rounds < MAX_SEND_ROUNDS:
            self._retry_not_before = workflow.now() + RETRY_SEND_AFTER
            return False
        self._record_suppressed(step_id, channel, template, "send_failed")
        return True

    def _idempotency_key(self, step_id: str, channel: Channel) -> str:
        """Workflow id + step + channel + the step's attempt (not the activity's attempt)."""
        attempt = self.state.step_attempts.get(step_id, 1)
        return f"{workflow.info().workflow_id}/{step_id}/{channel.value}/{attempt}"

    def _suppress_reason(self, channel: Channel) -> str | None:
        if self.state.contact_ceased:
            return SuppressReason.CEASED
        if self.state.status == Status.DISPUTED:
            return SuppressReason.DISPUTED
        if channel.value in self.state.unusable_channels:
            return self.state.unusable_channels[channel.value]
        if self.debtor.address_for(channel) is None:
            return SuppressReason.NO_ADDRESS
        if channel == Channel.VOICEMAIL and self._call_capped():
            return SuppressReason.CALL_CAP
        return None

    def _call_capped(self) -> bool:
        """7 calls in the last 7 days, or a conversation in the last 7 days (Regulation F).

        Behind a patch: an account recorded before the cap existed replays as it ran."""
        if not workflow.patched("call-cap"):
            return False
        since = workflow.now() - CALL_CAP_PERIOD
        self.state.call_attempts = [at for at in self.state.call_attempts if at > since]
        talked = self.state.last_conversation_at
        return len(self.state.call_attempts) >= CALL_CAP or (talked is not None and talked > since)

    def _record_suppressed(
        self,
        step_id: str,
        channel: Channel,
        template: str,
        reason: str,
        fallback_for: Channel | None = None,
    ) -> None:
        self.state.contacts.append(
            ContactRecord(
                at=workflow.now(),
                step=step_id,
                channel=channel,
                template=template,
                outcome="suppressed",
                reason=str(reason),
                fallback_for=fallback_for,
            )
        )

    # ---- handoff ---------------------------------------------------------------------------

    async def _hand_off(self, step: Step) -> None:
        now = workflow.now()
        reference = await workflow.execute_activity(
            "export_handoff",
            HandoffRequest(
                account_id=self.input.account_id,
                debtor=self.debtor,
                balance=self.state.balance,
                currency=self.input.currency,
                ladder_name=self.ladder.name,
                ladder_version=self.ladder.version,
                due_at=self.input.due_at,
                handed_off_at=now,
                contacts=self.state.contacts,
                events=self.state.events,
            ),
            result_type=str,
            start_to_close_timeout=timedelta(minutes=1),
            summary="export for the agency",
        )
        self.state.handoff_reference = reference
        self.state.events.append(EventRecord(at=now, type="handoff", detail={"step": step.id}))
        self.state.next_step_index = len(self.ladder.steps)
        self._close(Status.HANDED_OFF)

    def _close(self, status: Status) -> None:
        self._end_pause()
        self.state.status = status
        self.state.promise = None
        self.state.plan = None
        self.state.pending = []
        self.state.hold_until = None
        self.state.closed_at = workflow.now()
        self.state.next_contact_at = None
        self._publish()

    # ---- waiting -----------------------------------------------------------------------------

    async def _next_window(self, not_before: datetime) -> datetime:
        if self._retry_not_before is not None and self._retry_not_before > not_before:
            not_before = self._retry_not_before
        self._retry_not_before = None
        return await workflow.execute_local_activity(
            "next_contact_time",
            WindowRequest(
                not_before=not_before,
                zones=self.debtor.zones,
                window=self.ladder.contact_window,
                holidays=self.ladder.holidays,
            ),
            result_type=datetime,
            start_to_close_timeout=WINDOW_LOOKUP_TIMEOUT,
        )

    async def _sleep_until(self, at: datetime, seen: int) -> bool:
        """True when `at` was reached; False when an event changed the state first."""
        delay = at - workflow.now()
        if delay <= timedelta(0):
            return True
        try:
            await workflow.wait_condition(
                lambda: self._changes != seen, timeout=delay, timeout_summary="next contact"
            )
        except TimeoutError:
            return True
        return False

    async def _wait_for_change(self, seen: int) -> None:
        await workflow.wait_condition(lambda: self._changes != seen)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.get_current_history_length() > self.input.history_limit
            or info.is_continue_as_new_suggested()
        )

    # ---- pauses: promise, plan, hold ----------------------------------------------------------

    def _base_status(self) -> Status:
        return Status.CEASED if self.state.contact_ceased else Status.ACTIVE

    def _pause(self, status: Status) -> None:
        """The ladder stops counting days; paused days never count toward ladder days."""
        if self.state.paused_since is None:
            self.state.paused_since = workflow.now()
        self.state.status = status

    def _end_pause(self) -> None:
        if self.state.paused_since is not None:
            paused = workflow.now() - self.state.paused_since
            self.state.paused_seconds += int(paused.total_seconds())
            self.state.paused_since = None

    def _resume_ladder(self) -> None:
        self._end_pause()
        self.state.status = self._base_status()

    def _milestone(self, kind: str, **detail: str) -> None:
        self.state.events.append(EventRecord(at=workflow.now(), type=kind, detail=detail))

    async def _end_hold(self) -> None:
        self.state.hold_until = None
        self._milestone("hold_ended")
        self._resume_ladder()

    def _promise_action(self, promise: PromiseState) -> Action:
        reminder = self.ladder.promise.reminder
        if reminder and promise.reminder_at is not None and not promise.reminder_sent:
            return Action(
                promise.reminder_at,
                "promise reminder",
                self._promise_reminder,
                needs_window=False,  # the reminder moment already is an open window
            )
        return Action(promise.due_by, "promise due", self._promise_due, needs_window=False)

    async def _promise_reminder(self) -> None:
        promise = self.state.promise
        reminder = self.ladder.promise.reminder
        assert promise is not None and reminder is not None
        promise.reminder_sent = True
        await self._contact(
            f"promise-{promise.number}-reminder",
            reminder.channel,
            reminder.template,
            None,
            extras={"promise_amount": promise.amount, "promise_date": promise.date},
        )

    async def _promise_due(self) -> None:
        """Not paid by the date plus grace: broken; the broken message goes out at the next
        open window and the ladder resumes where it paused."""
        promise = self.state.promise
        assert promise is not None
        self.state.promise = None
        self._milestone("promise_broken", promised=str(promise.amount), paid=str(promise.paid))
        broken = self.ladder.promise.broken
        if broken is not None:
            self.state.pending.append(
                PendingMessage(
                    step=f"promise-{promise.number}-broken",
                    channel=broken.channel,
                    template=broken.template,
                    promise_amount=promise.amount,
                    promise_date=promise.date,
                )
            )
        self._resume_ladder()

    def _plan_action(self, plan: PlanState) -> Action | None:
        installment = next((i for i in plan.installments if i.outcome == "pending"), None)
        if installment is None:
            return None
        reminder = self.ladder.plan.reminder
        if reminder and installment.reminder_at is not None and not installment.reminder_sent:
            return Action(
                installment.reminder_at,
                f"installment {installment.number} reminder",
                lambda: self._installment_reminder(installment),
                needs_window=False,
            )
        return Action(
            installment.due_by,
            f"installment {installment.number} due",
            lambda: self._installment_due(installment),
            needs_window=False,
        )

    def _installment_extras(self, installment: Installment) -> dict[str, Any]:
        assert self.state.plan is not None
        return {
            "installment_amount": installment.amount,
            "installment_date": installment.date,
            "installment_number": installment.number,
            "installment_count": len(self.state.plan.installments),
        }

    async def _installment_reminder(self, installment: Installment) -> None:
        plan, reminder = self.state.plan, self.ladder.plan.reminder
        assert plan is not None and reminder is not None
        installment.reminder_sent = True
        await self._contact(
            f"plan-{plan.number}-installment-{installment.number}-reminder",
            reminder.channel,
            reminder.template,
            None,
            extras=self._installment_extras(installment),
        )

    async def _installment_due(self, installment: Installment) -> None:
        """Missed: the `missed` message at the next open window; after `default_after_missed`
        misses the plan ends and the ladder resumes."""
        plan = self.state.plan
        assert plan is not None
        installment.outcome = "missed"
        plan.missed += 1
        self._milestone("installment_missed", number=str(installment.number))
        missed = self.ladder.plan.missed
        if missed is not None:
            self.state.pending.append(
                PendingMessage(
                    step=f"plan-{plan.number}-installment-{installment.number}-missed",
                    channel=missed.channel,
                    template=missed.template,
                    **self._installment_extras(installment),
                )
            )
        if plan.missed >= self.ladder.plan.default_after_missed:
            self.state.plan = None
            self._milestone("plan_default", missed=str(plan.missed))
            self._resume_ladder()

    async def _send_pending(self, message: PendingMessage) -> None:
        extras = message.message_details()
        done = await self._contact(
            message.step, message.channel, message.template, None, extras=extras
        )
        if done:
            self.state.pending.remove(message)

    # ---- events --------------------------------------------------------------------------------

    @workflow.update
    async def apply_event(self, event: AccountEvent) -> EventResult:
        """Apply one event; accepted or refused, it is recorded. A repeated `event_id` is
        acknowledged with the first answer and changes nothing."""
        async with self._lock:
            if event.event_id and event.event_id in self.state.seen_events:
                first = self.state.seen_events[event.event_id]
                return first.model_copy(update={"duplicate": True})
            position = len(self.state.events)
            outcome = await self._apply(event)
            self._record_event(event, outcome, position)
            result = EventResult(
                accepted=outcome.accepted,
                reason=outcome.reason,
                status=self.state.status,
                detail=outcome.detail,
            )
            if event.event_id:
                self.state.seen_events[event.event_id] = result
            self._changes += 1
            self._publish()
            return result

    @apply_event.validator
    def _validate_event(self, event: AccountEvent) -> None:
        """Reject only malformed events (nothing is recorded); business refusals are answered
        and recorded by the handler."""
        needs = {
            "payment": ("amount",),
            "dispute_resolved": ("outcome",),
            "opt_out": ("channel",),
            "hold": ("days",),
            "delivery_failed": ("channel",),
            "reply": ("text",),
            "plan": ("installments",),
        }.get(event.type, ())
        missing = [name for name in needs if getattr(event, name) is None]
        if missing:
            raise ValueError(f"{event.type} needs {', '.join(missing)}")
        if event.type == "promise" and event.date is None and event.due_in_days is None:
            raise ValueError("promise needs date or due_in_days")

    def _record_event(
        self, event: AccountEvent, outcome: Outcome, position: int | None = None
    ) -> None:
        """Record the event before the milestones it caused (position: where it began)."""
        detail = dict(outcome.detail)
        if event.amount is not None:
            detail.setdefault("amount", str(event.amount))
        if event.channel is not None:
            detail.setdefault("channel", event.channel.value)
        detail.setdefault("source", event.source)
        record = EventRecord(
            at=workflow.now(),
            type=event.type,
            accepted=outcome.accepted,
            reason=outcome.reason,
            event_id=event.event_id,
            detail=detail,
        )
        self.state.events.insert(len(self.state.events) if position is None else position, record)

    async def _apply(self, event: AccountEvent) -> Outcome:
        status = self.state.status
        if status.is_final:
            return refused(f"account is closed ({status.value})")
        handler = getattr(self, f"_on_{event.type}")
        return await handler(event)

    async def _on_payment(self, event: AccountEvent) -> Outcome:
        amount = event.amount or Decimal(0)
        if amount <= 0:
            return refused("amount must be greater than 0")
        state = self.state
        state.balance -= amount
        if state.promise is not None:
            state.promise.paid += amount
        if state.plan is not None:
            state.plan.paid += amount
        if state.promise is not None and state.promise.paid >= state.promise.amount:
            self._milestone("promise_kept", paid=str(state.promise.paid))
            state.promise = None
            self._resume_ladder()
        if state.plan is not None:
            self._credit_installments(state.plan)
        if state.balance <= self.ladder.min_balance:
            self._close(Status.PAID)
        return Outcome()

    def _credit_installments(self, plan: PlanState) -> None:
        due = Decimal(0)
        for installment in plan.installments:
            due += installment.amount
            if installment.outcome == "pending" and plan.paid >= due:
                installment.outcome = "kept"
                self._milestone("installment_kept", number=str(installment.number))
        if all(installment.outcome != "pending" for installment in plan.installments):
            self.state.plan = None
            self._milestone("plan_completed")
            self._resume_ladder()

    async def _schedule(
        self, items: list[DateSpec], grace_days: int, days_before: int | None
    ) -> ScheduleAnswer:
        return await workflow.execute_local_activity(
            "schedule_dates",
            ScheduleRequest(
                now=workflow.now(),
                zones=self.debtor.zones,
                window=self.ladder.contact_window,
                holidays=self.ladder.holidays,
                grace_days=grace_days,
                days_before=days_before,
                items=items,
            ),
            result_type=ScheduleAnswer,
            start_to_close_timeout=WINDOW_LOOKUP_TIMEOUT,
        )

    async def _on_promise(self, event: AccountEvent) -> Outcome:
        state, policy = self.state, self.ladder.promise
        if state.status == Status.DISPUTED:
            return refused("the account is disputed")
        if state.plan is not None:
            return refused("a payment plan is running")
        amount = event.amount if event.amount is not None else state.balance
        if amount <= 0:
            return refused("amount must be greater than 0")
        if amount > state.balance:
            return refused(f"amount {amount} is more than the balance {state.balance}")
        reminder = policy.reminder.days_before if policy.reminder else None
        answer = await self._schedule(
            [DateSpec(date=event.date, due_in_days=event.due_in_days)],
            policy.grace_days,
            reminder,
        )
        when = answer.items[0]
        if when.date < answer.today:
            return refused(f"the date {when.date} is in the past")
        if (when.date - answer.today).days > policy.max_days:
            return refused(f"the date {when.date} is more than {policy.max_days} days away")
        if state.status == Status.HELD:
            state.hold_until = None
        state.promises += 1
        state.promise = PromiseState(
            number=state.promises,
            amount=amount,
            date=when.date,
            due_by=when.due_by,
            reminder_at=when.reminder_at,
        )
        self._pause(Status.PROMISED)
        return Outcome(detail={"date": when.date.isoformat(), "amount": str(amount)})

    async def _on_plan(self, event: AccountEvent) -> Outcome:
        state, policy = self.state, self.ladder.plan
        specs = event.installments or []
        if state.status == Status.DISPUTED:
            return refused("the account is disputed")
        if not specs:
            return refused("a plan needs at least one installment")
        if len(specs) > policy.max_installments:
            return refused(f"more than {policy.max_installments} installments")
        if any(spec.amount <= 0 for spec in specs):
            return refused("every installment must be greater than 0")
        total = sum((spec.amount for spec in specs), Decimal(0))
        if total < state.balance:
            return refused(f"the installments sum to {total}, below the balance {state.balance}")
        reminder = policy.reminder.days_before if policy.reminder else None
        answer = await self._schedule(
            [DateSpec(date=spec.date, due_in_days=spec.due_in_days) for spec in specs],
            policy.grace_days,
            reminder,
        )
        dates = [item.date for item in answer.items]
        if dates[0] < answer.today:
            return refused(f"the first installment date {dates[0]} is in the past")
        if any(later <= earlier for earlier, later in itertools.pairwise(dates)):
            return refused("installment dates must be in increasing order")
        if state.promise is not None:
            self._milestone("promise_replaced")
            state.promise = None
        state.hold_until = None
        state.plans += 1
        state.plan = PlanState(
            number=state.plans,
            installments=[
                Installment(
                    number=index,
                    amount=spec.amount,
                    date=item.date,
                    due_by=item.due_by,
                    reminder_at=item.reminder_at,
                )
                for index, (spec, item) in enumerate(zip(specs, answer.items, strict=True), 1)
            ],
        )
        self._pause(Status.PLAN)
        return Outcome(detail={"installments": str(len(specs)), "total": str(total)})

    async def _on_dispute(self, event: AccountEvent) -> Outcome:
        state = self.state
        if state.status == Status.DISPUTED:
            return refused("already disputed")
        if state.promise is not None:
            self._milestone("promise_cancelled")
            state.promise = None
        if state.plan is not None:
            self._milestone("plan_cancelled")
            state.plan = None
        state.pending = []
        state.hold_until = None
        self._pause(Status.DISPUTED)
        return Outcome(detail={"reason": event.reason or ""})

    async def _on_dispute_resolved(self, event: AccountEvent) -> Outcome:
        if self.state.status != Status.DISPUTED:
            return refused("the account is not disputed")
        if event.outcome == "upheld":
            self._close(Status.CLOSED)
        else:
            self._resume_ladder()
        return Outcome(detail={"outcome": event.outcome or ""})

    async def _on_opt_out(self, event: AccountEvent) -> Outcome:
        assert event.channel is not None
        self.state.unusable_channels[event.channel.value] = SuppressReason.OPTED_OUT
        return Outcome()

    async def _on_delivery_failed(self, event: AccountEvent) -> Outcome:
        assert event.channel is not None
        self.state.unusable_channels.setdefault(event.channel.value, SuppressReason.UNDELIVERABLE)
        return Outcome(detail={"code": event.code or ""})

    async def _on_conversation(self, event: AccountEvent) -> Outcome:
        """A person answered one of our calls: no further call for 7 days."""
        self.state.last_conversation_at = workflow.now()
        return Outcome()

    async def _on_cease(self, event: AccountEvent) -> Outcome:
        if self.state.contact_ceased:
            return refused("contact has already ceased")
        self.state.contact_ceased = True
        self.state.pending = []
        if self.state.status == Status.ACTIVE:
            self.state.status = Status.CEASED
        return Outcome()

    async def _on_bankruptcy(self, event: AccountEvent) -> Outcome:
        self._close(Status.CLOSED)
        return Outcome()

    async def _on_deceased(self, event: AccountEvent) -> Outcome:
        self._close(Status.CLOSED)
        return Outcome()

    async def _on_hold(self, event: AccountEvent) -> Outcome:
        days = event.days or 0
        if days < 1:
            return refused("days must be at least 1")
        if self.state.status not in (Status.ACTIVE, Status.CEASED):
            return refused(f"cannot hold an account that is {self.state.status.value}")
        self.state.hold_until = workflow.now() + timedelta(days=days)
        self._pause(Status.HELD)
        return Outcome(detail={"until": self.state.hold_until.isoformat()})

    async def _on_resume(self, event: AccountEvent) -> Outcome:
        if self.state.status != Status.HELD:
            return refused("the account is not on hold")
        self.state.hold_until = None
        self._resume_ladder()
        return Outcome()

    async def _on_reply(self, event: AccountEvent) -> Outcome:
        """Classify the debtor's words, record the reply, then apply what it means."""
        classification = await workflow.execute_activity(
            "classify_reply",
            ReplyRequest(
                text=event.text or "",
                locale=self.debtor.locale,
                received_at=workflow.now(),
                zone=self.debtor.primary_zone,
            ),
            result_type=ReplyClassification,
            start_to_close_timeout=timedelta(seconds=30),
            summary="classify a reply",
        )
        kind = classification.kind
        detail = {"kind": kind, "matched": classification.matched or ""}
        derived: AccountEvent | None = None
        if kind == "opt_out":
            if event.channel is None:
                return Outcome(False, "an opt-out reply needs its channel", detail)
            derived = AccountEvent(type="opt_out", channel=event.channel, source="reply")
        elif kind == "promise":
            derived = AccountEvent(
                type="promise",
                date=classification.promise_date,
                amount=classification.amount,
                source="reply",
            )
        elif kind == "dispute":
            derived = AccountEvent(type="dispute", reason=event.text, source="reply")
        if derived is None:
            # callback, payment_link, paid, unknown: recorded for a person to read.
            return Outcome(detail=detail)
        position = len(self.state.events)
        outcome = await self._apply(derived)
        self._record_event(derived, outcome, position)
        return Outcome(outcome.accepted, outcome.reason, {**detail, **outcome.detail})

    # ---- what ops see ------------------------------------------------------------------------

    def _ladder_day(self) -> float:
        return ladder_clock.ladder_day(
            self.input.due_at, workflow.now(), self.state.paused_seconds, self.state.paused_since
        )

    def _set_next_contact(self, at: datetime | None, label: str | None = None) -> None:
        self.state.next_contact_at = at
        self._publish(label)

    def _publish(self, next_step: str | None = None) -> None:
        """Search attributes for the Temporal UI (no personal data) and a readable summary."""
        status = self.state.status.value
        details = f"{status}; ladder day {int(self._ladder_day())}"
        if next_step is not None and self.state.next_contact_at is not None:
            details += (
                f"; next: {next_step} at {self.state.next_contact_at.isoformat(timespec='minutes')}"
            )
        workflow.set_current_details(details)
        if not self.input.search_attributes:
            return
        values: dict[str, object] = {
            sa.STATUS.name: status,
            sa.LADDER.name: self.ladder.name,
            sa.NEXT_CONTACT.name: self.state.next_contact_at,
            sa.DAYS_PAST_DUE.name: max(0, int(self._ladder_day())),
        }
        if values == self._upserted:
            return
        self._upserted = values
        updates = [
            sa.STATUS.value_set(status),
            sa.LADDER.value_set(self.ladder.name),
            sa.DAYS_PAST_DUE.value_set(max(0, int(self._ladder_day()))),
            sa.NEXT_CONTACT.value_set(self.state.next_contact_at)
            if self.state.next_contact_at is not None
            else sa.NEXT_CONTACT.value_unset(),
        ]
        workflow.upsert_search_attributes(updates)

    def _view(self) -> AccountView:
        steps = self.ladder.steps
        index = self.state.next_step_index
        return AccountView(
            account_id=self.input.account_id,
            ladder_name=self.ladder.name,
            ladder_version=self.ladder.version,
            status=self.state.status,
            balance=self.state.balance,
            currency=self.input.currency,
            ladder_day=round(self._ladder_day(), 4),
            due_at=self.input.due_at,
            zones=self.debtor.zones,
            locale=self.debtor.locale,
            next_contact_at=self.state.next_contact_at,
            next_step=steps[index].id if index < len(steps) else None,
            contacts=self.state.contacts,
            events=self.state.events,
            skipped_steps=self.state.skipped_steps,
            unusable_channels=self.state.unusable_channels,
            promise=self.state.promise,
            plan=self.state.plan,
            hold_until=self.state.hold_until,
            history_length=workflow.info().get_current_history_length(),
            runs=self.state.runs,
            as_of=workflow.now(),
        )

    @workflow.query
    def status(self) -> AccountView:
        """The whole state of the account, as of the workflow's last task."""
        return self._view()


def _error_type(err: ActivityError | ApplicationError) -> str | None:
    cause = err if isinstance(err, ApplicationError) else err.cause
    return cause.type if isinstance(cause, ApplicationError) else None


def initial_search_attributes(
    input: AccountInput, contact_keys: list[str] | None = None
) -> TypedSearchAttributes:
    """Set at start so an account is filterable (and findable by contact) before its first task."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(sa.STATUS, Status.ACTIVE.value),
        SearchAttributePair(sa.LADDER, input.ladder.name),
    ]
    if contact_keys:
        pairs.append(SearchAttributePair(sa.CONTACT, contact_keys))
    return TypedSearchAttributes(pairs)
