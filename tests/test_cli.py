"""The `dunning` command: ladder errors, import errors, preview, and `simulate` as CONTRACT §5."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cli.main import app
from config.settings import PROJECT_ROOT

SPEC = PROJECT_ROOT.parent / "shared" / "spec"
LADDER = PROJECT_ROOT / "config" / "ladders" / "consumer-standard.yaml"
ACCOUNTS = SPEC / "accounts.example.csv"


@pytest.fixture
def runner(monkeypatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("DUNNING_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


# Every simulation starts at this fixed Monday, 06:00 UTC, so that no test depends on today's
# date. `--start` must not be in the past: move it forward (to another Monday) before it comes.
START_AT = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)
START = "2030-01-07T06:00:00Z"


def example_accounts(tmp_path: Path) -> Path:
    """The shared example accounts with A-1003 due 20 days before START: the file's fixed
    due_date (2026-11-10) would make it years overdue at START, handed off at once."""
    with ACCOUNTS.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns, rows = list(reader.fieldnames or []), list(reader)
    for row in rows:
        if row["due_date"]:
            row["due_date"] = (START_AT.date() - timedelta(days=20)).isoformat()
    path = tmp_path / "accounts.example.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def simulate_args(ladder: Path, accounts: Path, *extra: str, days: int = 30) -> list[str]:
    return [
        "simulate",
        "--ladder",
        str(ladder),
        "--accounts",
        str(accounts),
        "--start",
        START,
        "--days",
        str(days),
        *extra,
    ]


# ---- ladder validate / show ------------------------------------------------------------------


def test_ladder_validate_accepts_the_shipped_ladders(runner: CliRunner):
    result = runner.invoke(
        app, ["ladder", "validate", str(LADDER), str(LADDER.parent / "b2b-net30.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert "2 ladder(s) valid" in result.output


def test_ladder_validate_names_file_line_and_field_of_a_typo(runner: CliRunner, tmp_path: Path):
    broken = tmp_path / "broken.yaml"
    text = LADDER.read_text().replace("    channel: sms\n", "    chanel: sms\n", 1)
    broken.write_text(text)
    line = text.splitlines().index("    chanel: sms") + 1
    result = runner.invoke(app, ["ladder", "validate", str(broken)])
    assert result.exit_code == 2
    assert f"{broken}:{line}: steps[1] (sms-reminder).chanel: unknown field" in result.stderr


def test_ladder_validate_refuses_a_missing_template(runner: CliRunner, tmp_path: Path):
    broken = tmp_path / "missing-template.yaml"
    text = LADDER.read_text().replace("template: courtesy", "template: no-such-letter")
    broken.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "no-such-letter" in row)
    result = runner.invoke(app, ["ladder", "validate", str(broken)])
    assert result.exit_code == 2
    assert (
        f"{broken}:{line}: steps[courtesy-email]: template email/no-such-letter.en.html "
        "does not exist"
    ) in result.stderr


def test_ladder_validate_refuses_a_template_that_does_not_render(
    runner: CliRunner, tmp_path: Path, monkeypatch
):
    templates = tmp_path / "templates"
    (templates / "email").mkdir(parents=True)
    (templates / "email" / "courtesy.en.html").write_text(
        "{% block subject %}Hi {{ debtor.nmae }}{% endblock %}{% block text %}x{% endblock %}"
    )
    monkeypatch.setenv("DUNNING_TEMPLATES_DIR", str(templates))
    ladder = tmp_path / "one.yaml"
    ladder.write_text(
        "name: one\nversion: 1\ncontact_window: {start: '08:00', end: '20:00', days: [mon]}\n"
        "steps:\n  - {id: only, day: 1, channel: email, template: courtesy}\n"
    )
    result = runner.invoke(app, ["ladder", "validate", str(ladder)])
    assert result.exit_code == 2
    assert "does not render" in result.stderr and "nmae" in result.stderr


def test_ladder_show_prints_the_timeline(runner: CliRunner):
    result = runner.invoke(app, ["ladder", "show", str(LADDER)])
    assert result.exit_code == 0
    for text in ("courtesy-email", "sms-reminder", "handoff", "+14 days", "08:00-21:00"):
        assert text in result.output


# ---- accounts import: input errors (the end-to-end test covers a real import) -------------------


def test_import_refuses_a_file_without_required_columns(runner: CliRunner, tmp_path: Path):
    bad = tmp_path / "accounts.csv"
    bad.write_text("account_id,name\nX-1,Someone\n")
    result = runner.invoke(app, ["accounts", "import", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:1: missing column(s): balance, currency" in result.stderr


def test_import_refuses_an_unknown_ladder_file(runner: CliRunner, tmp_path: Path):
    result = runner.invoke(app, ["accounts", "import", str(ACCOUNTS), "--ladder", "nope.yaml"])
    assert result.exit_code == 2
    assert "nope.yaml" in result.stderr


# ---- preview -------------------------------------------------------------------------------------


def test_preview_renders_one_message_in_the_debtors_language(runner: CliRunner):
    result = runner.invoke(
        app,
        [
            "preview",
            "--ladder",
            "consumer-standard",
            "--step",
            "courtesy-email",
            "--account-row",
            "1",
            str(ACCOUNTS),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "courtesy.fr" in result.output and "A-1001" in result.output
    assert "120,50" in result.output  # Babel, French


def test_preview_names_the_known_steps_when_the_step_is_wrong(runner: CliRunner):
    result = runner.invoke(
        app, ["preview", "--ladder", "consumer-standard", "--step", "nope", str(ACCOUNTS)]
    )
    assert result.exit_code == 2
    assert "courtesy-email" in result.stderr


def test_preview_puts_the_validation_notice_in_the_first_email_of_a_us_ladder(runner: CliRunner):
    """The example ladder (us) opens with courtesy-email: the workflow sends the notice with it
    (12 CFR 1006.34), so the preview shows it; a later email (sms-reminder's fallback) has none."""
    heading = "Informations importantes concernant cette dette"  # email/_validation-notice.fr.html
    args = ["preview", "--ladder", "consumer-standard", "--account-row", "1", str(ACCOUNTS)]
    first = runner.invoke(app, [*args, "--step", "courtesy-email"])
    later = runner.invoke(app, [*args, "--step", "sms-reminder", "--channel", "email"])
    assert first.exit_code == 0, first.output
    assert heading in first.stdout
    assert later.exit_code == 0, later.output
    assert "reminder.fr" in later.stdout and heading not in later.stdout


# ---- simulate (CONTRACT section 5) ----------------------------------------------------------


def test_simulate_prints_the_contract_document(runner: CliRunner, tmp_path: Path):
    start = START
    result = runner.invoke(
        app,
        [
            "simulate",
            "--ladder",
            str(LADDER),
            "--accounts",
            str(example_accounts(tmp_path)),
            "--start",
            start,
            "--days",
            "60",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["start"] == start
    assert [a["account_id"] for a in document["accounts"]] == [
        "A-1001",
        "A-1002",
        "A-1003",
        "A-1004",
        "A-1005",
    ]
    for account in document["accounts"]:
        assert set(account) >= {
            "account_id",
            "ladder",
            "status",
            "balance",
            "currency",
            "contacts",
            "events",
        }
        assert account["ladder"] == {"name": "consumer-standard", "version": 1}
        assert re.fullmatch(r"\d+\.\d{2}", account["balance"])
        for contact in account["contacts"]:
            # `confirmed` on sent contacts only (CONTRACT section 5): the outbox confirms all.
            optional = {"confirmed"} if contact["outcome"] == "sent" else set()
            # Issue 12: a sent contact that carried the validation notice (us) says so; a
            # contact suppressed by a compliance rule names the rule and its citation.
            if contact.get("validation_notice"):
                optional.add("validation_notice")
            if contact["outcome"] == "suppressed" and "rule" in contact:
                optional |= {"rule", "citation"}
                assert contact["citation"], contact
            assert set(contact) == {
                "day",
                "at",
                "local",
                "step",
                "channel",
                "template",
                "locale",
                "outcome",
                "reason",
                *optional,
            }
            assert contact.get("confirmed", True) is True
            assert contact["at"].endswith("Z")
            at = datetime.fromisoformat(contact["at"].replace("Z", "+00:00"))
            local = datetime.fromisoformat(contact["local"])
            assert local == at and local.utcoffset() is not None
            assert 8 <= local.hour < 21
            begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
            assert contact["day"] == round((at - begin).total_seconds() / 86400, 2)
    a1001 = document["accounts"][0]
    assert [c["step"] for c in a1001["contacts"]][:2] == ["courtesy-email", "sms-reminder"]
    assert a1001["contacts"][0]["locale"] == "fr"
    assert a1001["status"] == "handed_off"


def test_simulate_and_account_show_mark_an_unconfirmed_send():
    from cli.tables import outcome_text, simulation_tables
    from simulation.engine import contact_entry
    from workflows.types import ContactRecord

    at = datetime(2038, 1, 5, 7, 0, tzinfo=UTC)
    record = ContactRecord(
        at=at, step="s", channel="sms", template="t", outcome="sent", confirmed=False
    )
    entry = contact_entry(record, at, ZoneInfo("Europe/Paris"))
    assert entry["confirmed"] is False
    suppressed = record.model_copy(update={"outcome": "suppressed", "reason": "no_address"})
    assert "confirmed" not in contact_entry(suppressed, at, ZoneInfo("Europe/Paris"))
    assert outcome_text("sent", None, confirmed=False) == "sent (unconfirmed)"
    assert outcome_text("suppressed", "opted_out") == "suppressed (opted_out)"
    document = {
        "accounts": [
            {
                "account_id": "A",
                "status": "active",
                "balance": "1.00",
                "currency": "EUR",
                "ladder": {"name": "l", "version": 1},
                "contacts": [entry],
                "events": [],
            }
        ]
    }
    console = Console(file=io.StringIO(), width=200)
    console.print(simulation_tables(document)[0])
    assert "sent (unconfirmed)" in console.file.getvalue()


def test_simulate_table_format(runner: CliRunner, tmp_path: Path):
    result = runner.invoke(
        app,
        [
            "simulate",
            "--ladder",
            str(LADDER),
            "--accounts",
            str(example_accounts(tmp_path)),
            "--start",
            START,
            "--days",
            "10",
            "--format",
            "table",
        ],
    )
    assert result.exit_code == 0
    assert "A-1001" in result.stdout and "courtesy-email" in result.stdout


def test_simulate_refuses_a_start_in_the_past(runner: CliRunner):
    result = runner.invoke(
        app,
        [
            "simulate",
            "--ladder",
            str(LADDER),
            "--accounts",
            str(ACCOUNTS),
            "--start",
            "2020-01-01T00:00:00Z",
        ],
    )
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "in the past" in result.stderr


def test_simulate_refuses_a_broken_ladder_in_one_line(runner: CliRunner, tmp_path: Path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(LADDER.read_text().replace('  start: "08:00"', '  start: "8 o\'clock"'))
    result = runner.invoke(app, simulate_args(broken, ACCOUNTS))
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert re.match(rf"{re.escape(str(broken))}:\d+: contact_window\.start: ", result.stderr)


def test_simulate_reports_bad_rows_and_runs_the_good_ones(runner: CliRunner, tmp_path: Path):
    accounts = tmp_path / "accounts.csv"
    rows = example_accounts(tmp_path).read_text().splitlines()
    rows.insert(2, "B-1,Broken Row,,,,,,FR,Europe/Paris,fr,12.345,EUR,3,,consumer-standard")
    accounts.write_text("\n".join(rows) + "\n")
    result = runner.invoke(
        app,
        [
            "simulate",
            "--ladder",
            str(LADDER),
            "--accounts",
            str(accounts),
            "--start",
            START,
            "--days",
            "3",
        ],
    )
    assert result.exit_code == 0
    assert f"{accounts}:3 (B-1): balance 12.345 has more than 2 decimals" in result.stderr
    document = json.loads(result.stdout)
    assert len(document["accounts"]) == 5
    assert document["rejected"] == [
        {
            "line": 3,
            "account_id": "B-1",
            "reason": "balance 12.345 has more than 2 decimals for EUR",
        }
    ]


def test_simulate_money_never_passes_through_float(runner: CliRunner, tmp_path: Path):
    ladder = tmp_path / "consumer-standard.yaml"  # min_balance 0.10: a 0.30 balance is owed
    ladder.write_text(LADDER.read_text().replace('min_balance: "10.00"', 'min_balance: "0.10"'))
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "account_id,name,email,country,timezone,balance,currency,days_past_due\n"
        "M-1,Penny Exact,p@example.org,FR,Europe/Paris,0.30,EUR,0\n"
        "M-2,Big Sum,b@example.org,FR,Europe/Paris,12345678901234567.89,EUR,0\n"
    )
    result = runner.invoke(app, simulate_args(ladder, accounts, days=1))
    assert result.exit_code == 0, result.stderr
    balances = [a["balance"] for a in json.loads(result.stdout)["accounts"]]
    assert balances == ["0.30", "12345678901234567.89"]


def test_simulate_applies_the_shared_events_file_line_by_line(runner: CliRunner, tmp_path: Path):
    result = runner.invoke(
        app,
        [
            "simulate",
            "--ladder",
            str(LADDER),
            "--accounts",
            str(example_accounts(tmp_path)),
            "--events",
            str(SPEC / "events.example.yaml"),
            "--start",
            START,
            "--days",
            "120",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    accounts = {a["account_id"]: a for a in json.loads(result.stdout)["accounts"]}

    def events(account_id: str) -> list[tuple[float, str, bool]]:
        return [(e["day"], e["type"], e["accepted"]) for e in accounts[account_id]["events"]]

    # A-1001: pays 20.00 on day 3.5, promises the remaining 100.50 in 6 days, never pays it.
    a1001 = events("A-1001")
    assert a1001[:2] == [(3.5, "payment", True), (4.0, "promise", True)]
    assert a1001[2][1] == "promise_broken"
    assert accounts["A-1001"]["balance"] == "100.50"
    steps_1001 = [c["step"] for c in accounts["A-1001"]["contacts"]]
    assert "promise-1-reminder" in steps_1001 and "promise-1-broken" in steps_1001
    # A-1002: "STOP" by SMS → opted out of SMS; no SMS goes out after day 6.
    assert events("A-1002")[:2] == [(6.0, "reply", True), (6.0, "opt_out", True)]
    assert not [
        c
        for c in accounts["A-1002"]["contacts"]
        if c["channel"] == "sms" and c["outcome"] == "sent" and c["day"] > 6
    ]
    # A-1003: "Pagaré el viernes que viene" → a promise with a date.
    assert events("A-1003")[:2] == [(2.0, "reply", True), (2.0, "promise", True)]
    # A-1004: dispute on day 8, validated on day 20: no contact in between.
    assert events("A-1004")[:2] == [(8.0, "dispute", True), (20.0, "dispute_resolved", True)]
    assert not [c for c in accounts["A-1004"]["contacts"] if 8 < c["day"] < 20]
    # A-1005: a plan of three installments; SMS undeliverable from day 9.
    a1005 = events("A-1005")
    assert a1005[:2] == [(3.0, "plan", True), (9.0, "delivery_failed", True)]
    assert "plan_default" in [e[1] for e in a1005]
    later_sms = [
        c for c in accounts["A-1005"]["contacts"] if c["channel"] == "sms" and c["day"] > 9
    ]
    assert later_sms and all(
        c["outcome"] == "suppressed" and c["reason"] == "undeliverable" for c in later_sms
    )


def test_simulate_refuses_a_bad_events_file_naming_the_line(runner: CliRunner, tmp_path: Path):
    events = tmp_path / "events.yaml"
    events.write_text(
        '- {account: A-1001, day: 1, type: payment, amount: "5.00"}\n'
        "- {account: A-1001, day: 2, type: promis}\n"
    )
    result = runner.invoke(
        app,
        [
            "simulate",
            "--ladder",
            str(LADDER),
            "--accounts",
            str(ACCOUNTS),
            "--events",
            str(events),
            "--start",
            START,
            "--days",
            "5",
        ],
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{events}:2: type: ")


# ---- simulate: the ladder as `ladder validate` sees it, --days, balances, closed accounts ------


def test_simulate_refuses_a_ladder_that_ladder_validate_refuses(runner: CliRunner, tmp_path: Path):
    broken = tmp_path / "missing-template.yaml"
    broken.write_text(LADDER.read_text().replace("template: courtesy", "template: no-such-letter"))
    validate = runner.invoke(app, ["ladder", "validate", str(broken)])
    assert validate.exit_code == 2
    result = runner.invoke(app, simulate_args(broken, ACCOUNTS))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == validate.stderr  # the same one line
    assert "template email/no-such-letter.en.html does not exist" in result.stderr


def test_simulate_names_the_first_of_several_ladder_problems_in_one_line(
    runner: CliRunner, tmp_path: Path
):
    broken = tmp_path / "two-missing.yaml"
    text = LADDER.read_text().replace("template: courtesy", "template: no-such-letter")
    broken.write_text(text.replace("template: reminder", "template: no-such-sms"))
    validate = runner.invoke(app, ["ladder", "validate", str(broken)])
    problems = validate.stderr.splitlines()
    assert validate.exit_code == 2 and len(problems) == 3  # sms, and its email fallback
    result = runner.invoke(app, simulate_args(broken, ACCOUNTS))
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.strip() == (
        f"{problems[0]} (and 2 more: see dunning ladder validate {broken})"
    )


@pytest.mark.parametrize("days", ["0", "-5", "3651", "ten", "1.5"])
def test_simulate_refuses_days_out_of_range_in_one_line(runner: CliRunner, days: str):
    result = runner.invoke(
        app,
        [*simulate_args(LADDER, ACCOUNTS)[:-2], "--days", days],
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith(f"--days {days}") or result.stderr.startswith(
        f"--days {days!r}"
    )


@pytest.mark.parametrize("days", ["1", "3650"])
def test_simulate_accepts_the_bounds_of_days(runner: CliRunner, tmp_path: Path, days: str):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "account_id,name,email,country,timezone,balance,currency,days_past_due\n"
        "D-1,Claire Martin,c@example.org,FR,Europe/Paris,120.50,EUR,0\n"
    )
    result = runner.invoke(app, simulate_args(LADDER, accounts, days=int(days)))
    assert result.exit_code == 0, result.stderr
    [account] = json.loads(result.stdout)["accounts"]
    assert account["status"] == ("active" if days == "1" else "handed_off")


def test_simulate_refuses_a_row_whose_balance_is_at_or_below_min_balance(
    runner: CliRunner, tmp_path: Path
):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "account_id,name,email,country,timezone,balance,currency,days_past_due\n"
        "G-1,Claire Martin,c@example.org,FR,Europe/Paris,120.50,EUR,0\n"
        "L-1,Low Balance,l@example.org,FR,Europe/Paris,10.00,EUR,0\n"
        "L-2,Lower Still,m@example.org,FR,Europe/Paris,5,EUR,0\n"
        "G-2,Jan Kowalski,j@example.org,PL,Europe/Warsaw,10.01,EUR,0\n"
    )
    result = runner.invoke(app, simulate_args(LADDER, accounts, days=2))
    assert result.exit_code == 0, result.stderr
    reason = "is at or below the ladder consumer-standard's min_balance 10.00: nothing to collect"
    assert result.stderr.splitlines() == [
        f"{accounts}:3 (L-1): balance 10.00 {reason}",
        f"{accounts}:4 (L-2): balance 5.00 {reason}",
    ]
    document = json.loads(result.stdout)
    assert [a["account_id"] for a in document["accounts"]] == ["G-1", "G-2"]
    assert [(r["line"], r["account_id"]) for r in document["rejected"]] == [
        (3, "L-1"),
        (4, "L-2"),
    ]


def test_simulate_answers_account_is_closed_once_the_workflow_has_completed(
    runner: CliRunner, tmp_path: Path
):
    """P-1 pays in full on day 1 (paid); H-1 is 60 days overdue, so handed off at once. Closed
    accounts linger 7 days (late events refused and recorded by the workflow), then their
    workflows complete: an event after that is refused "account is closed" all the same."""
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "account_id,name,email,country,timezone,balance,currency,days_past_due\n"
        "P-1,Claire Martin,c@example.org,FR,Europe/Paris,120.50,EUR,0\n"
        "H-1,Jan Kowalski,j@example.org,PL,Europe/Warsaw,450.00,PLN,60\n"
    )
    events = tmp_path / "events.yaml"
    events.write_text(
        '- {account: P-1, day: 1, type: payment, amount: "120.50"}\n'
        "- {account: P-1, day: 3, type: cease}\n"  # closed, still lingering
        '- {account: P-1, day: 10, type: payment, amount: "5.00"}\n'  # workflow completed
        "- {account: H-1, day: 9, type: dispute, reason: not mine}\n"  # workflow completed
        "- {account: H-1, day: 9.5, type: resume}\n"
    )
    result = runner.invoke(app, simulate_args(LADDER, accounts, "--events", str(events), days=12))
    assert result.exit_code == 0, result.stderr
    accounts_out = {a["account_id"]: a for a in json.loads(result.stdout)["accounts"]}
    paid, handed_off = accounts_out["P-1"], accounts_out["H-1"]
    assert paid["status"] == "paid" and paid["balance"] == "0.00"
    assert [(e["day"], e["type"], e["accepted"], e["reason"]) for e in paid["events"]] == [
        (1.0, "payment", True, None),
        (3.0, "cease", False, "account is closed (paid)"),
        (10.0, "payment", False, "account is closed"),
    ]
    assert handed_off["status"] == "handed_off"
    assert [(e["type"], e["accepted"], e["reason"]) for e in handed_off["events"]][-2:] == [
        ("dispute", False, "account is closed"),
        ("resume", False, "account is closed"),
    ]
    assert [e["day"] for e in handed_off["events"]][-2:] == [9.0, 9.5]


def test_simulate_table_shows_the_closed_refusal(runner: CliRunner, tmp_path: Path):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "account_id,name,email,country,timezone,balance,currency,days_past_due\n"
        "H-1,Jan Kowalski,j@example.org,PL,Europe/Warsaw,450.00,PLN,60\n"
    )
    events = tmp_path / "events.yaml"
    events.write_text('- {account: H-1, day: 9, type: payment, amount: "5.00"}\n')
    result = runner.invoke(
        app, simulate_args(LADDER, accounts, "--events", str(events), "--format", "table", days=10)
    )
    assert result.exit_code == 0, result.stderr
    assert "account is closed" in result.stdout


# ---- account event commands on a completed account (time-skipping server) ----------------------


async def test_an_event_command_on_a_completed_account_answers_account_is_closed(
    harness, settings, monkeypatch
):
    import io
    from decimal import Decimal

    from rich.console import Console

    import cli.account_commands as account_commands
    from intake.events import send_event
    from tests.conftest import MONDAY, account
    from workflows.types import AccountEvent

    async def connected(_settings, _err):
        return harness.env.client

    monkeypatch.setattr(account_commands, "connected", connected)

    def consoles() -> tuple[Console, Console, io.StringIO, io.StringIO]:
        out, err = io.StringIO(), io.StringIO()
        return Console(file=out, width=200), Console(file=err, width=200), out, err

    async with harness.worker():
        handle = await harness.start(account(MONDAY))
        paid = await send_event(
            harness.env.client, "T-1", AccountEvent(type="payment", amount=Decimal("120.50"))
        )
        assert paid.accepted
        await harness.advance_to(MONDAY + timedelta(days=9))  # 7 days' linger are over
        assert (await handle.result())["status"] == "paid"  # the workflow has completed
        out, err, out_text, err_text = consoles()
        code = await account_commands.post_event(
            "T-1", {"type": "payment", "amount": "5.00"}, settings, out, err
        )
        assert (code, out_text.getvalue(), err_text.getvalue()) == (
            1,
            "",
            "refused: account is closed\n",
        )
        out, err, out_text, err_text = consoles()
        code = await account_commands.post_event("NOPE", {"type": "cease"}, settings, out, err)
        assert (code, err_text.getvalue()) == (1, "refused: no account NOPE\n")


# ---- uk breathing space: `dunning account breathing-space` and `breathing-space-end` ----------


def test_account_help_lists_the_breathing_space_commands(runner: CliRunner):
    listing = runner.invoke(app, ["account", "--help"])
    assert listing.exit_code == 0, listing.output
    assert "breathing-space " in listing.stdout and "breathing-space-end" in listing.stdout
    start = runner.invoke(app, ["account", "breathing-space", "--help"])
    assert start.exit_code == 0 and "--days" in start.stdout and "--event-id" in start.stdout


async def test_breathing_space_is_accepted_on_a_uk_account_and_refused_on_a_us_one(
    harness, runner: CliRunner, monkeypatch
):
    import asyncio

    import cli.account_commands as account_commands
    from config.compliance import RuleId, citation
    from tests.conftest import MONDAY, account
    from tests.test_compliance_rules import london
    from workflows.types import Status

    async def connected(_settings, _err):
        return harness.env.client

    monkeypatch.setattr(account_commands, "connected", connected)

    def dunning(*args: str):
        # The command runs its own event loop (asyncio.run): give it a thread of its own.
        return asyncio.to_thread(runner.invoke, app, ["account", *args])

    async with harness.worker():
        await harness.start(account(MONDAY))  # T-1: the example ladder, us
        await harness.start(london(MONDAY, account_id="T-2"))
        uk = await dunning("breathing-space", "T-2", "--days", "30")
        held = await harness.view("T-2")
        us = await dunning("breathing-space", "T-1")
        ended = await dunning("breathing-space-end", "T-2")
        resumed = await harness.view("T-2")
    assert uk.exit_code == 0, uk.output
    assert uk.stdout.startswith("accepted: breathing_space; status held")
    assert held.status == Status.HELD
    assert held.hold_until is not None
    assert held.hold_until.date() == (MONDAY + timedelta(days=30)).date()
    assert us.exit_code == 1, us.output
    assert us.stdout == ""
    assert "uk rule" in us.stderr and citation(RuleId.BREATHING_SPACE) in us.stderr
    assert ended.exit_code == 0, ended.output
    assert resumed.status != Status.HELD
    assert "breathing_space_end" in [event.type for event in resumed.events]
