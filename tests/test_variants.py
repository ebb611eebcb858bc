"""A/B/n template variants (issue 13): the ladder language, the assignment, the checks, the
workflow, `simulate` and `preview`.

The assignment is a hash of (ladder, step, account): a running account must keep its wording
across replays, re-runs and code changes, so a few assignments are pinned here as golden values.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.contrib.pydantic import pydantic_data_converter
from typer.testing import CliRunner

from activities.channels.base import Delivery, OutgoingMessage, Undeliverable
from activities.channels.outbox import MemoryOutbox
from cli.main import app
from config.compliance import RuleId
from config.ladder import Channel, Ladder, Step
from config.ladder_loader import LadderError, load_ladder, parse_ladder
from config.profile_checks import profile_problems
from config.settings import PROJECT_ROOT, Settings
from config.variants import assign, shares, template_for, variant_for
from tests.conftest import EXAMPLE_LADDER_TEXT, MONDAY, Harness, account
from workflows.account import contacts
from workflows.account.actions import step_contact
from workflows.types import AccountState

EXAMPLE = PROJECT_ROOT / "examples" / "ab-portfolio" / "consumer-ab.yaml"
TEXT = EXAMPLE.read_text(encoding="utf-8")
TEMPLATES = PROJECT_ROOT / "templates"
DIRECT = "{template: reminder-direct, weight: 1}"
DAY = timedelta(days=1)


def line_containing(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def refused(text: str) -> list:
    with pytest.raises(LadderError) as caught:
        parse_ladder(text, Path("ab.yaml"))
    return caught.value.problems


def step_with(*weights: int) -> Step:
    return Step.model_validate(
        {
            "id": "sms-reminder",
            "day": 5,
            "channel": "sms",
            "variants": [{"template": f"t{i}", "weight": w} for i, w in enumerate(weights)],
        }
    )


# ---- the ladder language ------------------------------------------------------------------------


def test_the_example_ladder_loads_with_two_variants_of_the_sms_reminder():
    ladder = load_ladder(EXAMPLE, templates_dir=TEMPLATES)
    step = ladder.step("sms-reminder")
    assert ladder.name == "consumer-ab" and ladder.jurisdiction.value == "us"
    assert step.template is None and step.templates == ("reminder", "reminder-direct")
    assert [v.weight for v in step.variants or ()] == [1, 1]
    assert shares(step) == {"reminder": 0.5, "reminder-direct": 0.5}


@pytest.mark.parametrize(
    ("edit", "field", "line_of", "message"),
    [
        (
            ("    variants:", "    template: reminder\n    variants:"),
            "steps[1] (sms-reminder).variants",
            "    variants:",
            "a step takes a template or variants, not both",
        ),
        (
            (f"      - {DIRECT}", ""),
            "steps[1] (sms-reminder).variants",
            "    variants:",
            "list at least two variants",
        ),
        (
            (DIRECT, "{template: reminder, weight: 1}"),
            "steps[1] (sms-reminder).variants[1].template",
            "template: reminder, weight: 1}   # shorter",
            "template 'reminder' is listed twice",
        ),
        (
            (DIRECT, "{template: reminder-direct, weight: 0}"),
            "steps[1] (sms-reminder).variants[1].weight",
            "weight: 0",
            "greater than or equal to 1",
        ),
        (
            (DIRECT, "{template: reminder-direct, weight: 1001}"),
            "steps[1] (sms-reminder).variants[1].weight",
            "weight: 1001",
            "less than or equal to 1000",
        ),
        (
            (DIRECT, "{template: reminder-direct, wieght: 1}"),
            "steps[1] (sms-reminder).variants[1].wieght",
            "wieght",
            "unknown field",
        ),
        (
            (DIRECT, "{template: Reminder_Direct}"),
            "steps[1] (sms-reminder).variants[1].template",
            "Reminder_Direct",
            "should match pattern",
        ),
        (
            (
                "    action: handoff",
                "    variants: [{template: a}, {template: b}]\n    action: handoff",
            ),
            "steps[5] (handoff)",
            "  - id: handoff",
            "a handoff step takes no variants",
        ),
    ],
)
def test_a_broken_variant_list_is_refused_at_its_line_and_field(edit, field, line_of, message):
    text = TEXT.replace(*edit, 1)
    assert text != TEXT
    [problem] = refused(text)
    assert problem.field == field
    assert problem.line == line_containing(text, line_of)
    assert message in problem.message
    assert str(problem).startswith(f"ab.yaml:{problem.line}: {field}: ")


def test_a_contact_step_needs_a_template_or_variants():
    start, end = TEXT.index("    variants:"), TEXT.index("    fallback: email")
    [problem] = refused(TEXT[:start] + TEXT[end:])
    assert problem.field == "steps[1] (sms-reminder)"
    assert problem.message == "a contact step needs a template (or variants)"
    assert problem.line == line_containing(TEXT, "id: sms-reminder")


def test_a_ladder_without_variants_serializes_and_decodes_exactly_as_before():
    """Running accounts hold a Ladder snapshot written before variants existed: it decodes, and
    a ladder without variants travels without the new field (same payloads, same histories)."""
    ladder = parse_ladder(EXAMPLE_LADDER_TEXT, Path("consumer-standard.yaml"))
    [payload] = pydantic_data_converter.payload_converter.to_payloads([ladder])
    assert b"variants" not in payload.data
    old_snapshot = json.loads(payload.data)
    assert Ladder.model_validate(old_snapshot) == ladder
    assert all(step.variants is None for step in ladder.steps)


def test_a_ladder_with_variants_round_trips_through_the_workflow_payload():
    ladder = load_ladder(EXAMPLE)
    [payload] = pydantic_data_converter.payload_converter.to_payloads([ladder])
    [decoded] = pydantic_data_converter.payload_converter.from_payloads([payload], [Ladder])
    assert decoded == ladder and decoded.step("sms-reminder").variants is not None


def test_messages_list_every_variant_and_its_fallback():
    messages = load_ladder(EXAMPLE).messages()
    sms = [m for m in messages if m[0].startswith("steps.sms-reminder")]
    assert sms == [
        ("steps.sms-reminder.variants.0", Channel.SMS, "reminder"),
        ("steps.sms-reminder.variants.0.fallback", Channel.EMAIL, "reminder"),
        ("steps.sms-reminder.variants.1", Channel.SMS, "reminder-direct"),
        ("steps.sms-reminder.variants.1.fallback", Channel.EMAIL, "reminder-direct"),
    ]


# ---- the assignment -----------------------------------------------------------------------------


def test_golden_assignments_do_not_move():
    """Running accounts keep their wording: a change to the hash, the key or the walk over the
    weights that reshuffles accounts fails here."""
    ladder = load_ladder(EXAMPLE)
    step = ladder.step("sms-reminder")
    got = {f"A-{n}": template_for(ladder.name, step, f"A-{n}") for n in range(1001, 1011)}
    assert got == {
        "A-1001": "reminder",
        "A-1002": "reminder",
        "A-1003": "reminder",
        "A-1004": "reminder",
        "A-1005": "reminder",
        "A-1006": "reminder",
        "A-1007": "reminder-direct",
        "A-1008": "reminder-direct",
        "A-1009": "reminder-direct",
        "A-1010": "reminder-direct",
    }
    weighted = step_with(1, 2, 7)
    got = [template_for("test-ladder", weighted, f"T-{n}") for n in range(1, 11)]
    assert got == ["t2", "t2", "t2", "t2", "t2", "t2", "t2", "t1", "t0", "t2"]


def test_a_step_without_variants_has_no_assignment():
    step = load_ladder(EXAMPLE).step("courtesy-email")
    assert assign("consumer-ab", step, "A-1") is None
    assert variant_for("consumer-ab", step, "A-1") is None
    assert template_for("consumer-ab", step, "A-1") == "courtesy"


def test_the_key_is_ladder_step_and_account():
    """Another ladder or another step draws again: one A/B test does not decide the next."""
    step = step_with(1, 1)
    ids = [f"A-{n}" for n in range(200)]
    base = [template_for("one", step, i) for i in ids]
    other_ladder = [template_for("two", step, i) for i in ids]
    other_step = [template_for("one", step.model_copy(update={"id": "other"}), i) for i in ids]
    assert base != other_ladder and base != other_step
    assert base == [template_for("one", step, i) for i in ids]


@settings(max_examples=40, deadline=None)
@given(weights=st.lists(st.integers(1, 1000), min_size=2, max_size=5))
def test_each_variant_gets_its_weighted_share(weights: list[int]):
    """Over 4000 account ids, each variant's share is its weight's, within 5 standard errors
    (a false alarm about once in 3.5 million draws)."""
    step = step_with(*weights)
    n = 4000
    counts = Counter(template_for("portfolio", step, f"ACC-{i:05d}") for i in range(n))
    total = sum(weights)
    for index, weight in enumerate(weights):
        p = weight / total
        tolerance = 5 * (p * (1 - p) / n) ** 0.5 + 1 / n
        assert abs(counts[f"t{index}"] / n - p) <= tolerance, (weights, counts)


@given(account_id=st.text(min_size=1, max_size=40), weights=st.lists(st.integers(1, 9), min_size=2))
def test_every_account_gets_exactly_one_variant_of_the_step(account_id: str, weights: list[int]):
    step = step_with(*weights)
    variant = assign("portfolio", step, account_id)
    assert variant is not None and variant in (step.variants or ())
    assert assign("portfolio", step, account_id) == variant


def test_the_assignment_is_the_same_in_another_process():
    """sha256, not Python's salted hash(): another interpreter with another hash seed agrees."""
    ids = [f"A-{n}" for n in range(1001, 1041)]
    script = (
        "import json, sys; from config.ladder_loader import load_ladder; "
        "from config.variants import template_for; "
        f"l = load_ladder({str(EXAMPLE)!r}); s = l.step('sms-reminder'); "
        f"print(json.dumps([template_for(l.name, s, i) for i in {ids!r}]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    ladder = load_ladder(EXAMPLE)
    here = [template_for(ladder.name, ladder.step("sms-reminder"), i) for i in ids]
    assert json.loads(done.stdout) == here
    assert set(here) == {"reminder", "reminder-direct"}


def test_a_variant_step_contact_is_the_accounts_variant():
    ladder = load_ladder(EXAMPLE)
    step = ladder.step("sms-reminder")
    contact = step_contact(step, account(MONDAY, ladder=ladder, account_id="A-1007"))
    assert (contact.template, contact.variant) == ("reminder-direct", "reminder-direct")
    plain = step_contact(ladder.step("courtesy-email"), account(MONDAY, ladder=ladder))
    assert (plain.template, plain.variant) == ("courtesy", None)


def test_every_record_of_a_variant_step_names_the_variant():
    """The pure rules (no server): suppressed on the channel, sent on the fallback, or
    suppressed for want of a window, each record says which wording the account got."""
    ladder = load_ladder(EXAMPLE)
    debtor = account(MONDAY, ladder=ladder, account_id="A-1007")
    contact = step_contact(ladder.step("sms-reminder"), debtor)
    state = AccountState(balance=debtor.balance, next_step_index=1)
    now = MONDAY + 5 * DAY
    state, then = contacts.settle(
        state,
        debtor,
        contact,
        Channel.SMS,
        contacts.NotSent("opted_out", True),
        now,
        workflow_id="dunning-A-1007",
    )
    assert then.kind == "fallback" and then.channel == Channel.EMAIL
    sent = contacts.Sent(sent_at=now, locale="es", message_id="m-1")
    state, then = contacts.settle(
        state,
        debtor,
        contact,
        Channel.EMAIL,
        sent,
        now,
        workflow_id="dunning-A-1007",
        fallback_for=Channel.SMS,
    )
    assert then.kind == "done"
    unwindowed = contacts.no_window(state, debtor, now, pending=False)
    records = [(c.channel, c.outcome, c.template, c.variant) for c in unwindowed.contacts]
    direct = "reminder-direct"
    assert records == [
        (Channel.SMS, "suppressed", direct, direct),
        (Channel.EMAIL, "sent", direct, direct),
        (Channel.SMS, "suppressed", direct, direct),  # no window: the same step again
    ]


# ---- the compliance profile holds for every variant ----------------------------------------------

PLAIN_EMAIL = """{% block subject %}Your balance{% endblock %}
{% block text %}Please pay {{ account.balance }}: {{ payment_link }}{% endblock %}
{% block content %}<p>Please pay {{ account.balance }}</p>{% endblock %}
"""


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """The project's templates plus `email/plain`: no validation notice, no opt-out line."""
    copied = tmp_path / "templates"
    shutil.copytree(TEMPLATES, copied)
    (copied / "email" / "plain.en.html").write_text(PLAIN_EMAIL, encoding="utf-8")
    return copied


def test_the_example_ladder_meets_its_profile_with_every_variant():
    assert profile_problems(load_ladder(EXAMPLE), TEMPLATES) == []


def test_every_variant_of_the_first_email_must_carry_the_validation_notice_and_opt_out(
    templates: Path, tmp_path: Path
):
    """us: an account may get either wording, so each must carry the notice (12 CFR 1006.34)
    and the opt-out line (1006.6(e)); the problems point at the step's variants."""
    text = TEXT.replace(
        "    template: courtesy           # templates/<channel>/<template>.<locale>.<ext>\n",
        "    variants:\n      - {template: courtesy}\n      - {template: plain}\n",
    )
    file = tmp_path / "ab.yaml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(LadderError) as caught:
        load_ladder(file, templates_dir=templates)
    by_rule = {problem.rule: problem for problem in caught.value.problems}
    notice = by_rule[RuleId.VALIDATION_NOTICE.value]
    assert notice.field == "steps[0] (courtesy-email).variants"
    assert notice.line == line_containing(text, "    variants:")
    assert "courtesy | plain" in notice.message and "email/plain.en.html" in notice.message
    opt_out = by_rule[RuleId.OPT_OUT_NOTICE.value]
    assert opt_out.field == "steps[0] (courtesy-email).variants[1].template"
    assert opt_out.line == line_containing(text, "{template: plain}")


def test_a_text_cap_counts_a_step_with_variants_once():
    problems = profile_problems(load_ladder(EXAMPLE), TEMPLATES)
    assert not [p for p in problems if p.rule == RuleId.TEXT_CAP]


# ---- the CLI: validate, show, preview, simulate -------------------------------------------------


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("DUNNING_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


def test_validate_checks_every_variants_templates(runner: CliRunner, tmp_path: Path):
    ok = runner.invoke(app, ["ladder", "validate", str(EXAMPLE)])
    assert ok.exit_code == 0, ok.output
    text = TEXT.replace(DIRECT, "{template: reminder-missing, weight: 1}")
    file = tmp_path / "ab.yaml"
    file.write_text(text, encoding="utf-8")
    bad = runner.invoke(app, ["ladder", "validate", str(file)])
    assert bad.exit_code != 0
    line = line_containing(text, "reminder-missing")
    assert f"ab.yaml:{line}: steps[sms-reminder.variants.1]: template sms/reminder-missing" in (
        bad.output
    )
    assert f"ab.yaml:{line}: steps[sms-reminder.variants.1.fallback]" not in bad.output
    assert "steps[sms-reminder.variants.1.fallback]: template email/reminder-missing" in bad.output


def test_ladder_show_lists_the_variants_and_their_weights(runner: CliRunner):
    result = runner.invoke(app, ["ladder", "show", str(EXAMPLE)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "reminder (weight 1, 50%)" in result.output
    assert "reminder-direct (weight 1, 50%)" in result.output


ACCOUNTS_CSV = """account_id,name,email,phone,country,timezone,locale,balance,currency,days_past_due
A-1001,Claire Martin,claire@example.org,+33612345678,FR,Europe/Paris,fr,120.50,EUR,0
A-1002,Marco Rossi,marco@example.org,+393471234567,IT,Europe/Rome,it,89.90,EUR,0
A-1007,Lucía García,lucia@example.org,+34612345678,ES,Europe/Madrid,es,310.00,EUR,0
A-1008,Jan Kowalski,jan@example.org,+48601234567,PL,Europe/Warsaw,pl,450.00,PLN,0
"""


def test_preview_shows_every_variant_and_the_one_the_account_gets(
    runner: CliRunner, tmp_path: Path
):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS_CSV, encoding="utf-8")
    args = ["preview", "--ladder", str(EXAMPLE), "--step", "sms-reminder", str(accounts)]
    both = runner.invoke(app, [*args, "--account-row", "3"], env={"COLUMNS": "160"})
    assert both.exit_code == 0, both.output
    assert "reminder.es" in both.stdout and "reminder-direct.es" in both.stdout
    assert "variant reminder-direct (50% of accounts) ← A-1007 gets this one" in both.stdout
    assert "A-1007 gets variant reminder-direct of step sms-reminder" in both.stdout
    assert "saldo vencido" in both.stdout  # the direct wording, in Spanish
    one = runner.invoke(app, [*args, "--variant", "reminder"], env={"COLUMNS": "160"})
    assert one.exit_code == 0, one.output
    assert "reminder.fr" in one.stdout and "reminder-direct.fr" not in one.stdout
    assert "A-1001 gets variant reminder" in one.stdout
    fallback = runner.invoke(app, [*args, "--variant", "reminder-direct", "--channel", "email"])
    assert fallback.exit_code == 0 and "reminder-direct.fr" in fallback.stdout
    unknown = runner.invoke(app, [*args, "--variant", "nope"])
    assert unknown.exit_code == 2 and "known: reminder, reminder-direct" in unknown.stderr
    plain = runner.invoke(
        app, [*args[:4], "courtesy-email", str(accounts), "--variant", "courtesy"]
    )
    assert plain.exit_code == 2 and "has no variants" in plain.stderr


START = "2030-01-07T06:00:00Z"  # a Monday; must not be in the past


def test_simulate_records_each_accounts_variant(runner: CliRunner, tmp_path: Path):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS_CSV, encoding="utf-8")
    args = ["simulate", "--ladder", str(EXAMPLE), "--accounts", str(accounts)]
    result = runner.invoke(app, [*args, "--start", START, "--days", "8", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    ladder = load_ladder(EXAMPLE)
    step = ladder.step("sms-reminder")
    seen = {}
    for entry in document["accounts"]:
        [sms] = [c for c in entry["contacts"] if c["step"] == "sms-reminder"]
        expected = template_for(ladder.name, step, entry["account_id"])
        assert sms["variant"] == sms["template"] == expected and sms["outcome"] == "sent"
        assert all("variant" not in c for c in entry["contacts"] if c["step"] != "sms-reminder")
        seen[entry["account_id"]] = sms["variant"]
    assert set(seen.values()) == {"reminder", "reminder-direct"}
    table = runner.invoke(
        app, [*args, "--start", START, "--days", "8", "--format", "table"], env={"COLUMNS": "200"}
    )
    assert table.exit_code == 0, table.stderr
    assert "sms-reminder (variant reminder-direct.es)" in table.stdout


# ---- the workflow on the time-skipping server ---------------------------------------------------


# A workflow task that keeps failing (a variant step planned without its account) is retried
# forever on the test server: fail the test instead of hanging.
RUN_LIMIT = 180


class RefusesSms:
    """A transport whose SMS provider reports every number unreachable."""

    def __init__(self) -> None:
        self.inner = MemoryOutbox()

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        if message.channel.value == "sms":
            raise Undeliverable("21614: not a mobile number")
        return await self.inner.deliver(message)


async def test_the_workflow_sends_each_accounts_variant_and_records_it(harness: Harness):
    """Two accounts, two wordings; every workflow task replays its history from the start
    (`cache=False`), so a non-deterministic assignment would fail the run."""
    ladder = load_ladder(EXAMPLE)
    async with asyncio.timeout(RUN_LIMIT), harness.worker(cache=False):
        for account_id in ("T-3", "T-1"):  # reminder, reminder-direct
            await harness.start(account(MONDAY, ladder=ladder, account_id=account_id))
        await harness.advance_to(MONDAY + 6 * DAY)
        views = {i: await harness.view(i) for i in ("T-1", "T-3")}
    for account_id, wording in (("T-1", "reminder-direct"), ("T-3", "reminder")):
        view = views[account_id]
        [courtesy, sms] = view.contacts
        assert (courtesy.template, courtesy.variant) == ("courtesy", None)
        assert (sms.step, sms.outcome, sms.template, sms.variant) == (
            "sms-reminder",
            "sent",
            wording,
            wording,
        )
        [sent] = [m for m in harness.outbox.messages(account_id) if m["step"] == "sms-reminder"]
        assert sent["template"] == wording
    direct = next(m for m in harness.outbox.messages("T-1") if m["step"] == "sms-reminder")
    assert "impayé" in direct["text"]  # reminder-direct.fr


async def test_the_fallback_sends_the_same_variant_and_both_records_carry_it(harness: Harness):
    transport = RefusesSms()
    ladder = load_ladder(EXAMPLE)
    async with asyncio.timeout(RUN_LIMIT), harness.worker(transport):
        await harness.start(account(MONDAY, ladder=ladder, account_id="T-1"))
        await harness.advance_to(MONDAY + 6 * DAY)
        view = await harness.view("T-1")
    sms_records = [
        (c.channel.value, c.outcome, c.reason, c.template, c.variant)
        for c in view.contacts
        if c.step == "sms-reminder"
    ]
    assert sms_records == [
        ("sms", "suppressed", "undeliverable", "reminder-direct", "reminder-direct"),
        ("email", "sent", None, "reminder-direct", "reminder-direct"),
    ]
    [email] = [m for m in transport.inner.messages() if m["step"] == "sms-reminder"]
    assert email["channel"] == "email" and email["template"] == "reminder-direct"


def test_every_variant_of_a_step_must_have_the_same_locales(templates: Path):
    """A variant without French sends its French debtors English: a wrong-language message
    and a biased comparison. Refused at the variant's line, for the channel and its fallback."""
    from activities.render import TemplateRenderer
    from cli.ladder_commands import template_problems
    from worker import renderer_for

    (templates / "sms" / "reminder-direct.fr.txt").unlink()
    (templates / "email" / "reminder-direct.pl.html").unlink()
    # A stray file of another extension is no Polish email: still refused.
    (templates / "email" / "reminder-direct.pl.txt").write_text("stray", encoding="utf-8")
    creditor = renderer_for(Settings()).creditor
    renderer = TemplateRenderer(templates, creditor, "en")
    ladder = load_ladder(EXAMPLE)
    problems, _ = template_problems(EXAMPLE, ladder, renderer)
    found = {(problem.field, problem.message.split(",")[0]) for problem in problems}
    assert found == {
        (
            "steps[sms-reminder].variants[1].template",
            "template sms/reminder-direct.fr.txt does not exist",
        ),
        (
            "steps[sms-reminder].variants[1].template",
            "template email/reminder-direct.pl.html does not exist",
        ),
    }
    text = EXAMPLE.read_text(encoding="utf-8")
    assert {problem.line for problem in problems} == {
        line_containing(text, "{template: reminder-direct")
    }
    assert template_problems(EXAMPLE, ladder, renderer_for(Settings()))[0] == []
