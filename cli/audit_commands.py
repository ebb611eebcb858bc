"""`dunning audit export` and `dunning audit verify`: the audit trail, out of the store.

The audit store (`store/audit.py`) outlives Temporal: a workflow's history is gone after the
namespace's retention, the hash-chained records are not. An examiner or a debtor's lawyer asks
for them as a document (`export`: JSON for scripts, CSV for a spreadsheet, PDF to print) and
wants to know they were not edited since (`verify`: the chain recomputed, every referenced
content checked against its sha256).

Record bodies hold no personal data; they name contents (the debtor, each rendered message,
free text) by sha256. The export resolves those names, so it shows what was sent to whom, or
`{"erased": true}` once `dunning account erase` has removed them.

Exit codes: 0 done and the chain holds, 1 no records for the account or the chain is broken,
2 bad arguments or the store cannot be read.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from config.settings import Settings
    from store.protocols import AuditLog, AuditRecord, ChainReport, Store, StoredContent

audit_app = typer.Typer(
    help="The audit trail: export it, verify its hash chain.", no_args_is_help=True
)

out = Console(soft_wrap=True)  # hashes and paths stay on one line: scripts grep them
err = Console(stderr=True, soft_wrap=True)

# Body fields that name a content by its sha256: the debtor and the ladder ("opened"), the
# rendered message ("contact"), the debtor's free text ("event", "milestone").
CONTENT_FIELDS = ("debtor", "ladder", "content", "text")
SHA256 = re.compile(r"[0-9a-f]{64}")
CSV_COLUMNS = (
    "seq",
    "at",
    "kind",
    "step_or_type",
    "channel",
    "outcome",
    "reason",
    "rule",
    "citation",
    "content",
    "hash",
)


class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"
    pdf = "pdf"


class NoRecords(LookupError):
    """The audit store has nothing for this account (never opened, or a mistyped id)."""


def iso(moment: datetime | None) -> str | None:
    """UTC, `Z`-suffixed: the same instant reads the same in every export."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ---- the export document (JSON; CSV and PDF are made from it) ----------------------------------


def content_refs(body: dict[str, Any]) -> dict[str, str]:
    """The contents a record names, by body field."""
    return {
        field: body[field]
        for field in CONTENT_FIELDS
        if isinstance(body.get(field), str) and SHA256.fullmatch(body[field])
    }


def decoded(stored: StoredContent | None) -> Any:
    """A content as a reader wants it: JSON parsed, text as text; a marker when it is gone."""
    if stored is None:
        return {"missing": True}
    if stored.body is None:
        return {"erased": True, "erased_at": iso(stored.erased_at)}
    media_type = stored.media_type.split(";")[0].strip()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return json.loads(stored.body)
        except ValueError:
            pass
    if media_type.startswith("text/") or media_type == "application/json":
        return stored.body.decode("utf-8", errors="replace")
    return {"media_type": media_type, "base64": base64.b64encode(stored.body).decode()}


def chain_summary(report: ChainReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "records": report.records,
        "head": report.head,
        "contents_checked": report.contents_checked,
        "contents_erased": report.contents_erased,
        "problems": [{"seq": p.seq, "problem": p.problem} for p in report.problems],
    }


def record_entry(record: AuditRecord, audit: AuditLog) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "at": iso(record.at),
        "kind": record.kind,
        "key": record.key,
        "body": record.body,
        "hash": record.hash,
        "prev_hash": record.prev_hash,
        "recorded_at": iso(record.recorded_at),
        "content": {
            field: decoded(audit.content(sha)) for field, sha in content_refs(record.body).items()
        },
    }


def export_document(audit: AuditLog, account_id: str) -> dict[str, Any]:
    """The whole trail of one account, contents resolved, with the chain's verification."""
    records = audit.records(account_id)
    if not records:
        raise NoRecords(f"no audit records for account {account_id}")
    return {
        "account_id": account_id,
        "verified": chain_summary(audit.verify(account_id)),
        "records": [record_entry(record, audit) for record in records],
    }


