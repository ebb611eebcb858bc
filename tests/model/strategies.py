"""Hypothesis strategies: random ladders, debtors in random zones, random events, outages."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from config.ladder import (
    WEEKDAYS,
    Channel,
    ComplianceLimits,
    ContactWindow,
    Ladder,
    MessageRef,
    PlanPolicy,
    PromisePolicy,
    Reminder,
    SendRounds,
    Step,
)
from workflows.activity_types import ReplyClassification
from workflows.types import EVENT_TYPES, AccountEvent, AccountInput, Debtor, InstallmentSpec

# Zones with DST both ways, half-hour offsets, and the multi-zone sets a US number gives.
ZONE_SETS = [
    ("Europe/Paris",),
    ("America/New_York",),
    ("Australia/Sydney",),
    ("Asia/Kolkata",),
    ("Pacific/Auckland",),
    ("Europe/London",),
    ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
    ("America/Los_Angeles", "Pacific/Honolulu"),
    ("Asia/Tokyo", "America/Los_Angeles"),  # windows that rarely or never overlap
]
CHANNELS = list(Channel)
START = datetime(2038, 1, 4, 6, 0, tzinfo=UTC)

money = st.decimals(min_value=Decimal("-50"), max_value=Decimal("2000"), places=2, allow_nan=False)


@st.composite
def windows(draw) -> ContactWindow:
    start = draw(st.integers(0, 12))
    end = draw(st.integers(max(start + 1, 13), 23))
    days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
    late = draw(st.sampled_from([0, 30, 59]))
    return ContactWindow(start=time(start), end=time(end, late), days=tuple(days))


@st.composite
def steps(draw) -> tuple[Step, ...]:
    count = draw(st.integers(1, 6))
    days = sorted(draw(st.lists(st.integers(0, 90), min_size=count, max_size=count)))
    result = []
    for index, day in enumerate(days):
        channel = draw(st.sampled_from(CHANNELS))
        fallback = draw(st.none() | st.sampled_from([c for c in CHANNELS if c != channel]))
        result.append(
            Step(
                id=f"step-{index}",
                day=day,
                channel=channel,
                template="t",
                fallback=fallback,
                deadline_days=draw(st.none() | st.integers(1, 30)),
            )
        )
    if draw(st.booleans()):
        result.append(Step(id="handoff", day=days[-1] + draw(st.integers(0, 30)), action="handoff"))
    return tuple(result)


def _maybe(draw, cls, **extra):
    if not draw(st.booleans()):
        return None
    return cls(channel=draw(st.sampled_from(CHANNELS)), template="t", **extra)


@st.composite
def ladders(draw) -> Ladder:
    window = draw(windows())
    # Every profile; us only where its window fits 08:00-21:00 (the model refuses it otherwise).
    fits_us = window.start >= time(8) and window.end <= time(21)
    jurisdiction = draw(st.sampled_from(["none", "uk", "eu", *(["us", "us"] if fits_us else [])]))
    return Ladder(
        name="random",
        version=1,
        jurisdiction=jurisdiction,
        holidays=draw(st.sampled_from([None, "US", "FR", "GB", "PL"])),
        contact_window=window,
        compliance=ComplianceLimits(
            texts_per_7_days=draw(st.none() | st.integers(1, 4)),
            contacts_per_7_days=draw(st.none() | st.integers(1, 5)),
            sunday_and_bank_holiday_contact=draw(st.booleans()),
        ),
        min_balance=draw(st.sampled_from([Decimal("0"), Decimal("10.00")])),
        steps=draw(steps()),
        promise=PromisePolicy(
            grace_days=draw(st.integers(0, 5)),
            max_days=draw(st.integers(1, 60)),
            reminder=_maybe(draw, Reminder, days_before=draw(st.integers(0, 5))),
            broken=_maybe(draw, MessageRef),
        ),
        plan=PlanPolicy(
            max_installments=draw(st.integers(1, 8)),
            grace_days=draw(st.integers(0, 5)),
            reminder=_maybe(draw, Reminder, days_before=draw(st.integers(0, 5))),
            missed=_maybe(draw, MessageRef),
            default_after_missed=draw(st.integers(1, 4)),
        ),
        send_rounds=SendRounds(
            rounds=draw(st.integers(1, 4)), spacing_minutes=draw(st.sampled_from([30, 60, 720]))
        ),
    )


@st.composite
def accounts(draw) -> AccountInput:
    zones = draw(st.sampled_from(ZONE_SETS))
    debtor = Debtor(
        name="Debtor",
        email=draw(st.none() | st.just("d@example.org")),
        phone=draw(st.none() | st.just("+12125550100")),
        address=draw(st.none() | st.just("1 Main St")),
        city="Springfield",
        zones=zones,
        region=draw(st.sampled_from([None, "ENG", "SCT", "NIR"])),
    )
    from activities.calendar import local_midnight

    days_past_due = draw(st.integers(-5, 60))
    due_date = START.date() - timedelta(days=days_past_due)
    return AccountInput(
        account_id="T",
        debtor=debtor,
        balance=draw(st.decimals(min_value=Decimal("1"), max_value=Decimal("1000"), places=2)),
        currency="EUR",
        due_at=local_midnight(due_date, zones[0]),
        ladder=draw(ladders()),
    )


# Closing events are rare so that sequences live long enough to meet the other rules.
WEIGHTED_TYPES = [
    *[kind for kind in EVENT_TYPES if kind not in ("bankruptcy", "deceased")],
    *["payment", "promise", "promise", "plan", "plan", "plan", "hold", "dispute_resolved"] * 2,
]
RARE_TYPES = ["bankruptcy", "deceased"]


@st.composite
def events(draw) -> AccountEvent:
    """Every event type, with fields valid, missing, out of bounds or absurd."""
    kind = draw(st.sampled_from(WEIGHTED_TYPES))
    if draw(st.integers(0, 40)) == 17:
        kind = draw(st.sampled_from(RARE_TYPES))
    fields: dict[str, object] = {"type": kind, "source": "test"}
    if kind in ("payment", "promise"):
        fields["amount"] = draw(st.none() | money | st.just(Decimal("1e15")))
    if kind == "promise":
        fields["due_in_days"] = draw(
            st.integers(0, 20) | st.none() | st.integers(-5, 90) | st.just(99_999_999)
        )
        if draw(st.booleans()):
            fields["date"] = draw(st.dates(date(2037, 1, 1), date(2038, 12, 31)))
    if kind == "plan" and draw(st.booleans()):
        # Well formed (so plans do run): increasing dates, amounts that may cover the balance.
        gaps = draw(st.lists(st.integers(1, 40), min_size=1, max_size=5))
        days = [sum(gaps[: index + 1]) for index in range(len(gaps))]
        fields["installments"] = [
            InstallmentSpec(
                due_in_days=day,
                amount=draw(
                    st.decimals(min_value=Decimal("50"), max_value=Decimal("900"), places=2)
                ),
            )
            for day in days
        ]
    elif kind == "plan":
        fields["installments"] = draw(
            st.lists(
                st.builds(
                    InstallmentSpec,
                    amount=money,
                    due_in_days=st.none() | st.integers(-3, 200),
                ),
                max_size=9,
            )
        )
    if kind == "dispute_resolved":
        fields["outcome"] = draw(
            st.sampled_from(["validated", "validated", "validated", "upheld"]) | st.none()
        )
    if kind in ("opt_out", "delivery_failed", "reply"):
        fields["channel"] = draw(st.none() | st.sampled_from(CHANNELS))
    if kind == "breathing_space":
        fields["days"] = draw(st.sampled_from([60, 60, 1, 10]))
    if kind == "hold":
        fields["days"] = draw(st.none() | st.integers(-2, 120) | st.just(999_999_999))
    if kind == "reply":
        fields["text"] = draw(st.none() | st.just("STOP") | st.just("hello"))
    if draw(st.integers(0, 9)) == 0:
        fields["event_id"] = f"e-{draw(st.integers(0, 3))}"  # repeats must change nothing
    return AccountEvent.model_validate(fields)


@st.composite
def classifications(draw) -> ReplyClassification:
    """What the classifier may say of a reply (the classifier itself is tested on its own)."""
    kind = draw(st.sampled_from(["opt_out", "promise", "dispute", "callback", "unknown"]))
    return ReplyClassification(
        kind=kind,
        promise_date=draw(st.dates(date(2037, 12, 1), date(2038, 9, 1)))
        if kind == "promise"
        else None,
        amount=draw(st.none() | money) if kind == "promise" else None,
        channel=draw(st.none() | st.just(Channel.VOICEMAIL)) if kind == "opt_out" else None,
    )


# A provider outage: how many hours from now, and which channels' providers are down.
outages = st.tuples(
    st.integers(1, 24 * 20), st.sets(st.sampled_from(CHANNELS), min_size=1).map(frozenset)
)
