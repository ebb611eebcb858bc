"""Printable dunning letters: PDF rendering laid out for window envelopes (see `pdf.py`)."""

from activities.channels.letters.pdf import (
    LAYOUTS,
    LetterContent,
    LetterLayoutError,
    PaperLayout,
    Rect,
    RenderedLetter,
    letter_pdf,
    paper_for,
    render_letter,
)

__all__ = [
    "LAYOUTS",
    "LetterContent",
    "LetterLayoutError",
    "PaperLayout",
    "Rect",
    "RenderedLetter",
    "letter_pdf",
    "paper_for",
    "render_letter",
]
