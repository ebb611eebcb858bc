"""Regulation F's limited-content voicemail (12 CFR 1006.2(j)), checked before a ladder goes live.

A voicemail can be heard by anyone near the answering machine, so under US rules it may say only:
the consumer's name (salutation), the creditor's business name (one that does not indicate debt
collection), a request to reply, a name and a phone number to reply to, suggested times, and that
the consumer may reply by text or email. Anything else could disclose the debt to a third party.

Two checks, both on every locale file of a voicemail template used by a `us` ladder:
- the template may reference only `debtor.name` and `creditor.name|phone|email|hours`: no balance,
  deadline, payment link, account number, promise or installment can ever reach the recording;
- the rendered text, and the creditor's name, must not contain words that disclose a debt
  (debt, owe, balance, payment, collection, … in each supported language).
"""

from __future__ import annotations

import re
from pathlib import Path

from jinja2 import Environment, nodes

ALLOWED_REFERENCES = {
    "debtor.name",
    "creditor.name",
    "creditor.phone",
    "creditor.email",
    "creditor.hours",
}

# Word stems that disclose a debt, one entry per supported language (tests/test_languages.py
# checks them against SUPPORTED_LANGUAGES); matched at the start of a word, ignoring case. A
# voicemail is checked against the stems of every language, not only the debtor's: whoever
# hears it may speak another.
DISCLOSING_STEMS: dict[str, tuple[str, ...]] = {
    "en": (
        "debt",
        "owe",
        "overdue",
        "past due",
        "balance",
        "collect",
        "payment",
        "pay ",
        "paying",
        "invoice",
        "bill",
        "arrear",
        "amount due",
        "late fee",
        "delinquen",
    ),
    "fr": (
        "dette",
        "dû",
        "devez",
        "impayé",
        "retard",
        "solde",
        "recouvr",
        "paiement",
        "payer",
        "règlement",
        "facture",
        "créance",
        "arriéré",
    ),
    "it": (
        "debit",
        "dovut",
        "insolut",
        "arretrat",
        "saldo",
        "recupero",
        "pagament",
        "pagare",
        "fattura",
        "credito",
        "mora",
    ),
    "es": (
        "deuda",
        "debe",
        "adeud",
        "vencid",
        "saldo",
        "cobr",
        "pago",
        "pagar",
        "factura",
        "morosi",
        "atrasad",
    ),
    "pl": (
        "dług",
        "zaległ",
        "zadłuż",
        "windyk",
        "płatnoś",
        "zapłat",
        "wpłat",
        "faktur",
        "należnoś",
        "saldo",
        "spłat",
    ),
}


def _references(template: nodes.Template) -> set[str]:
    """Every `name.attribute` and bare name the template reads."""
    found: set[str] = set()
    for node in template.find_all((nodes.Getattr, nodes.Name)):
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
            found.add(f"{node.node.name}.{node.attr}")
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            found.add(node.name)
    # A bare `debtor` inside `debtor.name` is fine; only report names not covered by an attribute.
    covered = {reference.split(".")[0] for reference in found if "." in reference}
    return {reference for reference in found if "." in reference or reference not in covered}


def disclosing_words(text: str) -> list[str]:
    lowered = f" {text.lower()} "
    hits = []
    for stems in DISCLOSING_STEMS.values():
        for stem in stems:
            if re.search(r"(?<![\w])" + re.escape(stem), lowered):
                hits.append(stem.strip())
    return sorted(set(hits))


def limited_content_problems(
    source_path: Path, rendered_text: str, creditor_name: str
) -> list[str]:
    """Why this voicemail is not a limited-content message (empty when it is one)."""
    problems = []
    parsed = Environment().parse(source_path.read_text(encoding="utf-8"))
    extra = sorted(_references(parsed) - ALLOWED_REFERENCES)
    if extra:
        problems.append(
            f"{source_path.name} reads {', '.join(extra)}; a us voicemail may only use "
            f"{', '.join(sorted(ALLOWED_REFERENCES))} (Regulation F limited-content message, "
            "12 CFR 1006.2(j))"
        )
    words = disclosing_words(rendered_text)
    if words:
        problems.append(
            f"{source_path.name} says {', '.join(repr(w) for w in words)}, which discloses a "
            "debt; a us voicemail must be a limited-content message (12 CFR 1006.2(j))"
        )
    if name_words := disclosing_words(creditor_name):
        problems.append(
            f"the creditor's name {creditor_name!r} indicates debt collection "
            f"({', '.join(name_words)}); a us voicemail may not say it (12 CFR 1006.2(j)(1))"
        )
    return problems
