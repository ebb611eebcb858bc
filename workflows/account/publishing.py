"""What the Temporal UI shows of an account: its summary and its search attributes.

Each `upsert_search_attributes` is one history event and one visibility write on the server.
Accounts run by the current rules (`batched()`: the `lean-rules` patch) collect the values
while a workflow task runs and upsert them once, where the workflow is about to wait (`flush`):
a step's send, its bookkeeping and the next contact's planning change the attributes two or
three times in one task, and only the last values matter. Older accounts upsert at every
change, as their recorded histories did. Only accounts run by the `ops-console` patch publish
the next step (`DunningStep`): an older history's upserts stay exactly as recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from temporalio import workflow

from workflows import search_attributes as sa
from workflows.account import patches, view
from workflows.types import AccountInput, AccountState


class Publisher:
    def __init__(self, *, enabled: bool, batched: Callable[[], bool]) -> None:
        self._enabled = enabled
        self._batched = batched
        self._upserted: dict[str, object] = {}
        self._pending: dict[str, object] | None = None

    def publish(
        self,
        state: AccountState,
        account: AccountInput,
        now: datetime,
        next_step: str | None = None,
    ) -> None:
        workflow.set_current_details(view.summary(state, account, now, next_step))
        if not self._enabled:
            return
        # The patch was asked first thing in the run (`patches.compliance`): the SDK answers
        # from its memo, no new marker.
        self._pending = view.search_values(state, account, now, with_step=patches.console())
        if not self._batched():
            self.flush()

    def flush(self) -> None:
        """Upsert what changed since the last upsert (nothing when nothing did)."""
        values, self._pending = self._pending, None
        if values is None or values == self._upserted:
            return
        self._upserted = values
        workflow.upsert_search_attributes(sa.updates(values))
