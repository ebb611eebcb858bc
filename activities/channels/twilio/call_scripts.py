"""What a voicemail call says, kept until Twilio fetches it from the webhook server.

The send activity renders the message; Twilio fetches TwiML later, after answering-machine
detection, from `/twilio/voice?call=<token>`. The script is stored between the two so the call
says exactly what was rendered and recorded, and so no debtor data travels in Twilio's URLs.
SQLite beside the send ledger for the embedded default; a deployment whose webhook server runs
on another machine implements `CallScriptStore` over the shared database.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class CallScript:
    token: str
    account_id: str
    idempotency_key: str
    locale: str
    language: str  # the <Say> language, e.g. fr-FR
    voice: str  # the <Say> voice, e.g. Polly.Lea
    text: str


class CallScriptStore(Protocol):
    def save(self, script: CallScript) -> None: ...

    def get(self, token: str) -> CallScript | None: ...


class SqliteCallScripts:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db().execute(
            "CREATE TABLE IF NOT EXISTS call_scripts (token TEXT PRIMARY KEY, account_id TEXT,"
            " idempotency_key TEXT, locale TEXT, language TEXT, voice TEXT, text TEXT)"
        )

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._local.db = db
        return db

    def save(self, script: CallScript) -> None:
        self._db().execute(
            "INSERT OR REPLACE INTO call_scripts VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                script.token,
                script.account_id,
                script.idempotency_key,
                script.locale,
                script.language,
                script.voice,
                script.text,
            ),
        )

    def get(self, token: str) -> CallScript | None:
        row = (
            self._db()
            .execute(
                "SELECT token, account_id, idempotency_key, locale, language, voice, text "
                "FROM call_scripts WHERE token = ?",
                (token,),
            )
            .fetchone()
        )
        return CallScript(*row) if row else None


class MemoryCallScripts:
    def __init__(self) -> None:
        self.scripts: dict[str, CallScript] = {}

    def save(self, script: CallScript) -> None:
        self.scripts[script.token] = script

    def get(self, token: str) -> CallScript | None:
        return self.scripts.get(token)
