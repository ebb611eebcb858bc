"""Rich tables for accounts and simulations (what people read; JSON is for scripts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.table import Table

from config.compliance import citation
from intake.accounts_csv import format_money
from store.protocols import is_conflict_copy
from workflows.types import AccountView

if TYPE_CHECKING:
    from store.protocols import AuditRecord


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
            contact.template + (" (A/B variant)" if contact.variant else ""),
            contact.locale or "",
            outcome_text(contact.outcome, contact.reason, contact.confirmed)
            + (f" [{citation(contact.rule)}]" if contact.rule else "")
            + (" + validation notice" if contact.validation_notice else ""),
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


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _money(amount: object, currency: str) -> str:
    try:
        return f"{format_money(Decimal(str(amount)), currency)} {currency}".strip()
    except (InvalidOperation, ValueError, KeyError):
        return f"{amount} {currency}".strip()


def audit_account_tables(account_id: str, records: Sequence[AuditRecord]) -> list[Table]:
    """`account show` once Temporal has forgotten the workflow: the same three tables, read
    from the audit store's records. Times are UTC: the debtor's zones were personal data
    kept in the (possibly erased) debtor content, not in the records."""
    records = [record for record in records if not is_conflict_copy(record.key)]
    opened = next((r.body for r in records if r.kind == "opened"), {})
    closed = next((r for r in reversed(records) if r.kind == "closed"), None)
    erased = next((r for r in reversed(records) if r.kind == "erased"), None)
    currency = str(opened.get("currency") or "")
    balance = closed.body.get("balance") if closed else opened.get("balance")
    summary = Table(title=f"Account {account_id} (from the audit store)", show_header=False)
    summary.add_column("field")
    summary.add_column("value")
    for field, value in (
        ("status", str(closed.body.get("status")) if closed else "not closed when last recorded"),
        ("balance", _money(balance, currency) if balance is not None else "-"),
        ("ladder", f"{opened.get('ladder_name', '-')} v{opened.get('ladder_version', '-')}"),
        ("jurisdiction", str(opened.get("jurisdiction") or "-")),
        ("due", str(opened.get("due_at") or "-")),
        ("opened", _utc(records[0].at) if records else "-"),
        ("closed", _utc(closed.at) if closed else "-"),
        ("personal data", f"erased {_utc(erased.at)}" if erased else "kept"),
        ("audit records", str(len(records))),
    ):
        summary.add_row(field, value)
    contacts = Table(title="Contacts")
    for column in ("time (UTC)", "step", "channel", "template", "locale", "outcome"):
        contacts.add_column(column)
    events = Table(title="Events")
    for column in ("time (UTC)", "event", "accepted", "reason"):
        events.add_column(column)
    for record in records:
        body = record.body
        if record.kind == "contact":
            contacts.add_row(
                _utc(record.at),
                str(body.get("step") or ""),
                str(body.get("channel") or ""),
                str(body.get("template") or "") + (" (A/B variant)" if body.get("variant") else ""),
                str(body.get("locale") or ""),
                outcome_text(
                    str(body.get("outcome") or ""),
                    body.get("reason"),
                    body.get("confirmed") is not False,
                ),
            )
        elif record.kind in ("event", "milestone"):
            events.add_row(
                _utc(record.at),
                str(body.get("type") or record.kind),
                "yes" if body.get("accepted", True) else "no",
                str(body.get("reason") or ""),
            )
    return [summary, contacts, events]


def _variant_label(contact: dict[str, Any]) -> str:
    """`variant ` before the template of a contact whose step has A/B/n variants (the JSON's
    `variant` is the assigned variant's template name), so a table reader can tell a wording
    under test from the step's only one."""
    return "variant " if contact.get("variant") else ""


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
                f"{c['step']} ({_variant_label(c)}{c['template']}.{c['locale'] or '-'})",
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
