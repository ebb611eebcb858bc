"""Letters: one PDF per message in a dated print batch, listed in a manifest for the mail house.

`LetterPrinter` writes `<directory>/<YYYY-MM-DD>/<account>.<step>.<hash>.pdf`, the day being the
UTC date of `sent_at`, and appends one row per letter to that day's `manifest.csv`. The mail
house picks up a day's directory, prints every PDF the manifest lists and mails it in a window
envelope; the manifest tells it the paper, the page count and the address without opening a PDF.
The hidden `.manifest-index/` beside the manifest is ours (see `manifest.py`): the mail house
ignores it.

Idempotency, as for the other transports, is on the idempotency key:
- The PDF is created atomically (temp file, then `os.link`, which fails if the name exists), so
  a retried activity or a second worker never writes a letter twice, and the mail house never
  sees a half-written PDF under a final name.
- The manifest row is appended under an exclusive `flock`, after checking under that lock that
  the message is not listed yet — a marker file per message id, not a read of the day's
  manifest (`manifest.py`). A retry after a crash between the PDF and its row therefore adds
  the missing row, and exactly one.
- The PDF is on disk (fsynced) before its row is written, so no row names a missing file.
"""

from __future__ import annotations

import asyncio
import csv
import fcntl
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date

from activities.channels.base import Delivery, OutgoingMessage, Undeliverable
from activities.channels.files import create_once, key_digest, safe_name
from activities.channels.letters import (
    LAYOUTS,
    LetterContent,
    LetterLayoutError,
    RenderedLetter,
    paper_for,
    render_letter,
)
from activities.channels.letters.manifest import append_once
from activities.render import babel_locale

PROVIDER = "letters"
MANIFEST = "manifest.csv"
RECIPIENT_COLUMNS = 6  # DIN 5008's address zone holds six lines; no window shows more
MANIFEST_COLUMNS: tuple[str, ...] = (
    "file",
    "message_id",
    "account_id",
    "ladder",
    "step",
    "template",
    "locale",
    "jurisdiction",
    "paper",
    "pages",
    *(f"recipient_{n}" for n in range(1, RECIPIENT_COLUMNS + 1)),
    "country",
    "idempotency_key",
    "created_at",
)
_COUNTRY_CODE = re.compile(r"[A-Za-z]{2}")


def message_id_for(idempotency_key: str) -> str:
    return "letter-" + key_digest(idempotency_key, 20)


def sent_at_of(message: OutgoingMessage) -> datetime:
    """`sent_at` as an aware UTC datetime; a naive value is taken to be UTC already.

    A letter without one is a caller's bug, not a date to make up: a retry after midnight would
    put a second copy of the letter into the next day's batch.
    """
    if not message.sent_at:
        raise ValueError(f"letter {message.idempotency_key!r} has no sent_at to date its batch")
    moment = datetime.fromisoformat(message.sent_at)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class PostalAddress:
    """A message's `postal_lines`, split the way the letter and the manifest need them."""

    lines: tuple[str, ...]  # name, street, postal code and city: everything but the country
    country: str  # ISO 3166 alpha-2 code when the last line was one, else ""
    printed: tuple[str, ...]  # what goes in the window, the country spelled out (or left off)


def postal_address(postal_lines: tuple[str, ...], home_country: str | None = None) -> PostalAddress:
    """Split off a trailing two-letter country code and spell it out for the envelope.

    The Universal Postal Union wants the destination country as the last line, in capitals and
    by name, not as a code. Letters to the home country leave that line off, as domestic post
    expects; the manifest keeps the code in its own column either way, for sorting by country.
    """
    # One line each, whitespace collapsed: a stray newline would push the address out of the
    # window and split a manifest row over two lines.
    lines = tuple(" ".join(line.split()) for line in postal_lines if line.strip())
    if not lines or not _COUNTRY_CODE.fullmatch(lines[-1]):
        return PostalAddress(lines, "", lines)
    country = lines[-1].upper()
    lines = lines[:-1]
    if home_country and country == home_country.upper():
        return PostalAddress(lines, country, lines)
    name = Locale.parse("en").territories.get(country, country)
    return PostalAddress(lines, country, (*lines, name.upper()))


