"""A pure driver for the account model: the workflow shell's loop without Temporal.

It runs `next_action`, looks windows up with the real calendar functions (what the activities
call), "sends" with an outcome the test chooses, applies events through `apply`, and keeps an
independent log of what the debtor asked for (cease, disputes, opt-outs) so the invariants are
checked against facts, not against the policy that enforced them. A `Deferred` outcome is what
the send activity answers once the window has closed: the driver's clock moves to the end of
the window first, as the real one would have.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from activities.calendar import (
    ContactCalendar,
    NoContactWindow,
    contact_calendar,
    ladder_day_start,
    next_open_moment,
    scheduled_dates,
    window_end,
)
from activities.validation_notice import validation_period_end
from config.ladder import Channel
from workflows.account import (
    clock,
    compliance,
    contact_policy,
    contacts,
    deadlines,
    journal,
    outage,
    requests,
)
from workflows.account.actions import Action, Contact, Fire, GiveUp, SendPending, SendReminder
from workflows.account.apply import Answer, ScheduleNeeded, apply, needs_schedule
from workflows.account.events import Event, MalformedEvent, Reply, typed_event
from workflows.account.next_action import next_action
from workflows.account.replies import reply_answer, reply_meaning
from workflows.account.transitions import opening_state
from workflows.activity_types import ScheduleRequest
from workflows.types import AccountEvent, AccountInput, AccountState, EventResult

WORKFLOW_ID = "dunning-T"
SendOutcome = Callable[[Channel], contacts.Outcome | None]  # None: sent


@dataclass
class Sent:
    at: datetime
    step: str
    channel: Channel
    key: str
    ladder_day: int | None
    paused_seconds: int


@dataclass
class Attempt:
    """One try of a contact on a channel, whatever came of it."""

    at: datetime
    step: str
    channel: Channel
    key: str
    outcome: str  # sent, not_sent, unavailable, deferred
    retry: bool  # a later round (or a deferred send tried again), not the first wake-up
    next_step_at: datetime | None  # for a ladder step: when the next later step is due


@dataclass
class Facts:
    """What the debtor and ops said, kept apart from the state the model keeps."""

    ceased: bool = False
    disputed: bool = False
    opted_out: set[Channel] = field(default_factory=set)
    undeliverable: set[Channel] = field(default_factory=set)
    conversations: list[datetime] = field(default_factory=list)
    breathing_space_until: datetime | None = None
    awaiting_verification: bool = False  # a validated dispute's letter not yet sent (us)


@dataclass
class Driver:
    account: AccountInput
    now: datetime
    outcome: SendOutcome = lambda channel: None
    state: AccountState = field(init=False)
    sent: list[Sent] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    facts: Facts = field(default_factory=Facts)
    violations: list[str] = field(default_factory=list)
    compliance: bool = True  # the current rules (issue 12), as the workflow sets them

    def __post_init__(self) -> None:
        self.state = opening_state(self.account, self.now)
        self.state.compliance = self.compliance

    # ---- the loop --------------------------------------------------------------------------

    def run_until(self, until: datetime, *, max_actions: int = 500) -> None:
        """Run every action due up to `until`, then stand at `until`."""
        for _ in range(max_actions):
            action = next_action(self.state, self.account, self.now)
            if action is None:
                break
            at = self.window(action) if action.needs_window else action.at
            if at is None:
                continue  # no window at all: recorded as suppressed
            bounded = action.not_after is not None and at >= action.not_after
            if bounded:
                at = action.not_after  # the retry's window opens too late: plan again then
            if at > until:
                break
            self.now = max(self.now, at)
            if not bounded:
                self.run(action)
        else:
            raise AssertionError(f"more than {max_actions} actions before {until}")
        self.now = max(self.now, until)

    def window(self, action: Action) -> datetime | None:
        not_before = action.at
        if action.ladder_day is not None:
            start = ladder_day_start(
                self.account.due_at,
                action.ladder_day,
                self.state.paused_seconds,
                self.account.debtor.zones[0],
            )
            not_before = max(not_before, start)
        ladder = self.account.ladder
        try:
            return next_open_moment(
                not_before, self.account.debtor.zones, ladder.contact_window, self.calendar()
            )
        except NoContactWindow:
            self.state = contacts.no_window(
                self.state, self.account, self.now, pending=isinstance(action.do, SendPending)
            )
            return None

    def run(self, action: Action) -> None:
        match action.do:
            case Fire() as timer:
                self.state = deadlines.fire(self.state, self.account, timer, self.now)
            case SendReminder(contact=contact):
                if self.contact(contact, None):
                    self.state = deadlines.reminder_sent(self.state, contact.step)
            case GiveUp(contact=contact):
                self.state = contacts.give_up(self.state, self.account, contact, self.now)
            case SendPending(step=step):
                message = next(m for m in self.state.pending if m.step == step)
                if self.contact(contacts.pending_contact(message), None):
                    self.state = deadlines.pending_sent(self.state, step, self.now)
            case _:
                for step in (self.account.ladder.step(s) for s in action.do.steps):
                    if step.is_handoff:
                        self.state = deadlines.handed_off(
                            self.state, self.account, step.id, "ref", self.now
                        )
                        return
                    if not self.contact(contacts.step_contact(step, self.account), step.day):
                        return
                    self.state = deadlines.step_done(self.state)

    def contact(self, contact: Contact, ladder_day: int | None) -> bool:
        channel, fallback_for = outage.resume(self.state, contact)
        later_round = contact.step in self.state.retrying  # not the fallback tried at once
        while True:
            verdict = contact_policy.check(
                self.state, self.account, channel, self.now, step=contact.step
            )
            outcome: contacts.Outcome
            if verdict.allowed:
                key = contacts.idempotency_key(WORKFLOW_ID, self.state, contact.step, channel)
                tried_at = self.now
                outcome = self.outcome(channel) or self.sent_now(channel)
                if isinstance(outcome, contacts.Deferred):
                    outcome = self.deferred()
                self.attempts.append(
                    Attempt(
                        tried_at,
                        contact.step,
                        channel,
                        key,
                        type(outcome).__name__.lower().replace("notsent", "not_sent"),
                        later_round,
                        self.next_step_at(contact.step),
                    )
                )
                if isinstance(outcome, contacts.Sent):
                    self.check_send(contact.step, channel, ladder_day)
                    if compliance.is_verification(contact.step):
                        self.facts.awaiting_verification = False
                    key = contacts.idempotency_key(WORKFLOW_ID, self.state, contact.step, channel)
                    self.sent.append(
                        Sent(
                            self.now,
                            contact.step,
                            channel,
                            key,
                            ladder_day,
                            self.state.paused_seconds,
                        )
                    )
                elif isinstance(outcome, contacts.NotSent) and outcome.unusable:
                    self.facts.undeliverable.add(channel)
            else:
                outcome = contacts.NotSent(str(verdict.reason))
            before = self.state
            self.state, then = contacts.settle(
                self.state,
                self.account,
                contact,
                channel,
                outcome,
                self.now,
                workflow_id=WORKFLOW_ID,
                fallback_for=fallback_for,
            )
            if isinstance(outcome, contacts.Deferred):
                self.check_deferred(contact.step, before)
            if then.kind != "fallback" or then.channel is None:
                return then.kind == "done"
            channel, fallback_for = then.channel, contact.channel

    def sent_now(self, channel: Channel) -> contacts.Sent:
        """What the send activity answers: the first email or letter of a us account carries
        the validation notice (the activity computes the period's end)."""
        if not compliance.carries_notice(self.state, self.account, channel):
            return contacts.Sent(self.now, "en", "m")
        ends = validation_period_end(self.local(self.now).date())
        return contacts.Sent(
            self.now, "en", "m", validation_notice=True, validation_period_ends=ends
        )

    def check_deferred(self, step: str, before: AccountState) -> None:
        """A deferred send records no contact and does not use up its send round."""
        if len(self.state.contacts) != len(before.contacts):
            self.violations.append(f"{step} at {self.now}: a deferred send recorded a contact")
        if self.state.send_rounds.get(step) != before.send_rounds.get(step):
            self.violations.append(f"{step} at {self.now}: a deferred send used up its round")

    def deferred(self) -> contacts.Deferred:
        """What the send activity answers when the window closes before the provider takes
        the message: the clock moves to the window's end, which the answer carries."""
        ladder, zones = self.account.ladder, self.account.debtor.zones
        end = window_end(self.now, zones, ladder.contact_window, self.calendar()) or self.now
        self.now = max(self.now, end)
        return contacts.Deferred(end)

    def next_step_at(self, step: str) -> datetime | None:
        """For a ladder step: when the next later step is due (None: not a ladder step, or the
        last one). Computed here, apart from the model's own bound."""
        steps = self.account.ladder.steps
        ids = [s.id for s in steps]
        if step not in ids:
            return None
        day = steps[ids.index(step)].day
        later = [s for s in steps if s.day > day]
        if not later:
            return None
        return clock.step_moment(self.account.due_at, later[0].day, self.state.paused_seconds)

    # ---- events ------------------------------------------------------------------------------

    def event(self, event: AccountEvent, classification=None) -> EventResult | None:
        """Apply an event at `now` as the update handler does; None when it is malformed."""
        try:
            typed = typed_event(event)
        except MalformedEvent:
            return None
        first = journal.first_answer(self.state, event.event_id)
        if first is not None:
            return first
        position = len(self.state.events)
        answer = self._apply(typed, classification)
        self.state, result = journal.answered(self.state, event, answer, self.now, position)
        self.answers.append(answer)
        if answer.accepted:
            self._note_fact(typed)
        if answer.accepted and answer.detail.get("verification") == "queued":
            self.facts.awaiting_verification = True
        return result

    def _apply(self, event: Event, classification) -> Answer:
        before = needs_schedule(self.state, self.account, event, self.now)
        if isinstance(before, Answer):
            return before
        if isinstance(event, Reply):
            meaning = reply_meaning(event, classification)
            if isinstance(meaning, Answer):
                return meaning
            position = len(self.state.events)
            answer = self._apply(meaning, None)
            self.state = journal.record_event(self.state, meaning, answer, self.now, position)
            if answer.accepted:
                self._note_fact(meaning)
            return reply_answer(classification, answer)
        schedule = None
        if isinstance(before, ScheduleNeeded):
            ladder = self.account.ladder
            schedule = scheduled_dates(
                ScheduleRequest(
                    now=self.now,
                    zones=self.account.debtor.zones,
                    window=ladder.contact_window,
                    holidays=ladder.holidays,
                    grace_days=before.grace_days,
                    days_before=before.days_before,
                    items=before.items,
                    **requests.calendar_rules(self.account),  # type: ignore[arg-type]
                )
            )
        self.state, answer = apply(self.state, self.account, event, self.now, schedule)
        return answer

    def _note_fact(self, event: Event) -> None:
        kind = event.type
        if kind == "cease":
            self.facts.ceased = True
        elif kind == "dispute":
            self.facts.disputed = True
        elif kind == "dispute_resolved":
            self.facts.disputed = False
        elif kind == "opt_out":
            self.facts.opted_out.add(event.channel)  # type: ignore[union-attr]
        elif kind == "delivery_failed":
            self.facts.undeliverable.add(event.channel)  # type: ignore[union-attr]
        elif kind == "conversation":
            self.facts.conversations.append(self.now)
        elif kind == "breathing_space":
            self.facts.breathing_space_until = self.now + timedelta(days=event.days)  # type: ignore[union-attr]
        elif kind == "breathing_space_end":
            self.facts.breathing_space_until = None

    # ---- what the invariants read ------------------------------------------------------------

    def check_send(self, step: str, channel: Channel, ladder_day: int | None) -> None:
        """Invariant 1 (and 5 for ladder steps), against the facts, at the moment of sending."""
        ladder, debtor, now = self.account.ladder, self.account.debtor, self.now
        problems = []
        try:
            opens = next_open_moment(now, debtor.zones, ladder.contact_window, self.calendar())
        except NoContactWindow:
            opens = None
        if opens != now:
            problems.append("outside the contact window (or on a holiday)")
        if self.facts.ceased:
            problems.append("after a cease")
        if self.facts.disputed:
            problems.append("during a dispute")
        if channel in self.facts.opted_out | self.facts.undeliverable:
            problems.append("on an opted-out or undeliverable channel")
        if debtor.address_for(channel) is None:
            problems.append("with no address")
        problems.extend(self.compliance_problems(step, channel))
        if channel == Channel.VOICEMAIL:
            week = now - timedelta(days=7)
            calls = [s for s in self.sent if s.channel == Channel.VOICEMAIL and s.at > week]
            if len(calls) >= 7:
                problems.append("over the call cap")
            if any(talk > week for talk in self.facts.conversations):
                problems.append("within 7 days of a conversation")
        if ladder_day is not None:
            due_wall = self.local(self.account.due_at).replace(tzinfo=None)
            earliest = due_wall + timedelta(days=ladder_day, seconds=self.state.paused_seconds)
            if self.local(now).replace(tzinfo=None) < earliest:
                problems.append(f"before the local start of ladder day {ladder_day}")
        self.violations.extend(f"{step} by {channel.value} at {now}: {p}" for p in problems)

    def calendar(self) -> ContactCalendar:
        """The profile's calendar, as the window look-up activity builds it."""
        ladder = self.account.ladder
        return contact_calendar(
            ladder.holidays,
            ladder.jurisdiction.value,
            self.account.debtor.region,
            ladder.compliance.sunday_and_bank_holiday_contact,
        )

    def compliance_problems(self, step: str, channel: Channel) -> list[str]:
        """The profile's caps and the breathing space, counted from what was sent."""
        if not self.compliance:
            return []
        now, problems = self.now, []
        if self.facts.breathing_space_until is not None and now < self.facts.breathing_space_until:
            problems.append("during a breathing space")
        if compliance.is_verification(step):
            return problems  # owed to the debtor: no cap holds it back
        if self.facts.awaiting_verification:
            problems.append("before the dispute's verification letter was sent")
        week = now - timedelta(days=7)
        recent = [s for s in self.sent if s.at > week]
        texts = compliance.text_cap(self.account)
        sms_sent = [s for s in recent if s.channel == Channel.SMS]
        if channel == Channel.SMS and texts is not None and len(sms_sent) >= texts:
            problems.append("over the text cap")
        contacts_cap = compliance.contact_cap(self.account)
        if contacts_cap is not None and len(recent) >= contacts_cap:
            problems.append("over the contact cap")
        return problems

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.account.debtor.zones[0]))
