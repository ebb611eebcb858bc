"""`dunning report` (cli/report_commands.py): a simulation document or the live portfolio, in
table, JSON and HTML; the period options; bad input is exit 2 with one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.report_commands import parse_moment
from store import open_store
from tests.test_report_sources import DOCUMENT, _record_account


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("DUNNING_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DUNNING_TEMPORAL_ADDRESS", "127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("COLUMNS", "160")
    return CliRunner()


def _ab_document(per_arm: int = 40, paid: tuple[int, int] = (8, 24)) -> dict:
    """A simulate document: `per_arm` accounts sent each SMS wording, `paid` of them paying
    two days later."""
    accounts = []
    start = datetime(2030, 1, 7, 6, tzinfo=UTC)
    for arm, payers in zip(("reminder", "reminder-direct"), paid, strict=True):
        for index in range(per_arm):
            sms = start + timedelta(days=5, hours=8)
            events = []
            if index < payers:
                events.append(
                    {
                        "day": 7.3,
                        "type": "payment",
                        "accepted": True,
                        "reason": None,
                        "at": (sms + timedelta(days=2)).isoformat(),
                        "detail": {"amount": "60.00"},
                    }
                )
            accounts.append(
                {
                    "account_id": f"{arm}-{index}",
                    "ladder": {"name": "consumer-ab", "version": 1},
                    "status": "paid" if events else "active",
                    "balance": "0.00" if events else "60.00",
                    "currency": "USD",
                    "contacts": [
                        {
                            "at": sms.isoformat(),
                            "step": "sms-reminder",
                            "channel": "sms",
                            "template": arm,
                            "outcome": "sent",
                            "variant": arm,
                        }
                    ],
                    "events": events,
                }
            )
    return {"start": start.isoformat(), "accounts": accounts}


def _write(tmp_path: Path, document: object, name: str = "simulation.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_table_from_a_simulation(runner: CliRunner, tmp_path: Path):
    result = runner.invoke(app, ["report", "--simulation", str(_write(tmp_path, _ab_document()))])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Portfolio: 80 accounts, all time" in out
    assert "1920.00" in out  # 32 payments of 60.00
    assert "Variants of consumer-ab / sms-reminder (control: reminder)" in out
    assert "reminder-direct ahead" in out


def test_json_has_money_as_strings_and_reads_back(runner: CliRunner, tmp_path: Path):
    path = _write(tmp_path, _ab_document())
    result = runner.invoke(app, ["report", "--simulation", str(path), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["recovered"] == [
        {"currency": "USD", "amount": "1920.00", "payments": 32, "accounts": 32}
    ]
    (comparison,) = document["variants"]
    assert comparison["differences"][0]["verdict"] == "reminder-direct ahead"
    assert comparison["arms"][1]["recovered_per_exposed"] == [
        {"currency": "USD", "amount": "36.00"}
    ]


def test_html_to_a_file_and_to_stdout(runner: CliRunner, tmp_path: Path):
    path = _write(tmp_path, _ab_document())
    output = tmp_path / "build" / "report.html"
    output.parent.mkdir()
    result = runner.invoke(
        app, ["report", "--simulation", str(path), "--format", "html", "--output", str(output)]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"report written to {output}" in result.stderr
    html = output.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 6
    HTMLParser().feed(html)
    piped = runner.invoke(app, ["report", "--simulation", str(path), "--format", "html"])
    assert piped.exit_code == 0 and piped.stdout.startswith("<!DOCTYPE html>")


def test_the_period_options(runner: CliRunner, tmp_path: Path):
    path = _write(tmp_path, DOCUMENT)  # one payment of 75.00 on 2030-01-14 at 18:00 UTC

    def recovered(*period: str) -> list:
        result = runner.invoke(
            app, ["report", "--simulation", str(path), "--format", "json", *period]
        )
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)["recovered"]

    assert recovered("--from", "2030-01-14", "--to", "2030-01-14")[0]["amount"] == "75.00"
    assert recovered("--to", "2030-01-13") == []
    assert recovered("--from", "2030-01-14T18:00:01Z") == []
    assert recovered("--to", "2030-01-14T18:00:00Z") == []  # the end is excluded
    assert recovered("--from", "2030-01-14T13:00:00-05:00")[0]["payments"] == 1


def test_dates_are_utc():
    assert parse_moment("2030-01-14", "--from") == datetime(2030, 1, 14, tzinfo=UTC)
    assert parse_moment("2030-01-14", "--to", end=True) == datetime(2030, 1, 15, tzinfo=UTC)
    assert parse_moment("2030-01-14T10:00", "--from") == datetime(2030, 1, 14, 10, tzinfo=UTC)
    assert parse_moment("2030-01-14T10:00+01:00", "--to", end=True) == datetime(
        2030, 1, 14, 9, tzinfo=UTC
    )


def test_the_live_portfolio_reports_open_accounts_unknown_when_temporal_is_away(
    runner: CliRunner, tmp_path: Path
):
    with open_store(f"sqlite:///{tmp_path / 'data' / 'dunning.sqlite3'}") as store:
        _record_account(store, "A-1", closed="paid")
        _record_account(store, "A-2")
    result = runner.invoke(app, ["report", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("warning: Temporal at 127.0.0.1:9 could not be asked")
    document = json.loads(result.stdout)
    assert document["by_status"] == [
        {"key": "paid", "accounts": 1},
        {"key": "unknown", "accounts": 1},
    ]
    assert document["recovered"][0]["amount"] == "40.00"


def test_the_control_can_be_named_by_a_ladder_file(runner: CliRunner, tmp_path: Path):
    ladder = tmp_path / "ab.yaml"
    text = (
        Path(__file__).parent.parent / "config" / "ladders" / "consumer-standard.yaml"
    ).read_text(encoding="utf-8")
    text = text.replace("name: consumer-standard", "name: consumer-ab").replace(
        "    template: reminder\n",
        "    variants:\n      - {template: reminder-direct}\n      - {template: reminder}\n",
    )
    ladder.write_text(text, encoding="utf-8")
    path = _write(tmp_path, _ab_document())
    result = runner.invoke(
        app, ["report", "--simulation", str(path), "--format", "json", "--ladder", str(ladder)]
    )
    assert result.exit_code == 0, result.stderr
    (comparison,) = json.loads(result.stdout)["variants"]
    assert comparison["control"] == "reminder-direct"
    assert comparison["differences"][0]["verdict"] == "reminder-direct ahead"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--simulation", "{missing}"], "{missing}: No such file or directory"),
        (["--simulation", "{not_json}"], "{not_json}:1: not JSON: Expecting value"),
        (["--simulation", "{a_list}"], "{a_list}: (document): expected the JSON object"),
        (["--simulation", "{bad_event}"], "{bad_event}: accounts[0].events[0].at: Field required"),
        (["--from", "last week"], "--from 'last week': not an ISO date or date-time"),
        (["--from", "2030-02-01", "--to", "2030-01-01"], "the period is empty"),
        (["--output", "{no_dir}/r.html"], "--output {no_dir}/r.html: No such file or directory"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(
    runner: CliRunner, tmp_path: Path, arguments: list[str], message: str
):
    bad_event = json.loads(json.dumps(DOCUMENT))
    del bad_event["accounts"][0]["events"][0]["at"]
    names = {
        "missing": str(tmp_path / "missing.json"),
        "not_json": str(tmp_path / "empty.json"),
        "a_list": str(_write(tmp_path, [], "list.json")),
        "bad_event": str(_write(tmp_path, bad_event, "bad.json")),
        "no_dir": str(tmp_path / "no" / "dir"),
    }
    (tmp_path / "empty.json").write_text("", encoding="utf-8")
    simulation = (
        [] if "--simulation" in arguments else ["--simulation", str(_write(tmp_path, DOCUMENT))]
    )
    arguments = [argument.format(**names) for argument in arguments]
    result = runner.invoke(app, ["report", *simulation, *arguments])
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert message.format(**names) in line


def test_an_unreadable_store_is_exit_2(runner: CliRunner, tmp_path: Path, monkeypatch):
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    monkeypatch.setenv("DUNNING_DATABASE_URL", f"sqlite:///{tmp_path / 'a-file' / 'x.sqlite3'}")
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("store: sqlite:///")
