"""`dunning audit export|verify`, `account show` from the audit store, and `account erase`.

Each test builds a real SQLite store in tmp_path and records accounts the way the workflow does
(`workflows/account/audit.py` makes the entries, `activities/audit_activities.write_batch`
writes them, rendered messages are stored as the send activity stores them), with the files a
worker leaves behind (outbox, letters, handoff) written by the real transports.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import cli.account_commands as account_commands
import cli.erasure as erasure
from activities.account_activities import write_handoff
from activities.audit_activities import write_batch
from activities.channels.base import OutgoingMessage
from activities.channels.letters.printer import MANIFEST, LetterPrinter
from activities.channels.outbox import FileOutbox
from cli.main import app
from config.ladder import Channel
from config.ladder_loader import load_catalog
from config.settings import Settings, load_settings
from store import CallScript, open_store
from store.protocols import Store
from tests.conftest import LADDERS_DIR, account
from workflows.account import audit
from workflows.activity_types import AuditBatch, HandoffRequest
from workflows.types import AccountInput, AccountState, ContactRecord, EventRecord, Status

T0 = datetime(2038, 1, 4, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI (through DUNNING_DATA_DIR) and the test read and write the same store."""
    monkeypatch.setenv("DUNNING_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DUNNING_DATABASE_URL", raising=False)
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture
def store(settings: Settings):
    with open_store(settings.store_url) as opened:
        yield opened


@dataclass
class Recorded:
    account: AccountInput
    contents: dict[str, str]  # what -> sha256: debtor, email, letter, dispute
    files: list[Path]  # outbox messages, the letter's PDF, the handoff export


def message_content(message: OutgoingMessage, ladder_version: int) -> bytes:
    """The rendered message as the send activity stores it (CONTRACT of issue 12)."""
    document = {
        "to": message.to,
        "channel": message.channel.value,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "locale": message.locale,
        "template": message.template,
        "template_files": [f"{message.channel.value}/{message.template}.{message.locale}"],
        "ladder": message.ladder,
        "ladder_version": ladder_version,
        "idempotency_key": message.idempotency_key,
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False).encode()


