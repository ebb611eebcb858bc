"""The `dunning` command. Thin: parse arguments, call the same code as everyone else, print.

Exit codes: 0 success, 1 a refusal or a failure at run time, 2 bad input (the file, the line,
what is wrong).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.audit_commands import audit_app
from cli.db_commands import db_app
from cli.event_commands import AccountId
from cli.event_commands import register as register_event_commands
from cli.housekeeping_commands import housekeeping_app
from cli.ops_commands import ops_app
from cli.report_commands import report as report_command
from config.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    help="Multichannel dunning orchestrator: durable escalation ladders on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
ladder_app = typer.Typer(help="Check and show ladders.", no_args_is_help=True)
accounts_app = typer.Typer(help="Bring accounts in.", no_args_is_help=True)
account_app = typer.Typer(help="Look at one account.", no_args_is_help=True)
app.add_typer(ladder_app, name="ladder")
app.add_typer(accounts_app, name="accounts")
app.add_typer(account_app, name="account")
app.add_typer(db_app, name="db")
app.add_typer(housekeeping_app, name="housekeeping")
app.add_typer(audit_app, name="audit")
app.add_typer(ops_app, name="ops")
app.command("report")(report_command)  # cli/report_commands.py

out = Console()
err = Console(stderr=True, soft_wrap=True)  # one error, one line: scripts grep it


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(message, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise fail(f"settings: {exc}") from None


# ---- ladders ---------------------------------------------------------------------------------


@ladder_app.command("validate")
def ladder_validate(
    files: Annotated[list[Path], typer.Argument(help="Ladder YAML files.")],
) -> None:
    """Check ladders: schema, every field, and that each template exists and renders."""
    from cli.ladder_commands import validate_files

    problems, warnings = validate_files(files, settings_or_exit())
    for line in [*warnings, *problems]:
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(2)
    out.print(f"[green]ok[/green] {len(files)} ladder(s) valid")


@ladder_app.command("show")
def ladder_show(file: Annotated[Path, typer.Argument(help="A ladder YAML file.")]) -> None:
    """Print the ladder's timeline of steps as a table."""
    from cli.ladder_commands import ladder_table
    from config.ladder_loader import LadderError, load_ladder

    try:
        ladder = load_ladder(file)
    except LadderError as exc:
        raise fail(str(exc)) from None
    out.print(ladder_table(ladder))


# ---- accounts --------------------------------------------------------------------------------


@accounts_app.command("import")
def accounts_import(
    file: Annotated[Path, typer.Argument(help="Accounts CSV (see CONTRACT section 1).")],
    ladder: Annotated[
        str | None, typer.Option(help="Ladder name or file for rows without one.")
    ] = None,
) -> None:
    """Start one workflow per good row; report bad rows by line. Safe to run twice."""
    from cli.account_commands import import_accounts

    code = asyncio.run(import_accounts(file, ladder, settings_or_exit(), out, err))
    raise typer.Exit(code)


@account_app.command("show")
def account_show(account_id: Annotated[str, typer.Argument(help="The account id.")]) -> None:
    """Status, balance, ladder day, next contact, contacts and events of one account."""
    from cli.account_commands import show_account

    raise typer.Exit(asyncio.run(show_account(account_id, settings_or_exit(), out, err)))


register_event_commands(account_app)  # pay, promise, plan, ... (cli/event_commands.py)


