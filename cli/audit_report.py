"""`dunning audit export --format pdf`: the audit trail as a report a person prints and files.

Made from the same document as the JSON export (`cli/audit_commands.py`), so the two never
disagree. Set in DejaVu Sans from the letters' fonts (`activities/channels/letters/fonts/`), as
the letters are: a Polish name or a € sign in a message prints on every machine, and fpdf2's
ToUnicode map keeps the text extractable for an examiner's search.

Landscape A4: the records table has nine columns and the hashes must stay readable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from activities.channels.letters.pdf import FAMILY, FONTS

MARGIN = 12.0
LINE = 5.0
COLUMNS = (
    ("seq", 9),
    ("at (UTC)", 34),
    ("kind", 19),
    ("step / type", 38),
    ("channel", 18),
    ("outcome", 24),
    ("reason", 32),
    ("rule", 30),
    ("hash", 44),
)


class _Report(FPDF):
    """Every page carries the account and its page number: loose pages still say what they are."""

    def __init__(self, account_id: str) -> None:
        super().__init__(orientation="landscape", unit="mm", format="A4")
        self.account_id = account_id

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FAMILY, "", 7)
        self.cell(0, 4, f"audit trail {self.account_id} · {self.page_no()}/{{nb}}", align="R")


def audit_pdf(document: dict[str, Any], *, generated_at: datetime) -> bytes:
    """The report: title, chain status, every record, then the text of every sent message."""
    from cli.audit_commands import iso, record_row

    account_id = document["account_id"]
    pdf = _Report(account_id)
    pdf.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_creation_date(generated_at)
    pdf.set_title(f"Audit trail of account {account_id}")
    pdf.alias_nb_pages()
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()

    pdf.set_font(FAMILY, "B", 15)
    _line(pdf, f"Audit trail of account {account_id}", height=9)
    pdf.set_font(FAMILY, "", 9.5)
    verified = document["verified"]
    status = (
        "the chain holds" if verified["ok"] else f"BROKEN: {len(verified['problems'])} problem(s)"
    )
    for text in (
        f"Generated {iso(generated_at)}",
        f"Records: {verified['records']}; chain: {status}",
        f"Head hash: {verified['head'] or '-'}",
        f"Contents checked: {verified['contents_checked']}; erased: {verified['contents_erased']}",
        *(f"Problem at seq {p['seq']}: {p['problem']}" for p in verified["problems"]),
    ):
        _line(pdf, text)
    pdf.ln(3)

    _records_table(pdf, [record_row(entry) for entry in document["records"]])
    _messages(pdf, document["records"])
    return bytes(pdf.output())


def _line(pdf: FPDF, text: str, *, height: float = LINE) -> None:
    pdf.multi_cell(0, height, text, align="L", new_x="LMARGIN", new_y="NEXT")


def _records_table(pdf: FPDF, rows: list[dict[str, Any]]) -> None:
    pdf.set_font(FAMILY, "", 7.5)
    with pdf.table(
        col_widths=tuple(width for _, width in COLUMNS),
        text_align="LEFT",
        line_height=3.8,
        headings_style=FontFace(emphasis="BOLD"),
        repeat_headings=1,
    ) as table:
        table.row([title for title, _ in COLUMNS])
        for row in rows:
            table.row(
                [
                    str(row["seq"]),
                    row["at"].replace("T", " ").removesuffix("Z"),
                    row["kind"],
                    str(row["step_or_type"]),
                    row["channel"],
                    str(row["outcome"]),
                    row["reason"],
                    row["rule"],
                    row["hash"][:24] + "…" if row["hash"] else "",
                ]
            )


def _messages(pdf: FPDF, entries: list[dict[str, Any]]) -> None:
    """Each sent message as it was rendered: what the debtor received, word for word."""
    sent = [e for e in entries if e["kind"] == "contact" and e["body"].get("outcome") == "sent"]
    if not sent:
        return
    pdf.add_page()
    pdf.set_font(FAMILY, "B", 12)
    _line(pdf, "Messages sent", height=7)
    for entry in sent:
        body = entry["body"]
        pdf.ln(2)
        pdf.set_font(FAMILY, "B", 9.5)
        _line(
            pdf,
            f"seq {entry['seq']} · {entry['at']} · {body.get('step', '')} · "
            f"{body.get('channel', '')} · {body.get('template', '')}.{body.get('locale') or '-'}",
        )
        pdf.set_font(FAMILY, "", 9)
        message = entry["content"].get("content")
        if not isinstance(message, dict) or message.get("missing"):
            _line(pdf, "(no rendered content recorded)")
        elif message.get("erased"):
            _line(pdf, f"(content erased {message.get('erased_at') or ''})".replace(" )", ")"))
        else:
            if message.get("to"):
                _line(pdf, f"To: {message['to']}")
            if message.get("subject"):
                _line(pdf, f"Subject: {message['subject']}")
            _line(pdf, str(message.get("text") or ""))