def record_account(
    store: Store,
    settings: Settings,
    account_id: str = "E-1",
    *,
    ladder: str = "b2b-net30",
    jurisdiction: str | None = None,
    closed: bool = True,
    words: str = "pas ma dette, Nantes",
    **columns: str,
) -> Recorded:
    """An account's life as the workflow records it: opened, an email sent, an SMS suppressed,
    a letter sent, a dispute (with the debtor's words), its resolution, a payment, closed paid.
    The messages also land in the outbox and the letters' batch, the account in a handoff."""
    acc = account(T0, ladder=load_catalog(LADDERS_DIR)[ladder], account_id=account_id, **columns)
    workflow_id = f"dunning-{account_id}"
    state = AccountState(balance=acc.balance)
    audit.opened(state, acc, workflow_id, T0)
    entries = list(state.audit_pending)
    if jurisdiction is not None:
        entries[0].body["jurisdiction"] = jurisdiction

    def message(step: str, channel: Channel, template: str, text: str, **extra) -> OutgoingMessage:
        return OutgoingMessage(
            idempotency_key=f"{workflow_id}/{step}/{channel.value}/1",
            account_id=account_id,
            step=step,
            channel=channel,
            to=extra.pop("to", ""),
            template=template,
            locale="fr",
            subject=f"{acc.account_id}: {template}",
            text=text,
            sent_at=(T0 + HOUR).isoformat(),
            ladder=acc.ladder.name,
            jurisdiction=acc.ladder.jurisdiction.value,
            recipient_name=acc.debtor.name,
            **extra,
        )

    email = message(
        "statement-email",
        Channel.EMAIL,
        "courtesy",
        f"Bonjour {acc.debtor.name}, votre solde de 120,50 € est échu.",
        to=acc.debtor.email,
    )
    letter = message(
        "formal-notice",
        Channel.LETTER,
        "first-notice",
        f"{acc.debtor.name}, nous vous mettons en demeure de régler 120,50 €.",
        postal_lines=acc.debtor.postal_lines(),
    )
    contents = {
        name: store.audit.put_content(
            message_content(sent, acc.ladder.version), "application/json", account_id=account_id
        )
        for name, sent in (("email", email), ("letter", letter))
    }
    contacts = [
        ContactRecord(
            at=T0 + HOUR,
            step=email.step,
            channel=Channel.EMAIL,
            template=email.template,
            outcome="sent",
            locale="fr",
            message_id="outbox-1",
            idempotency_key=email.idempotency_key,
            content=contents["email"],
        ),
        ContactRecord(
            at=T0 + 2 * HOUR,
            step="reminder-sms",
            channel=Channel.SMS,
            template="reminder",
            outcome="suppressed",
            reason="opted_out",
            rule="opt_out",
        ),
        ContactRecord(
            at=T0 + 3 * HOUR,
            step=letter.step,
            channel=Channel.LETTER,
            template=letter.template,
            outcome="sent",
            locale="fr",
            message_id="letter-1",
            idempotency_key=letter.idempotency_key,
            content=contents["letter"],
        ),
    ]
    events = [
        EventRecord(at=T0 + 4 * HOUR, type="dispute", detail={"reason": words}),
        EventRecord(at=T0 + 5 * HOUR, type="dispute_resolved", detail={"outcome": "validated"}),
        EventRecord(at=T0 + 6 * HOUR, type="payment", detail={"amount": "120.50"}),
    ]
    entries += [audit.contact_entry(contact, index) for index, contact in enumerate(contacts)]
    entries += [audit.event_entry(event, index) for index, event in enumerate(events)]
    if closed:
        state.status, state.balance, state.closed_at = Status.PAID, 0, T0 + 6 * HOUR
        state.audit_pending = []
        audit.closed(state, T0 + 6 * HOUR)
        entries += state.audit_pending
    batch = AuditBatch(
        account_id=account_id,
        workflow_id=workflow_id,
        entries=entries,
        ladder=acc.ladder,
        debtor=acc.debtor,
    )
    stored = write_batch(store.audit, batch)
    contents["debtor"] = stored[0].body["debtor"]
    contents["dispute"] = next(r.body["text"] for r in stored if r.body.get("type") == "dispute")

    # What the worker leaves behind: the outbox, the letter's batch, the handoff, the ledger.
    outbox = FileOutbox(settings.outbox_dir)
    asyncio.run(outbox.deliver(email))
    printer = LetterPrinter(settings.letters_path, ("Acme Utilities", "1 Market Street"))
    asyncio.run(printer.deliver(letter))
    handoff = write_handoff(
        settings.handoff_dir,
        HandoffRequest(
            account_id=account_id,
            debtor=acc.debtor,
            balance=acc.balance,
            currency=acc.currency,
            ladder_name=acc.ladder.name,
            ladder_version=acc.ladder.version,
            due_at=acc.due_at,
            handed_off_at=T0 + 6 * HOUR,
            contacts=contacts,
            events=events,
        ),
    )
    store.ledger.claim(email.idempotency_key, "email", "sendgrid", "h", recipient=email.to)
    store.ledger.record_sent(email.idempotency_key, "sg-1", sent_at=T0 + HOUR)
    store.call_scripts.save(
        CallScript(
            f"tok-{account_id}",
            account_id,
            f"{workflow_id}/vm/voicemail/1",
            "fr",
            "fr-FR",
            "Polly.Lea",
            f"Bonjour {acc.debtor.name}",
        )
    )
    if closed:
        store.accounts.record_started(workflow_id, account_id, T0)
        store.accounts.record_closed(workflow_id, "paid", T0 + 6 * HOUR)
    files = [outbox.path_for(email), printer.path_for(letter), Path(handoff)]
    assert all(path.is_file() for path in files)
    return Recorded(acc, contents, files)


def tamper(settings: Settings, account_id: str, seq: int, body: dict) -> None:
    """Rewrite a record's body behind the application's back (the trigger dropped and put
    back, as someone with the database file could)."""
    path = settings.store_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        (trigger,) = db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' "
            "AND name = 'audit_records_no_update'"
        ).fetchone()
        db.execute("DROP TRIGGER audit_records_no_update")
        db.execute(
            "UPDATE audit_records SET body = ? WHERE account_id = ? AND seq = ?",
            (json.dumps(body), account_id, seq),
        )
        db.execute(trigger)


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


# ---- audit export ------------------------------------------------------------------------------


