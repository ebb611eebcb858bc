"""One overdue account, run durably through its ladder: the shell around the account model.

Read it top to bottom like the ladder it runs:

1. On first start, an account that is already past some steps skips to the latest of them.
2. Loop: ask the model for the next action (`workflows/account/next_action.py`); wait until
   its time, and for a contact until the contact window opens in every zone the debtor may be
   in; then run it: send the step's message (or its fallback), fire a deadline, or hand off.
3. Events (payments, promises, disputes, ...) arrive as updates; the model applies them
   (`workflows/account/apply.py`) and the loop re-plans from the new state.

Every rule lives in `workflows/account/` as a plain function of (state, event, now); this
file only runs what they decide: timers, activities, updates. Determinism: no I/O, no wall
clock, no tz or holiday data here; windows and deadlines come from activities.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from config.ladder import Channel, Step
    from workflows.account import (
        audit,
        audit_trail,
        calls,
        compliance,
        contact_policy,
        contacts,
        deadlines,
        journal,
        outage,
        patches,
        requests,
        view,
    )
    from workflows.account.actions import Action, Contact, Fire, GiveUp, SendPending, SendReminder
    from workflows.account.apply import Answer, ScheduleNeeded, apply, needs_schedule
    from workflows.account.events import Event, MalformedEvent, Reply, typed_event
    from workflows.account.next_action import next_action
    from workflows.account.patches import COMPLIANCE, LEAN_RULES
    from workflows.account.publishing import Publisher
    from workflows.account.replies import reply_answer, reply_meaning
    from workflows.account.transitions import opening_state
    from workflows.activity_types import ScheduleAnswer
    from workflows.types import (
        AccountEvent,
        AccountInput,
        AccountState,
        AccountView,
        EventResult,
    )

# A closed account stays open this long to refuse (and record) late events, then completes.
CLOSED_LINGER = timedelta(days=7)
__all__ = ["CLOSED_LINGER", "COMPLIANCE", "LEAN_RULES", "AccountWorkflow"]


@workflow.defn(name="DunningAccount")
class AccountWorkflow:
    """The account's ladder, its state, and the update that lets the world change it."""

    @workflow.init
    def __init__(self, input: AccountInput) -> None:
        self.input = input
        self.state = input.state or AccountState(balance=input.balance, started_at=workflow.now())
        # Bumped by every applied event: the loop re-plans when it moved while it waited.
        self._changes = 0
        self._publisher = Publisher(enabled=input.search_attributes, batched=self._lean)
        self._metrics = calls.Metrics(self.state)  # what the state holds now is counted
        self._loop_ended = False
        # Events and contacts never interleave: an event that arrives while a message is being
        # sent is applied right after the send (see README, "Events and sends").
        self._lock = asyncio.Lock()

    # ---- the ladder ----------------------------------------------------------------------

    @workflow.run
    async def run(self, input: AccountInput) -> AccountView:
        # First, so the rules an account runs by are decided in its first task. The patch, not
        # the carried state, decides (an old worker may have run the run before this one).
        if compliance.take_up(self.state, input, self._compliance()):
            audit.opened(self.state, input, workflow.info().workflow_id, workflow.now())
        self._lean()
        self._rules()
        self._send_faults()
        if input.state is None:
            entered = opening_state(input, workflow.now())
            self.state.skipped_steps = entered.skipped_steps
            self.state.next_step_index = entered.next_step_index
            self._publish()
        else:
            self.state.runs += 1
        while not self.state.status.is_final:
            if self._history_is_long():
                await self._continue_as_new()
            seen = self._changes
            action = self._next_action()
            if action is None:
                # Only a dispute waits with nothing scheduled: for `dispute_resolved`.
                self._set_next_contact(None)
                await self._wait_for_change(seen)
                continue
            at = await self._window_for(action) if action.needs_window else action.at
            if at is None or self._changes != seen:
                continue  # no window at all (recorded), or an event came in meanwhile
            bounded = action.not_after is not None and at >= action.not_after
            if bounded:
                at = action.not_after  # a retry's window opens too late: plan again then
            self._set_next_contact(at, action.label)
            if not await self._sleep_until(at, seen) or bounded:
                continue  # an event changed the state, or the retry's bound has come
            async with self._lock:
                if self._changes != seen:
                    continue  # an event was applied while we waited for the lock
                await self._run(action)
        self._set_next_contact(None)
        if self._send_faults():
            await self._record_closed()
        if self.state.compliance:
            audit.closed(self.state, workflow.now())
        self._loop_ended = True  # from here each late event writes its own audit record
        await self._flush_audit()
        self._publisher.flush()
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: False, timeout=CLOSED_LINGER, timeout_summary="refuse late events"
            )
        await audit_trail.complete(self, self._metrics, self._publisher)
        return self._view()

    def _next_action(self) -> Action | None:
        return next_action(
            self.state,
            self.input,
            workflow.now(),
            legacy=not self._rules(),
            send_faults=self._send_faults(),
        )

    async def _run(self, action: Action) -> None:
        now = workflow.now()
        match action.do:
            case Fire() as timer:
                self.state = deadlines.fire(
                    self.state,
                    self.input,
                    timer,
                    now,
                    plan_ends_without_installments=self._rules(),
                )
            case SendReminder(contact=contact) if self._send_faults():
                # Marked once it is sent or suppressed: it is retried like any contact.
                if await self._contact(contact):
                    self.state = deadlines.reminder_sent(self.state, contact.step)
            case SendReminder(contact=contact):
                # Before issue 10, marked first: a reminder went once, whatever its outcome.
                self.state = deadlines.reminder_sent(self.state, contact.step)
                await self._contact(contact)
            case GiveUp(contact=contact):
                self.state = contacts.give_up(self.state, self.input, contact, now)
                self._publish()
            case SendPending(step=step):
                message = next(m for m in self.state.pending if m.step == step)
                if await self._contact(contacts.pending_contact(message)):
                    self.state = deadlines.pending_sent(self.state, step, workflow.now())
            case _:
                await self._run_steps(action.do.steps)

    async def _run_steps(self, step_ids: tuple[str, ...]) -> None:
        for step in (self.input.ladder.step(step_id) for step_id in step_ids):
            if step.is_handoff:
                await self._hand_off(step)
                return
            if not await self._contact(contacts.step_contact(step, self.input)):
                return  # the provider is unavailable: another send round later
            self.state = deadlines.step_done(self.state)
        self._publish()

    async def _window_for(self, action: Action) -> datetime | None:
        """The next open contact window at or after the action's time (None: there is none,
        and the message due is recorded as suppressed)."""
        # The records not yet written ride along: the look-up writes them, no event of its own.
        pending = audit.batch(self.state, self.input, workflow.info().workflow_id)
        request = requests.window(action, self.state, self.input, pending)
        at, written = await calls.next_open_moment_writing(request)
        if written and pending is not None:
            audit.written(self.state, pending[1])
        if at is not None:
            return at
        self.state = contacts.no_window(
            self.state,
            self.input,
            workflow.now(),
            pending=isinstance(action.do, SendPending),
            keep_handoff=self._rules(),
        )
        return None

    # ---- contacts --------------------------------------------------------------------------

    async def _contact(self, contact: Contact) -> bool:
        """Send one message, or record why not and try the fallback channel.

        Returns False only when the contact is tried again later (the provider unavailable, or
        the window closed first); a contact being retried resumes on the channel it reached.
        """
        channel, fallback_for = outage.resume(self.state, contact)
        while True:
            verdict = contact_policy.check(
                self.state,
                self.input,
                channel,
                workflow.now(),
                call_cap_in_force=patches.call_cap,
                step=contact.step,
            )
            outcome = (
                await self._send(contact, channel)
                if verdict.allowed
                else contacts.NotSent(str(verdict.reason))
            )
            self.state, then = contacts.settle(
                self.state,
                self.input,
                contact,
                channel,
                outcome,
                workflow.now(),
                workflow_id=workflow.info().workflow_id,
                fallback_for=fallback_for,
                fallback_after_rounds=self._rules(),
                send_faults=self._send_faults(),
            )
            if then.kind != "fallback" or then.channel is None:
                return then.kind == "done"
            channel, fallback_for = then.channel, contact.channel

    async def _send(self, contact: Contact, channel: Channel) -> contacts.Outcome:
        now, workflow_id = workflow.now(), workflow.info().workflow_id
        request = requests.send(contact, channel, self.state, self.input, now, workflow_id)
        self._publisher.flush()
        return await calls.send_message(request, f"{contact.step} by {channel.value}")

    async def _hand_off(self, step: Step) -> None:
        now = workflow.now()
        self._publisher.flush()
        reference = await calls.export_handoff(requests.handoff(self.state, self.input, now))
        self.state = deadlines.handed_off(self.state, self.input, step.id, reference, now)
        self._publish()

    async def _record_closed(self) -> None:
        await calls.record_account_closed(
            requests.closed(self.state, self.input, workflow.info().workflow_id, workflow.now()),
            local_first=self._lean(),
        )

    # ---- waiting -----------------------------------------------------------------------------

    async def _sleep_until(self, at: datetime, seen: int) -> bool:
        """True when `at` was reached; False when an event changed the state first."""
        delay = at - workflow.now()
        if delay <= timedelta(0):
            return True
        await self._flush_audit()
        self._publisher.flush()
        delay = at - workflow.now()  # the write may have taken a while
        if delay <= timedelta(0):
            return self._changes == seen
        try:
            await workflow.wait_condition(
                lambda: self._changes != seen, timeout=delay, timeout_summary="next contact"
            )
        except TimeoutError:
            return True
        return False

    async def _wait_for_change(self, seen: int) -> None:
        await self._flush_audit()
        self._publisher.flush()
        await workflow.wait_condition(lambda: self._changes != seen)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.get_current_history_length() > self.input.history_limit
            or info.is_continue_as_new_suggested()
        )

    # The rules this run goes by (workflows/account/patches.py).
    _rules = staticmethod(patches.model_rules)
    _send_faults = staticmethod(patches.send_faults)
    _lean = staticmethod(patches.lean)
    _compliance = staticmethod(patches.compliance)

    # ---- the audit trail and the metrics (workflows/account/audit_trail.py) ----------------

    async def _flush_audit(self, *, patient: bool = False) -> bool:
        return await audit_trail.flush(self, self._metrics, patient=patient)

    async def _continue_as_new(self) -> None:
        await audit_trail.continue_as_new(self, self._metrics, self._publisher)

    # ---- events --------------------------------------------------------------------------------

    @workflow.update
    async def apply_event(self, event: AccountEvent) -> EventResult:
        """Apply one event; accepted or refused, it is recorded. A repeated `event_id` is
        acknowledged with the first answer and changes nothing."""
        async with self._lock:
            first = journal.first_answer(self.state, event.event_id)
            if first is not None:
                self._metrics.count_duplicate(event.type)
                return first
            position = len(self.state.events)
            answer = await self._apply(typed_event(event))
            self.state, result = journal.answered(
                self.state, event, answer, workflow.now(), position
            )
            self._changes += 1
            self._publish()
            if self._loop_ended:
                # The ladder loop no longer flushes for us.
                await self._flush_audit()
                self._publisher.flush()
            return result

    @apply_event.validator
    def _validate_event(self, event: AccountEvent) -> None:
        """Reject only malformed events (nothing is recorded); business refusals are answered
        and recorded by the handler."""
        try:
            typed_event(event)
        except MalformedEvent as exc:
            raise ValueError(str(exc)) from None

    async def _apply(self, event: Event) -> Answer:
        before = needs_schedule(self.state, self.input, event, workflow.now())
        if isinstance(before, Answer):
            return before
        if isinstance(event, Reply):
            return await self._apply_reply(event)
        schedule = await self._schedule(before) if isinstance(before, ScheduleNeeded) else None
        self.state, answer = apply(self.state, self.input, event, workflow.now(), schedule)
        return answer

    async def _schedule(self, need: ScheduleNeeded) -> ScheduleAnswer:
        return await calls.schedule_dates(requests.schedule(need, self.input, workflow.now()))

    async def _apply_reply(self, reply: Reply) -> Answer:
        """Classify the debtor's words, record the reply, then apply what it means."""
        self._publisher.flush()
        classification = await calls.classify_reply(
            requests.reply(reply, self.input, workflow.now())
        )
        meaning = reply_meaning(reply, classification)
        if isinstance(meaning, Answer):
            return meaning
        position = len(self.state.events)
        answer = await self._apply(meaning)
        self.state = journal.record_event(self.state, meaning, answer, workflow.now(), position)
        return reply_answer(classification, answer)

    # ---- what ops see ------------------------------------------------------------------------

    def _set_next_contact(self, at: datetime | None, label: str | None = None) -> None:
        self.state.next_contact_at = at
        self._publish(label)

    def _publish(self, next_step: str | None = None) -> None:
        """Search attributes (no personal data) and a readable summary for the Temporal UI."""
        self._publisher.publish(self.state, self.input, workflow.now(), next_step)

    def _view(self) -> AccountView:
        return view.account_view(
            self.state, self.input, workflow.now(), workflow.info().get_current_history_length()
        )

    @workflow.query
    def status(self) -> AccountView:
        """The whole state of the account, as of the workflow's last task."""
        return self._view()