class LetterPrinter:
    """The letter transport: PDFs in dated print batches, listed in a manifest (see above)."""

    def __init__(
        self,
        directory: Path,
        sender_lines: tuple[str, ...],
        *,
        home_country: str | None = None,
    ) -> None:
        self.directory = directory
        self.sender_lines = tuple(sender_lines)
        self.home_country = home_country

    def batch_for(self, message: OutgoingMessage) -> Path:
        return self.directory / sent_at_of(message).date().isoformat()

    def path_for(self, message: OutgoingMessage) -> Path:
        digest = key_digest(message.idempotency_key, 12)
        name = f"{safe_name(message.account_id, 80)}.{safe_name(message.step, 80)}.{digest}.pdf"
        return self.batch_for(message) / name

    def letter_for(self, message: OutgoingMessage) -> LetterContent:
        """What the PDF says: everything comes from the message, so re-rendering is exact."""
        sent_at = sent_at_of(message)
        address = postal_address(message.postal_lines, self.home_country)
        locale = babel_locale(message.locale or "en")
        return LetterContent(
            sender_lines=self.sender_lines,
            recipient_lines=address.printed,
            date_line=format_date(sent_at.date(), format="long", locale=locale),
            subject=message.subject or "",
            body=message.text,
            paper=paper_for(message.jurisdiction),
            # The message id on the letter ties a returned or queried letter to its manifest row.
            reference=f"{message.account_id} · {message_id_for(message.idempotency_key)}",
            created_at=sent_at,
            lang=message.locale,
        )

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        if not any(line.strip() for line in message.postal_lines):
            raise Undeliverable("no postal address")
        address = postal_address(message.postal_lines, self.home_country)
        paper = paper_for(message.jurisdiction)
        if len(address.printed) > LAYOUTS[paper].address_lines:
            raise Undeliverable(
                f"the postal address has {len(address.printed)} lines; a {paper} window "
                f"envelope shows at most {LAYOUTS[paper].address_lines}"
            )
        # fpdf2 is CPU-bound and flock blocks: keep both off the event loop.
        return await asyncio.to_thread(self._deliver, message, address)

    def _deliver(self, message: OutgoingMessage, address: PostalAddress) -> Delivery:
        target = self.path_for(message)
        message_id = message_id_for(message.idempotency_key)
        rendered: RenderedLetter | None = None
        created = False
        if not target.exists():
            rendered = self._render(message)
            created = create_once(target, rendered.pdf)

        def row() -> dict[str, Any]:
            # Called only when the row is missing. When this attempt did not write the PDF (a
            # retry after a crash), the page count comes from rendering the same letter again.
            letter = rendered or self._render(message)
            return manifest_row(message, target.name, message_id, letter.pages, address)

        _record(target.parent / MANIFEST, message_id, row)
        return Delivery(message_id, duplicate=not created, provider=PROVIDER)

    def _render(self, message: OutgoingMessage) -> RenderedLetter:
        try:
            return render_letter(self.letter_for(message))
        except LetterLayoutError as exc:  # deliver() checks first; this is the backstop
            raise Undeliverable(str(exc)) from None


def manifest_row(
    message: OutgoingMessage,
    file_name: str,
    message_id: str,
    pages: int,
    address: PostalAddress,
) -> dict[str, Any]:
    recipients = list(address.lines[:RECIPIENT_COLUMNS])
    recipients += [""] * (RECIPIENT_COLUMNS - len(recipients))
    return {
        "file": file_name,
        "message_id": message_id,
        "account_id": message.account_id,
        "ladder": message.ladder,
        "step": message.step,
        "template": message.template,
        "locale": message.locale,
        "jurisdiction": message.jurisdiction,
        "paper": paper_for(message.jurisdiction),
        "pages": pages,
        **{f"recipient_{n}": line for n, line in enumerate(recipients, start=1)},
        "country": address.country,
        "idempotency_key": message.idempotency_key,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _record(manifest: Path, message_id: str, make_row: Callable[[], dict[str, Any]]) -> bool:
    """Append the message's manifest row unless it is listed already; True when appended.

    Exactly once across crashes and worker processes, reading only what was appended since the
    last letter (see `manifest.py`).
    """
    return append_once(manifest, MANIFEST_COLUMNS, message_id, make_row)


def batch_summary(directory: Path, day: date) -> list[dict[str, Any]]:
    """The manifest rows of one day's batch, in the order written (`pages` as an int).

    Read under a shared lock, so a row being appended is never seen half-written; an empty
    list when nothing was printed that day.
    """
    manifest = directory / day.isoformat() / MANIFEST
    if not manifest.exists():  # manifests are only ever appended to, never removed
        return []
    with open(manifest, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        data = handle.read()
    data = data[: data.rfind(b"\n") + 1]  # drop a row torn by a crash, if any
    rows: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    for row in rows:
        row["pages"] = int(row["pages"])
    return rows