def test_export_json_resolves_every_content_and_reports_the_chain(settings, store):
    recorded = record_account(store, settings)
    result = invoke("audit", "export", "E-1")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["account_id"] == "E-1"
    assert document["verified"]["ok"] is True
    assert document["verified"]["records"] == len(document["records"]) == 8
    assert document["verified"]["contents_checked"] == 5  # ladder, debtor, 2 messages, words
    kinds = [record["kind"] for record in document["records"]]
    assert kinds == ["opened", "contact", "contact", "contact", "event", "event", "event", "closed"]
    first, email, sms = document["records"][:3]
    assert set(first) >= {"seq", "at", "kind", "body", "hash", "prev_hash", "recorded_at"}
    assert first["prev_hash"] == "" and email["prev_hash"] == first["hash"]
    assert first["content"]["debtor"]["name"] == "Claire Martin"
    assert first["content"]["ladder"]["name"] == "b2b-net30"
    assert email["content"]["content"]["to"] == "claire@example.org"
    assert "120,50 €" in email["content"]["content"]["text"]
    assert sms["content"] == {} and sms["body"]["rule"] == "opt_out"
    dispute = document["records"][4]
    assert dispute["body"]["text"] == recorded.contents["dispute"]
    assert dispute["content"]["text"] == "reason: pas ma dette, Nantes"
    assert "Nantes" not in json.dumps(dispute["body"])  # the body names it, never holds it


def test_export_csv_is_one_row_per_record_with_rule_and_citation(settings, store):
    recorded = record_account(store, settings)
    output = settings.data_dir / "audit.csv"
    result = invoke("audit", "export", "E-1", "--format", "csv", "--output", str(output))
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(output.read_text(encoding="utf-8"))))
    assert [row["seq"] for row in rows] == [str(n) for n in range(1, 9)]
    assert list(rows[0]) == [
        "seq", "at", "kind", "step_or_type", "channel", "outcome", "reason", "rule",
        "citation", "content", "hash",
    ]  # fmt: skip
    assert rows[0]["step_or_type"] == "b2b-net30 v1"
    assert (rows[1]["step_or_type"], rows[1]["outcome"]) == ("statement-email", "sent")
    assert rows[1]["content"] == recorded.contents["email"]
    suppressed = rows[2]
    assert (suppressed["channel"], suppressed["outcome"], suppressed["reason"]) == (
        "sms",
        "suppressed",
        "opted_out",
    )
    assert (suppressed["rule"], suppressed["citation"]) == (
        "opt_out",
        "12 CFR 1006.14(h); contract section 3",
    )
    assert (rows[4]["step_or_type"], rows[4]["outcome"]) == ("dispute", "accepted")
    assert (rows[7]["kind"], rows[7]["outcome"]) == ("closed", "paid")
    assert rows[7]["at"] == "2038-01-04T15:00:00Z"


def test_export_pdf_prints_the_records_and_each_sent_message(
    settings, store, tmp_path, monkeypatch
):
    from pypdf import PdfReader

    record_account(store, settings)
    monkeypatch.chdir(tmp_path)
    result = invoke("audit", "export", "E-1", "--format", "pdf")
    assert result.exit_code == 0, result.stderr
    pdf = tmp_path / "audit-E-1.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Audit trail of account E-1" in text
    assert "the chain holds" in text
    assert "statement-email" in text and "opted_out" in text
    assert "votre solde de 120,50 € est échu" in text  # the email as sent
    assert "mettons en demeure" in text  # the letter as sent


def test_export_of_an_account_without_records_is_one_line_and_exit_1(settings, store):
    record_account(store, settings)
    result = invoke("audit", "export", "NOPE")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "no audit records for account NOPE\n"


# ---- audit verify ------------------------------------------------------------------------------


def test_verify_prints_the_figures_and_exits_0_when_the_chain_holds(settings, store):
    record_account(store, settings)
    head = store.audit.verify("E-1").head
    result = invoke("audit", "verify", "E-1")
    assert result.exit_code == 0, result.stderr
    assert f"account E-1: 8 records checked, head {head}" in result.stdout
    assert "contents: 5 checked, 0 erased" in result.stdout
    assert "the chain holds" in result.stdout


def test_verify_names_the_seq_of_a_record_changed_behind_the_database(settings, store):
    record_account(store, settings)
    record_account(store, settings, "E-2")
    changed = dict(store.audit.records("E-1")[2].body, outcome="sent", reason=None)
    tamper(settings, "E-1", 3, changed)

    result = invoke("audit", "verify", "E-1")
    assert result.exit_code == 1
    assert "seq 3: seq 3 does not match its hash (changed)" in result.stdout
    assert "BROKEN: 1 problem(s)" in result.stdout

    everything = invoke("audit", "verify", "--all")
    assert everything.exit_code == 1
    assert "account E-2: 8 records checked" in everything.stdout
    assert everything.stdout.rstrip().endswith("2 account(s) verified, 1 broken")
    exported = json.loads(invoke("audit", "export", "E-1").stdout)
    assert exported["verified"]["ok"] is False
    assert exported["verified"]["problems"][0]["seq"] == 3


