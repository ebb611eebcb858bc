"""`dunning report`'s pure part (reporting/): every figure from synthetic facts, the statistics
against Newcombe's (1998) published examples, properties over random portfolios (hypothesis),
and the renderings (table, JSON, a self-contained HTML file with valid SVG charts)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from io import StringIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from reporting.compute import build_report
from reporting.facts import AccountFacts
from reporting.model import BEFORE_ANY_CONTACT, NO_VARIANT, Report
from reporting.render_html import html_document, html_fragment
from reporting.render_table import report_tables
from reporting.stats import NO_CLEAR_DIFFERENCE, TOO_SMALL, newcombe, verdict, wilson
from workflows.types import ContactRecord, EventRecord

T0 = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=90)


def at(day: float) -> datetime:
    return T0 + timedelta(days=day)


def sent(day: float, step: str, channel: str = "sms", variant: str | None = None, **kw):
    return ContactRecord(
        at=at(day),
        step=step,
        channel=channel,
        template=variant or step,
        outcome="sent",
        variant=variant,
        **kw,
    )


def suppressed(day: float, step: str, channel: str = "sms") -> ContactRecord:
    return ContactRecord(
        at=at(day), step=step, channel=channel, template=step, outcome="suppressed", reason="x"
    )


def event(day: float, kind: str, accepted: bool = True, **detail: str) -> EventRecord:
    return EventRecord(at=at(day), type=kind, accepted=accepted, detail=detail)


def pay(day: float, amount: str, accepted: bool = True) -> EventRecord:
    return event(day, "payment", accepted, amount=amount)


def facts(
    account_id: str,
    contacts: list[ContactRecord] = (),  # type: ignore[assignment]
    events: list[EventRecord] = (),  # type: ignore[assignment]
    status: str = "active",
    currency: str = "USD",
    ladder: str = "consumer-ab",
) -> AccountFacts:
    return AccountFacts(
        account_id=account_id,
        ladder=ladder,
        currency=currency,
        status=status,
        contacts=list(contacts),
        events=list(events),
    )


def report_of(accounts: list[AccountFacts], **period) -> Report:
    return build_report(accounts, start=period.get("start"), end=period.get("end"), now=NOW)


# ---- statistics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # Newcombe (1998), Table II, method 10 (hybrid score, no continuity correction).
        ((56, 70, 48, 80), (0.2000, 0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.6000, 0.1705, 0.8090)),
        ((6, 7, 2, 7), (0.5714, 0.0582, 0.8062)),
        ((5, 56, 0, 29), (0.0893, -0.0381, 0.1926)),
        ((0, 10, 0, 20), (0.0, -0.1611, 0.2775)),
        ((0, 10, 0, 10), (0.0, -0.2775, 0.2775)),
        ((10, 10, 0, 20), (1.0, 0.6791, 1.0)),
        ((10, 10, 0, 10), (1.0, 0.6075, 1.0)),
    ],
)
def test_newcombe_matches_the_papers_worked_examples(counts, expected):
    result = newcombe(*counts)
    assert (
        round(result.difference, 4),
        round(result.low, 4),
        round(result.high, 4),
    ) == pytest.approx(expected, abs=1e-9)


def test_wilson_interval_of_the_papers_first_proportion():
    # Newcombe (1998), Table I: 81/263 → 0.2553 to 0.3662 (Wilson score, method 3).
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_verdict_rules_name_the_arm_and_the_rule():
    wide = newcombe(10, 29, 5, 40)
    assert verdict("a", (40, 5), "b", (29, 10), wide) == (
        f"{TOO_SMALL}: b: fewer than 30 exposed (29)"
    )
    assert verdict("a", (40, 4), "b", (40, 10), None).endswith("a: fewer than 5 conversions (4)")
    assert verdict("a", (40, 36), "b", (40, 10), None).endswith(
        "a: fewer than 5 non-conversions (4)"
    )
    assert verdict("a", (100, 20), "b", (100, 40), newcombe(40, 100, 20, 100)) == "b ahead"
    assert verdict("a", (100, 40), "b", (100, 20), newcombe(20, 100, 40, 100)) == "a ahead"
    assert verdict("a", (100, 20), "b", (100, 22), newcombe(22, 100, 20, 100)) == (
        NO_CLEAR_DIFFERENCE
    )


@given(
    st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_newcombe_interval_contains_the_difference_and_stays_in_bounds(first, second):
    result = newcombe(first[0], first[1], second[0], second[1])
    assert -1 <= result.low <= result.difference <= result.high <= 1
    low, high = wilson(*first)
    assert 0 <= low <= first[0] / first[1] <= high <= 1


# ---- figures from synthetic facts ---------------------------------------------------------


def test_recovered_is_per_currency_and_inside_the_period():
    accounts = [
        facts("A", [sent(1, "courtesy-email", "email")], [pay(2, "20.00"), pay(40, "5.00")]),
        facts("B", [], [pay(3, "7.50"), pay(4, "100.00", accepted=False)]),
        facts("C", [sent(1, "courtesy-email", "email")], [pay(5, "1000")], currency="JPY"),
    ]
    report = report_of(accounts, start=at(0), end=at(30))
    assert [(r.currency, r.amount, r.payments, r.accounts) for r in report.recovered] == [
        ("JPY", Decimal("1000"), 1, 1),
        ("USD", Decimal("27.50"), 2, 2),
    ]


def test_a_payment_is_credited_to_the_last_sent_contact_before_it():
    account = facts(
        "A",
        [
            sent(1, "courtesy-email", "email"),
            sent(5, "sms-reminder", "sms", variant="reminder-direct"),
            suppressed(6, "first-letter", "letter"),  # reached nobody: earns nothing
            sent(10, "first-letter", "letter"),
        ],
        [pay(0.5, "1.00"), pay(7, "20.00"), pay(10, "3.00"), pay(12, "4.00")],
    )
    report = report_of([account])
    by_step = {(r.key, r.currency): (r.amount, r.payments) for r in report.attribution.by_step}
    assert by_step == {
        (BEFORE_ANY_CONTACT, "USD"): (Decimal("1.00"), 1),
        # At the same instant as the letter: the letter was not yet sent before it.
        ("sms-reminder", "USD"): (Decimal("23.00"), 2),
        ("first-letter", "USD"): (Decimal("4.00"), 1),
    }
    by_channel = {r.key: r.amount for r in report.attribution.by_channel}
    assert by_channel == {
        BEFORE_ANY_CONTACT: Decimal("1.00"),
        "sms": Decimal("23.00"),
        "letter": Decimal("4.00"),
    }
    by_variant = {r.key: (r.step, r.variant, r.amount) for r in report.attribution.by_variant}
    assert by_variant == {
        "sms-reminder / reminder-direct": ("sms-reminder", "reminder-direct", Decimal("23.00")),
        NO_VARIANT: (None, None, Decimal("4.00")),
        BEFORE_ANY_CONTACT: (None, None, Decimal("1.00")),
    }
    # Payments no contact explains come last.
    assert report.attribution.by_variant[-1].key == BEFORE_ANY_CONTACT


def test_accounts_by_status_and_ladder_count_every_account_whatever_the_period():
    accounts = [
        facts("A", status="paid"),
        facts("B", status="active", ladder="consumer-standard"),
        facts("C", status="paid"),
        facts("D", status="unknown"),
    ]
    report = report_of(accounts, start=at(100), end=at(101))
    assert report.accounts == 4
    assert [(c.key, c.accounts) for c in report.by_status] == [
        ("active", 1),
        ("paid", 2),
        ("unknown", 1),
    ]
    assert [(c.key, c.accounts) for c in report.by_ladder] == [
        ("consumer-ab", 3),
        ("consumer-standard", 1),
    ]


def test_promise_outcomes_and_the_kept_rate():
    accounts = [
        facts("kept", events=[event(2, "promise"), pay(5, "50.00"), event(5, "promise_kept")]),
        facts("broken", events=[event(2, "promise"), event(9, "promise_broken")]),
        facts("pending", events=[event(20, "promise")], status="promised"),
        facts("refused", events=[event(2, "promise", accepted=False)]),
        facts(
            "replaced",
            events=[event(2, "promise"), event(3, "promise"), event(9, "promise_broken")],
        ),
        facts("plan", events=[event(2, "promise"), event(3, "promise_replaced")]),
        facts("disputed", events=[event(2, "promise"), event(3, "promise_cancelled")]),
        facts("bankrupt", events=[event(2, "promise")], status="closed"),
        facts("outside", events=[event(40, "promise"), event(41, "promise_kept")]),
    ]
    promises = report_of(accounts, start=at(0), end=at(30)).promises
    assert promises.model_dump() == {
        "accepted": 8,
        "kept": 1,
        "broken": 2,  # "broken" and the second promise of "replaced"
        "pending": 1,
        "replaced": 2,  # "replaced"'s first, "plan"
        "cancelled": 2,  # "disputed", "bankrupt" (closed without an outcome)
        "kept_rate": pytest.approx(1 / 3),
    }


def test_plan_outcomes_and_the_completion_rate():
    accounts = [
        facts("done", events=[event(1, "plan"), event(30, "plan_completed")], status="paid"),
        facts("default", events=[event(1, "plan"), event(40, "plan_default")]),
        facts("running", events=[event(1, "plan")], status="plan"),
        facts("cancelled", events=[event(1, "plan"), event(2, "plan_cancelled")]),
        facts("refused", events=[event(1, "plan", accepted=False)]),
    ]
    plans = report_of(accounts).plans
    assert (plans.accepted, plans.completed, plans.defaulted, plans.pending, plans.cancelled) == (
        4,
        1,
        1,
        1,
        1,
    )
    assert plans.completion_rate == 0.5
    assert report_of([]).plans.completion_rate is None


def test_opt_out_and_dispute_rates_by_step_use_the_last_sent_contact():
    email = sent(1, "courtesy-email", "email")
    sms = sent(5, "sms-reminder")
    accounts = [
        facts("A", [email, sms], [event(6, "opt_out", channel="sms")]),
        facts("B", [email, sms], [event(6, "dispute"), event(7, "dispute")]),  # once per step
        facts("C", [email], [event(2, "opt_out", channel="email")]),
        facts("D", [email, sms], [event(3, "dispute")]),  # before the sms: the email's
        facts("E", [email, suppressed(5, "sms-reminder")], [event(6, "opt_out", accepted=False)]),
        facts("F", [], [event(1, "opt_out")]),  # no contact sent: no step to blame
    ]
    rows = {row.step: row for row in report_of(accounts).step_rates}
    assert list(rows) == ["courtesy-email", "sms-reminder"]
    assert (rows["courtesy-email"].exposed, rows["courtesy-email"].opted_out) == (5, 1)
    assert rows["courtesy-email"].disputed == 1
    assert (rows["sms-reminder"].exposed, rows["sms-reminder"].opted_out) == (3, 1)
    assert rows["sms-reminder"].disputed == 1
    assert rows["sms-reminder"].dispute_rate == pytest.approx(1 / 3)


def _ab_portfolio(control_paid: int, variant_paid: int, n: int = 100) -> list[AccountFacts]:
    accounts = []
    for arm, paid in (("reminder", control_paid), ("reminder-direct", variant_paid)):
        for index in range(n):
            contacts = [sent(1, "courtesy-email", "email"), sent(5, "sms-reminder", variant=arm)]
            events = [pay(7, "75.00")] if index < paid else []
            accounts.append(facts(f"{arm}-{index}", contacts, events))
    return accounts


def test_variant_comparison_declares_the_better_variant_ahead():
    report = report_of(_ab_portfolio(control_paid=20, variant_paid=45))
    (comparison,) = report.variants
    assert comparison.step == "sms-reminder"
    assert comparison.control == "reminder"
    control, direct = comparison.arms
    assert (control.variant, control.exposed, control.converted) == ("reminder", 100, 20)
    assert (direct.variant, direct.exposed, direct.converted) == ("reminder-direct", 100, 45)
    assert direct.conversion_rate == 0.45
    assert [(m.currency, m.amount) for m in direct.recovered] == [("USD", Decimal("3375.00"))]
    assert [(m.currency, m.amount) for m in direct.recovered_per_exposed] == [
        ("USD", Decimal("33.75"))
    ]
    (difference,) = comparison.differences
    expected = newcombe(45, 100, 20, 100)
    assert difference.difference == pytest.approx(0.25)
    assert (difference.low, difference.high) == (expected.low, expected.high)
    assert difference.low > 0
    assert difference.verdict == "reminder-direct ahead"


def test_variant_comparison_says_when_the_sample_is_too_small():
    report = report_of(_ab_portfolio(control_paid=3, variant_paid=9, n=25))
    (difference,) = report.variants[0].differences
    assert difference.verdict == f"{TOO_SMALL}: reminder: fewer than 30 exposed (25)"


def test_the_control_is_the_one_the_caller_names():
    report = build_report(
        _ab_portfolio(20, 45),
        start=None,
        end=None,
        now=NOW,
        controls={("consumer-ab", "sms-reminder"): "x"},
    )
    assert report.variants[0].control == "reminder"  # not a variant seen: the default
    report = build_report(
        _ab_portfolio(20, 45),
        start=None,
        end=None,
        now=NOW,
        controls={("consumer-ab", "sms-reminder"): "reminder-direct"},
    )
    assert report.variants[0].control == "reminder-direct"
    assert report.variants[0].differences[0].verdict == "reminder-direct ahead"
    # Another ladder's step of the same id is another experiment: not its control.
    report = build_report(
        _ab_portfolio(20, 45),
        start=None,
        end=None,
        now=NOW,
        controls={("other-ladder", "sms-reminder"): "reminder-direct"},
    )
    assert report.variants[0].control == "reminder"


def test_two_ladders_with_the_same_step_are_two_experiments():
    """Assignment hashes the ladder's name: arms of two ladders are never pooled."""
    other = [
        account.model_copy(update={"ladder": "consumer-b", "account_id": f"B{account.account_id}"})
        for account in _ab_portfolio(20, 45)
    ]
    report = report_of([*_ab_portfolio(20, 45), *other])
    assert [(c.ladder, c.step) for c in report.variants] == [
        ("consumer-ab", "sms-reminder"),
        ("consumer-b", "sms-reminder"),
    ]
    assert all(arm.exposed == 100 for c in report.variants for arm in c.arms)


