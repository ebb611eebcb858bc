"""Write a simulated portfolio for the A/B test of `consumer-ab.yaml`: an accounts CSV and a
scripted events file for `dunning simulate`, then `dunning report` compares the two wordings
of the SMS reminder.

    python examples/ab-portfolio/make_portfolio.py --accounts 300 --out build/ab-portfolio

Every account is a US debtor (valid phone, email, street address and time zone) on ladder
`consumer-ab`, 0 days past due at the simulation's start. What each one does is decided by
the sha256 of its id, never by a random generator, so the same N gives the same files on
every machine:

- some pay in full a few days after the SMS reminder (days 7 to 8.5, before the first letter
  of day 10): more often when the account was assigned `reminder-direct` (`--direct-rate`)
  than `reminder` (`--standard-rate`). The variant comes from `config.variants.assign` on the
  ladder file itself, exactly as the workflow assigns it;
- the others, by share: a promise (day 12) kept or broken, a payment plan (day 3) kept or
  defaulted, an opt-out (a STOP reply to the SMS, or an email opt-out after the courtesy
  email), a dispute after the first letter (some resolved as validated), or nothing (the
  ladder runs to the handoff of day 45).

So every section of the report has data, and the variant comparison has a known answer:
`reminder-direct` ahead.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: import the project
    sys.path.insert(0, str(ROOT))

from config.ladder_loader import load_ladder  # noqa: E402
from config.variants import assign  # noqa: E402
from intake.accounts_csv import KNOWN_COLUMNS  # noqa: E402

LADDER = HERE / "consumer-ab.yaml"
AB_STEP = "sms-reminder"
# The contract's columns up to `ladder` (no itemization, no region: a plain us portfolio).
COLUMNS = list(KNOWN_COLUMNS[: KNOWN_COLUMNS.index("ladder") + 1])


@dataclass(frozen=True)
class Place:
    area_code: str
    city: str
    state: str
    postal_code: str
    timezone: str


PLACES = (
    Place("415", "San Francisco", "CA", "94105", "America/Los_Angeles"),
    Place("212", "New York", "NY", "10001", "America/New_York"),
    Place("312", "Chicago", "IL", "60601", "America/Chicago"),
    Place("303", "Denver", "CO", "80202", "America/Denver"),
    Place("617", "Boston", "MA", "02108", "America/New_York"),
    Place("206", "Seattle", "WA", "98101", "America/Los_Angeles"),
)
FIRST = [
    "Dana",
    "James",
    "Maria",
    "Robert",
    "Linda",
    "Michael",
    "Patricia",
    "David",
    "Jennifer",
    "William",
    "Elizabeth",
    "Carlos",
    "Aisha",
    "Wei",
    "Priya",
    "Kevin",
    "Laura",
    "Andre",
    "Grace",
    "Omar",
]
LAST = [
    "Whitfield",
    "Johnson",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Lee",
    "Nguyen",
    "Patel",
    "Kim",
    "Brooks",
]
STREETS = ("Market St", "Main St", "Oak Ave", "Pine St", "Maple Dr", "Cedar Ln", "Elm St")


def unit(account_id: str, purpose: str) -> float:
    """A number in [0, 1) fixed by the account id and what it decides (sha256, no state)."""
    digest = hashlib.sha256(f"{purpose}\x1f{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick(account_id: str, purpose: str, choices: tuple[str, ...] | list[str]) -> str:
    return choices[int(unit(account_id, purpose) * len(choices))]


def account_row(index: int) -> dict[str, str]:
    account_id = f"AB-{index:04d}"
    place = PLACES[index % len(PLACES)]
    first, last = pick(account_id, "first", FIRST), pick(account_id, "last", LAST)
    cents = 5_000 + int(unit(account_id, "balance") * 90_000)  # 50.00 to 949.99
    return {
        "account_id": account_id,
        "name": f"{first} {last}",
        "email": f"{first}.{last}.{index}@example.org".lower(),
        # 555-01xx and beyond: fictional US numbers that phonenumbers accepts as valid.
        "phone": f"+1{place.area_code}555{100 + index // len(PLACES):04d}",
        "address": f"{100 + index} {pick(account_id, 'street', STREETS)}",
        "postal_code": place.postal_code,
        "city": place.city,
        "country": "US",
        "timezone": place.timezone,
        "locale": "en",
        "balance": str(Decimal(cents).scaleb(-2)),
        "currency": "USD",
        "days_past_due": "0",
        "due_date": "",
        "ladder": "consumer-ab",
    }


def _event(account_id: str, day: float, kind: str, **fields: object) -> str:
    parts = [f"account: {account_id}", f"day: {day:g}", f"type: {kind}"]
    for name, value in fields.items():
        parts.append(f"{name}: {value}")
    return "- {" + ", ".join(parts) + "}"


def events_for(row: dict[str, str], variant: str, rates: dict[str, float]) -> list[str]:
    """The scripted behaviour of one account (see the module docstring)."""
    account_id, balance = row["account_id"], Decimal(row["balance"])
    full = f'"{balance}"'
    if unit(account_id, "pays-after-sms") < rates[variant]:
        day = 7 + round(unit(account_id, "pay-day") * 1.5, 2)
        return [_event(account_id, day, "payment", amount=full)]
    other = unit(account_id, "behaviour")
    if other < 0.14:  # a promise after the first letter, kept
        return [
            _event(account_id, 12, "promise", amount=full, due_in_days=5),
            _event(account_id, 16, "payment", amount=full),
        ]
    if other < 0.24:  # a promise, broken
        return [_event(account_id, 12, "promise", amount=full, due_in_days=5)]
    if other < 0.36:  # a plan of two installments after the courtesy email
        first = (balance / 2).quantize(Decimal("0.01"))
        second = balance - first
        plan = _event(
            account_id,
            3,
            "plan",
            installments=(
                f'[{{due_in_days: 7, amount: "{first}"}}, {{due_in_days: 37, amount: "{second}"}}]'
            ),
        )
        if unit(account_id, "plan-kept") < 0.5:
            return [
                plan,
                _event(account_id, 9, "payment", amount=f'"{first}"'),
                _event(account_id, 39, "payment", amount=f'"{second}"'),
            ]
        return [plan]  # never paid: two missed installments, the plan defaults
    if other < 0.43:  # STOP to the SMS reminder
        return [_event(account_id, 6.5, "reply", channel="sms", text="STOP")]
    if other < 0.47:  # unsubscribes from email after the courtesy email
        return [_event(account_id, 2.5, "opt_out", channel="email")]
    if other < 0.55:  # disputes the debt after the first letter
        events = [_event(account_id, 11, "dispute", reason='"I do not owe this"')]
        if unit(account_id, "dispute-resolved") < 0.5:
            events.append(_event(account_id, 20, "dispute_resolved", outcome="validated"))
        return events
    return []  # ignores everything: the ladder runs to the handoff


def write_portfolio(
    out_dir: Path, count: int, direct_rate: float, standard_rate: float
) -> tuple[Path, Path]:
    """Write accounts.csv and events.yaml under `out_dir`; returns their paths."""
    ladder = load_ladder(LADDER)
    step = ladder.step(AB_STEP)
    rates = {"reminder-direct": direct_rate, "reminder": standard_rate}
    out_dir.mkdir(parents=True, exist_ok=True)
    accounts, events = out_dir / "accounts.csv", out_dir / "events.yaml"
    lines = [
        f"# {count} accounts on ladder {ladder.name}; written by examples/ab-portfolio/"
        "make_portfolio.py (deterministic: the sha256 of each account id decides).",
        '# "day" is days since the simulation start.',
    ]
    scripted = []
    with accounts.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for index in range(1, count + 1):
            row = account_row(index)
            writer.writerow(row)
            variant = assign(ladder.name, step, row["account_id"])
            assert variant is not None, f"{LADDER}: step {AB_STEP} has no variants"
            for line in events_for(row, variant.template, rates):
                day = float(line.split("day: ", 1)[1].split(",", 1)[0])
                scripted.append((day, index, line))
    lines += [line for _, _, line in sorted(scripted)]
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return accounts, events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=300, help="How many (default 300).")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "ab-portfolio")
    parser.add_argument(
        "--direct-rate", type=float, default=0.50, help="Share paying after reminder-direct."
    )
    parser.add_argument(
        "--standard-rate", type=float, default=0.30, help="Share paying after reminder."
    )
    args = parser.parse_args(argv)
    if args.accounts < 1:
        parser.error("--accounts: at least 1")
    for name in ("direct_rate", "standard_rate"):
        if not 0 <= getattr(args, name) <= 1:
            parser.error(f"--{name.replace('_', '-')}: between 0 and 1")
    accounts, events = write_portfolio(
        args.out, args.accounts, args.direct_rate, args.standard_rate
    )
    print(f"wrote {accounts} and {events}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
