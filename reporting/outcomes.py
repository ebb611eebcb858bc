"""How promises and plans ended, and which step's contact preceded an opt-out or a dispute.

A promise's outcome is the first of its milestones recorded after it (`promise_kept`,
`promise_broken`, `promise_replaced`, `promise_cancelled`) or a later accepted promise (which
replaces it without a milestone). One with none of these is pending while the account is open;
on a closed account it ended without an outcome (closed as paid below `min_balance` before the
promised amount was reached, bankruptcy, ...) and counts as cancelled. Plans alike.

The kept and completion rates leave pending, replaced and cancelled arrangements out: they
have not said whether the debtor keeps their word.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from statistics import median

from reporting.attribution import SentContacts, in_period, step_name
from reporting.facts import AccountFacts
from reporting.model import PlanOutcomes, PromiseOutcomes, StepRates
from workflows.types import EventRecord

FINAL_STATUSES = frozenset({"paid", "handed_off", "closed"})

PROMISE_ENDS = {
    "promise_kept": "kept",
    "promise_broken": "broken",
    "promise_replaced": "replaced",
    "promise_cancelled": "cancelled",
}
PLAN_ENDS = {
    "plan_completed": "completed",
    "plan_default": "defaulted",
    "plan_cancelled": "cancelled",
}


def rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def outcome_of(
    account: AccountFacts, position: int, ends: dict[str, str], kind: str, replaced: str
) -> str:
    """How the arrangement recorded at `events[position]` ended (see the module docstring)."""
    for later in account.events[position + 1 :]:
        if later.type in ends:
            return ends[later.type]
        if later.type == kind and later.accepted:
            return replaced
    return "cancelled" if account.status in FINAL_STATUSES else "pending"


def _accepted_in_period(
    account: AccountFacts, kind: str, start: datetime | None, end: datetime | None
) -> list[int]:
    return [
        position
        for position, event in enumerate(account.events)
        if event.type == kind and event.accepted and in_period(event.at, start, end)
    ]


def _outcomes(
    accounts: Sequence[AccountFacts],
    kind: str,
    ends: dict[str, str],
    replaced_as: str,
    start: datetime | None,
    end: datetime | None,
) -> tuple[int, dict[str, int]]:
    """How many promises (or plans) were accepted in the period, and how each ended."""
    counts: dict[str, int] = defaultdict(int)
    accepted = 0
    for account in accounts:
        for position in _accepted_in_period(account, kind, start, end):
            accepted += 1
            counts[outcome_of(account, position, ends, kind, replaced_as)] += 1
    return accepted, counts


def promise_outcomes(
    accounts: Sequence[AccountFacts], start: datetime | None, end: datetime | None
) -> PromiseOutcomes:
    accepted, counts = _outcomes(accounts, "promise", PROMISE_ENDS, "replaced", start, end)
    return PromiseOutcomes(
        accepted=accepted,
        kept=counts["kept"],
        broken=counts["broken"],
        pending=counts["pending"],
        replaced=counts["replaced"],
        cancelled=counts["cancelled"],
        kept_rate=rate(counts["kept"], counts["kept"] + counts["broken"]),
    )


def plan_outcomes(
    accounts: Sequence[AccountFacts], start: datetime | None, end: datetime | None
) -> PlanOutcomes:
    # A plan replaced by another plan is cancelled (it said nothing either).
    accepted, counts = _outcomes(accounts, "plan", PLAN_ENDS, "cancelled", start, end)
    return PlanOutcomes(
        accepted=accepted,
        completed=counts["completed"],
        defaulted=counts["defaulted"],
        pending=counts["pending"],
        cancelled=counts["cancelled"],
        completion_rate=rate(counts["completed"], counts["completed"] + counts["defaulted"]),
    )


def _reacted(event: EventRecord, kind: str, start: datetime | None, end: datetime | None) -> bool:
    return event.type == kind and event.accepted and in_period(event.at, start, end)


def step_rates(
    accounts: Sequence[AccountFacts], start: datetime | None, end: datetime | None
) -> list[StepRates]:
    """Per step: accounts sent one of its contacts in the period (exposed), and those of them
    with an accepted opt-out / dispute in the period whose last sent contact before it was
    that step's, itself in the period (so they are among the exposed, and each rate is in
    [0, 1]). An account counts once per step however often it reacted. Steps come in the
    ladder's order, as far as the contacts show it."""
    exposed: dict[str, set[str]] = defaultdict(set)
    opted_out: dict[str, set[str]] = defaultdict(set)
    disputed: dict[str, set[str]] = defaultdict(set)
    delays: dict[str, list[float]] = defaultdict(list)
    for account in accounts:
        sent = SentContacts(account)
        opened = account.opened_at or (sent.times[0] if sent.times else None)
        for contact in sent.contacts:
            if in_period(contact.at, start, end):
                step = step_name(contact.step)
                exposed[step].add(account.account_id)
                if opened is not None:
                    delays[step].append((contact.at - opened).total_seconds())
        for event in account.events:
            for kind, who in (("opt_out", opted_out), ("dispute", disputed)):
                if not _reacted(event, kind, start, end):
                    continue
                last = sent.last_before(event.at)
                if last is not None and in_period(last.at, start, end):
                    who[step_name(last.step)].add(account.account_id)
    rows = []
    # The ladder's order, as the contacts show it: by the median time from the account's
    # opening to the step's contact (a median: accounts entering late skip early steps).
    for step in sorted(exposed, key=lambda name: (median(delays[name] or [0.0]), name)):
        n = len(exposed[step])
        rows.append(
            StepRates(
                step=step,
                exposed=n,
                opted_out=len(opted_out[step]),
                disputed=len(disputed[step]),
                opt_out_rate=rate(len(opted_out[step]), n),
                dispute_rate=rate(len(disputed[step]), n),
            )
        )
    return rows