def record_row(entry: dict[str, Any]) -> dict[str, Any]:
    """One export entry as a CSV row: what happened, on which step, under which rule."""
    from config.compliance import RULES, citation

    body = entry["body"]
    kind = entry["kind"]
    what = body.get("step") or body.get("type") or ""
    outcome = body.get("outcome") or ""
    if kind in ("event", "milestone"):
        outcome = "accepted" if body.get("accepted", True) else "refused"
    elif kind == "opened":
        what = f"{body.get('ladder_name', '')} v{body.get('ladder_version', '')}"
    elif kind == "closed":
        outcome = body.get("status") or ""
    rule = body.get("rule") or ""
    cited = body.get("citation") or (citation(rule) if rule in RULES else "")
    return {
        "seq": entry["seq"],
        "at": entry["at"],
        "kind": kind,
        "step_or_type": what,
        "channel": body.get("channel") or "",
        "outcome": outcome,
        "reason": body.get("reason") or "",
        "rule": rule,
        "citation": cited,
        "content": " ".join(content_refs(body).values()),
        "hash": entry["hash"],
    }


def csv_text(document: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for entry in document["records"]:
        writer.writerow(record_row(entry))
    return buffer.getvalue()


# ---- verification ------------------------------------------------------------------------------


def verification_lines(report: ChainReport) -> list[str]:
    """What `audit verify` prints for one account: figures first, then each problem."""
    lines = [
        f"account {report.account_id}: {report.records} records checked, head {report.head or '-'}",
        f"  contents: {report.contents_checked} checked, {report.contents_erased} erased",
    ]
    lines += [f"  seq {problem.seq}: {problem.problem}" for problem in report.problems]
    lines.append(
        "  the chain holds" if report.ok else f"  BROKEN: {len(report.problems)} problem(s)"
    )
    return lines


# ---- commands ----------------------------------------------------------------------------------


@contextmanager
def opened_store(settings: Settings) -> Iterator[Store]:
    """The shared store, or exit 2 with one line saying why it cannot be read."""
    from store import StoreError, open_store

    try:
        store = open_store(settings.store_url, migrate=settings.database_auto_migrate)
    except StoreError as exc:
        err.print(f"store: {' '.join(str(exc).split())}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    try:
        yield store
    finally:
        store.close()


def _settings() -> Settings:
    from cli.main import settings_or_exit  # at call time: cli.main registers this module

    return settings_or_exit()


def _refuse(message: str, code: int = 1) -> typer.Exit:
    from cli.main import fail

    return fail(message, code)


AccountId = Annotated[str, typer.Argument(help="The account id.")]


@audit_app.command("export")
def audit_export(
    account_id: AccountId,
    format: Annotated[
        ExportFormat, typer.Option("--format", help="json, csv or pdf.")
    ] = ExportFormat.json,
    output: Annotated[
        Path | None,
        typer.Option(help="Write here (default: stdout; for pdf audit-<ID>.pdf)."),
    ] = None,
) -> None:
    """Every audit record of one account, contents resolved, with the chain's verification."""
    settings = _settings()
    with opened_store(settings) as store:
        try:
            document = export_document(store.audit, account_id)
        except NoRecords as exc:
            raise _refuse(str(exc)) from None
    if format == ExportFormat.pdf:
        from cli.audit_report import audit_pdf

        target = output or Path(f"audit-{account_id}.pdf")
        target.write_bytes(audit_pdf(document, generated_at=datetime.now(UTC)))
        out.print(f"wrote {target} ({len(document['records'])} records)", markup=False)
        return
    text = (
        json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        if format == ExportFormat.json
        else csv_text(document)
    )
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output} ({len(document['records'])} records)", markup=False)


@audit_app.command("verify")
def audit_verify(
    account_id: Annotated[str | None, typer.Argument(help="The account id.")] = None,
    all_accounts: Annotated[
        bool, typer.Option("--all", help="Verify every account in the audit store.")
    ] = False,
) -> None:
    """Recompute the hash chain and check every content: exit 0 when it holds, 1 when not."""
    if (account_id is None) == (not all_accounts):
        raise _refuse("give an account id or --all (not both)", 2)
    settings = _settings()
    with opened_store(settings) as store:
        accounts = store.audit.accounts() if account_id is None else [account_id]
        broken = 0
        for name in accounts:
            report = store.audit.verify(name)
            if report.ok and not report.records and not all_accounts:
                # Nothing, and no head saying there was something: a mistyped id.
                raise _refuse(f"no audit records for account {name}")
            broken += not report.ok
            for line in verification_lines(report):
                out.print(line, markup=False, highlight=False)
    if all_accounts:
        out.print(f"{len(accounts)} account(s) verified, {broken} broken", markup=False)
    raise typer.Exit(1 if broken else 0)
