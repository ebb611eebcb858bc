"""The store's connections and transactions, on both databases.

- A store opened before a fork: the child's `close()` must not end the parent's session.
  Worker pools fork (multiprocessing, gunicorn-style servers); a PostgreSQL connection opened
  by the parent is a socket the child inherits, and closing it from the child sends
  PostgreSQL's Terminate message on the parent's session.
- One SendGrid webhook post is recorded in one transaction: all or nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store import SqlStore, open_store
from store.protocols import ProcessedEmail

NOW = datetime(2038, 1, 4, 9, 0, tzinfo=UTC)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_closing_the_store_in_a_forked_child_leaves_the_parents_session(postgres_database: str):
    store = open_store(postgres_database)
    try:
        assert store.accounts.record_started("dunning-A-1", "A-1", NOW)
        child = os.fork()
        if child == 0:  # the child: close what it inherited, and leave at once
            try:
                store.close()
            finally:
                os._exit(0)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        record = store.accounts.get("dunning-A-1")  # the parent's session still answers
        assert record is not None and record.account_id == "A-1"
    finally:
        store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    url = (
        f"sqlite:///{tmp_path}/store.sqlite3"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_database")
    )
    opened = open_store(url)
    yield opened
    opened.close()


def processed(n: int, key: str | None = None) -> ProcessedEmail:
    return ProcessedEmail(key or f"dunning-A-{n}/step/email/1", f"sg-{n}", NOW, f"ev-{n}")


def test_a_webhook_post_is_recorded_whole_and_again_harmlessly(store: SqlStore):
    events = [processed(n) for n in range(50)]
    store.email_events.record_all(events)
    store.email_events.record_all(events)  # SendGrid retried the post
    assert store.email_events.processed("dunning-A-7/step/email/1") == events[7]
    broken = [processed(100), ProcessedEmail("k", "sg", None, "ev-x")]  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - the drivers raise different types
        store.email_events.record_all(broken)
    assert store.email_events.processed(processed(100).idempotency_key) is None  # none kept
