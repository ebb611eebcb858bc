"""What a voicemail call says, kept until Twilio fetches it from the webhook server.

The send activity renders the message; Twilio fetches TwiML later, after answering-machine
detection, from `/twilio/voice?call=<token>`. The script is stored between the two so the call
says exactly what was rendered and recorded, and so no debtor data travels in Twilio's URLs.
The webhook server may run on another machine than the worker that placed the call, so scripts
live in the shared store (`store.call_scripts`); the types are re-exported here for the channel
code. `MemoryCallScripts` is for tests that need no database.
"""

from __future__ import annotations

from datetime import datetime

from store.protocols import CallScript, CallScriptStore

__all__ = ["CallScript", "CallScriptStore", "MemoryCallScripts"]


class MemoryCallScripts:
    """An in-process `CallScriptStore` (tests only: nothing is shared between processes)."""

    def __init__(self) -> None:
        self.scripts: dict[str, CallScript] = {}

    def save(self, script: CallScript) -> None:
        self.scripts[script.token] = script

    def get(self, token: str) -> CallScript | None:
        return self.scripts.get(token)

    def prune(self, saved_before: datetime) -> int:
        return 0  # no save time is kept: a test's scripts live as long as the test

    def forget_account(self, account_id: str) -> int:
        tokens = [t for t, script in self.scripts.items() if script.account_id == account_id]
        for token in tokens:
            del self.scripts[token]
        return len(tokens)
