"""The accounts CSV as a stream: workflow inputs and per-line problems, never the whole file.

A portfolio can be 100 000 rows. `AccountsReader` reads one record at a time, so `dunning
accounts import` holds only the rows in flight, whatever the file's size; `read_accounts`
collects the same stream into lists for the callers that want them all (simulate, preview).

A bad row never stops the good ones: it becomes a `RowProblem` naming its first physical line
(what ops look for in an editor) and the reason. Duplicate account ids are caught here, by
remembering each id's first line: the only per-row memory kept (a few dozen bytes a row).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TextIO

from config.ladder import Ladder
from intake.accounts_csv import KNOWN_COLUMNS, REQUIRED_COLUMNS, RowError, build_account, cell
from workflows.types import AccountInput


@dataclass(frozen=True)
class RowProblem:
    line: int
    account_id: str | None
    message: str

    def __str__(self) -> str:
        who = f" ({self.account_id})" if self.account_id else ""
        return f"line {self.line}{who}: {self.message}"


@dataclass(frozen=True)
class AccountRow:
    line: int
    account: AccountInput


class AccountsFileError(Exception):
    """The file as a whole cannot be read (missing, not CSV, required columns absent)."""


@dataclass
class AccountsFile:
    accounts: list[tuple[int, AccountInput]]
    problems: list[RowProblem]
    warnings: list[str]


class AccountsReader:
    """Open the file and check its header at once (AccountsFileError); then iterate the rows.

    Use as a context manager: the file stays open while the rows are consumed.
    """

    def __init__(
        self,
        path: Path,
        *,
        ladders: Mapping[str, Ladder],
        default_ladder: str | None,
        default_locale: str,
        now: datetime,
    ) -> None:
        self.path = path
        self._ladders = ladders
        self._default_ladder = default_ladder
        self._default_locale = default_locale
        self._now = now
        self._handle = _open(path)
        try:
            # csv.reader rather than DictReader: it yields blank lines too, so the first
            # physical line of every record is one past the previous record's last.
            self._reader = csv.reader(self._handle)
            self.columns = _header(path, self._reader)
        except BaseException:
            self._handle.close()
            raise
        self.warnings = [
            f"{path}:1: unknown column {column!r} ignored"
            for column in self.columns
            if column not in KNOWN_COLUMNS
        ]

    def __enter__(self) -> AccountsReader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._handle.close()

    def __iter__(self) -> Iterator[AccountRow | RowProblem]:
        first_seen: dict[str, int] = {}
        reader = self._reader
        last_line = reader.line_num
        try:
            for fields in reader:
                line, last_line = last_line + 1, reader.line_num
                if not any(field.strip() for field in fields):
                    continue
                row = dict(zip(self.columns, fields, strict=False))
                if len(fields) > len(self.columns):
                    yield RowProblem(line, cell(row, "account_id"), "too many fields")
                    continue
                try:
                    account = build_account(
                        row,
                        ladders=self._ladders,
                        default_ladder=self._default_ladder,
                        default_locale=self._default_locale,
                        now=self._now,
                    )
                except RowError as exc:
                    yield RowProblem(line, cell(row, "account_id"), str(exc))
                    continue
                first = first_seen.setdefault(account.account_id, line)
                if first != line:
                    yield RowProblem(
                        line,
                        account.account_id,
                        f"duplicate account_id (first on line {first})",
                    )
                    continue
                yield AccountRow(line, account)
        except (csv.Error, UnicodeDecodeError) as exc:
            yield RowProblem(last_line + 1, None, f"unreadable row: {exc}")


def count_records(path: Path) -> int:
    """How many non-blank records the file holds after its header (for a progress bar): one
    streaming pass of the csv module, without building any account. Bytes that are not UTF-8
    count as text here; a record the csv module cannot read ends the count (the real read
    reports both, with their lines)."""
    count = 0
    try:
        handle = path.open(encoding="utf-8-sig", errors="replace", newline="")
    except OSError:
        return 0  # the real read says why
    with handle:
        reader = csv.reader(handle)
        try:
            next(reader, None)
            for fields in reader:
                count += any(field.strip() for field in fields)
        except csv.Error:
            pass
    return count


def read_accounts(
    path: Path,
    *,
    ladders: Mapping[str, Ladder],
    default_ladder: str | None,
    default_locale: str,
    now: datetime,
) -> AccountsFile:
    """The whole stream collected: every account built and every problem, in file order."""
    accounts: list[tuple[int, AccountInput]] = []
    problems: list[RowProblem] = []
    with AccountsReader(
        path,
        ladders=ladders,
        default_ladder=default_ladder,
        default_locale=default_locale,
        now=now,
    ) as reader:
        for item in reader:
            if isinstance(item, RowProblem):
                problems.append(item)
            else:
                accounts.append((item.line, item.account))
        warnings = reader.warnings
    return AccountsFile(accounts, problems, warnings)


def _open(path: Path) -> TextIO:
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise AccountsFileError(f"{path}: {exc.strerror or exc}") from None


def _header(path: Path, reader: Iterator[list[str]]) -> list[str]:
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise AccountsFileError(f"{path}: not a UTF-8 CSV file ({exc})") from None
    if not header:
        raise AccountsFileError(f"{path}: empty file (a header row is required)")
    columns = [column.strip() for column in header]
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise AccountsFileError(f"{path}:1: missing column(s): {', '.join(missing)}")
    return columns
