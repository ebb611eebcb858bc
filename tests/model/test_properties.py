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
6. every (step, round) has its own idempotency key.

`DUNNING_PROPERTY_EXAMPLES` sets how many sequences run (default below).
"""

from __future__ import annotations

import os
from datetime import timedelta
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
from tests.model.strategies import START, accounts, classifications, events
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

        def outcome(channel: Channel) -> contacts.Outcome | None:
            return self.outcomes.choice(provider_outcomes_list)

        self.driver = Driver(account, START + timedelta(hours=offset), outcome=outcome)

    @rule(hours=st.integers(0, 24 * 20))
    def time_passes(self, hours: int) -> None:
        self.driver.run_until(self.driver.now + timedelta(hours=hours))

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

    def teardown(self) -> None:
        if not hasattr(self, "driver"):
            return
        driver = self.driver
        driver.run_until(driver.now + FOREVER, max_actions=2000)
        assert driver.violations == []
        event_note(f"ended {driver.state.status.value}")
        assert driver.state.status.is_final or driver.state.status == Status.DISPUTED, (
            f"still {driver.state.status.value} after {FOREVER.days} days"
        )


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
]

AccountMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestAccountModel = AccountMachine.TestCase
