"""Printed letters: the PDF (activities/channels/letters/pdf.py) and the print-batch transport
(activities/channels/letters/printer.py).

The PDFs are read back with pypdf: the text must come out exactly as written (Polish letters
included), and every recipient line must sit inside the envelope window of its paper size.
"""

from __future__ import annotations

import asyncio
import csv
import io
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from activities.channels.base import OutgoingMessage, Undeliverable
from activities.channels.files import create_once
from activities.channels.letters import LAYOUTS, LetterContent, letter_pdf, paper_for, render_letter
from activities.channels.letters import manifest as manifest_module
from activities.channels.letters import printer as letters
from activities.channels.letters.printer import (
    MANIFEST,
    MANIFEST_COLUMNS,
    LetterPrinter,
    batch_summary,
    message_id_for,
    postal_address,
)
from activities.languages import SUPPORTED_LANGUAGES
from activities.render import Creditor, TemplateRenderer, sample_facts
from config.ladder import Channel
from config.settings import PROJECT_ROOT

MM_PER_PT = 25.4 / 72
SENDER = ("Acme Énergie SAS", "1 rue de la Paix", "75002 Paris", "France")
POLISH = "Zaległa płatność … zażółć gęślą jaźń, kwota 1 234,56 zł, € £ –"
DAY = date(2038, 1, 4)


def message(key: str = "dunning-A-1001/first-letter/1", **changes) -> OutgoingMessage:
    base = OutgoingMessage(
        idempotency_key=key,
        account_id="A-1001",
        step="first-letter",
        channel=Channel.LETTER,
        to="12 rue des Lilas, 69003 Lyon, FR",
        template="first-notice",
        locale="fr",
        subject="Facture impayée sur votre compte A-1001",
        text="Madame, Monsieur,\n\nIl reste 120,50 € à régler.\n\nCordialement,\n\nAcme",
        sent_at="2038-01-04T09:00:00Z",
        ladder="consumer-standard",
        jurisdiction="eu",
        recipient_name="Claire Martin",
        postal_lines=("Claire Martin", "12 rue des Lilas", "69003 Lyon", "FR"),
    )
    return replace(base, **changes)


def us_message(key: str = "dunning-U-7/first-letter/1") -> OutgoingMessage:
    return message(
        key,
        account_id="U-7",
        locale="en",
        subject="Overdue balance on your account U-7",
        text="Dear John Doe,\n\nA balance of $1,234.56 is overdue.\n\nYours sincerely,\n\nAcme",
        jurisdiction="us",
        postal_lines=("John Doe", "123 Main St Apt 4", "Springfield IL 62701-1234", "US"),
    )


def polish_letter(paper: str = "A4", body: str = POLISH) -> LetterContent:
    return LetterContent(
        sender_lines=SENDER,
        recipient_lines=(
            "Maria-Magdalena Wiśniewska-Kowalczyk",
            "ul. Żółkiewskiego 12",
            "00-120 Łódź",
        ),
        date_line="4 stycznia 2038",
        subject="Zaległa płatność na koncie nr A-100004",
        body=body,
        paper=paper,
        reference="A-100004",
    )


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@dataclass(frozen=True)
class Placed:
    """A line of text as pypdf sees it: left edge and baseline in mm from the top-left corner."""

    text: str
    x: float
    baseline: float
    size: float  # pt

    @property
    def top(self) -> float:  # DejaVu Sans: ascender 0.928 em, descender 0.236 em
        return self.baseline - 0.928 * self.size * MM_PER_PT

    @property
    def bottom(self) -> float:
        return self.baseline + 0.236 * self.size * MM_PER_PT


def placed_text(pdf: bytes, page_number: int = 0) -> list[Placed]:
    page = PdfReader(io.BytesIO(pdf)).pages[page_number]
    height = float(page.mediabox.height)
    found: list[Placed] = []

    def visit(text: str, cm: list[float], tm: list[float], _font: object, size: float) -> None:
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            found.append(Placed(text.strip(), x * MM_PER_PT, (height - y) * MM_PER_PT, size))

    page.extract_text(visitor_text=visit)
    return found


