"""Multi-row statements and the writer queue of the SQLite backend."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_support import batch, meter

from meterseal.store import SqliteStore, StoreUnavailable
from meterseal.store.sqlite_bulk import ROWS_PER_STATEMENT, MultiRowInsert, stored_hashes
from meterseal.store.writer_lock import WriterLock

_PAIRS = MultiRowInsert("pairs", ("a", "b"))


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    connection.execute("CREATE TABLE pairs (a INTEGER, b TEXT)")
    yield connection
    connection.close()


@pytest.mark.parametrize(
    "count", [0, 1, 3, ROWS_PER_STATEMENT - 1, ROWS_PER_STATEMENT, 2 * ROWS_PER_STATEMENT + 77]
)
def test_every_row_goes_in_once_whatever_the_count(conn: sqlite3.Connection, count: int) -> None:
    rows = [(i, f"v{i}") for i in range(count)]
    _PAIRS.run(conn, rows)
    assert conn.execute("SELECT a, b FROM pairs ORDER BY a").fetchall() == rows


def test_rows_given_flat_go_in_the_same(conn: sqlite3.Connection) -> None:
    _PAIRS.run_flat(conn, [1, "x", 2, None, 3, "z"])
    assert conn.execute("SELECT a, b FROM pairs ORDER BY a").fetchall() == [
        (1, "x"),
        (2, None),
        (3, "z"),
    ]


def test_a_conflict_clause_applies_to_every_row(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE UNIQUE INDEX pairs_a ON pairs (a)")
    upsert = MultiRowInsert("pairs", ("a", "b"), " ON CONFLICT (a) DO UPDATE SET b = excluded.b")
    upsert.run(conn, [(1, "old"), (2, "old")])
    upsert.run(conn, [(2, "new"), (3, "new")])
    assert conn.execute("SELECT a, b FROM pairs ORDER BY a").fetchall() == [
        (1, "old"),
        (2, "new"),
        (3, "new"),
    ]


def test_stored_hashes_finds_exactly_the_stored_keys_among_many() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE TABLE batches (meter_ref, batch_seq, batch_hash)")
        conn.executemany(
            "INSERT INTO batches VALUES (?, ?, ?)",
            [(1, seq, bytes([seq % 256])) for seq in range(0, 600, 2)],
        )
        keys = [(1, seq) for seq in range(600)] + [(2, 0), (1, 0)]
        found = stored_hashes(conn, keys)
    finally:
        conn.close()
    assert found == {(1, seq): bytes([seq % 256]) for seq in range(0, 600, 2)}


def _migrated(path: Path, timeout: float = 5.0) -> SqliteStore:
    store = SqliteStore(path, timeout=timeout)
    store.migrate()
    return store


def test_a_store_waits_for_another_meterseal_writer_then_proceeds(tmp_path: Path) -> None:
    writer, reader = _migrated(tmp_path / "s.db"), _migrated(tmp_path / "s.db")
    writer.add_meter(meter("M1"))
    other = WriterLock(str(tmp_path / "s.db"), 5.0)  # another writer's place in the queue
    waiting = threading.Thread(target=writer.store_batches, args=([batch("M1", 1)],))
    try:
        with other.held():
            started = time.monotonic()
            waiting.start()
            time.sleep(0.2)
            queued = reader.count_batches()
        waiting.join(5)
        waited = time.monotonic() - started
        stored = reader.count_batches()
    finally:
        other.close()
        writer.close()
        reader.close()
    assert (queued, stored) == (0, 1)  # it waited behind the other writer, then wrote
    assert 0.15 < waited < 2.0


def test_a_writer_that_waits_too_long_is_unavailable_and_the_lock_recovers(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "s.db")
    held, waiting = WriterLock(path, 5.0), WriterLock(path, 0.05)
    try:
        with held.held(), pytest.raises(StoreUnavailable, match="writer"), waiting.held():
            pass  # pragma: no cover - not reached
        with waiting.held():  # the abandoned wait left nothing locked behind
            pass
    finally:
        held.close()
        waiting.close()
    assert Path(f"{path}-writer.lock").exists()