def test_money_per_exposed_account_is_per_currency_at_its_precision():
    euros = [sent(5, "sms-reminder", variant="reminder")]
    accounts = [
        facts("E1", euros, [pay(6, "10.00")], currency="EUR"),
        facts("E2", euros, [], currency="EUR"),
        facts("J1", euros, [pay(6, "1001")], currency="JPY"),
        facts("J2", [sent(5, "sms-reminder", variant="reminder-direct")], [], currency="JPY"),
    ]
    (comparison,) = report_of(accounts).variants
    arm = next(arm for arm in comparison.arms if arm.variant == "reminder")
    assert {m.currency: m.amount for m in arm.recovered_per_exposed} == {
        "EUR": Decimal("5.00"),  # 10.00 over the 2 EUR accounts, not over all 3 exposed
        "JPY": Decimal("1001"),  # no minor unit
    }


def test_a_step_with_one_variant_seen_is_not_compared():
    accounts = [facts("A", [sent(5, "sms-reminder", variant="reminder")], [pay(6, "1.00")])]
    assert report_of(accounts).variants == []


def test_naive_or_empty_periods_are_refused():
    with pytest.raises(ValueError, match=r"start: .* has no time zone"):
        build_report([], start=datetime(2027, 1, 1), end=None, now=NOW)
    with pytest.raises(ValueError, match="the period is empty"):
        build_report([], start=at(2), end=at(1), now=NOW)


