"""The insert benchmark helpers measure what they say: every timed reading is stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from meterseal.store import SqliteStore, Store
from meterseal.store.bench import insert_rate, sqlite_baseline_rate, synthetic_items


def _migrated(path: Path) -> Store:
    store = SqliteStore(path)
    store.migrate()
    return store


def test_insert_rate_stores_every_reading_it_counts(tmp_path: Path) -> None:
    rate = insert_rate(lambda: _migrated(tmp_path / "s.db"), 30, 12, chunk=7, meters=4)
    store = _migrated(tmp_path / "s.db")
    try:
        assert (store.count_batches(), store.count_readings()) == (30, 360)
    finally:
        store.close()
    assert rate > 0


def test_baseline_inserts_the_same_rows(tmp_path: Path) -> None:
    rate = sqlite_baseline_rate(30, 12, chunk=7, meters=4, path=tmp_path / "b.db")
    assert rate > 0
    conn = sqlite3.connect(tmp_path / "b.db")
    try:
        stored = conn.execute("SELECT meter_id, batch_seq, at, register, value FROM readings")
        rows = sorted(stored.fetchall())
    finally:
        conn.close()
    offered = sorted(
        (r.meter_id, r.batch_seq, r.at, r.register, r.value)
        for _, readings in synthetic_items(30, 12, 4)
        for r in readings
    )
    assert rows == offered
