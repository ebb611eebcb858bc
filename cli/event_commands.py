"""`dunning account pay|promise|plan|...`: the commands that send one event to an account.

Each turns its arguments into the event's fields and sends them with `post_event`
(cli/account_commands.py), as the webhooks and `dunning simulate` send theirs: the workflow
answers at once. cli/main.py registers them on `dunning account` (`register`), after `show`.

Exit codes: 0 accepted, 1 refused (the reason is printed) or Temporal unreachable, 2 bad input
or bad settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated

import typer

AccountId = Annotated[str, typer.Argument(help="The account id.")]
EventId = Annotated[
    str | None, typer.Option("--event-id", help="Idempotency id: a repeat changes nothing.")
]


def _event(account_id: str, **fields: object) -> None:
    """Send an event to an account and exit with its answer (0 accepted, 1 refused)."""
    from cli.account_commands import post_event
    from cli.main import err, out, settings_or_exit

    given = {key: value for key, value in fields.items() if value is not None}
    raise typer.Exit(asyncio.run(post_event(account_id, given, settings_or_exit(), out, err)))


def account_pay(
    account_id: AccountId, amount: Annotated[str, typer.Argument()], event_id: EventId = None
) -> None:
    """Record a payment (a decimal amount in the account's currency)."""
    _event(account_id, type="payment", amount=amount, event_id=event_id)


def account_promise(
    account_id: AccountId,
    date: Annotated[str | None, typer.Option(help="Pay-by date, YYYY-MM-DD (debtor's).")] = None,
    days: Annotated[int | None, typer.Option(help="Or: due in this many days.")] = None,
    amount: Annotated[str | None, typer.Option(help="Default: the whole balance.")] = None,
    event_id: EventId = None,
) -> None:
    """Record a promise to pay by a date: the ladder pauses until then."""
    _event(
        account_id, type="promise", date=date, due_in_days=days, amount=amount, event_id=event_id
    )


def account_plan(
    account_id: AccountId,
    installment: Annotated[
        list[str], typer.Option(help="DATE:AMOUNT or DAYS:AMOUNT; repeat for each.")
    ],
    event_id: EventId = None,
) -> None:
    """Set up a payment plan: the ladder pauses while installments are kept."""
    from cli.account_commands import parse_installment
    from cli.main import fail

    try:
        installments = [parse_installment(item) for item in installment]
    except ValueError as exc:
        raise fail(str(exc)) from None
    _event(account_id, type="plan", installments=installments, event_id=event_id)


def account_dispute(
    account_id: AccountId,
    reason: Annotated[str, typer.Argument()],
    received: Annotated[
        str | None,
        typer.Option(
            help="The debtor's local date a mailed dispute arrived, YYYY-MM-DD (us: was it "
            "within the validation period?). Default: now."
        ),
    ] = None,
    event_id: EventId = None,
) -> None:
    """The debtor disputes the debt: all contact stops until it is resolved."""
    _event(account_id, type="dispute", reason=reason, received_on=received, event_id=event_id)


def account_resolve(
    account_id: AccountId,
    outcome: Annotated[str, typer.Argument(help="validated (ladder resumes) or upheld (closed).")],
    event_id: EventId = None,
) -> None:
    """Resolve a dispute."""
    _event(account_id, type="dispute_resolved", outcome=outcome, event_id=event_id)


def account_opt_out(
    account_id: AccountId, channel: Annotated[str, typer.Argument()], event_id: EventId = None
) -> None:
    """Never use this channel again for this account."""
    _event(account_id, type="opt_out", channel=channel, event_id=event_id)


def account_cease(account_id: AccountId, event_id: EventId = None) -> None:
    """No further contact of any kind; the ladder goes on silently to handoff."""
    _event(account_id, type="cease", event_id=event_id)


def account_bankruptcy(account_id: AccountId, event_id: EventId = None) -> None:
    """Close at once: bankruptcy."""
    _event(account_id, type="bankruptcy", event_id=event_id)


def account_deceased(account_id: AccountId, event_id: EventId = None) -> None:
    """Close at once: the debtor has died."""
    _event(account_id, type="deceased", event_id=event_id)


def account_hold(
    account_id: AccountId, days: Annotated[int, typer.Argument()], event_id: EventId = None
) -> None:
    """Pause the ladder for some days (paused days do not count)."""
    _event(account_id, type="hold", days=days, event_id=event_id)


def account_resume(account_id: AccountId, event_id: EventId = None) -> None:
    """End a hold early."""
    _event(account_id, type="resume", event_id=event_id)


def account_reply(
    account_id: AccountId,
    text: Annotated[str, typer.Argument(help="The debtor's words.")],
    channel: Annotated[str, typer.Option(help="Where the reply came from.")] = "sms",
    event_id: EventId = None,
) -> None:
    """Record a debtor's free-text reply; it is classified and applied."""
    _event(account_id, type="reply", text=text, channel=channel, event_id=event_id)


def account_breathing_space(
    account_id: AccountId,
    days: Annotated[
        int | None, typer.Option(help="Days it lasts (default 60: a standard one).")
    ] = None,
    event_id: EventId = None,
) -> None:
    """Start a uk breathing space (Debt Respite Scheme): no contact, the ladder paused."""
    _event(account_id, type="breathing_space", days=days, event_id=event_id)


def account_breathing_space_end(account_id: AccountId, event_id: EventId = None) -> None:
    """End a uk breathing space early: the ladder resumes."""
    _event(account_id, type="breathing_space_end", event_id=event_id)


# In the order `dunning account --help` lists them.
COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("pay", account_pay),
    ("promise", account_promise),
    ("plan", account_plan),
    ("dispute", account_dispute),
    ("resolve", account_resolve),
    ("opt-out", account_opt_out),
    ("cease", account_cease),
    ("bankruptcy", account_bankruptcy),
    ("deceased", account_deceased),
    ("hold", account_hold),
    ("resume", account_resume),
    ("reply", account_reply),
    ("breathing-space", account_breathing_space),
    ("breathing-space-end", account_breathing_space_end),
)


def register(account_app: typer.Typer) -> None:
    """Add the event commands to `dunning account`."""
    for name, command in COMMANDS:
        account_app.command(name)(command)