# ---- properties over random portfolios ----------------------------------------------------

STEPS = ("courtesy-email", "sms-reminder", "first-letter")
CHANNELS = {"courtesy-email": "email", "sms-reminder": "sms", "first-letter": "letter"}


@st.composite
def contacts_of(draw) -> list[ContactRecord]:
    records = []
    for _ in range(draw(st.integers(0, 5))):
        step = draw(st.sampled_from(STEPS))
        day = draw(st.integers(0, 40)) + draw(st.sampled_from((0, 0.25, 0.5)))
        variant = draw(st.sampled_from(("a", "b", "c"))) if step == "sms-reminder" else None
        outcome = draw(st.sampled_from(("sent", "sent", "suppressed")))
        records.append(
            ContactRecord(
                at=at(day),
                step=step,
                channel=CHANNELS[step],
                template=step,
                outcome=outcome,
                variant=variant,
            )
        )
    return records


@st.composite
def events_of(draw) -> list[EventRecord]:
    kinds = (
        "payment",
        "promise",
        "promise_kept",
        "promise_broken",
        "plan",
        "plan_completed",
        "plan_default",
        "opt_out",
        "dispute",
    )
    records = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(kinds))
        day = draw(st.integers(0, 40)) + draw(st.sampled_from((0, 0.25, 0.5)))
        detail = {}
        if kind == "payment":
            cents = draw(st.integers(1, 100_000))
            detail["amount"] = str(Decimal(cents).scaleb(-2))
        records.append(
            EventRecord(at=at(day), type=kind, accepted=draw(st.booleans()), detail=detail)
        )
    return sorted(records, key=lambda record: record.at)


