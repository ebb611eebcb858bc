"""Outbox transports: messages kept locally instead of sent, so the project runs offline.

`FileOutbox` writes one JSON file per message under `<data_dir>/outbox/<account>/`; the file name
comes from the idempotency key and is created atomically (write a temp file, then `os.link`, which
fails if the name exists), so a retried activity can never store the same message twice.
`MemoryOutbox` does the same in a dict, for `dunning simulate` and tests.

File reads and writes (with their fsyncs) run in a thread, off the worker's event loop.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from activities.channels.base import Delivery, OutgoingMessage
from activities.channels.files import create_once, key_digest, safe_name


def message_id_for(idempotency_key: str) -> str:
    return "outbox-" + key_digest(idempotency_key, 20)


class FileOutbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, message: OutgoingMessage) -> Path:
        digest = key_digest(message.idempotency_key, 12)
        name = f"{safe_name(message.step, 120)}.{message.channel.value}.{digest}.json"
        return self.directory / safe_name(message.account_id, 120) / name

    async def deliver(self, message: OutgoingMessage) -> Delivery:
        return await asyncio.to_thread(self._deliver, message)

    def _deliver(self, message: OutgoingMessage) -> Delivery:
        target = self.path_for(message)
        if target.exists():
            stored = json.loads(target.read_text(encoding="utf-8"))
            return Delivery(stored["message_id"], duplicate=True)
        message_id = message_id_for(message.idempotency_key)
        record = {"message_id": message_id, **message.as_record()}
        data = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8")
        return Delivery(message_id, duplicate=not create_once(target, data))

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
