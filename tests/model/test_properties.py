"""The account model's invariants, over random ladders, debtors and event sequences.

Hypothesis drives the pure model (no server) through random events at random times, with
random provider outcomes, and checks after every step:

1. no contact outside the window in any candidate zone, on a holiday, after a cease, during a
   dispute, on an opted-out or undeliverable channel, without an address, or over the call cap;
2. an open account always has a next wake-up (only a dispute waits for ops), and every account
   ends closed or disputed: none waits forever;
3. every event is answered (accepted or refused with a reason) or rejected as malformed; none
   raises;
4. the balance never goes below zero; an overpayment closes the account as paid and records
   the overpaid amount;
5. no ladder step goes out before the local start of its ladder day (paused time not counted);
6. every (step, round) has its own idempotency key;
7. a deferred send (the window closed before the provider took it) records no contact, keeps
   its send round, and is tried again with the same idempotency key;
8. an outage never makes a ladder step run into the next: no later round of a step starts at
   or after the moment the next later step is due;
9. every ladder step the account has passed ended sent or suppressed with a reason (none is
   left half-done, retrying, or dropped silently).

Provider outcomes are random per send (sent, undeliverable, opted out, template error, an
outage past the activity's retries, the window closing first), plus long outages of some
channels or all of them for up to 20 days.

`DUNNING_PROPERTY_EXAMPLES` sets how many sequences run (default below).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import event as event_note
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from config.ladder import Channel
from tests.model.driver import Driver
from tests.model.strategies import START, accounts, classifications, events, outages
from workflows.account import contacts
from workflows.account.next_action import next_action
from workflows.types import Status

EXAMPLES = int(os.environ.get("DUNNING_PROPERTY_EXAMPLES", "2000"))
FOREVER = timedelta(days=4000)  # past the longest hold, promise, plan and ladder


class AccountMachine(RuleBasedStateMachine):
    driver: Driver

    @initialize(account=accounts(), offset=st.integers(0, 72), outcomes=st.randoms())
    def start(self, account, offset, outcomes) -> None:
        self.outcomes = outcomes
        self.outage: tuple[datetime, frozenset[Channel]] | None = None

        def outcome(channel: Channel) -> contacts.Outcome | None:
            if self.outage is not None:
                until, channels = self.outage
                if self.driver.now < until and channel in channels:
                    return contacts.Unavailable()
            return self.outcomes.choice(provider_outcomes_list)

        self.driver = Driver(account, START + timedelta(hours=offset), outcome=outcome)

    @rule(hours=st.integers(0, 24 * 20))
    def time_passes(self, hours: int) -> None:
        self.driver.run_until(self.driver.now + timedelta(hours=hours))

    @rule(outage=outages)
    def provider_outage(self, outage: tuple[int, frozenset[Channel]]) -> None:
        """Some providers (or all) are down for a while, from now."""
        hours, channels = outage
        self.outage = (self.driver.now + timedelta(hours=hours), channels)
        event_note(f"outage of {len(channels)} channels")

    @rule(event=events(), classification=classifications())
    def event_arrives(self, event, classification) -> None:
        driver = self.driver
        balance, status = driver.state.balance, driver.state.status
        result = driver.event(event, classification)
        if result is None:
            event_note("malformed")
            return  # malformed: rejected by the validator, nothing recorded
        event_note(f"{event.type} {'accepted' if result.accepted else 'refused'}")
        assert result.accepted or result.reason, "a refusal must say why"
        if (
            event.type == "payment"
            and result.accepted
            and not result.duplicate
            and event.amount is not None
            and event.amount > balance
            and not status.is_final
        ):
            assert driver.state.status == Status.PAID
            assert Decimal(result.detail["overpaid"]) == event.amount - balance

    @precondition(lambda self: hasattr(self, "driver"))
    @invariant()
    def no_contact_breaks_a_rule(self) -> None:
        assert self.driver.violations == []

    @precondition(lambda self: hasattr(self, "driver"))
    @invariant()
    def balance_never_negative(self) -> None:
        assert self.driver.state.balance >= 0

    @precondition(lambda self: hasattr(self, "driver"))
    @invariant()
    def open_accounts_have_a_next_wake_up(self) -> None:
        state = self.driver.state
        action = next_action(state, self.driver.account, self.driver.now)
        if state.status.is_final:
            assert action is None
        elif state.status != Status.DISPUTED:
            assert action is not None, f"an open {state.status.value} account waits forever"

    @precondition(lambda self: hasattr(self, "driver"))
    @invariant()
    def one_key_per_step_and_round(self) -> None:
        keys = [sent.key for sent in self.driver.sent]
        assert len(keys) == len(set(keys))

    @precondition(lambda self: hasattr(self, "driver"))
    @invariant()
    def a_deferred_send_is_tried_again_with_its_key(self) -> None:
        attempts = self.driver.attempts
        for index, attempt in enumerate(attempts):
            if attempt.outcome != "deferred":
                continue
            again = next((a for a in attempts[index + 1 :] if a.step == attempt.step), None)
            if again is not None and again.channel == attempt.channel:
                assert again.key == attempt.key, (attempt, again)

    @precondition(lambda self: hasattr(self, "driver"))
    @invariant()
    def no_later_round_at_or_past_the_next_step(self) -> None:
        for attempt in self.driver.attempts:
            if attempt.retry and attempt.next_step_at is not None:
                assert attempt.at < attempt.next_step_at, attempt

    @precondition(lambda self: hasattr(self, "driver"))
    @invariant()
    def only_contacts_still_due_are_retrying(self) -> None:
        """A reminder of a promise or plan that ended, or anything on a closed account, is
        not left in `retrying` (it would hold the retry time for nothing)."""
        state, account = self.driver.state, self.driver.account
        if state.status.is_final:
            assert state.retrying == {}
            return
        due = {step.id for step in account.ladder.steps} | {m.step for m in state.pending}
        if state.promise is not None:
            due.add(f"promise-{state.promise.number}-reminder")
        if state.plan is not None:
            due |= {
                f"plan-{state.plan.number}-installment-{i.number}-reminder"
                for i in state.plan.installments
            }
        assert set(state.retrying) <= due, set(state.retrying) - due

    def teardown(self) -> None:
        if not hasattr(self, "driver"):
            return
        driver = self.driver
        driver.run_until(driver.now + FOREVER, max_actions=5000)
        assert driver.violations == []
        self.every_passed_step_ended()
        event_note(f"ended {driver.state.status.value}")
        reasons = {c.reason for c in driver.state.contacts}
        if "provider_unavailable" in reasons:
            event_note("a contact given up: provider_unavailable")
        if any(a.outcome == "deferred" for a in driver.attempts):
            event_note("a send deferred")
        if any(a.retry and a.outcome == "sent" for a in driver.attempts):
            event_note("sent in a later round")
        assert driver.state.status.is_final or driver.state.status == Status.DISPUTED, (
            f"still {driver.state.status.value} after {FOREVER.days} days"
        )

    def every_passed_step_ended(self) -> None:
        state, steps = self.driver.state, self.driver.account.ladder.steps
        for step in steps[: state.next_step_index]:
            if step.is_handoff or step.id in state.skipped_steps:
                continue
            records = [c for c in state.contacts if c.step == step.id]
            assert records, f"{step.id} was passed without a contact record"
            assert all(c.outcome == "sent" or c.reason for c in records), records
            assert step.id not in state.retrying, f"{step.id} passed while still retrying"
        if state.status.is_final:
            return
        for step_id in state.retrying:  # a contact still retrying is the one the account is at
            assert step_id in {s.id for s in steps[state.next_step_index :]} | {
                m.step for m in state.pending
            } or step_id.startswith(("promise-", "plan-")), step_id


provider_outcomes_list = [
    None,
    None,
    None,
    None,
    None,
    None,
    contacts.NotSent("undeliverable", unusable=True),
    contacts.NotSent("opted_out", unusable=True),
    contacts.NotSent("template_error"),
    contacts.Unavailable(),
    contacts.Unavailable(),
    contacts.Deferred(),
    contacts.Deferred(),  # the driver moves its clock to the window's end and gives it
]

AccountMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestAccountModel = AccountMachine.TestCase
