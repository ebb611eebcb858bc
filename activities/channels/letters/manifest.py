"""A day's `manifest.csv`: one row per letter, appended exactly once, without re-reading it.

The mail house reads the manifest; we only ever append to it. Each append must add the
letter's row unless it is there already — across retries after a crash and across worker
processes on one host — and must not cost a read of the whole day's file, which grows by a row
per letter.

The design, everything under an exclusive `flock` on the manifest:

- **A marker per message id** in the sidecar directory `.manifest-index/` beside the manifest,
  created only once the row is on disk (fsynced). A marker means "listed": the usual check is
  one `stat`.
- **A checkpoint**, `.manifest-index/offset`: a byte offset (a row boundary) before which every
  row has its marker. A letter without a marker can only be listed after that offset — the
  row of an attempt that crashed between appending it and writing its marker — so only that
  tail is read, normally nothing at all.
- **Repair before append**: every whole row found in the tail gets its marker (and the
  directory is fsynced) before anything else is appended and the checkpoint moves past it.
  So the rows without a marker always form a suffix of the file, which is what makes reading
  from the checkpoint enough.

Crash safety, step by step: a crash mid-row leaves a torn row (no final newline) after the
checkpoint; the next append cuts it off (its retry writes it whole). A crash after the row but
before its marker leaves an unmarked whole row in the tail; the retry finds it there and does
not add it again, and any other letter's append marks it first. Markers are made durable
(directory fsync) before the checkpoint is written, so the checkpoint never runs ahead of a
marker; the checkpoint itself needs no fsync: one lost or torn is read as an earlier offset
(or 0, a single full read that rebuilds every marker), which costs time, never correctness.

Rows hold no raw newline (`one_line`), so a row is a line and a torn row is easy to spot.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

from activities.channels.files import fsync_directory

INDEX_DIR = ".manifest-index"
CHECKPOINT = "offset"


def one_line(value: object) -> object:
    """A field with any line break replaced by a space: one row, one line."""
    if isinstance(value, str) and ("\n" in value or "\r" in value):
        return " ".join(value.splitlines())
    return value


def append_once(
    manifest: Path,
    columns: tuple[str, ...],
    message_id: str,
    make_row: Callable[[], dict[str, Any]],
) -> bool:
    """Append the row of `message_id` unless the manifest lists it already; True when appended.

    `make_row` is called only when the row is really missing (rendering it may be costly).
    """
    if not message_id or "/" in message_id or message_id.startswith("."):
        raise ValueError(f"message id {message_id!r} cannot name a marker file")
    index = manifest.parent / INDEX_DIR
    with open(manifest, "a+b") as handle:  # O_APPEND: every write goes to the end
        fcntl.flock(handle, fcntl.LOCK_EX)
        new_index = not index.is_dir()
        index.mkdir(exist_ok=True)
        if new_index:
            fsync_directory(manifest.parent)
        if (index / message_id).exists():
            return False
        size = os.fstat(handle.fileno()).st_size
        start = _checkpoint(index, handle, size)
        tail = _read_at(handle, start, size - start)
        whole = tail[: tail.rfind(b"\n") + 1]
        if len(whole) < len(tail):  # a row torn by a crash: its retry writes it whole
            handle.truncate(start + len(whole))
        end = start + len(whole)
        listed = _message_ids(whole, columns, header=start == 0)
        if listed:
            _mark(index, listed)
        if message_id in listed:
            _write_checkpoint(index, end)
            return False
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns)
        if end == 0:
            writer.writeheader()
        writer.writerow({key: one_line(value) for key, value in make_row().items()})
        data = out.getvalue().encode("utf-8")
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
        if end == 0:
            fsync_directory(manifest.parent)  # the manifest's name is durable too
        _mark(index, [message_id])
        _write_checkpoint(index, end + len(data))
    return True


def _read_at(handle: BinaryIO, offset: int, length: int) -> bytes:
    """Exactly the bytes asked for (the tail), never the whole file."""
    if length <= 0:
        return b""
    handle.seek(offset)
    return handle.read(length)


def _checkpoint(index: Path, handle: BinaryIO, size: int) -> int:
    """The recorded offset if it is believable (a row boundary within the file), else 0."""
    try:
        offset = int((index / CHECKPOINT).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return 0
    if offset <= 0 or offset > size:
        return 0
    handle.seek(offset - 1)
    return offset if handle.read(1) == b"\n" else 0


def _write_checkpoint(index: Path, offset: int) -> None:
    """Atomically replace the offset (no fsync: see the module docstring)."""
    temporary = index / f"{CHECKPOINT}.{os.getpid()}.tmp"
    temporary.write_text(f"{offset}\n", encoding="ascii")
    os.replace(temporary, index / CHECKPOINT)


def _mark(index: Path, message_ids: Iterable[str]) -> None:
    """Create the markers, then make their names durable before anything relies on them."""
    for message_id in message_ids:
        with contextlib.suppress(FileExistsError):
            os.close(os.open(index / message_id, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    fsync_directory(index)


def _message_ids(data: bytes, columns: tuple[str, ...], *, header: bool) -> set[str]:
    """The message ids of whole rows; `header` when `data` starts at the file's first byte."""
    if not data:
        return set()
    rows = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    position = columns.index("message_id")
    if header:
        names = next(rows, [])
        position = names.index("message_id") if "message_id" in names else position
    return {row[position] for row in rows if len(row) > position and row[position]}
