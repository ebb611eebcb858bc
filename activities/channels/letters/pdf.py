"""One dunning letter as a printable PDF, laid out for a window envelope.

Why the layout is fixed to the millimetre: the mail house folds the sheet by machine and puts it
in a window envelope, so the recipient's address is the one part of the letter that has to be in
an exact place. Everything else (letterhead, date, subject, body) is placed around it.

- A4 (every jurisdiction but the US) follows DIN 5008 form B on a DIN 676 sheet, the layout that
  DL and C5/6 window envelopes (DIN 680) are made for; the same window position is used across
  most of Europe.
- US Letter is laid out for a standard #10 window envelope, tri-folded.

Text is set in DejaVu Sans, embedded from `fonts/` next to this module (never a system font), so
Polish, Czech, Romanian… names and the €, £ and – signs print the same on every worker. fpdf2
embeds a subset with a ToUnicode map, so the text can be extracted again (tests do, and so can a
mail house's archive).

Rendering is deterministic: the PDF's creation date comes from the letter, not the clock, so the
same letter renders to the same bytes (a retried activity can re-render to recover page counts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fpdf import FPDF

FONTS = Path(__file__).parent / "fonts"
FAMILY = "DejaVu"

INCH = 25.4  # mm; every constant below is in millimetres from the sheet's top-left corner
LINE = INCH / 6  # 4.23 mm: DIN 5008's line pitch (1/6 in), also a comfortable 10 pt line

ADDRESS_PT = 10.0  # DIN 5008 and USPS both want 10-12 pt in the window; 8 pt is the floor
ADDRESS_MIN_PT = 8.0
BODY_PT = 10.5
BODY_LINE = 5.0
SMALL_PT = 8.0


@dataclass(frozen=True)
class Rect:
    """A rectangle on the sheet, in mm from the top-left corner."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass(frozen=True)
class PaperLayout:
    """Where everything goes on one paper size (mm from the top-left corner)."""

    paper: str  # fpdf2's format name: "A4" or "Letter"
    width: float
    height: float
    margin_left: float
    margin_right: float
    margin_top: float  # on follow-up pages; page 1 starts below the address block
    margin_bottom: float
    letterhead: tuple[float, float]  # sender block, top-left
    # The part of the sheet an envelope window shows, wherever the folded sheet slides inside
    # the envelope: every recipient line must be inside it.
    window: Rect
    # The one-line return address above the recipient ("Rücksendeangabe"), or None.
    return_line: tuple[float, float] | None
    address: tuple[float, float]  # first recipient line, top-left
    address_lines: int  # how many lines fit in the window with the required clear space
    info: tuple[float, float]  # date and reference, top-left; never under the window
    body_top: float  # page 1: the subject starts here
    fold_marks: tuple[float, ...] = ()
    hole_mark: float | None = None

    @property
    def text_width(self) -> float:
        return self.width - self.margin_left - self.margin_right


# A4, DIN 5008 form B (the "tiefgestelltes Anschriftfeld") on a DIN 676 sheet. Sources: DIN 5008
# / DIN 676 as summarised by r9005.de/wissen/vorlagen-briefbogen.php ("Linke obere Ecke des
# Adressfensters X 20 mm : Y 45 mm, Breite 85 mm x Höhe 45 mm"; fold marks 105 and 210 mm, hole
# mark 148.5 mm) and sekada.de's DIN 5008 line table (first sender line 16.9 mm, information
# block from 50.8 mm).
# - Address field: 85 x 45 mm at (20, 45). Its top 17.7 mm (five 8 pt lines) is the "Zusatz- und
#   Vermerkzone" holding the small return address on its last line; the recipient lines go in
#   the 27.3 mm "Anschriftzone" below (six lines of 1/6 in), at 45 + 17.7 = 62.7 mm.
# - Text, including the address, starts on the 25 mm alignment line ("Fluchtlinie", 5 mm inside
#   the window's left edge); right margin 20 mm (DIN 5008 asks for at least 10 mm).
# - Information block (date, reference): 125 mm from the left, from 50.8 mm.
# - Subject: two blank lines below the address field (90 mm + 2 lines).
A4 = PaperLayout(
    paper="A4",
    width=210.0,
    height=297.0,
    margin_left=25.0,
    margin_right=20.0,
    margin_top=20.0,
    margin_bottom=25.0,
    letterhead=(25.0, 16.9),
    window=Rect(20.0, 45.0, 85.0, 45.0),
    return_line=(25.0, 45.0 + 17.7 - LINE),
    address=(25.0, 45.0 + 17.7),
    address_lines=6,
    info=(125.0, 50.8),
    body_top=45.0 + 45.0 + 2 * LINE,
    fold_marks=(105.0, 210.0),
    hole_mark=148.5,
)

