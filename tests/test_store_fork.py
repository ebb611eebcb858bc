"""A store opened before a fork: the child's `close()` must not end the parent's session.

Worker pools fork (multiprocessing, gunicorn-style servers). A PostgreSQL connection opened by
the parent is a socket the child inherits; closing it from the child sends PostgreSQL's
Terminate message on the parent's session.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from store import open_store

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