def test_verify_needs_an_account_or_all(settings, store):
    assert invoke("audit", "verify").exit_code == 2
    assert invoke("audit", "verify", "NOPE").exit_code == 1


# ---- account show, once Temporal has forgotten the workflow --------------------------------------


def consoles() -> tuple[Console, Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(file=out, width=200), Console(file=err, width=200), out, err


async def test_account_show_falls_back_to_the_audit_store(env, settings, store, monkeypatch):
    async def connected(_settings, _err):
        return env.client  # a Temporal that has no workflow dunning-E-1

    monkeypatch.setattr(account_commands, "connected", connected)
    await asyncio.to_thread(record_account, store, settings)
    out, err, out_text, err_text = consoles()
    assert await account_commands.show_account("E-1", settings, out, err) == 0, err_text
    shown = out_text.getvalue()
    assert shown.startswith("from the audit store: the workflow dunning-E-1 is gone from Temporal")
    for expected in (
        "paid",
        "0.00 EUR",
        "b2b-net30 v1",
        "statement-email",
        "suppressed (opted_out)",
        "formal-notice",
        "dispute_resolved",
    ):
        assert expected in shown, expected

    out, err, out_text, err_text = consoles()
    assert await account_commands.show_account("NOPE", settings, out, err) == 1
    assert (out_text.getvalue(), err_text.getvalue()) == ("", "no account NOPE\n")


# ---- account erase -----------------------------------------------------------------------------


def test_erase_is_refused_for_a_us_account_citing_record_retention(settings, store):
    record_account(store, settings, "U-1", ladder="consumer-standard")
    result = invoke("account", "erase", "U-1", "--yes")
    assert result.exit_code == 1
    assert "us profile" in result.stderr and "12 CFR 1006.100" in result.stderr
    assert "nothing erased" in result.stderr
    assert store.audit.verify("U-1").contents_erased == 0


@pytest.mark.parametrize("jurisdiction", ["uk", "none"])
def test_erase_is_refused_for_a_profile_without_erasure(settings, store, jurisdiction):
    record_account(store, settings, "K-1", jurisdiction=jurisdiction)
    result = invoke("account", "erase", "K-1", "--yes")
    assert result.exit_code == 1
    assert f"under the {jurisdiction} profile" in result.stderr
    assert "GDPR Art. 17" in result.stderr


def test_erase_is_refused_while_the_account_is_open(settings, store, monkeypatch):
    recorded = record_account(store, settings, closed=False)

    async def active(_client, _account_id):
        return "active"

    async def connected(_settings, _err):
        return None

    monkeypatch.setattr(account_commands, "connected", connected)
    result = invoke("account", "erase", "E-1", "--yes")
    assert result.exit_code == 1
    assert "cannot tell that account E-1 is closed" in result.stderr

    monkeypatch.setattr(erasure, "workflow_status", active)
    result = invoke("account", "erase", "E-1", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        "refused: account E-1 is not closed (status active); only a closed account is "
        "erased; nothing erased\n"
    )
    assert all(path.is_file() for path in recorded.files)


def test_erase_asks_first(settings, store, monkeypatch):
    recorded = record_account(store, settings)

    async def connected(_settings, _err):
        return None

    monkeypatch.setattr(account_commands, "connected", connected)
    result = invoke("account", "erase", "E-1", input="n\n")
    assert result.exit_code == 1
    assert "not erased" in result.stderr
    assert all(path.is_file() for path in recorded.files)
    assert store.audit.content(recorded.contents["debtor"]).body is not None


def test_erase_bad_id_is_exit_2(settings):
    result = invoke("account", "erase", "../etc", "--yes")
    assert result.exit_code == 2


async def test_erase_removes_personal_data_everywhere_and_keeps_the_chain(
    dev_env, settings, store, tmp_path, monkeypatch
):
    """On the real dev server: the workflow's history goes too."""
    from intake.start import start_account
    from tests.test_account_ids import known_to_temporal

    client = dev_env.client
    recorded = await asyncio.to_thread(record_account, store, settings)
    other = await asyncio.to_thread(  # another debtor, whose account id shares the prefix
        record_account, store, settings, "E-10", name="Jan Kowalski", email="jan@example.org",
        words="to nie mój dług",
    )  # fmt: skip
    outcome = await start_account(client, recorded.account, f"erase-{uuid.uuid4().hex[:8]}")
    assert outcome.started
    monkeypatch.setenv("DUNNING_TEMPORAL_ADDRESS", client.service_client.config.target_host)
    monkeypatch.setenv("DUNNING_TEMPORAL_NAMESPACE", client.namespace)

    result = await asyncio.to_thread(invoke, "account", "erase", "E-1", "--yes")
    assert result.exit_code == 0, result.stderr + result.stdout
    lines = result.stdout.splitlines()
    assert lines[0] == "Temporal: history of dunning-E-1 deleted (1 run(s))"
    assert lines[1].startswith("audit store: 4 content(s) erased")
    assert "send ledger: 1 recipient(s) blanked" in lines
    assert "call scripts: 1 deleted" in lines
    assert any(line.startswith("outbox: 1 message file(s) removed") for line in lines)
    assert "letters: 1 PDF(s) removed, 1 manifest row(s) without address" in lines
    assert any(line.startswith("handoff exports: 1 file(s) removed") for line in lines)

    # Contents erased, the chain verifies, the records and account id are kept.
    for name in ("debtor", "email", "letter", "dispute"):
        assert store.audit.content(recorded.contents[name]).body is None, name
    report = store.audit.verify("E-1")
    assert report.ok, report.problems
    assert (report.records, report.contents_erased) == (9, 4)
    assert store.audit.records("E-1")[-1].kind == "erased"
    exported = json.loads(invoke("audit", "export", "E-1").stdout)
    assert exported["records"][0]["content"]["debtor"]["erased"] is True
    assert exported["records"][0]["content"]["ladder"]["name"] == "b2b-net30"  # not personal
    # The ledger, call scripts and files: E-1's gone, E-10's (same prefix) untouched.
    ledger = {entry.key: entry.recipient for entry in store.ledger.entries()}
    assert ledger["dunning-E-1/statement-email/email/1"] == ""
    assert ledger["dunning-E-10/statement-email/email/1"] == "jan@example.org"
    assert store.call_scripts.get("tok-E-1") is None
    assert store.call_scripts.get("tok-E-10") is not None
    assert not any(path.exists() for path in recorded.files)
    assert not (settings.outbox_dir / "E-1").exists()
    assert all(path.is_file() for path in other.files)
    manifest = recorded.files[1].parent / MANIFEST
    rows = {row["account_id"]: row for row in csv.DictReader(manifest.open(encoding="utf-8"))}
    assert rows["E-1"]["recipient_1"] == "" and rows["E-10"]["recipient_1"] == "Jan Kowalski"
    for _ in range(600):  # the server deletes asynchronously
        if not await known_to_temporal(client, "dunning-E-1"):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("dunning-E-1 is still in Temporal")

    # Again: nothing left to erase, nothing refused.
    again = await asyncio.to_thread(invoke, "account", "erase", "E-1", "--yes")
    assert again.exit_code == 0, again.stderr
    assert "Temporal: no history of dunning-E-1 left (already gone)" in again.stdout
    assert "audit store: 0 content(s) erased" in again.stdout


async def test_erase_without_temporal_erases_the_rest_and_says_to_run_again(
    settings, store, monkeypatch
):
    recorded = await asyncio.to_thread(record_account, store, settings)

    async def connected(_settings, _err):
        return None

    monkeypatch.setattr(account_commands, "connected", connected)
    out, err, _, err_text = consoles()
    assert await erasure.run_erase("E-1", settings, out, err) == 1
    assert "Temporal: not reached: the history of dunning-E-1 is kept" in err_text.getvalue()
    assert "run `dunning account erase E-1 --yes` again" in err_text.getvalue()
    assert not any(path.exists() for path in recorded.files)
    assert store.audit.verify("E-1").ok


async def test_an_account_from_before_the_audit_trail_is_judged_by_its_workflow_input(
    harness,
):
    """No `opened` record (the account ran before issue 12, or without a store): the profile
    comes from the workflow's own start input, so an eu account can still be erased and a us
    one is still refused."""
    from tests.conftest import ladder_from
    from tests.test_compliance_rules import ladder_text

    eu = ladder_from(ladder_text("eu"))
    async with harness.worker():
        await harness.start(account(datetime(2038, 1, 4, 6, tzinfo=UTC), ladder=eu))
        await harness.start(account(datetime(2038, 1, 4, 6, tzinfo=UTC), account_id="T-2"))
        client = harness.env.client
        assert await erasure.started_jurisdiction(client, "T-1") == "eu"
        assert await erasure.started_jurisdiction(client, "T-2") == "us"
        assert await erasure.started_jurisdiction(client, "T-404") is None
    assert erasure.jurisdiction_refusal("T-1", [], "eu") is None
    refused = erasure.jurisdiction_refusal("T-2", [], "us")
    assert refused is not None and "1006.100" in refused
    assert "unknown" in str(erasure.jurisdiction_refusal("T-404", [], None))
