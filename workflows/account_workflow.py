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

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from config.ladder import Channel, Step
    from workflows import ladder_clock
    from workflows import search_attributes as sa
    from workflows.types import (
        AccountInput,
        AccountState,
        AccountView,
        ContactRecord,
        ErrorType,
        EventRecord,
        HandoffRequest,
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
        self._wake = False
        self._send_rounds: dict[str, int] = {}
        self._upserted: dict[str, object] = {}
        self._retry_not_before: datetime | None = None

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
            steps = ladder_clock.due_group(self.ladder.steps, self.state.next_step_index)
            if not steps:
                # The ladder is exhausted without a handoff: the account stays open for events.
                self._set_next_contact(None)
                await self._wait_for_change()
                continue
            at = await self._when_to_run(steps)
            if at is None:
                continue
            self._set_next_contact(at, steps[0])
            if not await self._sleep_until(at):
                continue  # an event changed the state: plan again
            await self._run_steps(steps)
        self._set_next_contact(None)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    def _enter_ladder(self) -> None:
        """Late entry: only the latest passed step (and those sharing its day) will still run."""
        current_day = self._ladder_day()
        skipped, first = ladder_clock.late_entry(self.ladder.steps, current_day)
        self.state.skipped_steps = skipped
        self.state.next_step_index = first
        self._publish()

    async def _when_to_run(self, steps: list[Step]) -> datetime | None:
        """When the ladder day reaches these steps, at the next open contact window."""
        earliest = max(
            workflow.now(),
            ladder_clock.step_moment(self.input.due_at, steps[0].day, self.state.paused_seconds),
        )
        if all(step.is_handoff for step in steps):
            return earliest  # handing off is not a contact: no window needed
        try:
            return await self._next_window(earliest)
        except ActivityError as err:
            if _error_type(err) != ErrorType.NO_CONTACT_WINDOW:
                raise
            for step in steps:
                self._record_suppressed(
                    step.id,
                    step.channel or Channel.LETTER,
                    step.template or "",
                    SuppressReason.NO_CONTACT_WINDOW,
                )
            self.state.next_step_index += len(steps)
            return None

    async def _run_steps(self, steps: list[Step]) -> None:
        for step in steps:
            if step.is_handoff:
                await self._hand_off(step)
                return
            assert step.channel is not None and step.template is not None
            done = await self._contact(step, step.channel, step.template, step.fallback)
            if not done:
                return  # the send will be tried again at a later window
            self.state.next_step_index += 1
        self._publish()

    # ---- contacts --------------------------------------------------------------------------

    async def _contact(
        self,
        step: Step,
        channel: Channel,
        template: str,
        fallback: Channel | None,
        fallback_for: Channel | None = None,
    ) -> bool:
        """Send one message for a step, or record why not and try the fallback.

        Returns False only when the send could not complete now and should be tried again.
        """
        reason = self._suppress_reason(channel)
        if reason is None:
            try:
                receipt = await self._send(step, channel, template)
            except ActivityError as err:
                kind = _error_type(err)
                if kind == ErrorType.UNDELIVERABLE:
                    self.state.unusable_channels[channel.value] = SuppressReason.UNDELIVERABLE
                    reason = SuppressReason.UNDELIVERABLE
                elif kind == ErrorType.TEMPLATE:
                    reason = SuppressReason.TEMPLATE_ERROR
                    workflow.logger.error("step %s: %s", step.id, err.cause)
                else:
                    return self._send_failed(step, channel, template)
            else:
                self.state.contacts.append(
                    ContactRecord(
                        at=receipt.sent_at,
                        step=step.id,
                        channel=channel,
                        template=template,
                        outcome="sent",
                        locale=receipt.locale,
                        message_id=receipt.message_id,
                        idempotency_key=self._idempotency_key(step.id, channel),
                        deadline=receipt.deadline,
                        fallback_for=fallback_for,
                    )
                )
                return True
        self._record_suppressed(step.id, channel, template, reason, fallback_for)
        if fallback is not None:
            return await self._contact(step, fallback, template, None, fallback_for=channel)
        return True

    async def _send(self, step: Step, channel: Channel, template: str) -> SendReceipt:
        request = send_request(
            self.input,
            idempotency_key=self._idempotency_key(step.id, channel),
            at=workflow.now(),
            balance=self.state.balance,
            days_past_due=int(self._ladder_day()),
            step=step.id,
            channel=channel,
            template=template,
            deadline_days=step.deadline_days,
        )
        return await workflow.execute_activity(
            "send_message",
            request,
            result_type=SendReceipt,
            start_to_close_timeout=SEND_START_TO_CLOSE,
            schedule_to_close_timeout=SEND_SCHEDULE_TO_CLOSE,
            retry_policy=SEND_RETRY,
            summary=f"{step.id} by {channel.value}",
        )

    def _send_failed(self, step: Step, channel: Channel, template: str) -> bool:
        """The provider stayed unavailable: try again at a later window, a few times at most."""
        rounds = self._send_rounds.get(step.id, 0) + 1
        self._send_rounds[step.id] = rounds
        self.state.events.append(
            EventRecord(at=workflow.now(), type="send_failed", detail={"step": step.id})
        )
        if rounds < MAX_SEND_ROUNDS:
            self._retry_not_before = workflow.now() + RETRY_SEND_AFTER
            return False
        self._record_suppressed(step.id, channel, template, "send_failed")
        return True

    def _idempotency_key(self, step_id: str, channel: Channel) -> str:
        """Workflow id + step + channel + the step's attempt (not the activity's attempt)."""
        attempt = self.state.step_attempts.get(step_id, 1)
        return f"{workflow.info().workflow_id}/{step_id}/{channel.value}/{attempt}"

    def _suppress_reason(self, channel: Channel) -> str | None:
        if self.state.status == Status.CEASED:
            return SuppressReason.CEASED
        if self.state.status == Status.DISPUTED:
            return SuppressReason.DISPUTED
        if channel.value in self.state.unusable_channels:
            return self.state.unusable_channels[channel.value]
        if self.debtor.address_for(channel) is None:
            return SuppressReason.NO_ADDRESS
        return None

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
        self.state.status = status
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

    async def _sleep_until(self, at: datetime) -> bool:
        """True when `at` was reached; False when an event woke the workflow first."""
        self._wake = False
        delay = at - workflow.now()
        if delay <= timedelta(0):
            return True
        try:
            await workflow.wait_condition(
                lambda: self._wake, timeout=delay, timeout_summary="next contact"
            )
        except TimeoutError:
            return True
        return False

    async def _wait_for_change(self) -> None:
        self._wake = False
        await workflow.wait_condition(lambda: self._wake)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.get_current_history_length() > self.input.history_limit
            or info.is_continue_as_new_suggested()
        )

    # ---- what ops see ------------------------------------------------------------------------

    def _ladder_day(self) -> float:
        return ladder_clock.ladder_day(
            self.input.due_at, workflow.now(), self.state.paused_seconds, self.state.paused_since
        )

    def _set_next_contact(self, at: datetime | None, step: Step | None = None) -> None:
        self.state.next_contact_at = at
        self._publish(step)

    def _publish(self, next_step: Step | None = None) -> None:
        """Search attributes for the Temporal UI (no personal data) and a readable summary."""
        status = self.state.status.value
        details = f"{status}; ladder day {int(self._ladder_day())}"
        if next_step is not None and self.state.next_contact_at is not None:
            details += (
                f"; next: {next_step.id} at "
                f"{self.state.next_contact_at.isoformat(timespec='minutes')}"
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
            next_contact_at=self.state.next_contact_at,
            next_step=steps[index].id if index < len(steps) else None,
            contacts=self.state.contacts,
            events=self.state.events,
            skipped_steps=self.state.skipped_steps,
            unusable_channels=self.state.unusable_channels,
            history_length=workflow.info().get_current_history_length(),
            runs=self.state.runs,
            as_of=workflow.now(),
        )

    @workflow.query
    def status(self) -> AccountView:
        """The whole state of the account, as of the workflow's last task."""
        return self._view()


def _error_type(err: ActivityError) -> str | None:
    cause = err.cause
    return cause.type if isinstance(cause, ApplicationError) else None


def initial_search_attributes(input: AccountInput) -> TypedSearchAttributes:
    """Set at start so an account is filterable before its first task runs."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(sa.STATUS, Status.ACTIVE.value),
            SearchAttributePair(sa.LADDER, input.ladder.name),
        ]
    )