# US Letter, tri-folded into a #10 window envelope (9 1/2 x 4 1/8 in). Sources: the industry
# standard #10 window is 4 1/2 x 1 1/8 in, 7/8 in from the left and 1/2 in from the bottom
# (envelope makers' spec convention, e.g. response-envelope.com/windows.htm; CSUS mail services
# quoted at answers.google.com/answers/threadview?id=712795); USPS Publication 25 §3-9 / DMM
# 601.6.3 require 1/8 in of clear space between the address and the window edges; PostalMethods'
# developer guide puts the address rectangle 2.042 in from the top of the sheet.
# Derivation: a tri-folded panel is 11/3 = 3.667 in tall, so it can slide 4.125 - 3.667 =
# 0.458 in up and down; resting on the envelope's bottom (where inserters and gravity leave it)
# the window shows the sheet from 4.125 - 0.5 - 1.125 - 0.458 = 2.042 in to 3.167 in. The sheet
# is 1 in narrower than the envelope, so whichever way it slides sideways the window shows at
# least 7/8 in to 4 3/8 in. The address starts 1/8 in inside that: 1 in from the left, 2.167 in
# from the top; five lines of 1/6 in end at 3.0 in. (No tri-folded Letter sheet keeps a 4-line
# address inside a 1 1/8 in window over the full 0.458 in of slide; the bottom lines, which the
# sorting machines read, are the ones kept visible when it slides up.)
# The body starts at 3.625 in, below anything the window can show (4.125 - 0.5 in), so no
# account details ever show through it. The sender block sits at 1 in, 5/8 in: inside the
# return-address window of a double-window #10 envelope (PostalMethods: 0.5 in from the top,
# 0.792 in tall) and ordinary letterhead in a single-window one.
LETTER = PaperLayout(
    paper="Letter",
    width=8.5 * INCH,
    height=11.0 * INCH,
    margin_left=1.0 * INCH,
    margin_right=1.0 * INCH,
    margin_top=1.0 * INCH,
    margin_bottom=1.0 * INCH,
    letterhead=(1.0 * INCH, 0.625 * INCH),
    window=Rect(0.875 * INCH, 2.042 * INCH, 3.5 * INCH, 1.125 * INCH),
    return_line=None,
    address=(1.0 * INCH, 2.167 * INCH),
    address_lines=5,
    info=(5.5 * INCH, 2.167 * INCH),  # right of 5 3/8 in, the window's furthest reach
    body_top=3.625 * INCH,
)

LAYOUTS: dict[str, PaperLayout] = {"A4": A4, "Letter": LETTER}


def paper_for(jurisdiction: str) -> str:
    """US letters go on US Letter paper; everywhere else uses A4."""
    return "Letter" if jurisdiction.strip().lower() == "us" else "A4"


@dataclass(frozen=True)
class LetterContent:
    """Everything printed on a letter, already worded and localised."""

    sender_lines: tuple[str, ...]  # creditor name, then its address lines
    recipient_lines: tuple[str, ...]  # exactly as they should appear in the window
    date_line: str  # a localised date ("4 stycznia 2027"); may be empty
    subject: str
    body: str  # paragraphs separated by blank lines
    paper: str = "A4"  # "A4" or "Letter"
    reference: str = ""  # printed in the info block and on every page's footer
    created_at: datetime | None = None  # the PDF's creation date; None means now
    lang: str = ""  # BCP 47 tag for the PDF's /Lang (screen readers, hyphenation in viewers)


@dataclass(frozen=True)
class RenderedLetter:
    pdf: bytes
    pages: int


class LetterLayoutError(ValueError):
    """The recipient address does not fit the envelope window."""


class _LetterDocument(FPDF):
    """fpdf2 calls `footer()` on every page break; the footer needs the layout and reference."""

    def __init__(self, layout: PaperLayout, reference: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format=layout.paper)
        self.layout = layout
        self.reference = reference

    def footer(self) -> None:
        layout = self.layout
        self.set_font(FAMILY, "", SMALL_PT)
        self.set_xy(layout.margin_left, layout.height - layout.margin_bottom + 10.0)
        if self.reference:
            self.cell(layout.text_width / 2, LINE, self.reference, align="L")
        self.set_xy(layout.margin_left + layout.text_width / 2, self.y)
        self.cell(layout.text_width / 2, LINE, f"{self.page_no()}/{{nb}}", align="R")


def letter_pdf(letter: LetterContent) -> bytes:
    """The letter as PDF bytes."""
    return render_letter(letter).pdf


