"""One row per compliance rule (`config/compliance.RULES`), each named with its citation.

What a rule forbids is refused (a ladder, an event), suppressed with the rule recorded (a
contact) or moved (the calendar). Rows that need time to pass run the real workflow on
Temporal's time-skipping server; the others call the pure rule, renderer or check directly.
`test_every_rule_has_a_row` keeps the table complete when a rule is added.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.email_opt_out import email_opt_out_line
from activities.limited_content import limited_content_problems
from activities.outgoing import prepare_message
from activities.render import sample_facts
from cli.erasure import jurisdiction_refusal
from config.compliance import RULES, RuleId, citation, rule_for_reason
from config.ladder import Channel
from config.ladder_loader import LadderError
from config.settings import PROJECT_ROOT, load_settings
from store.protocols import AuditRecord
from tests.conftest import EXAMPLE_LADDER_TEXT, MONDAY, Harness, account, ladder_from
from worker import renderer_for
from workflows.account import compliance, contact_policy
from workflows.account.apply import apply
from workflows.account.events import typed_event
from workflows.account.next_action import next_action
from workflows.activity_types import send_request
from workflows.types import AccountEvent, AccountInput, AccountState, Status

DAY = timedelta(days=1)
TEMPLATES = PROJECT_ROOT / "templates"


def ladder_text(jurisdiction: str, steps: str | None = None, days: str | None = None) -> str:
    """The example ladder under another profile, with other steps or weekdays."""
    text = EXAMPLE_LADDER_TEXT.replace("jurisdiction: us", f"jurisdiction: {jurisdiction}")
    if jurisdiction == "uk":
        text = text.replace("holidays: US", "holidays: GB")
    if days is not None:
        text = text.replace("days: [mon, tue, wed, thu, fri, sat]", f"days: [{days}]")
    if steps is not None:
        head, tail = text.split("steps:", 1)
        text = head + "steps:\n" + steps + "promise:" + tail.split("promise:", 1)[1]
    return text


def london(now: datetime, **columns: str) -> AccountInput:
    text = columns.pop("ladder_text", ladder_text("uk"))
    return account(
        now,
        ladder=ladder_from(text),
        phone="+447911123456",
        address="10 Downing Street",
        postal_code="SW1A 2AA",
        city="London",
        country="GB",
        timezone="Europe/London",
        locale="en",
        currency="GBP",
        **columns,
    )


def compliant(account_input: AccountInput, **fields: object) -> AccountState:
    return AccountState(balance=account_input.balance, compliance=True, **fields)  # type: ignore[arg-type]


def check(state: AccountState, account_input: AccountInput, channel: Channel, **kw: object) -> str:
    verdict = contact_policy.check(state, account_input, channel, MONDAY, **kw)  # type: ignore[arg-type]
    return str(verdict.reason)


def event(state: AccountState, account_input: AccountInput, type: str, **fields: object):
    typed = typed_event(AccountEvent(type=type, **fields))  # type: ignore[arg-type]
    return apply(state, account_input, typed, MONDAY)


def opened(jurisdiction: str) -> list[AuditRecord]:
    body = {"jurisdiction": jurisdiction}
    return [AuditRecord("A-1", 1, "opened", MONDAY, "opened", body, MONDAY, "", "h")]


# ---- rules checked without a server -----------------------------------------------------------


def contact_hours() -> None:
    with pytest.raises(LadderError, match="1692c"):
        ladder_from(EXAMPLE_LADDER_TEXT.replace('start: "08:00"', 'start: "07:00"'))


def call_cap() -> None:
    debtor = account(MONDAY)
    calls = [MONDAY - timedelta(hours=hours) for hours in range(1, 8)]
    state = compliant(debtor, call_attempts=calls)
    assert check(state, debtor, Channel.VOICEMAIL) == "call_cap"
    assert rule_for_reason("call_cap") == RuleId.CALL_CAP


def limited_content_voicemail() -> None:
    template = TEMPLATES / "voicemail" / "callback-request.en.txt"
    assert limited_content_problems(template, "Please call us back.", "Acme") == []
    assert limited_content_problems(template, "About your overdue debt", "Acme")


def opt_out_notice() -> None:
    renderer = renderer_for(load_settings())
    for locale in ("en", "fr", "it", "es", "pl"):
        message = renderer.render(Channel.EMAIL, "courtesy", sample_facts(locale))
        assert email_opt_out_line(locale) in message.text, locale


def record_retention() -> None:
    refusal = jurisdiction_refusal("A-1", opened("us"))
    assert refusal is not None and "1006.100" in refusal


def erasure() -> None:
    assert jurisdiction_refusal("A-1", opened("eu")) is None
    assert jurisdiction_refusal("A-1", opened("none")) is not None


def contact_cap() -> None:
    debtor = london(MONDAY)
    sent = [MONDAY - timedelta(days=days) for days in (1, 2, 3)]
    assert check(compliant(debtor, contact_attempts=sent), debtor, Channel.EMAIL) == "contact_cap"
    assert check(compliant(debtor, contact_attempts=sent[:2]), debtor, Channel.EMAIL) == "None"
    # The same history under accounts started before the rules: no cap.
    assert (
        check(AccountState(balance=Decimal(1), contact_attempts=sent), debtor, Channel.EMAIL)
        == "None"
    )


def cease() -> None:
    debtor = account(MONDAY)
    assert check(compliant(debtor, contact_ceased=True), debtor, Channel.LETTER) == "ceased"


def dispute() -> None:
    debtor = account(MONDAY)
    state = compliant(debtor, status=Status.DISPUTED)
    assert check(state, debtor, Channel.EMAIL) == "disputed"
    assert check(state, debtor, Channel.LETTER, step="dispute-1-verification") == "None"


def opt_out() -> None:
    debtor = account(MONDAY)
    state = compliant(debtor, unusable_channels={"sms": "opted_out"})
    assert check(state, debtor, Channel.SMS) == "opted_out"


def dispute_verification() -> None:
    debtor = account(MONDAY)
    state, answer = event(compliant(debtor), debtor, "dispute", reason="not mine")
    assert answer.detail["verification"] == "required"
    state, answer = event(state, debtor, "dispute_resolved", outcome="validated")
    assert answer.detail["verification"] == "queued"
    assert state.status == Status.DISPUTED  # until the letter is sent
    action = next_action(state, debtor, MONDAY)
    assert action is not None and action.label == "dispute-1-verification"
    # Without a postal address no verification can be sent: validation is refused.
    homeless = account(MONDAY, address=None, city=None, postal_code=None)
    state, _ = event(compliant(homeless), homeless, "dispute")
    _, answer = event(state, homeless, "dispute_resolved", outcome="validated")
    assert not answer.accepted and "1006.38" in str(answer.reason)


PURE: dict[RuleId, Callable[[], None]] = {
    RuleId.CONTACT_HOURS: contact_hours,
    RuleId.CALL_CAP: call_cap,
    RuleId.LIMITED_CONTENT_VOICEMAIL: limited_content_voicemail,
    RuleId.OPT_OUT_NOTICE: opt_out_notice,
    RuleId.RECORD_RETENTION: record_retention,
    RuleId.ERASURE: erasure,
    RuleId.CONTACT_CAP: contact_cap,
    RuleId.CEASE: cease,
    RuleId.DISPUTE: dispute,
    RuleId.OPT_OUT: opt_out,
    RuleId.DISPUTE_VERIFICATION: dispute_verification,
}


# ---- rules on the time-skipping server --------------------------------------------------------


def contacts(view) -> list[str]:
    return [f"{c.step}:{c.outcome}" + (f":{c.rule}" if c.rule else "") for c in view.contacts]


async def validation_notice(harness: Harness) -> None:
    """The first email carries the notice; a text with no email or letter within 5 days
    before the notice is suppressed, and the later letter carries it."""
    steps = (
        "  - {id: text-first, day: 1, channel: sms, template: reminder}\n"
        "  - {id: letter, day: 20, channel: letter, template: first-notice}\n"
        "  - {id: handoff, day: 45, action: handoff}\n"
    )
    async with harness.worker():
        await harness.start(account(MONDAY))
        await harness.start(
            account(MONDAY, account_id="T-2", ladder=ladder_from(ladder_text("us", steps)))
        )
        await harness.advance_to(MONDAY + 25 * DAY)
        first = await harness.view()
        second = await harness.view("T-2")
    assert first.contacts[0].validation_notice and first.contacts[0].step == "courtesy-email"
    assert not first.contacts[1].validation_notice  # owed once
    email = harness.outbox.messages("T-1")[0]
    assert "Informations importantes concernant cette dette" in str(email)  # fr: the debtor's
    assert contacts(second)[:2] == ["text-first:suppressed:validation_notice", "letter:sent"]
    assert second.contacts[1].validation_notice


async def text_cap(harness: Harness) -> None:
    steps = "".join(
        f"  - {{id: text-{day}, day: {day}, channel: sms, template: reminder}}\n"
        for day in (1, 2, 3, 4)
    )
    steps = (
        "  - {id: courtesy-email, day: 0, channel: email, template: courtesy}\n"
        + steps
        + "  - {id: handoff, day: 45, action: handoff}\n"
    )
    async with harness.worker():
        await harness.start(account(MONDAY, ladder=ladder_from(ladder_text("us", steps))))
        await harness.advance_to(MONDAY + 8 * DAY)
        view = await harness.view()
    assert contacts(view) == [
        "courtesy-email:sent",
        "text-1:sent",
        "text-2:sent",
        "text-3:sent",
        "text-4:suppressed:text_cap",
    ]


async def no_sunday_or_bank_holiday(harness: Harness) -> None:
    """A step due on Sunday 10 Jan 2038 goes on Monday under uk, though the window lists sun;
    with the ladder's explicit permission it goes on the Sunday."""
    steps = (
        "  - {id: sunday-email, day: 6, channel: email, template: courtesy}\n"
        "  - {id: handoff, day: 45, action: handoff}\n"
    )
    days = "mon, tue, wed, thu, fri, sat, sun"
    closed = ladder_text("uk", steps, days)
    allowed = closed.replace(
        "min_balance:", "compliance: {sunday_and_bank_holiday_contact: true}\nmin_balance:"
    )
    async with harness.worker():
        await harness.start(london(MONDAY, ladder_text=closed))
        await harness.start(london(MONDAY, ladder_text=allowed, account_id="T-2"))
        await harness.advance_to(MONDAY + 9 * DAY)
        moved, kept = await harness.view(), await harness.view("T-2")
    assert moved.contacts[0].at.date().isoformat() == "2038-01-11"  # Monday
    assert kept.contacts[0].at.date().isoformat() == "2038-01-10"  # Sunday