def manifest_rows(batch: Path) -> list[dict[str, str]]:
    with open(batch / MANIFEST, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def deliver(printer: LetterPrinter, outgoing: OutgoingMessage):
    return asyncio.run(printer.deliver(outgoing))


# --- the PDF -----------------------------------------------------------------------------


def test_polish_text_survives_the_pdf_exactly():
    text = text_of(letter_pdf(polish_letter()))
    assert POLISH in text
    for word in ("Zaległa", "płatność", "zażółć", "gęślą", "jaźń", "zł", "Łódź", "Żółkiewskiego"):
        assert word in text
    assert "Maria-Magdalena Wiśniewska-Kowalczyk" in text
    assert "4 stycznia 2038" in text


@pytest.mark.parametrize("locale", SUPPORTED_LANGUAGES)
def test_a_rendered_letter_template_prints_and_reads_back(locale: str):
    creditor = Creditor(
        name="Acme Energia Sp. z o.o.",
        phone="+48 22 123 45 67",
        email="windykacja@acme.example",
        address="ul. Złota 44, 00-120 Warszawa, PL",
        hours="pon.–pt. 9:00–17:00",
    )
    renderer = TemplateRenderer(PROJECT_ROOT / "templates", creditor, "en")
    facts = replace(sample_facts(locale, "uk"), currency="PLN", balance=Decimal("1234.56"))
    rendered = renderer.render(Channel.LETTER, "first-notice", facts)
    pdf = letter_pdf(
        LetterContent(
            sender_lines=("Acme Energia Sp. z o.o.", "ul. Złota 44", "00-120 Warszawa"),
            recipient_lines=("Maria-Magdalena Wiśniewska-Kowalczyk", "ul. Żurawia 3", "Kraków"),
            date_line="",
            subject=rendered.subject or "",
            body=rendered.text,
        )
    )
    # pypdf gives the text back line by line; compare words, whatever the line breaks.
    extracted = text_of(pdf).split()
    for word in f"{rendered.subject} {rendered.text}".split():
        assert word in extracted
    if locale == "pl":
        assert {"Zaległa", "płatność", "wpłynęła.", "Chętnie", "poważaniem,"} <= set(extracted)


def test_a4_for_europe_and_letter_for_the_us():
    assert paper_for("us") == "Letter"
    assert [paper_for(j) for j in ("eu", "uk", "none", "")] == ["A4"] * 4
    a4 = PdfReader(io.BytesIO(letter_pdf(polish_letter("A4")))).pages[0].mediabox
    us = PdfReader(io.BytesIO(letter_pdf(polish_letter("Letter")))).pages[0].mediabox
    assert float(a4.width) == pytest.approx(595.28, abs=0.05)
    assert float(a4.height) == pytest.approx(841.89, abs=0.05)
    assert float(us.width) == pytest.approx(612, abs=0.05)
    assert float(us.height) == pytest.approx(792, abs=0.05)


@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_the_recipient_sits_in_the_envelope_window(paper: str):
    content = polish_letter(paper)
    window = LAYOUTS[paper].window
    placed = placed_text(letter_pdf(content))
    recipient = [p for p in placed if p.text in content.recipient_lines]
    assert [p.text for p in recipient] == list(content.recipient_lines)
    for line in recipient:
        assert window.x + 3.175 <= line.x, line  # USPS: 1/8 in clear of the window's edge
        assert window.y <= line.top and line.bottom <= window.bottom, line
        assert line.size >= 8
    # Nothing else shows through the window but the recipient and (A4) the return address.
    others = [p for p in placed if p not in recipient and window.y < p.baseline < window.bottom]
    inside = [p for p in others if p.x < window.right]
    if paper == "A4":
        assert [p.text for p in inside] == [" · ".join(SENDER)]
        assert inside[0].size <= 8 and inside[0].baseline < recipient[0].top
    else:
        assert inside == []


def test_a_long_address_line_is_set_smaller_to_stay_in_the_window():
    long_name = "Maria-Magdalena Wiśniewska-Kowalczyk-Brzęczyszczykiewicz i Wspólnicy"
    content = replace(polish_letter(), recipient_lines=(long_name, "00-120 Łódź"))
    [line] = [p for p in placed_text(letter_pdf(content)) if p.text == long_name]
    assert 8 <= line.size < 10


def test_the_same_letter_renders_to_the_same_bytes():
    content = replace(polish_letter(), created_at=datetime(2038, 1, 4, 9, tzinfo=UTC))
    assert letter_pdf(content) == letter_pdf(content)


def test_a_long_letter_breaks_onto_a_numbered_second_page():
    body = "\n\n".join(f"Akapit {n}: zażółć gęślą jaźń." for n in range(1, 31))
    rendered = render_letter(polish_letter(body=body))
    assert rendered.pages == 2
    reader = PdfReader(io.BytesIO(rendered.pdf))
    assert "1/2" in reader.pages[0].extract_text()
    second = reader.pages[1].extract_text()
    assert "2/2" in second and "Akapit 30: zażółć gęślą jaźń." in second


# --- the print batch ---------------------------------------------------------------------


async def test_delivering_twice_writes_one_pdf_and_one_manifest_row(tmp_path: Path):
    printer = LetterPrinter(tmp_path, SENDER)
    first = await printer.deliver(message())
    again = await printer.deliver(message())
    assert first.message_id == again.message_id == message_id_for(message().idempotency_key)
    assert first.message_id.startswith("letter-") and len(first.message_id) == 27
    assert (first.duplicate, again.duplicate) == (False, True)
    assert first.provider == again.provider == "letters"
    batch = tmp_path / "2038-01-04"
    assert [p.name for p in batch.iterdir() if p.suffix == ".pdf"] == [
        printer.path_for(message()).name
    ]
    assert not list(batch.glob("*.tmp"))
    [row] = manifest_rows(batch)
    assert tuple(row) == MANIFEST_COLUMNS
    assert row["file"] == printer.path_for(message()).name
    assert row["message_id"] == first.message_id
    assert (row["account_id"], row["step"], row["template"]) == (
        "A-1001",
        "first-letter",
        "first-notice",
    )
    assert (row["paper"], row["pages"], row["country"]) == ("A4", "1", "FR")
    assert [row[f"recipient_{n}"] for n in range(1, 7)] == [
        "Claire Martin",
        "12 rue des Lilas",
        "69003 Lyon",
        "",
        "",
        "",
    ]
    assert row["idempotency_key"] == message().idempotency_key
    # The PDF carries the country by name (UPU) and the message id that ties it to its row.
    text = text_of(printer.path_for(message()).read_bytes())
    assert "FRANCE" in text and first.message_id in text


async def test_a_crash_between_pdf_and_manifest_row_is_repaired_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    printer = LetterPrinter(tmp_path, SENDER)
    real_record = letters._record

    def crash(*_args, **_kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(letters, "_record", crash)
    with pytest.raises(SystemExit):
        await printer.deliver(message())
    batch = tmp_path / "2038-01-04"
    assert printer.path_for(message()).exists() and not (batch / MANIFEST).exists()

    monkeypatch.setattr(letters, "_record", real_record)
    retry = await printer.deliver(message())
    again = await printer.deliver(message())
    assert retry.duplicate and again.duplicate
    [row] = manifest_rows(batch)
    assert row["message_id"] == retry.message_id and row["pages"] == "1"


async def test_a_row_torn_by_a_crash_is_replaced_by_a_whole_one(tmp_path: Path):
    printer = LetterPrinter(tmp_path, SENDER)
    await printer.deliver(message("k-1"))
    batch = tmp_path / "2038-01-04"
    # A second letter's PDF is written, then the worker dies halfway through its row.
    second = message("k-2", account_id="A-2002")
    create_once(printer.path_for(second), b"%PDF-1.3 stand-in")
    with open(batch / MANIFEST, "ab") as handle:
        handle.write(b"A-2002.first-letter.0123,letter-")
    assert len(batch_summary(tmp_path, DAY)) == 1  # readers skip the torn row

    await printer.deliver(second)
    rows = manifest_rows(batch)
    assert [row["account_id"] for row in rows] == ["A-1001", "A-2002"]
    assert all(row["created_at"].endswith("Z") for row in rows)


async def test_letters_of_one_day_share_a_batch_and_its_manifest(tmp_path: Path):
    printer = LetterPrinter(tmp_path, SENDER)
    await printer.deliver(message("k-1"))
    await printer.deliver(message("k-2", account_id="A-2002", sent_at="2038-01-04T17:30:00Z"))
    # 23:30 in New York on the 4th is the 5th in UTC: the next batch.
    await printer.deliver(message("k-3", account_id="A-3003", sent_at="2038-01-04T23:30:00-05:00"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2038-01-04", "2038-01-05"]
    today = batch_summary(tmp_path, DAY)
    assert [row["account_id"] for row in today] == ["A-1001", "A-2002"]
    assert len({row["file"] for row in today}) == 2
    assert all((tmp_path / "2038-01-04" / row["file"]).is_file() for row in today)
    assert [row["account_id"] for row in batch_summary(tmp_path, date(2038, 1, 5))] == ["A-3003"]
    assert batch_summary(tmp_path, date(2038, 1, 6)) == []


async def test_the_manifest_counts_the_pages_of_a_long_letter(tmp_path: Path):
    body = "\n\n".join(f"Paragraphe {n} : il reste 120,50 € à régler." for n in range(1, 31))
    printer = LetterPrinter(tmp_path, SENDER)
    await printer.deliver(message(text=body))
    [row] = batch_summary(tmp_path, DAY)
    assert row["pages"] == 2
    assert len(PdfReader(printer.path_for(message())).pages) == 2


async def test_us_letters_go_on_letter_paper_with_the_address_in_the_window(tmp_path: Path):
    printer = LetterPrinter(tmp_path, ("Acme Utilities", "1 Market Street", "San Francisco CA"))
    await printer.deliver(us_message())
    [row] = batch_summary(tmp_path, DAY)
    assert (row["paper"], row["country"], row["jurisdiction"]) == ("Letter", "US", "us")
    pdf = printer.path_for(us_message()).read_bytes()
    assert float(PdfReader(io.BytesIO(pdf)).pages[0].mediabox.width) == pytest.approx(612)
    window = LAYOUTS["Letter"].window
    address = ("John Doe", "123 Main St Apt 4", "Springfield IL 62701-1234", "UNITED STATES")
    placed = {p.text: p for p in placed_text(pdf)}
    for line in address:
        assert window.y <= placed[line].top and placed[line].bottom <= window.bottom
        assert window.x <= placed[line].x < window.right
    assert "January 4, 2038" in placed


async def test_home_country_letters_leave_the_country_line_off(tmp_path: Path):
    printer = LetterPrinter(tmp_path, SENDER, home_country="fr")
    await printer.deliver(message())
    text = text_of(printer.path_for(message()).read_bytes())
    assert "69003 Lyon" in text and "FRANCE" not in text
    assert batch_summary(tmp_path, DAY)[0]["country"] == "FR"


async def test_no_postal_address_is_undeliverable(tmp_path: Path):
    printer = LetterPrinter(tmp_path, SENDER)
    with pytest.raises(Undeliverable, match="no postal address"):
        await printer.deliver(message(postal_lines=()))
    with pytest.raises(Undeliverable, match="at most 6"):
        await printer.deliver(message(postal_lines=tuple(f"line {n}" for n in range(7))))
    assert list(tmp_path.iterdir()) == []


def test_postal_address_splits_off_and_spells_out_the_country():
    address = postal_address(("Jan Kowalski", "ul. Długa 5", "80-831 Gdańsk", "pl"))
    assert address.country == "PL"
    assert address.lines == ("Jan Kowalski", "ul. Długa 5", "80-831 Gdańsk")
    assert address.printed[-1] == "POLAND"
    assert postal_address(("Jan Kowalski", "Gdańsk"), "PL").printed == ("Jan Kowalski", "Gdańsk")
    assert postal_address(("A", "B", "PL"), home_country="PL").printed == ("A", "B")
    assert postal_address(("Jan\nKowalski ", "", "Gdańsk")).printed == ("Jan Kowalski", "Gdańsk")


# --- several worker processes --------------------------------------------------------------


def _deliver_in_a_process(directory: str, key: str, account_id: str) -> bool:
    printer = LetterPrinter(Path(directory), SENDER)
    return deliver(printer, message(key, account_id=account_id)).duplicate


def test_worker_processes_share_one_manifest_without_losing_or_doubling_rows(tmp_path: Path):
    keys = [f"k-{n}" for n in range(8)] * 2  # every letter delivered twice, concurrently
    accounts = [f"A-{n:04d}" for n in range(8)] * 2
    spawn = multiprocessing.get_context("spawn")  # no fork of pytest's running event loop
    with ProcessPoolExecutor(4, mp_context=spawn) as pool:
        duplicates = list(pool.map(_deliver_in_a_process, [str(tmp_path)] * 16, keys, accounts))
    assert duplicates.count(False) == 8
    rows = batch_summary(tmp_path, DAY)
    assert sorted(row["account_id"] for row in rows) == [f"A-{n:04d}" for n in range(8)]
    assert len(list((tmp_path / "2038-01-04").glob("*.pdf"))) == 8


# --- the manifest is appended, not re-read ---------------------------------------------------


class _CountingFile:
    """A file handle that counts the bytes read through it (flock still sees the real fd)."""

    def __init__(self, handle, counter: list[int]) -> None:
        self._handle = handle
        self._counter = counter

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._counter.append(len(data))
        return data

    def __enter__(self):
        self._handle.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self._handle.__exit__(*exc_info)

    def __getattr__(self, name: str):
        return getattr(self._handle, name)


def _manifest_of(rows: int, directory: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A day's manifest with `rows` rows appended the real way (fsync skipped, for speed)."""
    batch = directory / DAY.isoformat()
    batch.mkdir(parents=True)
    with monkeypatch.context() as patched:
        patched.setattr(manifest_module.os, "fsync", lambda _fd: None)
        for n in range(rows):
            row = {column: f"{column}-{n}" for column in MANIFEST_COLUMNS}
            row.update(message_id=f"letter-{n:020d}", pages="1")
            assert letters._record(batch / MANIFEST, row["message_id"], lambda row=row: row)
    return batch / MANIFEST


async def test_a_letter_is_listed_without_reading_the_days_whole_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    manifest = _manifest_of(3000, tmp_path, monkeypatch)
    assert manifest.stat().st_size > 500_000
    counted: list[int] = []
    real_open = open
    monkeypatch.setattr(
        manifest_module,
        "open",
        lambda *args, **kwargs: _CountingFile(real_open(*args, **kwargs), counted),
        raising=False,
    )
    printer = LetterPrinter(tmp_path, SENDER)
    first = await printer.deliver(message())
    again = await printer.deliver(message())
    assert (first.duplicate, again.duplicate) == (False, True)
    assert sum(counted) < 100  # a byte at the checkpoint, never the 3000 rows before it
    rows = batch_summary(tmp_path, DAY)
    assert len(rows) == 3001 and rows[-1]["message_id"] == first.message_id


async def test_a_crash_between_the_row_and_its_marker_does_not_duplicate_the_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    printer = LetterPrinter(tmp_path, SENDER)
    await printer.deliver(message("k-0", account_id="A-0000"))
    real_mark = manifest_module._mark

    def crash_before_marking(index: Path, message_ids) -> None:
        if message_id_for("k-1") in message_ids:
            raise SystemExit("worker killed after the row was appended")
        real_mark(index, message_ids)

    monkeypatch.setattr(manifest_module, "_mark", crash_before_marking)
    with pytest.raises(SystemExit):
        await printer.deliver(message("k-1", account_id="A-1111"))
    with pytest.raises(SystemExit):  # a retry sees the row in the tail: it appends nothing
        await printer.deliver(message("k-1", account_id="A-1111"))
    assert [row["account_id"] for row in batch_summary(tmp_path, DAY)] == ["A-0000", "A-1111"]
    monkeypatch.setattr(manifest_module, "_mark", real_mark)

    # Another letter's append marks the unmarked row before moving the checkpoint past it ...
    await printer.deliver(message("k-2", account_id="A-2222"))
    # ... so the crashed letter's retry, now behind the checkpoint, is still not listed twice.
    retry = await printer.deliver(message("k-1", account_id="A-1111"))
    assert retry.duplicate
    assert [row["account_id"] for row in batch_summary(tmp_path, DAY)] == [
        "A-0000",
        "A-1111",
        "A-2222",
    ]


async def test_a_lost_checkpoint_costs_one_full_read_and_no_duplicate(tmp_path: Path):
    printer = LetterPrinter(tmp_path, SENDER)
    await printer.deliver(message("k-1"))
    index = tmp_path / DAY.isoformat() / manifest_module.INDEX_DIR
    (index / manifest_module.CHECKPOINT).write_text("garbage")
    (index / message_id_for("k-1")).unlink()  # and a marker lost with it
    assert (await printer.deliver(message("k-1"))).duplicate
    assert len(batch_summary(tmp_path, DAY)) == 1
    assert (index / message_id_for("k-1")).exists()


def test_a_line_break_in_a_field_stays_on_one_manifest_line(tmp_path: Path):
    manifest = tmp_path / MANIFEST
    row = {column: "x" for column in MANIFEST_COLUMNS} | {"account_id": "A\r\n1", "message_id": "m"}
    assert letters._record(manifest, "m", lambda: row)
    assert manifest.read_bytes().count(b"\n") == 2  # the header and one row
    assert [row["account_id"] for row in manifest_rows(tmp_path)] == ["A 1"]