@st.composite
def portfolios(draw) -> list[AccountFacts]:
    return [
        facts(
            f"A-{index}",
            draw(contacts_of()),
            draw(events_of()),
            status=draw(st.sampled_from(("active", "paid", "closed", "promised"))),
            currency=draw(st.sampled_from(("USD", "EUR", "JPY"))),
        )
        for index in range(draw(st.integers(0, 12)))
    ]


periods = st.one_of(
    st.just((None, None)),
    st.tuples(st.integers(0, 20), st.integers(21, 45)).map(lambda p: (at(p[0]), at(p[1]))),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios(), periods)
def test_report_invariants_over_random_portfolios(portfolio, period):
    start, end = period
    report = build_report(portfolio, start=start, end=end, now=NOW)
    totals = {row.currency: row.amount for row in report.recovered}
    # Every payment is credited exactly once in each breakdown: each sums to the total.
    for rows in (
        report.attribution.by_step,
        report.attribution.by_channel,
        report.attribution.by_variant,
    ):
        sums: dict[str, Decimal] = {}
        for row in rows:
            sums[row.currency] = sums.get(row.currency, Decimal(0)) + row.amount
        assert sums == totals
        assert sum(row.payments for row in rows) == sum(r.payments for r in report.recovered)
    assert sum(count.accounts for count in report.by_status) == len(portfolio)
    rates = [report.promises.kept_rate, report.plans.completion_rate]
    for row in report.step_rates:
        assert row.opted_out <= row.exposed and row.disputed <= row.exposed
        rates += [row.opt_out_rate, row.dispute_rate]
    for comparison in report.variants:
        for arm in comparison.arms:
            assert 0 <= arm.converted <= arm.exposed
            rates.append(arm.conversion_rate)
        for difference in comparison.differences:
            assert -1 <= difference.low <= difference.difference <= difference.high <= 1
    assert all(rate is None or 0 <= rate <= 1 for rate in rates)
    promises = report.promises
    assert promises.accepted == (
        promises.kept + promises.broken + promises.pending + promises.replaced + promises.cancelled
    )
    # JSON: money as strings, and it reads back to the same report.
    dumped = json.loads(report.model_dump_json())
    for row in dumped["recovered"]:
        assert isinstance(row["amount"], str)
    assert Report.model_validate_json(report.model_dump_json()) == report