async def breathing_space(harness: Harness) -> None:
    async with harness.worker():
        await harness.start(london(MONDAY))
        await harness.advance_to(MONDAY + 2 * DAY)
        answer = await harness_event(harness, "breathing_space")
        refused = await harness_event(harness, "promise", due_in_days=5)
        await harness.advance_to(MONDAY + 50 * DAY)
        during = await harness.view()
        await harness.advance_to(MONDAY + 70 * DAY)
        after = await harness.view()
    assert answer.accepted and not refused.accepted
    assert during.status == Status.HELD
    assert contacts(during) == ["courtesy-email:sent"]
    assert "breathing_space_ended" in [e.type for e in after.events]
    # The ladder clock stood still for the 60 days: the day-5 text comes after them.
    assert contacts(after)[1] == "sms-reminder:sent"
    assert after.contacts[1].at > MONDAY + 62 * DAY


async def harness_event(harness: Harness, type: str, **fields: object):
    from intake.events import send_event

    return await send_event(harness.env.client, "T-1", AccountEvent(type=type, **fields))  # type: ignore[arg-type]


SERVER: dict[RuleId, Callable[[Harness], Awaitable[None]]] = {
    RuleId.VALIDATION_NOTICE: validation_notice,
    RuleId.TEXT_CAP: text_cap,
    RuleId.NO_SUNDAY_OR_BANK_HOLIDAY: no_sunday_or_bank_holiday,
    RuleId.BREATHING_SPACE: breathing_space,
}


