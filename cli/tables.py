"""Rich tables for accounts and simulations (what people read; JSON is for scripts)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from rich.table import Table

from intake.accounts_csv import format_money
from workflows.types import AccountView


def outcome_text(outcome: str, reason: str | None, confirmed: bool = True) -> str:
    """`sent`, `sent (unconfirmed)` when the provider's acceptance could not be confirmed, or
    `suppressed (reason)`."""
    if outcome == "sent" and not confirmed:
        return "sent (unconfirmed)"
    return outcome + (f" ({reason})" if reason else "")


def account_tables(view: AccountView) -> list[Table]:
    zone = ZoneInfo(view.zones[0])
    summary = Table(title=f"Account {view.account_id}", show_header=False)
    summary.add_column("field")
    summary.add_column("value")
    next_contact = (
        view.next_contact_at.astimezone(zone).isoformat(timespec="minutes")
        if view.next_contact_at
        else "-"
    )
    for field, value in (
        ("status", view.status.value),
        ("balance", f"{format_money(view.balance, view.currency)} {view.currency}"),
        ("ladder", f"{view.ladder_name} v{view.ladder_version}"),
        ("ladder day", f"{view.ladder_day:.2f}"),
        ("next contact", f"{next_contact} ({view.next_step or '-'})"),
        ("time zones", ", ".join(view.zones)),
        ("skipped steps", ", ".join(view.skipped_steps) or "-"),
        (
            "unusable channels",
            ", ".join(f"{k}: {v}" for k, v in view.unusable_channels.items()) or "-",
        ),
        ("history events", str(view.history_length)),
    ):
        summary.add_row(field, value)
    contacts = Table(title="Contacts")
    for column in ("local time", "step", "channel", "template", "locale", "outcome"):
        contacts.add_column(column)
    for contact in view.contacts:
        contacts.add_row(
            contact.at.astimezone(zone).isoformat(timespec="minutes"),
            contact.step,
            contact.channel.value,
            contact.template,
            contact.locale or "",
            outcome_text(contact.outcome, contact.reason, contact.confirmed),
        )
    events = Table(title="Events")
    for column in ("local time", "event", "accepted", "reason"):
        events.add_column(column)
    for event in view.events:
        events.add_row(
            event.at.astimezone(zone).isoformat(timespec="minutes"),
            event.type,
            "yes" if event.accepted else "no",
            event.reason or "",
        )
    return [summary, contacts, events]


def simulation_tables(document: dict[str, Any]) -> list[Table]:
    tables = []
    for account in document["accounts"]:
        table = Table(
            title=(
                f"{account['account_id']} — {account['status']}, "
                f"{account['balance']} {account['currency']} "
                f"({account['ladder']['name']} v{account['ladder']['version']})"
            )
        )
        for column in ("day", "local time", "what", "channel", "outcome"):
            table.add_column(column)
        rows = [
            (
                c["day"],
                c["local"],
                f"{c['step']} ({c['template']}.{c['locale'] or '-'})",
                c["channel"],
                outcome_text(c["outcome"], c["reason"], c.get("confirmed", True)),
            )
            for c in account["contacts"]
        ] + [
            (
                e["day"],
                "",
                e["type"],
                "",
                ("accepted" if e["accepted"] else "refused")
                + (f" ({e['reason']})" if e["reason"] else ""),
            )
            for e in account["events"]
        ]
        for row in sorted(rows, key=lambda row: row[0]):
            table.add_row(f"{row[0]:.2f}", *row[1:])
        tables.append(table)
    return tables
