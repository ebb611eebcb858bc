"""Outbox transports: messages kept locally instead of sent, so the project runs offline.

`FileOutbox` writes one JSON file per message under `<data_dir>/outbox/<account>/`; the file name
comes from the idempotency key and is created atomically (write a temp file, then `os.link`, which
fails if the name exists), so a retried activity can never store the same message twice.
`MemoryOutbox` does the same in a dict, for `dunning simulate` and tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from activities.transports.base import Delivery, OutgoingMessage


def message_id_for(idempotency_key: str) -> str:
    return "outbox-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", part)[:120] or "_"


class FileOutbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, message: OutgoingMessage) -> Path:
        digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:12]
        name = f"{_safe(message.step)}.{message.channel.value}.{digest}.json"
        return self.directory / _safe(message.account_id) / name

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        target = self.path_for(message)
        if target.exists():
            stored = json.loads(target.read_text(encoding="utf-8"))
            return Delivery(stored["message_id"], duplicate=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        message_id = message_id_for(message.idempotency_key)
        record = {"message_id": message_id, **message.as_record()}
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=target.parent, delete=False, suffix=".tmp"
        ) as handle:
            json.dump(record, handle, ensure_ascii=False, indent=2)
            temp = Path(handle.name)
        try:
            os.link(temp, target)
        except FileExistsError:
            return Delivery(message_id, duplicate=True)
        finally:
            temp.unlink(missing_ok=True)
        return Delivery(message_id)

    def messages(self) -> list[dict]:
        """Every stored message, oldest first (for `dunning account show` and tests)."""
        records = [
            json.loads(path.read_text(encoding="utf-8")) for path in self.directory.glob("*/*.json")
        ]
        return sorted(records, key=lambda record: record.get("sent_at", ""))


class MemoryOutbox:
    def __init__(self) -> None:
        self.by_key: dict[str, dict] = {}
        self.deliveries = 0  # calls, including duplicates: lets tests see retries

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        self.deliveries += 1
        if message.idempotency_key in self.by_key:
            return Delivery(self.by_key[message.idempotency_key]["message_id"], duplicate=True)
        message_id = message_id_for(message.idempotency_key)
        self.by_key[message.idempotency_key] = {"message_id": message_id, **message.as_record()}
        return Delivery(message_id)

    def messages(self, account_id: str | None = None) -> list[dict]:
        return [
            record
            for record in self.by_key.values()
            if account_id is None or record["account_id"] == account_id
        ]