@account_app.command("erase")
def account_erase(
    account_id: AccountId,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a closed eu account's personal data everywhere (GDPR Art. 17); the audit chain
    keeps its hashes. Refused for us (record retention), uk and none accounts."""
    from cli.erasure import run_erase

    confirm = None if yes else (lambda question: typer.confirm(question, default=False))
    raise typer.Exit(
        asyncio.run(run_erase(account_id, settings_or_exit(), out, err, confirm=confirm))
    )


@app.command("preview")
def preview(
    file: Annotated[Path, typer.Argument(help="Accounts CSV.")],
    ladder: Annotated[str, typer.Option(help="Ladder name or file.")],
    step: Annotated[str, typer.Option(help="Step id (or promise.reminder, plan.missed, ...).")],
    account_row: Annotated[int, typer.Option(help="Data row number, 1 = first account.")] = 1,
    channel: Annotated[str | None, typer.Option(help="Render the step's fallback instead.")] = None,
    variant: Annotated[
        str | None, typer.Option(help="Only this template variant (default: every variant).")
    ] = None,
) -> None:
    """Render one message for one account to the terminal (every variant of an A/B/n step)."""
    from cli.preview import preview_message

    raise typer.Exit(
        preview_message(
            file, ladder, step, account_row, channel, settings_or_exit(), out, err, variant
        )
    )


class SendTestChannel(StrEnum):
    email = "email"
    sms = "sms"
    voicemail = "voicemail"
    letter = "letter"


@app.command("send-test")
def send_test(
    channel: Annotated[SendTestChannel, typer.Option(help="email, sms, voicemail or letter.")],
    to: Annotated[
        str,
        typer.Option(help="Email, E.164 number, or 'Name, street, postal code city, country'."),
    ],
    ladder: Annotated[str, typer.Option(help="Ladder name or file.")],
    step: Annotated[str, typer.Option(help="Step id (or promise.reminder, plan.missed, ...).")],
    locale: Annotated[str | None, typer.Option(help="Template locale (default: settings).")] = None,
    variant: Annotated[
        str | None,
        typer.Option(help="For a step with variants: which one (default: the first)."),
    ] = None,
) -> None:
    """Send one rendered message of a step to yourself through the configured transport."""
    from cli.send_test import send_test as run

    settings = settings_or_exit()
    raise typer.Exit(run(channel.value, to, ladder, step, locale, settings, out, err, variant))


# ---- running -----------------------------------------------------------------------------------


@app.command("simulate")
def simulate(
    ladder: Annotated[Path, typer.Option(help="Ladder YAML file.")],
    accounts: Annotated[Path, typer.Option(help="Accounts CSV.")],
    events: Annotated[Path | None, typer.Option(help="Scripted events YAML.")] = None,
    days: Annotated[
        str, typer.Option(metavar="N", help="Days to simulate, 1 to 3650.", show_default=True)
    ] = "120",
    start: Annotated[str | None, typer.Option(help="Start, ISO UTC (default: now).")] = None,
    format: Annotated[str, typer.Option("--format", help="json or table.")] = "json",
) -> None:
    """Run the real workflows on Temporal's time-skipping server and report every contact."""
    from simulation.engine import SimulationInputError, SimulationRequest, parse_days, parse_start
    from simulation.engine import simulate as run_simulation

    if format not in ("json", "table"):
        raise fail(f"--format {format!r}: use json or table")
    settings = settings_or_exit()
    try:
        request = SimulationRequest(
            ladder=ladder,
            accounts=accounts,
            events=events,
            days=parse_days(days),
            start=parse_start(start, datetime.now(UTC)),
        )
        document = asyncio.run(
            run_simulation(
                request,
                settings,
                warn=lambda text: err.print(f"warning: {text}", markup=False, highlight=False),
            )
        )
    except SimulationInputError as exc:
        raise fail(str(exc)) from None
    for item in document.get("rejected", []):
        who = f" ({item['account_id']})" if item["account_id"] else ""
        err.print(f"{accounts}:{item['line']}{who}: {item['reason']}", markup=False)
    if format == "json":
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    else:
        from cli.tables import simulation_tables

        for table in simulation_tables(document):
            out.print(table)


@app.command("worker")
def worker() -> None:
    """Run the worker alone against the configured Temporal server."""
    from cli.dev import run_worker_only

    raise typer.Exit(asyncio.run(run_worker_only(settings_or_exit(), out, err)))


@app.command("webhooks")
def webhooks(
    host: Annotated[str | None, typer.Option(help="Listen address (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: settings).")] = None,
) -> None:
    """Serve the webhooks (replies, delivery reports, payments) against the configured Temporal."""
    from cli.dev import run_webhooks_only

    settings = settings_or_exit()
    raise typer.Exit(
        asyncio.run(
            run_webhooks_only(
                settings, host or settings.webhook_host, port or settings.webhook_port, out
            )
        )
    )


@app.command("send-payment")
def send_payment(
    account_id: Annotated[str, typer.Argument(help="Account id.")],
    amount: Annotated[str, typer.Argument(help="Decimal amount, e.g. 120.50.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code of the account.")] = "EUR",
    payment_id: Annotated[str | None, typer.Option(help="Idempotent id (default: new).")] = None,
    url: Annotated[
        str | None, typer.Option(help="Payments URL (default: <public base URL>/payments).")
    ] = None,
) -> None:
    """POST one signed payment notice to the webhook server, as a payment processor would."""
    from cli.send_payment import send_payment as run

    raise typer.Exit(
        run(account_id, amount, currency, payment_id, url, settings_or_exit(), out, err)
    )


@app.command("dev")
def dev(
    import_file: Annotated[
        Path | None, typer.Option("--import", help="Accounts CSV to import at start.")
    ] = None,
    ladder: Annotated[str | None, typer.Option(help="Default ladder for the import.")] = None,
    webhooks: Annotated[bool, typer.Option(help="Serve the webhooks too.")] = True,
) -> None:
    """The embedded Temporal dev server, the worker, the webhooks and the UI (Ctrl-C stops)."""
    from cli.dev import run_dev

    raise typer.Exit(
        asyncio.run(run_dev(settings_or_exit(), import_file, ladder, out, err, webhooks=webhooks))
    )


def main() -> None:
    """Console entry point. Skips interpreter finalisation once the command is done: the
    Temporal client's Rust threads can outlive the event loop, and tearing the interpreter down
    under them occasionally aborts the process (SIGABRT) after a command that succeeded."""
    code: int | str | None = 0
    try:
        app()
    except SystemExit as exit_:
        code = exit_.code
    sys.stdout.flush()
    sys.stderr.flush()
    if isinstance(code, str):
        sys.stderr.write(code + "\n")
        code = 1
    os._exit(code or 0)


if __name__ == "__main__":
    main()
