"""Issue 13's "done when", at a smaller scale: the scripted A/B portfolio of
examples/ab-portfolio/ (ladder consumer-ab, the SMS reminder in two wordings, an events file
that pays more often after `reminder-direct`) is simulated by the real workflows on the
time-skipping server (`dunning simulate`, in-process), and `dunning report` finds
`reminder-direct` ahead with an interval that excludes 0; the HTML file has its chart.

`make report-demo` runs the same with 300 accounts (examples/ab-portfolio/REPORT.md)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from config.settings import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "examples" / "ab-portfolio"
LADDER = EXAMPLE / "consumer-ab.yaml"
ACCOUNTS = 100  # 42 and 56 exposed per wording: enough for a verdict; ~30 s to simulate
START = "2030-01-07T06:00:00Z"  # a Monday; move it forward before it is in the past


def make_portfolio():
    spec = importlib.util.spec_from_file_location("make_portfolio", EXAMPLE / "make_portfolio.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_portfolio_files_are_deterministic(tmp_path: Path):
    module = make_portfolio()
    first = module.write_portfolio(tmp_path / "a", 40, 0.45, 0.20)
    second = module.write_portfolio(tmp_path / "b", 40, 0.45, 0.20)
    for one, other in zip(first, second, strict=True):
        assert one.read_bytes() == other.read_bytes()


def test_the_report_on_the_simulated_portfolio_finds_reminder_direct_ahead(
    tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("DUNNING_DATA_DIR", str(tmp_path / "data"))
    accounts, events = make_portfolio().write_portfolio(tmp_path, ACCOUNTS, 0.50, 0.30)
    runner = CliRunner()
    simulated = runner.invoke(
        app,
        [
            "simulate",
            "--ladder",
            str(LADDER),
            "--accounts",
            str(accounts),
            "--events",
            str(events),
            "--days",
            "60",
            "--start",
            START,
            "--format",
            "json",
        ],
    )
    assert simulated.exit_code == 0, simulated.stderr
    document = json.loads(simulated.stdout)
    assert len(document["accounts"]) == ACCOUNTS and "rejected" not in document
    simulation = tmp_path / "simulation.json"
    simulation.write_text(simulated.stdout, encoding="utf-8")

    reported = runner.invoke(
        app,
        ["report", "--simulation", str(simulation), "--ladder", str(LADDER), "--format", "json"],
    )
    assert reported.exit_code == 0, reported.stderr
    report = json.loads(reported.stdout)
    (comparison,) = report["variants"]
    assert (comparison["step"], comparison["control"]) == ("sms-reminder", "reminder")
    control, direct = comparison["arms"]
    assert direct["variant"] == "reminder-direct"
    assert min(control["exposed"], direct["exposed"]) >= 30
    assert direct["conversion_rate"] > control["conversion_rate"]
    (difference,) = comparison["differences"]
    assert difference["verdict"] == "reminder-direct ahead"
    assert 0 < difference["low"] <= difference["difference"] <= difference["high"]
    # Every section has data.
    assert report["promises"]["kept"] and report["promises"]["broken"]
    assert report["plans"]["completed"] and report["plans"]["defaulted"]
    rates = {row["step"]: row for row in report["step_rates"]}
    assert rates["sms-reminder"]["opted_out"] and rates["first-letter"]["disputed"]
    assert {row["key"] for row in report["by_status"]} >= {"paid", "handed_off"}

    html = tmp_path / "report.html"
    written = runner.invoke(
        app,
        ["report", "--simulation", str(simulation), "--format", "html", "--output", str(html)],
    )
    assert written.exit_code == 0, written.stderr
    text = html.read_text(encoding="utf-8")
    figure = re.search(
        r'<figure aria-label="Variants of consumer-ab / sms-reminder"><svg\b.*?</svg></figure>',
        text,
        re.S,
    )
    assert figure is not None
    assert "reminder-direct" in figure.group(0)
    assert "reminder-direct ahead" in text