# ---- renderings -----------------------------------------------------------------------------


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


SVG_NAMESPACES = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink")


def _ab_report() -> Report:
    accounts = _ab_portfolio(20, 45)
    accounts.append(
        facts(
            "<script>alert(1)</script>",
            [sent(1, "<b>step</b>", "email")],
            [pay(2, "5.00"), event(3, "opt_out", channel="email")],
            status="<i>odd</i>",
            currency="EUR",
        )
    )
    return report_of(accounts)


def test_html_document_is_self_contained_valid_and_escaped():
    document = html_document(_ab_report())
    parser = _Collect()
    parser.feed(document)
    parser.close()
    tags = [tag for tag, _ in parser.tags]
    assert tags[0] == "html" and "body" in tags
    # No script, no link, no external resource of any kind.
    assert "script" not in tags and "link" not in tags and "img" not in tags
    for tag, attrs in parser.tags:
        for name, value in attrs.items():
            if name in ("src", "href", "xlink:href", "action"):
                assert value is not None and value.startswith("#"), (tag, name, value)
    # The only URLs are the SVG and XLink namespace names (identifiers, never fetched).
    urls = re.findall(r"https?://[^\s\"'<>)]+", document)
    assert set(urls) <= set(SVG_NAMESPACES)
    assert "url(http" not in document and "@import" not in document
    # Text from the data is escaped.
    assert "<b>step</b>" not in document and "&lt;b&gt;step&lt;/b&gt;" in document
    assert "<i>odd</i>" not in document and "&lt;i&gt;odd&lt;/i&gt;" in document