def named(rule: RuleId) -> str:
    return f"{rule.value} ({citation(rule)})"


def test_every_rule_has_a_row() -> None:
    assert set(PURE) | set(SERVER) == set(RULES)
    assert not set(PURE) & set(SERVER)


@pytest.mark.parametrize("rule", list(PURE), ids=named)
def test_rule(rule: RuleId) -> None:
    PURE[rule]()


@pytest.mark.parametrize("rule", list(SERVER), ids=named)
async def test_rule_on_the_time_skipping_server(rule: RuleId, harness: Harness) -> None:
    await SERVER[rule](harness)


def test_a_suppression_carries_its_rule_and_citation_into_the_record() -> None:
    debtor = account(MONDAY)
    state = compliant(debtor, text_attempts=[MONDAY - DAY] * 3)
    assert compliance.text_capped(state, debtor, MONDAY)
    assert rule_for_reason("text_cap") == "text_cap"
    assert citation("text_cap").startswith("12 CFR 1006.14")


def test_a_us_voicemail_that_names_a_debt_is_not_sent_whatever_the_ladder_says(
    tmp_path: Path,
) -> None:
    """12 CFR 1006.2(j) at send time: `ladder validate` refuses such a template, and a template
    changed after validation still never reaches the debtor."""
    (tmp_path / "voicemail").mkdir()
    (tmp_path / "voicemail" / "loud.en.txt").write_text("You owe us a debt. Call back.")
    settings = load_settings(templates_dir=tmp_path)
    debtor = account(MONDAY, locale="en")
    request = send_request(
        debtor,
        idempotency_key="k",
        at=MONDAY,
        balance=debtor.balance,
        days_past_due=1,
        step="voicemail",
        channel=Channel.VOICEMAIL,
        template="loud",
    )
    with pytest.raises(ApplicationError) as raised:
        prepare_message(request, renderer_for(settings), "https://pay.example/{account_id}")
    assert raised.value.type == "NotLimitedContent" and "1006.2(j)" in str(raised.value)
    # The debtor's own name is not the message: Bill Owens still gets his call-back request.
    (tmp_path / "voicemail" / "quiet.en.txt").write_text("Hello {{ debtor.name }}, call us.")
    bill = account(MONDAY, locale="en", name="Bill Owens")
    quiet = request.model_copy(update={"template": "quiet", "debtor": bill.debtor})
    message = prepare_message(quiet, renderer_for(settings), "https://pay.example/{account_id}")
    assert "Bill Owens" in message.message.text
    assert rule_for_reason("not_limited_content") == RuleId.LIMITED_CONTENT_VOICEMAIL


def test_the_readme_lists_every_rule_with_its_citation_and_the_counsel_note() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Compliance profiles and the audit trail", 1)[1].split("\n## ")[0]
    for rule in RULES.values():
        assert f"| `{rule.id.value}` |" in section and rule.citation in section, rule.id
    assert "counsel" in section
