"""The head-end's side of the ledger outbox: authentication result leaves, the leaf buffer,
and finding a chunk in the log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from meterseal.headend.events import CloseReason
from meterseal.headend.ledger_forwarder import (
    LeafBuffer,
    auth_reason,
    authentication_leaf,
    find_run,
)
from meterseal.headend.runner import StoreRunner
from meterseal.headend.testing import async_test
from meterseal.ledger.leaves import AuthenticationResult, AuthReason, parse_leaf
from meterseal.store import SqliteStore, Store


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (CloseReason.UNKNOWN_METER, AuthReason.UNKNOWN_CREDENTIAL),
        (CloseReason.INACTIVE_METER, AuthReason.CREDENTIAL_REVOKED),
        (CloseReason.HANDSHAKE_FAILED, AuthReason.BAD_SIGNATURE),
        (CloseReason.UNSUPPORTED, AuthReason.SUITE_REJECTED),
        (CloseReason.HANDSHAKE_TIMEOUT, AuthReason.TIMEOUT),
        (CloseReason.CONNECTION_LOST, AuthReason.ABANDONED),
        (CloseReason.STORE_UNAVAILABLE, AuthReason.HEADEND_UNAVAILABLE),
        (CloseReason.FRAMING, AuthReason.PROTOCOL_ERROR),
        (CloseReason.PEER_ERROR, AuthReason.PROTOCOL_ERROR),
    ],
)
def test_each_close_reason_has_its_auth_reason(reason: CloseReason, expected: AuthReason) -> None:
    assert auth_reason(reason) is expected


def test_success_and_failure_leaves_parse_back() -> None:
    assert parse_leaf(authentication_leaf("ELEC-1", None, 1000)) == AuthenticationResult(
        b"ELEC-1", True, AuthReason.OK, 1000
    )
    assert parse_leaf(authentication_leaf(None, CloseReason.FRAMING, 1001)) == AuthenticationResult(
        b"", False, AuthReason.PROTOCOL_ERROR, 1001
    )


def test_find_run_finds_a_contiguous_run_only() -> None:
    entries = [b"x", b"a", b"b", b"a", b"b", b"c"]
    assert find_run(entries, [b"a", b"b", b"c"]) == 3
    assert find_run(entries, [b"a", b"b"]) == 1
    assert find_run(entries, [b"a", b"c"]) is None
    assert find_run(entries[:2], [b"x", b"a", b"b"]) is None


class SlowStore(SqliteStore):
    """A real SQLite store whose enqueue_leaves takes a while (a busy writer)."""

    def enqueue_leaves(self, entries: Sequence[bytes], now: int) -> None:
        time.sleep(0.2)
        super().enqueue_leaves(entries, now)


@async_test
async def test_closing_while_a_flush_is_under_way_loses_no_leaf(tmp_path: Path) -> None:
    def open_slow() -> Store:
        store = SlowStore(tmp_path / "store.db")
        store.migrate()
        return store

    runner = StoreRunner(open_slow, "writer")
    await runner.start()
    buffer = LeafBuffer(runner, interval=0.01)
    buffer.start()
    buffer.add(b"first")
    await asyncio.sleep(0.05)  # the periodic flush of "first" is now in the store call
    buffer.add(b"second")
    await buffer.close()
    assert (buffer.queued, buffer.waiting) == (2, 0)
    leaves = await runner.call(lambda store: [leaf for _, leaf in store.pending_leaves(10)])
    await runner.close()
    assert leaves == [b"first", b"second"]
