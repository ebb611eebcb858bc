"""File mechanics shared by the transports that write locally (the outbox, the letter printer).

A retried activity must never write a message twice: `create_once` writes a temp file, fsyncs
it, then `os.link`s it to its final name, which fails if the name exists. Names come from the
idempotency key, so a retry finds the first attempt's file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path


def key_digest(idempotency_key: str, length: int) -> str:
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:length]


def safe_name(part: str, limit: int) -> str:
    """A file-name-safe version of an account id or a step id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", part)[:limit] or "_"


def create_once(target: Path, data: bytes) -> bool:
    """Write `data` to `target` unless it exists; False when another attempt got there first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".tmp") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())  # the bytes are on disk before any name points at them
        temp = Path(handle.name)
    try:
        os.link(temp, target)
    except FileExistsError:
        return False
    finally:
        temp.unlink(missing_ok=True)
    fsync_directory(target.parent)  # and so is the name
    return True


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