def render_letter(letter: LetterContent) -> RenderedLetter:
    """The letter as PDF bytes plus its page count (the mail house's manifest needs it)."""
    layout = LAYOUTS.get(letter.paper)
    if layout is None:
        raise ValueError(f"unknown paper {letter.paper!r}; expected one of {sorted(LAYOUTS)}")
    if len(letter.recipient_lines) > layout.address_lines:
        raise LetterLayoutError(
            f"the address has {len(letter.recipient_lines)} lines; the {layout.paper} window "
            f"shows at most {layout.address_lines}"
        )
    pdf = _LetterDocument(layout, letter.reference)
    pdf.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    if letter.created_at is not None:
        # Not called with None: fpdf2 2.8.9 raises TypeError then, despite its docstring.
        pdf.set_creation_date(letter.created_at)
    if letter.subject:
        pdf.set_title(letter.subject)
    if letter.sender_lines:
        pdf.set_author(letter.sender_lines[0])
    if letter.lang:
        pdf.set_lang(letter.lang)
    pdf.alias_nb_pages()
    pdf.c_margin = 0  # cells print at their x exactly: the window position is to the millimetre
    pdf.set_margins(layout.margin_left, layout.margin_top, layout.margin_right)
    pdf.set_auto_page_break(True, margin=layout.margin_bottom)
    pdf.add_page()

    _marks(pdf, layout)
    _letterhead(pdf, layout, letter.sender_lines)
    _address_block(pdf, layout, letter)
    _info_block(pdf, layout, letter)
    _text(pdf, layout, letter)
    return RenderedLetter(bytes(pdf.output()), pdf.pages_count)


def _marks(pdf: FPDF, layout: PaperLayout) -> None:
    """Fold marks and the hole-punch mark, short lines in the left margin (DIN 5008)."""
    pdf.set_line_width(0.2)
    for y in layout.fold_marks:
        pdf.line(5.0, y, 10.0, y)
    if layout.hole_mark is not None:
        pdf.line(5.0, layout.hole_mark, 12.0, layout.hole_mark)


def _letterhead(pdf: FPDF, layout: PaperLayout, sender_lines: tuple[str, ...]) -> None:
    x, y = layout.letterhead
    for index, line in enumerate(sender_lines):
        pdf.set_font(FAMILY, "B" if index == 0 else "", 11.0 if index == 0 else 9.0)
        pdf.set_xy(x, y)
        pdf.cell(layout.text_width, LINE, line)
        y += LINE


def _address_block(pdf: FPDF, layout: PaperLayout, letter: LetterContent) -> None:
    x, y = layout.address
    # Text may not run past the window's right edge less the 1/8 in (3.2 mm) of clear space.
    width = layout.window.right - 3.2 - x
    if layout.return_line is not None and letter.sender_lines:
        # The return address reads as one line ("Creditor · Street · City") in the window's
        # remark zone, small enough not to be taken for the recipient by a sorting machine.
        return_text = " · ".join(letter.sender_lines)
        pdf.set_font(FAMILY, "", _fitting_size(pdf, [return_text], width, SMALL_PT, 6.0))
        pdf.set_xy(*layout.return_line)
        pdf.cell(width, LINE, return_text)
    size = _fitting_size(pdf, letter.recipient_lines, width, ADDRESS_PT, ADDRESS_MIN_PT)
    pdf.set_font(FAMILY, "", size)
    for line in letter.recipient_lines:
        pdf.set_xy(x, y)
        pdf.cell(width, LINE, line)
        y += LINE


def _info_block(pdf: FPDF, layout: PaperLayout, letter: LetterContent) -> None:
    x, y = layout.info
    width = layout.width - layout.margin_right - x
    pdf.set_xy(x, y)
    if letter.date_line:
        pdf.set_font(FAMILY, "", 10.0)
        pdf.multi_cell(width, LINE, letter.date_line, align="L", new_x="LEFT", new_y="NEXT")
    if letter.reference:
        pdf.set_font(FAMILY, "", SMALL_PT)
        pdf.multi_cell(width, LINE, letter.reference, align="L", new_x="LEFT", new_y="NEXT")


def _text(pdf: FPDF, layout: PaperLayout, letter: LetterContent) -> None:
    """Subject in bold, two blank lines, then the body; fpdf2 breaks pages as needed."""
    pdf.set_xy(layout.margin_left, layout.body_top)
    if letter.subject:
        pdf.set_font(FAMILY, "B", BODY_PT)
        pdf.multi_cell(0, BODY_LINE, letter.subject, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2 * BODY_LINE)
    pdf.set_font(FAMILY, "", BODY_PT)
    for paragraph in paragraphs(letter.body):
        # Left-aligned, not justified: DIN 5008 letters are ragged right, and justified lines
        # would come back from text extraction with stretched spaces.
        pdf.multi_cell(0, BODY_LINE, paragraph, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(BODY_LINE)


def paragraphs(body: str) -> list[str]:
    """Paragraphs split on blank lines; single line breaks inside one are kept."""
    blocks = re.split(r"\n[ \t]*\n", body.strip())
    cleaned = ("\n".join(line.strip() for line in block.splitlines()) for block in blocks)
    return [block for block in cleaned if block]


def _fitting_size(
    pdf: FPDF, lines: tuple[str, ...] | list[str], width: float, size: float, smallest: float
) -> float:
    """The largest font size, stepping down by 0.5 pt, at which every line fits `width`."""
    while size > smallest:
        pdf.set_font(FAMILY, "", size)
        if all(pdf.get_string_width(line) <= width for line in lines):
            return size
        size -= 0.5
    return smallest