def test_each_chart_is_valid_svg_and_the_variant_chart_is_there():
    fragment = html_fragment(_ab_report())
    assert fragment.startswith('<div class="dunning-report">') and "<html" not in fragment
    # Every CSS rule is scoped under .dunning-report.
    css = re.search(r"<style>(.*?)</style>", fragment, re.S).group(1)
    selectors = [rule.split("{")[0] for rule in css.split("}") if rule.strip()]
    assert selectors and all(
        part.strip().startswith(".dunning-report") for rule in selectors for part in rule.split(",")
    )
    svgs = re.findall(r"<svg\b.*?</svg>", fragment, re.S)
    assert len(svgs) == 6  # status, three recovered, one variant comparison, step rates
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    labels = re.findall(r'<figure aria-label="([^"]*)">', fragment)
    assert "Variants of consumer-ab / sms-reminder" in labels
    variant_svg = svgs[labels.index("Variants of consumer-ab / sms-reminder")]
    assert "reminder-direct" in variant_svg and "45.0% (45/100)" in variant_svg
    assert "reminder-direct ahead" in fragment


def test_table_rendering_shows_every_section():
    buffer = StringIO()
    console = Console(file=buffer, width=160, record=False)
    for table in report_tables(_ab_report()):
        console.print(table)
    text = buffer.getvalue()
    for heading in (
        "Portfolio: 201 accounts",
        "Recovered in the period",
        "Recovered by step",
        "Recovered by channel",
        "Recovered by variant",
        "Promises and plans",
        "Opt-outs and disputes by step",
        "Variants of consumer-ab / sms-reminder (control: reminder)",
        "reminder-direct ahead",
    ):
        assert heading in text, heading


def test_numbered_messages_are_grouped_under_the_ladders_name():
    account = facts(
        "A",
        [
            sent(1, "promise-1-reminder"),
            sent(3, "promise-2-reminder"),
            sent(5, "plan-1-installment-2-missed"),
        ],
        [pay(2, "1.00"), pay(4, "2.00"), pay(6, "4.00"), event(6.5, "dispute")],
    )
    report = report_of([account])
    assert [(row.key, row.amount) for row in report.attribution.by_step] == [
        ("plan.missed", Decimal("4.00")),  # the largest first
        ("promise.reminder", Decimal("3.00")),
    ]
    assert [(row.step, row.exposed, row.disputed) for row in report.step_rates] == [
        ("promise.reminder", 1, 0),
        ("plan.missed", 1, 1),
    ]
